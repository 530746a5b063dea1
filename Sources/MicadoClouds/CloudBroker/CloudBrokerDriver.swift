import Foundation
import Logging
import MicadoCore
import NIOHTTP1

/// The `cloudbroker` cloud, MiCADO v0.03's own: an instance of the location's deployment
/// and the flavour's instance type, created with `POST /instances.xml` and the boot document
/// as base64 `cloud-init`, as MiCADO's launcher creates them; stopped with
/// `PUT /instances/{id}/stop.xml`. The platform keeps no tags and takes no client token:
/// micado's tags travel in the instance's name (`micado.<manager>.<instance>.<token>`), by
/// which a create looks for what an interrupted one made before it makes anything.
public struct CloudBrokerDriver: CloudDriver, ConfigurationResolving {
    public static let enginePort = BootDocument.enginePort
    public static let maximumUserDataBytes = 64 << 10

    public typealias Renderer = @Sendable (UserData) throws(CloudError) -> String

    public let cloud: String
    public let settings: CloudBrokerSettings
    public let api: CloudBrokerAPI
    let render: Renderer
    let types = CloudBrokerTypes()
    let logger: Logger

    public init(
        cloud: String,
        settings: CloudBrokerSettings,
        api: CloudBrokerAPI,
        authority: CertificateAuthority,
        logger: Logger
    ) {
        self.init(cloud: cloud, settings: settings, api: api, logger: logger) { (userData) throws(CloudError) -> String in
            try BootDocument.render(userData, address: nil, authority: authority)
        }
    }

    public init(
        cloud: String,
        settings: CloudBrokerSettings,
        api: CloudBrokerAPI,
        logger: Logger,
        render: @escaping Renderer
    ) {
        self.cloud = cloud
        self.settings = settings
        self.api = api
        self.logger = logger
        self.render = render
    }

    public var describeInterval: Duration { .seconds(3) }

    // MARK: names

    /// `micado.<manager>.<instance>.<token>`: micado's tags, where the platform keeps none.
    public static func name(tags: [String: String]) -> String? {
        guard let manager = tags[CloudTag.manager], let instance = tags[CloudTag.instance], let token = tags[CloudTag.token],
            [manager, instance, token].allSatisfy(isNamePart)
        else { return nil }
        return "micado.\(manager).\(instance).\(token)"
    }

    /// The tags a name holds, nil when it is not one of micado's.
    public static func tags(fromName name: String) -> [String: String]? {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 4, parts[0] == "micado", parts.dropFirst().allSatisfy(isNamePart) else { return nil }
        return [CloudTag.manager: parts[1], CloudTag.instance: parts[2], CloudTag.token: parts[3]]
    }

