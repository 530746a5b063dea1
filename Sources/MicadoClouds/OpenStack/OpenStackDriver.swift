import Foundation
import Logging
import MicadoCore
import NIOHTTP1

/// The `openstack` cloud: servers started with Nova's `POST /servers` on the location's
/// network, found again by their tag and metadata, deleted with `DELETE /servers/{id}`.
///
/// Nova hands a server its address (DHCP) once it runs, after the boot document is fixed:
/// the engine's certificate names the instance (`BootDocument.engineServerName`), which is
/// what micado checks, and the address comes from the server's description.
public struct OpenStackDriver: CloudDriver, ConfigurationResolving {
    public static let enginePort = BootDocument.enginePort
    /// Nova takes at most 65,535 bytes of user data, base64-encoded.
    public static let maximumUserDataBytes = 65_535
    /// Every server micado starts carries this tag: the listing asks Nova for it.
    public static let serverTag = "micado"
    static let pageSize = 100
    static let maximumPages = 200

    /// The boot document for an instance (BootDocument.render without an address, unless a test says otherwise).
    public typealias Renderer = @Sendable (UserData) throws(CloudError) -> String

    public let cloud: String
    public let settings: OpenStackSettings
    public let api: OpenStackAPI
    let render: Renderer
    let flavors = OpenStackFlavors()
    let logger: Logger

    public init(
        cloud: String,
        settings: OpenStackSettings,
        api: OpenStackAPI,
        authority: CertificateAuthority,
        logger: Logger
    ) {
        self.init(cloud: cloud, settings: settings, api: api, logger: logger) { (userData) throws(CloudError) -> String in
            try BootDocument.render(userData, address: nil, authority: authority)
        }
    }

    public init(
        cloud: String,
        settings: OpenStackSettings,
        api: OpenStackAPI,
        logger: Logger,
        render: @escaping Renderer
    ) {
        self.cloud = cloud
        self.settings = settings
        self.api = api
        self.logger = logger
        self.render = render
    }

    public var describeInterval: Duration { .seconds(2) }

    // MARK: CloudDriver

    struct CreateServer: Encodable {
        struct Server: Encodable {
            struct Network: Encodable { var uuid: String }
            struct Group: Encodable { var name: String }
            var name: String
            var imageRef: String
            var flavorRef: String
            var networks: [Network]
            var availability_zone: String?
            var user_data: String
            var metadata: [String: String]
            var tags: [String]
            var key_name: String?
            var security_groups: [Group]?
        }
        var server: Server
    }

    public func create(_ request: CreateInstanceRequest) async throws(CloudError) -> CloudInstance {
        // Nova has no client token: the token in the metadata decides, looked up before any create.
        if let existing = try await find(token: request.idempotencyToken) { return existing }
        guard let network = settings.networks[request.location] else {
            throw CloudError(
                .badRequest,
                "cloud \(cloud) has no location \(Text.escaped(request.location)) (no network for it in clouds.yaml)"
            )
        }
        let flavorID = try await flavorID(request.flavour.name)
        let userData = Data(try render(request.userData).utf8).base64EncodedString()
        guard userData.utf8.count <= Self.maximumUserDataBytes else {
            throw CloudError(
                .badRequest,
                "the boot document is \(userData.utf8.count) bytes in base64; Nova takes at most \(Self.maximumUserDataBytes)"
            )
        }
        let body = CreateServer(
            server: .init(
                name: "micado-" + (request.tags[CloudTag.instance] ?? String(request.idempotencyToken.prefix(10))),
                imageRef: request.machineImage,
                flavorRef: flavorID,
                networks: [.init(uuid: network)],
                availability_zone: settings.zones[request.location],
                user_data: userData,
                metadata: request.tags,
                tags: [Self.serverTag],
                key_name: settings.keyName,
                security_groups: settings.securityGroups.isEmpty ? nil : settings.securityGroups.map { .init(name: $0) }
            )
        )
        let encoded: [UInt8]
        do { encoded = Array(try JSONEncoder().encode(body)) } catch { throw CloudError(.badRequest, "cannot encode the server to create") }
        var transientTries = 0
        while true {
            let answer: NovaCreateAnswer
            do throws(OpenStackAPI.Failure) {
                // Retried here, not in the API layer: an answer lost on the way may mean a server, which only the token finds.
                answer = try await api.compute(.POST, "/servers", body: encoded, as: NovaCreateAnswer.self, attempts: 1)
            } catch {
                guard error.error.kind == .transient else { throw error.error }
                if let existing = try await find(token: request.idempotencyToken) { return existing }
                transientTries += 1
                guard transientTries < api.retry.attempts else {
                    throw CloudError(.transient, error.error.message + " (\(transientTries) attempts)")
                }
                do { try await Task.sleep(for: api.retry.backoff(attempt: transientTries)) } catch {
                    throw CloudError(.transient, "OpenStack POST /servers: cancelled")
                }
                continue
            }
            guard Self.isServerID(answer.server.id) else {
                throw CloudError(.badRequest, "OpenStack POST /servers: the answer's server ID is not one Nova makes")
            }
            logger.info(
                "OpenStack server created",
                metadata: ["cloud": "\(cloud)", "instance.id": "\(answer.server.id)", "instance.flavour": "\(request.flavour.name)"]
            )
            return CloudInstance(id: answer.server.id, address: "", state: .booting, engineEndpoint: "", tags: request.tags)
        }
    }

