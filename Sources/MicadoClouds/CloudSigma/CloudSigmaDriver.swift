import Foundation
import Logging
import MicadoCore
import NIOHTTP1

/// The `cloudsigma` cloud (API 2.0): an instance is a clone of the application's library
/// drive and a server with that drive, a DHCP NIC and the boot document in its meta
/// (`cloudinit-user-data`, base64, as CloudSigma's cloud-init datasource reads it), then
/// started. Found again by the token in its meta; stopped, then deleted with its drives.
///
/// The address comes by DHCP once the server runs: the engine's certificate names the
/// instance, and the address comes from the server's runtime.
public struct CloudSigmaDriver: CloudDriver, ConfigurationResolving {
    public static let enginePort = BootDocument.enginePort
    /// A server's meta takes at most this much per value.
    public static let maximumUserDataBytes = 64 << 10
    static let pageSize = 100
    static let maximumPages = 200
    /// How long a clone may take to become usable (a create waits for it: the scaler's pass
    /// with it), and how long a delete waits for its stop before it says "later" (the next
    /// pass deletes it once stopped).
    public var cloneWait: Duration = .seconds(120)
    public var stopWait: Duration = .seconds(10)
    public var pollEvery: Duration = .seconds(1)

    public typealias Renderer = @Sendable (UserData) throws(CloudError) -> String

    public let cloud: String
    public let settings: CloudSigmaSettings
    /// Each location's API (one when the settings name one endpoint).
    public let apis: [String: CloudSigmaAPI]
    let render: Renderer
    let logger: Logger

    public init(
        cloud: String,
        settings: CloudSigmaSettings,
        apis: [String: CloudSigmaAPI],
        authority: CertificateAuthority,
        logger: Logger
    ) {
        self.init(cloud: cloud, settings: settings, apis: apis, logger: logger) { (userData) throws(CloudError) -> String in
            try BootDocument.render(userData, address: nil, authority: authority)
        }
    }

    public init(
        cloud: String,
        settings: CloudSigmaSettings,
        apis: [String: CloudSigmaAPI],
        logger: Logger,
        render: @escaping Renderer
    ) {
        self.cloud = cloud
        self.settings = settings
        self.apis = apis
        self.logger = logger
        self.render = render
    }

    public var describeInterval: Duration { .seconds(2) }

    /// Each API once (locations may share one).
    var distinctAPIs: [CloudSigmaAPI] {
        var seen: Set<String> = []
        return apis.sorted { $0.key < $1.key }.map(\.value).filter { seen.insert($0.endpoint).inserted }
    }

    // MARK: CloudDriver

    struct NewServer: Encodable {
        struct DriveRef: Encodable {
            var boot_order = 1
            var dev_channel = "0:0"
            var device = "virtio"
            var drive: String
        }
        struct NIC: Encodable {
            struct Conf: Encodable { var conf = "dhcp" }
            var ip_v4_conf = Conf()
            var model = "virtio"
        }
        var name: String
        var cpu: Int
        var mem: Int
        var vnc_password: String
        var drives: [DriveRef]
        var nics = [NIC()]
        var meta: [String: String]
    }

    struct Objects<T: Encodable>: Encodable { var objects: [T] }