    static func isNamePart(_ text: String) -> Bool {
        (1...64).contains(text.count) && text.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) }
    }

    // MARK: CloudDriver

    public func create(_ request: CreateInstanceRequest) async throws(CloudError) -> CloudInstance {
        if let existing = try await find(token: request.idempotencyToken) { return existing }
        guard let deployment = settings.deployments[request.location] else {
            throw CloudError(
                .badRequest,
                "cloud \(cloud) has no location \(Text.escaped(request.location)) (no deployment for it in clouds.yaml)"
            )
        }
        guard let name = Self.name(tags: request.tags) else {
            throw CloudError(.badRequest, "the instance's tags cannot make a CloudBroker name")
        }
        let typeID = try await instanceTypeID(request.flavour.name)
        let userData = Data(try render(request.userData).utf8).base64EncodedString()
        guard userData.utf8.count <= Self.maximumUserDataBytes else {
            throw CloudError(
                .badRequest,
                "the boot document is \(userData.utf8.count) bytes in base64; micado sends CloudBroker at most \(Self.maximumUserDataBytes)"
            )
        }
        // As MiCADO's launcher writes it (dicttoxml): snake_case fields, then the cloud-init ones.
        var fields: [(String, String)] = [("deployment_id", deployment), ("instance_type_id", typeID)]
        if let keyPair = settings.keyPair { fields.append(("key_pair_id", keyPair)) }
        fields += [
            ("opened_port", settings.openedPorts), ("disable_autostop", "true"), ("isolated", "true"), ("name", name),
            ("cloud-init", userData),
            ("cloud-init-b64", "true"),
        ]
        let body =
            "<?xml version=\"1.0\" encoding=\"UTF-8\" ?><instance>" + fields.map { "<\($0.0)>\(Self.escaped($0.1))</\($0.0)>" }.joined()
            + "</instance>"
        var transientTries = 0
        while true {
            let created: CloudBrokerInstance
            do throws(CloudBrokerAPI.Failure) {
                // Retried here: a lost answer may mean an instance, which only its name finds.
                created = try await api.call(.POST, "/instances.xml", body: Array(body.utf8), as: CloudBrokerInstance.self, attempts: 1)
            } catch {
                guard error.error.kind == .transient else { throw error.error }
                if let existing = try await find(token: request.idempotencyToken) { return existing }
                transientTries += 1
                guard transientTries < api.retry.attempts else {
                    throw CloudError(.transient, error.error.message + " (\(transientTries) attempts)")
                }
                do { try await Task.sleep(for: api.retry.backoff(attempt: transientTries)) } catch {
                    throw CloudError(.transient, "CloudBroker POST /instances.xml: cancelled")
                }
                continue
            }
            guard Self.isID(created.id) else {
                throw CloudError(.badRequest, "CloudBroker POST /instances.xml: the answer names no usable instance ID")
            }
            logger.info(
                "CloudBroker instance created",
                metadata: ["cloud": "\(cloud)", "instance.id": "\(created.id)", "instance.flavour": "\(request.flavour.name)"]
            )
            return CloudInstance(id: created.id, address: "", state: .booting, engineEndpoint: "", tags: request.tags)
        }
    }

    public func describe(_ id: String) async throws(CloudError) -> CloudInstance? {
        guard Self.isID(id) else { return nil }
        let found: CloudBrokerInstance
        do throws(CloudBrokerAPI.Failure) { found = try await api.call(.GET, "/instances/\(id).xml", as: CloudBrokerInstance.self) } catch {
            if error.status == 404 { return nil }
            throw error.error
        }
        return try instance(found)
    }

    public func list() async throws(CloudError) -> [CloudInstance] {
        let answer: CloudBrokerInstances
        do { answer = try await api.call(.GET, "/instances.xml", as: CloudBrokerInstances.self) } catch { throw error.error }
        return (answer.instance ?? []).compactMap { found in
            guard found.name.flatMap(Self.tags(fromName:)) != nil else { return nil }
            do throws(CloudError) {
                let instance = try instance(found)
                return instance.state == .terminated ? nil : instance
            } catch {
                logger.warning("CloudBroker instance skipped", metadata: ["cloud": "\(cloud)", "error": "\(error.message)"])
                return nil
            }
        }
    }

    public func find(token: String) async throws(CloudError) -> CloudInstance? {
        // Two only where two creates raced: the smallest ID wins, always the same one.
        try await list().filter { $0.tags[CloudTag.token] == token }.min { $0.id < $1.id }
    }

    public func delete(_ id: String) async throws(CloudError) {
        guard Self.isID(id) else { return }
        do {
            _ = try await api.send(.PUT, "/instances/\(id)/stop.xml")
            logger.info("CloudBroker instance stopped", metadata: ["cloud": "\(cloud)", "instance.id": "\(id)"])
        } catch {
            // Gone, or stopping or halted already.
            if error.status == 404 || error.code == "wrong status" { return }
            throw error.error
        }
    }

    // MARK: instance types

    /// The platform's ID of a flavour's instance type.
    func instanceTypeID(_ flavour: String) async throws(CloudError) -> String {
        let name = settings.instanceType(of: flavour)
        if let known = await types.id(of: name) { return known }
        let list = try await instanceTypes()
        guard let type = list.first(where: { $0.name == name }) else {
            let field = settings.flavourSources[flavour].map { "\($0.position): \($0.path).instanceType " } ?? "flavour "
            throw CloudError(
                .badRequest,
                "\(field)'\(Text.escaped(name))' is not an instance type of this CloudBroker platform (GET /instance_types.xml)"
            )
        }
        await types.remember(list)
        return type.id
    }

    func instanceTypes() async throws(CloudError) -> [CloudBrokerInstanceType] {
        do { return try await api.call(.GET, "/instance_types.xml", as: CloudBrokerInstanceTypes.self).instanceType ?? [] } catch {
            throw error.error
        }
    }

    /// Each flavour's CPUs and memory from its instance type (where the file did not say),
    /// and its price from the type's runtime fee (where the file wrote none).
    public func resolve(_ configuration: CloudConfiguration) async throws(MicadoError) -> CloudConfiguration {
        var configuration = configuration
        let list: [CloudBrokerInstanceType]
        do { list = try await instanceTypes() } catch { throw MicadoError(error.kind.code, "cloud \(cloud): \(error.message)") }
        await types.remember(list)
        for index in configuration.flavours.indices {
            let flavour = configuration.flavours[index].name
            let name = settings.instanceType(of: flavour)
            let source =
                settings.flavourSources[flavour]
                ?? .init(position: "clouds.yaml", path: "clouds.\(cloud).flavours[\(index)]", memoryWritten: true, cpusWritten: true)
            guard let type = list.first(where: { $0.name == name }) else {
                throw MicadoError(
                    .configuration,
                    "\(source.position): \(source.path).instanceType '\(Text.escaped(name))' is not an instance type of this CloudBroker platform"
                )
            }
            if !source.memoryWritten {
                // The platform's figure compared before it is converted: a hostile answer cannot trap the manager.
                let gib = type.memory ?? 0
                let memory = gib.isFinite && gib > 0 && gib <= 1_048_576 ? Int((gib * 1024).rounded()) : 0
                guard memory >= 64 else {
                    throw MicadoError(
                        .configuration,
                        "\(source.position): \(source.path).memoryMiB is missing and CloudBroker does not say the memory of \(Text.escaped(name))"
                    )
                }
                configuration.flavours[index].memoryMiB = memory
            }
            if !source.cpusWritten { configuration.flavours[index].cpus = max(type.cpus ?? 1, 1) }
            if !source.priceWritten {
                let price: CloudBrokerPrice
                do { price = try await api.call(.GET, "/instance_types/\(type.id)/price.xml", as: CloudBrokerPrice.self) } catch {
                    throw MicadoError(error.error.kind.code, "cloud \(cloud): \(error.error.message)")
                }
                guard let fee = price.instanceRuntimeFee, fee >= 0, fee.isFinite else {
                    throw MicadoError(
                        .configuration,
                        "\(source.position): \(source.path).pricePerHour is missing and CloudBroker gives no runtime fee for \(Text.escaped(name))"
                    )
                }
                configuration.flavours[index].pricePerHour = fee
            }
        }
        return configuration
    }

    // MARK: instances

    static func isID(_ id: String) -> Bool {
        (1...64).contains(id.count)
            && id.unicodeScalars.allSatisfy {
                $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-" || $0 == "_")
            }
    }

    static func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(
            of: ">",
            with: "&gt;"
        )
        .replacingOccurrences(of: "\"", with: "&quot;").replacingOccurrences(of: "'", with: "&apos;")
    }

    /// The platform's description as micado's: the status mapped as Occopus maps it, the address chosen by `address:`.
    func instance(_ found: CloudBrokerInstance) throws(CloudError) -> CloudInstance {
        guard Self.isID(found.id) else {
            throw CloudError(.badRequest, "CloudBroker: an instance without a usable ID (\(Text.escaped(String(found.id.prefix(80)))))")
        }
        let status = found.status ?? ""
        var detail: String?
        let state: CloudInstance.State
        switch status {
        case "starting", "initializing", "preparing": state = .booting
        case "running": state = .running
        case "stopping", "halted": state = .terminated
        default:
            state = .failed
            detail = "CloudBroker status '\(Text.escaped(String(status.prefix(40))))'"
        }
        let chosen = settings.address == .public ? found.externalIPAddress : found.internalIPAddress
        let address = chosen.flatMap(IPv4.init)?.description ?? ""
        return CloudInstance(
            id: found.id,
            address: address,
            state: state,
            engineEndpoint: address.isEmpty ? "" : "tcp://\(address):\(Self.enginePort)",
            tags: found.name.flatMap(Self.tags(fromName:)) ?? [:],
            detail: detail
        )
    }
}

/// Instance type names → the platform's IDs, learnt once.
actor CloudBrokerTypes {
    var ids: [String: String] = [:]
    func id(of name: String) -> String? { ids[name] }
    func remember(_ list: [CloudBrokerInstanceType]) { for type in list { if let name = type.name { ids[name] = type.id } } }
}
