import Foundation
import MicadoClouds
import MicadoCore
import NIOHTTP1
import Synchronization

/// CloudSigma's API 2.0 on 127.0.0.1, with state, every answer built from libcloud's
/// recordings of the real API (read from the installed package): library drives are cloned
/// (`creating`, then `unmounted`), servers created `stopped`, started (`starting`, then
/// `running` with the next address of the pool, booted by `onActive`), stopped and deleted
/// with their drives (`onDeleted`). Statuses and errors as libcloud's tests answer them.
public final class CloudSigmaStandIn: Sendable {
    public static let username = "ops@micado.test"
    /// Recognisable if it ever leaked into a log, an event or an error.
    public static let password = "cs-test-secret-41d9e0b3"
    /// The first library drive of libcloud's recording (IPCop 2.0.2): what tests clone.
    public static let libraryDrive = "6eca8d96-44bc-4637-af97-77ccd7ba4144"

    public enum Call: String, Sendable { case clone, create, start, get, list, stop, delete, pricing }

    public enum Fault: Sendable {
        /// CloudSigma's error document (`[{"error_type", "error_message", "error_point"}]`) with this status.
        case error(status: UInt, type: String, message: String)
        /// The call is carried out, then its answer is lost.
        case lostAnswer
    }

    public struct Server: Sendable {
        public var uuid: String
        public var name: String
        public var status: String
        public var cpu: Int
        public var mem: Int
        public var meta: [String: String]
        public var drive: String
        public var address: String?
        /// The boot document, from the meta (base64).
        public var userData: String {
            meta["cloudinit-user-data"].flatMap { Data(base64Encoded: $0) }.map { String(decoding: $0, as: UTF8.self) } ?? ""
        }
        var looks = 0
    }

    public struct Drive: Sendable {
        public var uuid: String
        public var name: String
        public var status: String
        public var meta: [String: String]
        var looks = 0
    }

    struct State {
        var servers: [Server] = []
        var drives: [Drive] = []
    }

    let state = Mutex(State())
    let ledger: StandInLedger<Call, Fault>
    let onActive: @Sendable (Server) async -> Void
    let onDeleted: @Sendable (Server) async -> Void
    let portBox = Mutex(0)

    init(
        addresses: ClosedRange<IPv4>,
        onActive: @escaping @Sendable (Server) async -> Void,
        onDeleted: @escaping @Sendable (Server) async -> Void
    ) {
        ledger = StandInLedger(addresses: addresses)
        self.onActive = onActive
        self.onDeleted = onDeleted
    }

    public var endpoint: String { "http://127.0.0.1:\(portBox.withLock { $0 })/api/2.0" }

    public static func withCloud<T>(
        addresses: ClosedRange<IPv4> = IPv4("10.98.0.10")!...IPv4("10.98.0.250")!,
        onActive: @escaping @Sendable (Server) async -> Void = { _ in },
        onDeleted: @escaping @Sendable (Server) async -> Void = { _ in },
        _ body: (CloudSigmaStandIn) async throws -> T
    ) async throws -> T {
        let cloud = CloudSigmaStandIn(addresses: addresses, onActive: onActive, onDeleted: onDeleted)
        let documents = try Documents()
        return try await LoopbackHTTPServer.withServer({ request in await cloud.answer(request, documents) }) { server in
            cloud.portBox.withLock { $0 = server.port }
            return try await body(cloud)
        }
    }

    public func setAddresses(_ addresses: ClosedRange<IPv4>) { ledger.setAddresses(addresses) }
    public func inject(_ call: Call, _ faults: Fault...) { ledger.inject(call, faults) }
    public func count(_ call: Call) -> Int { ledger.count(call) }
    public var servers: [Server] { state.withLock { $0.servers } }
    public var drives: [Drive] { state.withLock { $0.drives } }
    public var everything: String { ledger.everything }

    // MARK: recorded documents

    struct Documents: @unchecked Sendable {
        // @unchecked: read-only trees from JSONSerialization, copied before any change.
        let server: [String: Any]
        let created: [String: Any]
        let clone: [String: Any]
        let drive: [String: Any]
        let libraryDrives: [[String: Any]]
        let pricing: [String: Any]
        let started: [String: Any]
        let stopped: [String: Any]
        let alreadyStarted: [[String: Any]]
        let alreadyStopped: [[String: Any]]