    public func create(_ request: CreateInstanceRequest) async throws(CloudError) -> CloudInstance {
        guard let api = apis[request.location] else {
            throw CloudError(.badRequest, "cloud \(cloud) has no location \(Text.escaped(request.location))")
        }
        // No client token: the token in the meta decides, looked up before any create.
        if let existing = try await findServer(token: request.idempotencyToken) {
            // A crash between the create and the start leaves it stopped: started now.
            if existing.status == "stopped" { try await start(existing.uuid, api) }
            return try instance(existing)
        }
        let name = "micado-" + (request.tags[CloudTag.instance] ?? String(request.idempotencyToken.prefix(10)))
        let userData = Data(try render(request.userData).utf8).base64EncodedString()
        guard userData.utf8.count <= Self.maximumUserDataBytes else {
            throw CloudError(
                .badRequest,
                "the boot document is \(userData.utf8.count) bytes in base64; CloudSigma's meta takes at most \(Self.maximumUserDataBytes)"
            )
        }
        let drive = try await clone(request.machineImage, name: name, token: request.idempotencyToken, api)
        var meta = request.tags
        meta["cloudinit-user-data"] = userData
        meta["base64_fields"] = "cloudinit-user-data"
        let server = NewServer(
            name: name,
            cpu: settings.cpuMHz[request.flavour.name] ?? request.flavour.cpus * 2000,
            mem: request.flavour.memoryMiB << 20,
            vnc_password: String(UUID().uuidString.prefix(8)),
            drives: [.init(drive: drive)],
            meta: meta
        )
        let created: CloudSigmaServer
        do {
            let body = Array(try JSONEncoder().encode(Objects(objects: [server])))
            let answer: CloudSigmaList<CloudSigmaServer>
            do throws(CloudSigmaAPI.Failure) {
                answer = try await api.call(.POST, "/servers/", body: body, as: CloudSigmaList<CloudSigmaServer>.self, attempts: 1)
            } catch {
                guard error.error.kind == .transient, let found = try await findServer(token: request.idempotencyToken) else {
                    throw error.error
                }
                answer = CloudSigmaList(meta: nil, objects: [found])
            }
            guard let first = answer.objects.first, Self.isID(first.uuid) else {
                throw CloudError(.badRequest, "CloudSigma POST /servers/: the answer names no server")
            }
            created = first
        } catch {
            // The clone is ours alone: it goes with the failed create.
            _ = try? await api.send(.DELETE, "/drives/\(drive)/")
            throw (error as? CloudError) ?? CloudError(.badRequest, "cannot encode the server to create")
        }
        try await start(created.uuid, api)
        logger.info(
            "CloudSigma server started",
            metadata: ["cloud": "\(cloud)", "instance.id": "\(created.uuid)", "instance.flavour": "\(request.flavour.name)"]
        )
        return CloudInstance(id: created.uuid, address: "", state: .booting, engineEndpoint: "", tags: request.tags)
    }

    /// A clone of the library drive, usable (`unmounted`): the one an interrupted create made
    /// for this token, else a new one.
    func clone(_ libraryDrive: String, name: String, token: String, _ api: CloudSigmaAPI) async throws(CloudError) -> String {
        guard Self.isID(libraryDrive) else {
            throw CloudError(.badRequest, "'\(Text.escaped(libraryDrive))' is not a CloudSigma drive UUID")
        }
        var uuid: String
        if let existing = try await drives(api).first(where: { $0.meta?[CloudTag.token] == token && Self.isID($0.uuid) }) {
            uuid = existing.uuid
        } else {
            struct Clone: Encodable {
                var name: String
                var media = "disk"
                var meta: [String: String]
            }
            let body: [UInt8]
            do { body = Array(try JSONEncoder().encode(Clone(name: name, meta: [CloudTag.token: token]))) } catch {
                throw CloudError(.badRequest, "cannot encode the clone")
            }
            // Sent once: a lost answer may mean a clone, which its token in the meta finds (a retried POST made four).
            let answer: CloudSigmaList<CloudSigmaDrive>
            do throws(CloudSigmaAPI.Failure) {
                answer = try await api.call(
                    .POST,
                    "/libdrives/\(libraryDrive)/action/",
                    query: [("do", "clone")],
                    body: body,
                    as: CloudSigmaList<CloudSigmaDrive>.self,
                    attempts: 1
                )
            } catch {
                guard error.error.kind == .transient,
                    let found = try await drives(api).first(where: { $0.meta?[CloudTag.token] == token && Self.isID($0.uuid) })
                else {
                    throw error.error
                }
                answer = CloudSigmaList(meta: nil, objects: [found])
            }
            guard let drive = answer.objects.first, Self.isID(drive.uuid) else {
                throw CloudError(.badRequest, "CloudSigma clone: the answer names no usable drive")
            }
            uuid = drive.uuid
        }
        do throws(CloudError) {
            try await waitUntilUsable(uuid, libraryDrive: libraryDrive, api)
        } catch {
            // The clone is this create's alone: it goes with the failure (it is billed).
            _ = try? await api.send(.DELETE, "/drives/\(uuid)/")
            throw error
        }
        return uuid
    }