    public func describe(_ id: String) async throws(CloudError) -> CloudInstance? {
        guard Self.isServerID(id) else { return nil }
        let answer: NovaServerAnswer
        do throws(OpenStackAPI.Failure) { answer = try await api.compute(.GET, "/servers/\(id)", as: NovaServerAnswer.self) } catch {
            if error.status == 404 { return nil }
            throw error.error
        }
        return try instance(answer.server)
    }

    public func list() async throws(CloudError) -> [CloudInstance] {
        var result: [CloudInstance] = []
        var marker: String?
        var markers: Set<String> = []
        for _ in 0..<Self.maximumPages {
            let query = [("tags", Self.serverTag), ("limit", String(Self.pageSize))] + (marker.map { [("marker", $0)] } ?? [])
            let page: NovaServerList
            do { page = try await api.compute(.GET, "/servers/detail", query: query, as: NovaServerList.self) } catch { throw error.error }
            for server in page.servers {
                do throws(CloudError) { result.append(try instance(server)) } catch {
                    // Not one micado could have made: not listed, so never adopted nor deleted.
                    logger.warning("OpenStack server skipped", metadata: ["cloud": "\(cloud)", "error": "\(error.message)"])
                }
            }
            guard page.servers.count >= Self.pageSize || page.hasNext, let last = page.servers.last?.id, Self.isServerID(last) else {
                return result
            }
            // A Nova that ignores the marker would be asked the same page forever.
            guard markers.insert(last).inserted else {
                throw CloudError(.badRequest, "OpenStack GET /servers/detail: the same page twice (marker \(last) ignored); refused")
            }
            marker = last
        }
        throw CloudError(.badRequest, "OpenStack GET /servers/detail: more than \(Self.maximumPages) pages; refused")
    }

    public func delete(_ id: String) async throws(CloudError) {
        guard Self.isServerID(id) else { return }
        do throws(OpenStackAPI.Failure) {
            _ = try await api.computeBytes(.DELETE, "/servers/\(id)")
            logger.info("OpenStack server deleted", metadata: ["cloud": "\(cloud)", "instance.id": "\(id)"])
        } catch {
            if error.status == 404 { return }
            throw error.error
        }
    }

    // MARK: flavours

    /// Nova's flavour ID for a flavour of clouds.yaml (by name).
    func flavorID(_ name: String) async throws(CloudError) -> String {
        if let known = await flavors.id(of: name) { return known }
        let list = try await flavorList()
        guard let flavor = list.first(where: { $0.name == name }) else {
            let field = settings.flavourSources[name].map { "\($0.position): \($0.path).name " } ?? "flavour "
            throw CloudError(
                .badRequest,
                "\(field)'\(Text.escaped(name))' is not a flavour of this OpenStack (GET /flavors/detail does not list it)"
            )
        }
        await flavors.remember(list)
        return flavor.id
    }

    func flavorList() async throws(CloudError) -> [NovaFlavorList.Flavor] {
        do { return try await api.compute(.GET, "/flavors/detail", as: NovaFlavorList.self).flavors.filter { $0.disabled != true } } catch {
            throw error.error
        }
    }