        init() throws {
            func object(_ name: String) throws -> [String: Any] { try CloudFixtures.object(CloudFixtures.cloudSigma + "/" + name) }
            func list(_ name: String) throws -> [[String: Any]] {
                guard
                    let list = try JSONSerialization.jsonObject(with: CloudFixtures.data(CloudFixtures.cloudSigma + "/" + name))
                        as? [[String: Any]]
                else {
                    throw CloudFixtures.Missing("\(name) is not a JSON list")
                }
                return list
            }
            server = try object("servers_get.json")
            created = (try object("servers_create.json")["objects"] as? [[String: Any]])?.first ?? [:]
            clone = (try object("drives_clone.json")["objects"] as? [[String: Any]])?.first ?? [:]
            drive = try object("drives_get.json")
            libraryDrives = try object("libdrives.json")["objects"] as? [[String: Any]] ?? []
            pricing = try object("pricing.json")
            started = try object("start_success.json")
            stopped = try object("stop_success.json")
            alreadyStarted = try list("start_already_started.json")
            alreadyStopped = try list("stop_already_stopped.json")
        }
    }

    static func error(_ status: UInt, type: String, _ message: String) -> LoopbackHTTPServer.Response {
        .json(HTTPResponseStatus(statusCode: Int(status)), [["error_point": NSNull(), "error_type": type, "error_message": message]])
    }

    // MARK: answering

    func answer(_ request: LoopbackHTTPServer.Request, _ documents: Documents) async -> LoopbackHTTPServer.Response {
        ledger.record(request)
        let expected = "Basic " + Data("\(Self.username):\(Self.password)".utf8).base64EncodedString()
        guard request.header("Authorization") == expected else {
            return Self.error(401, type: "permission", "Authentication credentials were not provided or are invalid.")
        }
        let parts = request.path.split(separator: "/").map(String.init)
        guard parts.count >= 3, parts[0] == "api", parts[1] == "2.0", request.path.hasSuffix("/") else {
            return Self.error(404, type: "notexist", "no such resource")
        }
        let route = Array(parts.dropFirst(2))
        switch (request.method, route.count) {
        case (.GET, 1) where route == ["pricing"]:
            if let fault = take(.pricing) { return fault.response }
            return .json(.ok, documents.pricing)
        case (.POST, 3) where route[0] == "libdrives" && route[2] == "action" && request.query["do"] == "clone":
            return clone(route[1], request, documents)
        case (.GET, 2) where route == ["drives", "detail"]:
            let drives = state.withLock { $0.drives }.map { Self.document($0, documents) }
            return .json(.ok, ["meta": ["limit": 0, "offset": 0, "total_count": drives.count], "objects": drives])
        case (.GET, 2) where route[0] == "drives":
            guard let drive = lookAtDrive(route[1]) else {
                return Self.error(404, type: "notexist", "Object with uuid \(route[1]) does not exist")
            }
            return .json(.ok, Self.document(drive, documents))
        case (.DELETE, 2) where route[0] == "drives":
            let removed = state.withLock { state in state.drives.firstIndex { $0.uuid == route[1] }.map { state.drives.remove(at: $0) } }
            return removed == nil
                ? Self.error(404, type: "notexist", "Object with uuid \(route[1]) does not exist") : LoopbackHTTPServer.Response(.noContent)
        case (.POST, 1) where route == ["servers"]:
            return create(request, documents)
        case (.GET, 2) where route == ["servers", "detail"]:
            if let fault = take(.list) { return fault.response }
            return list(request, documents)
        case (.GET, 2) where route[0] == "servers":
            if let fault = take(.get) { return fault.response }
            guard let server = look(at: route[1]) else {
                return Self.error(404, type: "notexist", "Object with uuid \(route[1]) does not exist")
            }
            return .json(.ok, Self.document(server, documents))
        case (.POST, 3) where route[0] == "servers" && route[2] == "action":
            return action(route[1], request.query["do"] ?? "", documents)
        case (.DELETE, 2) where route[0] == "servers":
            return await delete(route[1], request)
        default:
            return Self.error(404, type: "notexist", "The resource could not be found.")
        }
    }

    func take(_ call: Call) -> Fault? { ledger.take(call) }