    /// Until the clone is `unmounted`, within `cloneWait`.
    func waitUntilUsable(_ uuid: String, libraryDrive: String, _ api: CloudSigmaAPI) async throws(CloudError) {
        let clock = ContinuousClock()
        let deadline = clock.now + cloneWait
        while true {
            let drive: CloudSigmaDrive
            do { drive = try await api.call(.GET, "/drives/\(uuid)/", as: CloudSigmaDrive.self) } catch { throw error.error }
            switch drive.status {
            case "unmounted"?: return
            case "creating"?, "cloning_dst"?, "cloning_src"?: break
            default:
                throw CloudError(
                    .capacity,
                    "CloudSigma: the clone of \(Text.escaped(libraryDrive)) is '\(Text.escaped(drive.status ?? "?"))'"
                )
            }
            guard clock.now < deadline else {
                throw CloudError(.transient, "CloudSigma: the clone of \(Text.escaped(libraryDrive)) was not ready within \(cloneWait)")
            }
            do { try await Task.sleep(for: pollEvery) } catch { throw CloudError(.transient, "CloudSigma clone: cancelled") }
        }
    }

    func start(_ uuid: String, _ api: CloudSigmaAPI) async throws(CloudError) {
        do { _ = try await api.send(.POST, "/servers/\(uuid)/action/", query: [("do", "start")]) } catch {
            // Started meanwhile (a retried start): what was wanted.
            if error.status == 400 || error.status == 403,
                error.error.message.contains("started") || error.error.message.contains("running")
            {
                return
            }
            throw error.error
        }
    }

    public func describe(_ id: String) async throws(CloudError) -> CloudInstance? {
        guard Self.isID(id) else { return nil }
        for api in distinctAPIs {
            let server: CloudSigmaServer
            do throws(CloudSigmaAPI.Failure) { server = try await api.call(.GET, "/servers/\(id)/", as: CloudSigmaServer.self) } catch {
                if error.status == 404 { continue }
                throw error.error
            }
            return try instance(server)
        }
        return nil
    }

    public func list() async throws(CloudError) -> [CloudInstance] {
        try await servers().compactMap { server in
            guard server.meta?[CloudTag.manager] != nil else { return nil }
            do throws(CloudError) { return try instance(server) } catch {
                logger.warning("CloudSigma server skipped", metadata: ["cloud": "\(cloud)", "error": "\(error.message)"])
                return nil
            }
        }
    }

    public func find(token: String) async throws(CloudError) -> CloudInstance? {
        try await findServer(token: token).map { server throws(CloudError) in try instance(server) }
    }

    func findServer(token: String) async throws(CloudError) -> CloudSigmaServer? {
        // Two only where two creates raced: the smallest ID wins, always the same one.
        try await servers().filter { $0.meta?[CloudTag.token] == token }.min { $0.uuid < $1.uuid }
    }

    /// Every server of every API, page by page.
    func servers() async throws(CloudError) -> [CloudSigmaServer] {
        var result: [CloudSigmaServer] = []
        for api in distinctAPIs {
            var offset = 0
            for page in 0...Self.maximumPages {
                guard page < Self.maximumPages else {
                    throw CloudError(.badRequest, "CloudSigma GET /servers/detail/: more than \(Self.maximumPages) pages; refused")
                }
                let answer: CloudSigmaList<CloudSigmaServer>
                do {
                    answer = try await api.call(
                        .GET,
                        "/servers/detail/",
                        query: [("limit", String(Self.pageSize)), ("offset", String(offset))],
                        as: CloudSigmaList<CloudSigmaServer>.self
                    )
                } catch { throw error.error }
                result += answer.objects
                offset += answer.count
                guard answer.count == Self.pageSize, offset < (answer.meta?.total_count ?? .max) else { break }
            }
        }
        return result
    }

    func drives(_ api: CloudSigmaAPI) async throws(CloudError) -> [CloudSigmaDrive] {
        do {
            return try await api.call(.GET, "/drives/detail/", query: [("limit", "0")], as: CloudSigmaList<CloudSigmaDrive>.self).objects
        } catch { throw error.error }
    }