    /// The cloud's configuration with each flavour's memory and CPUs as Nova says (where the
    /// file did not say), every flavour checked: errors name the line and field of clouds.yaml.
    public func resolve(_ configuration: CloudConfiguration) async throws(MicadoError) -> CloudConfiguration {
        var configuration = configuration
        let list: [NovaFlavorList.Flavor]
        do { list = try await flavorList() } catch { throw MicadoError(error.kind.code, "cloud \(cloud): \(error.message)") }
        await flavors.remember(list)
        for index in configuration.flavours.indices {
            let name = configuration.flavours[index].name
            let source =
                settings.flavourSources[name]
                ?? .init(position: "clouds.yaml", path: "clouds.\(cloud).flavours[\(index)]", memoryWritten: true, cpusWritten: true)
            guard let flavor = list.first(where: { $0.name == name }) else {
                throw MicadoError(
                    .configuration,
                    "\(source.position): \(source.path).name '\(Text.escaped(name))' is not a flavour of this OpenStack (GET /flavors/detail does not list it)"
                )
            }
            let memory = flavor.ram ?? 0
            if source.memoryWritten {
                guard memory == 0 || configuration.flavours[index].memoryMiB <= memory else {
                    throw MicadoError(
                        .configuration,
                        "\(source.position): \(source.path).memoryMiB (\(configuration.flavours[index].memoryMiB)) is above the \(memory) MiB of \(Text.escaped(name))"
                    )
                }
            } else {
                guard memory > 0 else {
                    throw MicadoError(
                        .configuration,
                        "\(source.position): \(source.path).memoryMiB is missing and Nova does not say the memory of \(Text.escaped(name))"
                    )
                }
                configuration.flavours[index].memoryMiB = memory
            }
            if !source.cpusWritten { configuration.flavours[index].cpus = max(flavor.vcpus ?? 1, 1) }
        }
        return configuration
    }

    // MARK: servers

    /// A Nova server ID: a UUID. Anything else is not looked up, nor stored.
    static func isServerID(_ id: String) -> Bool { id.count == 36 && UUID(uuidString: id) != nil }

    /// Nova's description as micado's: the status mapped, the address from the first network
    /// (by name) that has a fixed IPv4 one, the metadata as tags.
    func instance(_ server: NovaServer) throws(CloudError) -> CloudInstance {
        guard Self.isServerID(server.id) else {
            throw CloudError(.badRequest, "OpenStack: a server without a usable ID (\(Text.escaped(String(server.id.prefix(80)))))")
        }
        let status = (server.status ?? "").uppercased()
        var detail: String?
        let state: CloudInstance.State
        switch status {
        case "BUILD", "REBUILD": state = .booting
        case "ACTIVE", "REBOOT", "HARD_REBOOT", "PASSWORD", "MIGRATING", "RESIZE", "VERIFY_RESIZE", "REVERT_RESIZE": state = .running
        case "DELETED", "SOFT_DELETED": state = .terminated
        default:
            state = .failed
            let reason = server.fault?.message.map { ": " + $0 } ?? ""
            detail = Text.escaped(String(("Nova status '\(String(status.prefix(40)))'" + reason).prefix(500)))
        }
        let address = Self.address(server.addresses ?? [:])
        return CloudInstance(
            id: server.id,
            address: address,
            state: state,
            engineEndpoint: address.isEmpty ? "" : "tcp://\(address):\(Self.enginePort)",
            tags: server.metadata ?? [:],
            detail: detail
        )
    }

    public static func address(_ addresses: [String: [NovaServer.Address]]) -> String {
        for name in addresses.keys.sorted() {
            for entry in addresses[name] ?? [] where entry.version ?? 4 == 4 && (entry.type ?? "fixed") == "fixed" {
                if let address = entry.addr.flatMap(IPv4.init) { return address.description }
            }
        }
        return ""
    }
}

/// Flavour names → Nova's IDs, learnt once (flavours do not change under a running cloud).
actor OpenStackFlavors {
    var ids: [String: String] = [:]
    func id(of name: String) -> String? { ids[name] }
    func remember(_ list: [NovaFlavorList.Flavor]) { for flavor in list { ids[flavor.name] = flavor.id } }
}