    func clone(_ library: String, _ request: LoopbackHTTPServer.Request, _ documents: Documents) -> LoopbackHTTPServer.Response {
        let fault = take(.clone)
        if case .error? = fault { return fault!.response }
        guard documents.libraryDrives.contains(where: { $0["uuid"] as? String == library }) else {
            return Self.error(404, type: "notexist", "Object with uuid \(library) does not exist")
        }
        let body = (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any] ?? [:]
        let drive = Drive(
            uuid: UUID().uuidString.lowercased(),
            name: body["name"] as? String ?? "clone",
            status: "creating",
            meta: body["meta"] as? [String: String] ?? [:]
        )
        state.withLock { $0.drives.append(drive) }
        if case .lostAnswer? = fault { return .text(.badGateway, "upstream connection lost") }
        return .json(.accepted, ["objects": [Self.document(drive, documents, base: documents.clone)]])
    }

    /// A clone is `creating` for one look, then `unmounted`.
    func lookAtDrive(_ uuid: String) -> Drive? {
        state.withLock { state in
            guard let index = state.drives.firstIndex(where: { $0.uuid == uuid }) else { return nil }
            state.drives[index].looks += 1
            if state.drives[index].status == "creating" && state.drives[index].looks >= 2 { state.drives[index].status = "unmounted" }
            return state.drives[index]
        }
    }