    /// Stopped, then deleted with its drives; succeeds when it is already gone.
    public func delete(_ id: String) async throws(CloudError) {
        guard Self.isID(id) else { return }
        for api in distinctAPIs {
            let server: CloudSigmaServer
            do throws(CloudSigmaAPI.Failure) { server = try await api.call(.GET, "/servers/\(id)/", as: CloudSigmaServer.self) } catch {
                if error.status == 404 { continue }
                throw error.error
            }
            if server.status != "stopped" {
                do { _ = try await api.send(.POST, "/servers/\(id)/action/", query: [("do", "stop")]) } catch {
                    if error.status != 400 && error.status != 403 { throw error.error }  // stopped meanwhile
                }
                let clock = ContinuousClock()
                let deadline = clock.now + stopWait
                while true {
                    let current: CloudSigmaServer
                    do { current = try await api.call(.GET, "/servers/\(id)/", as: CloudSigmaServer.self) } catch {
                        if error.status == 404 { return }
                        throw error.error
                    }
                    if current.status == "stopped" { break }
                    // Not held here: the next pass looks again (the scaler's pass waits for this call).
                    guard clock.now < deadline else {
                        throw CloudError(.transient, "CloudSigma: \(id) is stopping; it is deleted once stopped")
                    }
                    do { try await Task.sleep(for: pollEvery) } catch { throw CloudError(.transient, "CloudSigma stop: cancelled") }
                }
            }
            do { _ = try await api.send(.DELETE, "/servers/\(id)/", query: [("recurse", "all_drives")]) } catch {
                if error.status == 404 { return }
                throw error.error
            }
            logger.info("CloudSigma server deleted", metadata: ["cloud": "\(cloud)", "instance.id": "\(id)"])
            return
        }
    }

    // MARK: prices

    /// Each flavour's price per hour from CloudSigma's price list (CPU by the GHz, memory by
    /// the GiB, at the account's current level, in the settings' currency), unless the file
    /// wrote one. Errors name the line and field of clouds.yaml.
    public func resolve(_ configuration: CloudConfiguration) async throws(MicadoError) -> CloudConfiguration {
        var configuration = configuration
        guard configuration.flavours.contains(where: { settings.flavourSources[$0.name]?.priceWritten == false }),
            let api = distinctAPIs.first
        else {
            return configuration
        }
        let pricing: CloudSigmaPricing
        do { pricing = try await api.call(.GET, "/pricing/", query: [("limit", "0")], as: CloudSigmaPricing.self) } catch {
            throw MicadoError(error.error.kind.code, "cloud \(cloud): \(error.error.message)")
        }
        guard let cpu = pricing.hourly("cpu", currency: settings.currency), let mem = pricing.hourly("mem", currency: settings.currency)
        else {
            throw MicadoError(.configuration, "cloud \(cloud): CloudSigma's price list has no CPU or memory price in \(settings.currency)")
        }
        for index in configuration.flavours.indices where settings.flavourSources[configuration.flavours[index].name]?.priceWritten == false
        {
            let flavour = configuration.flavours[index]
            let mhz = settings.cpuMHz[flavour.name] ?? flavour.cpus * 2000
            configuration.flavours[index].pricePerHour = Self.price(
                cpuMHz: mhz,
                memoryMiB: flavour.memoryMiB,
                cpuPerGHz: cpu,
                memoryPerGiB: mem
            )
        }
        return configuration
    }

    public static func price(cpuMHz: Int, memoryMiB: Int, cpuPerGHz: Double, memoryPerGiB: Double) -> Double {
        Double(cpuMHz) / 1000 * cpuPerGHz + Double(memoryMiB) / 1024 * memoryPerGiB
    }

    // MARK: servers

    /// A CloudSigma UUID (libcloud's recordings write some with '_'): nothing else is looked up, nor stored.
    static func isID(_ id: String) -> Bool {
        (32...40).contains(id.count)
            && id.unicodeScalars.allSatisfy { ("0"..."9").contains($0) || ("a"..."f").contains($0) || $0 == "-" || $0 == "_" }
    }

    /// CloudSigma's description as micado's: the status mapped, the address from the runtime's NICs.
    func instance(_ server: CloudSigmaServer) throws(CloudError) -> CloudInstance {
        guard Self.isID(server.uuid) else {
            throw CloudError(.badRequest, "CloudSigma: a server without a usable UUID (\(Text.escaped(String(server.uuid.prefix(80)))))")
        }
        let status = server.status ?? ""
        var detail: String?
        let state: CloudInstance.State
        switch status {
        case "starting": state = .booting
        case "running", "started": state = .running
        default:
            state = .failed
            detail = "CloudSigma status '\(Text.escaped(String(status.prefix(40))))'"
        }
        let address = (server.runtime?.nics ?? []).compactMap { $0.ip_v4?.uuid.flatMap(IPv4.init) }.first?.description ?? ""
        var tags = server.meta ?? [:]
        tags["cloudinit-user-data"] = nil
        tags["base64_fields"] = nil
        return CloudInstance(
            id: server.uuid,
            address: address,
            state: state,
            engineEndpoint: address.isEmpty ? "" : "tcp://\(address):\(Self.enginePort)",
            tags: tags,
            detail: detail
        )
    }
}