    func create(_ request: LoopbackHTTPServer.Request, _ documents: Documents) -> LoopbackHTTPServer.Response {
        let fault = take(.create)
        if case .error? = fault { return fault!.response }
        guard let body = try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any],
            let objects = body["objects"] as? [[String: Any]],
            let object = objects.first, let name = object["name"] as? String, let cpu = object["cpu"] as? Int,
            let mem = object["mem"] as? Int,
            let drives = object["drives"] as? [[String: Any]], let drive = drives.first?["drive"] as? String,
            let nics = object["nics"] as? [[String: Any]], (nics.first?["ip_v4_conf"] as? [String: Any])?["conf"] as? String == "dhcp"
        else { return Self.error(400, type: "validation", "Invalid server definition") }
        guard state.withLock({ $0.drives.contains { $0.uuid == drive && $0.status == "unmounted" } }) else {
            return Self.error(400, type: "validation", "Drive \(drive) is not usable")
        }
        let meta = object["meta"] as? [String: String] ?? [:]
        // CloudSigma decodes what base64_fields names: it must be base64.
        if let encoded = meta["cloudinit-user-data"], Data(base64Encoded: encoded) == nil {
            return Self.error(400, type: "validation", "cloudinit-user-data is not base64")
        }
        let server = Server(
            uuid: UUID().uuidString.lowercased(),
            name: name,
            status: "stopped",
            cpu: cpu,
            mem: mem,
            meta: meta,
            drive: drive
        )
        state.withLock { state in
            state.servers.append(server)
            if let index = state.drives.firstIndex(where: { $0.uuid == drive }) { state.drives[index].status = "mounted" }
        }
        if case .lostAnswer? = fault { return .text(.badGateway, "upstream connection lost") }
        var document = documents.created
        document["uuid"] = server.uuid
        document["name"] = server.name
        document["cpu"] = server.cpu
        document["mem"] = server.mem
        document["meta"] = server.meta
        document["status"] = "stopped"
        return .json(.created, ["objects": [document]])
    }

    func action(_ uuid: String, _ verb: String, _ documents: Documents) -> LoopbackHTTPServer.Response {
        let call: Call = verb == "start" ? .start : .stop
        if let fault = take(call) { return fault.response }
        enum Outcome { case missing, refused, done }
        let outcome: Outcome = state.withLock { state in
            guard let index = state.servers.firstIndex(where: { $0.uuid == uuid }) else { return .missing }
            switch (verb, state.servers[index].status) {
            case ("start", "stopped"): state.servers[index].status = "starting"
            case ("stop", "running"), ("stop", "starting"): state.servers[index].status = "stopping"
            default: return .refused
            }
            state.servers[index].looks = 0
            return .done
        }
        switch outcome {
        case .missing: return Self.error(404, type: "notexist", "Object with uuid \(uuid) does not exist")
        case .refused: return .json(.forbidden, verb == "start" ? documents.alreadyStarted : documents.alreadyStopped)
        case .done:
            var answer = verb == "start" ? documents.started : documents.stopped
            answer["uuid"] = uuid
            return .json(.accepted, answer)
        }
    }

    func list(_ request: LoopbackHTTPServer.Request, _ documents: Documents) -> LoopbackHTTPServer.Response {
        let ids = state.withLock { $0.servers.map(\.uuid) }
        let limit = Int(request.query["limit"] ?? "") ?? 20
        let offset = Int(request.query["offset"] ?? "") ?? 0
        let page = (limit == 0 ? ids.dropFirst(offset) : ids.dropFirst(offset).prefix(limit)).compactMap { look(at: $0) }
        return .json(
            .ok,
            ["meta": ["limit": limit, "offset": offset, "total_count": ids.count], "objects": page.map { Self.document($0, documents) }]
        )
    }

    /// The server after one more look: `starting` turns `running` with an address (booted by `onActive`); `stopping` turns `stopped`.
    func look(at uuid: String) -> Server? {
        let (server, activated): (Server?, Bool) = state.withLock { state in
            guard let index = state.servers.firstIndex(where: { $0.uuid == uuid }) else { return (nil, false) }
            state.servers[index].looks += 1
            switch state.servers[index].status {
            case "stopping" where state.servers[index].looks >= 1:
                state.servers[index].status = "stopped"
                return (state.servers[index], false)
            case "starting" where state.servers[index].looks >= 2:
                if state.servers[index].address == nil {
                    guard let address = ledger.nextAddress() else {
                        state.servers[index].status = "unavailable"
                        return (state.servers[index], false)
                    }
                    state.servers[index].address = address
                }
                state.servers[index].status = "running"
                return (state.servers[index], true)
            default:
                return (state.servers[index], false)
            }
        }
        if activated, let server {
            let onActive = self.onActive
            Task { await onActive(server) }
        }
        return server
    }

    func delete(_ uuid: String, _ request: LoopbackHTTPServer.Request) async -> LoopbackHTTPServer.Response {
        if let fault = take(.delete) { return fault.response }
        enum Outcome {
            case missing, running
            case removed(Server)
        }
        let outcome: Outcome = state.withLock { state in
            guard let index = state.servers.firstIndex(where: { $0.uuid == uuid }) else { return .missing }
            guard state.servers[index].status == "stopped" else { return .running }
            let server = state.servers.remove(at: index)
            if request.query["recurse"] == "all_drives" { state.drives.removeAll { $0.uuid == server.drive } }
            return .removed(server)
        }
        switch outcome {
        case .missing: return Self.error(404, type: "notexist", "Object with uuid \(uuid) does not exist")
        case .running:
            return Self.error(403, type: "permission", "Cannot delete guest in state \"running\". Guest should be in state \"stopped\"")
        case .removed(let server):
            await onDeleted(server)
            return LoopbackHTTPServer.Response(.noContent)
        }
    }

    /// libcloud's recorded server document with this server's values in it.
    static func document(_ server: Server, _ documents: Documents) -> [String: Any] {
        var document = documents.server
        document["uuid"] = server.uuid
        document["name"] = server.name
        document["status"] = server.status
        document["cpu"] = server.cpu
        document["mem"] = server.mem
        document["meta"] = server.meta
        document["resource_uri"] = "/api/2.0/servers/\(server.uuid)/"
        document["drives"] = [
            [
                "boot_order": 1, "dev_channel": "0:0", "device": "virtio",
                "drive": ["resource_uri": "/api/2.0/drives/\(server.drive)/", "uuid": server.drive], "runtime": NSNull(),
            ]
        ]
        // The recorded runtime, with this server's address, while it runs.
        if server.status == "running", let address = server.address, var runtime = documents.server["runtime"] as? [String: Any],
            var nic = (runtime["nics"] as? [[String: Any]])?.first
        {
            nic["ip_v4"] = ["resource_uri": "/api/2.0/ips/\(address)/", "uuid": address]
            runtime["nics"] = [nic]
            document["runtime"] = runtime
        } else {
            document["runtime"] = NSNull()
        }
        return document
    }

    static func document(_ drive: Drive, _ documents: Documents, base: [String: Any]? = nil) -> [String: Any] {
        var document = base ?? documents.drive
        document["uuid"] = drive.uuid
        document["name"] = drive.name
        document["status"] = drive.status
        document["meta"] = drive.meta
        document["resource_uri"] = "/api/2.0/drives/\(drive.uuid)/"
        return document
    }
}

extension CloudSigmaStandIn.Fault {
    var response: LoopbackHTTPServer.Response {
        switch self {
        case .error(let status, let type, let message): CloudSigmaStandIn.error(status, type: type, message)
        case .lostAnswer: .text(.badGateway, "upstream connection lost")
        }
    }
}
