import Foundation
import MicadoClouds
import MicadoCore
import NIOHTTP1
import Synchronization

/// Keystone and Nova on 127.0.0.1, with state: a password login answers with Keystone's
/// recorded token document (its catalog pointed here), servers are created, described,
/// listed by tag and deleted, each answer built from Nova's recorded API samples (v2.52),
/// not from shapes made up here. A server stays BUILD for a few looks, then is ACTIVE with
/// the next address of its pool, and `onActive` boots it (the tests' hypervisor); a deleted
/// server goes to `onDeleted`. Tests inject faults per call.
public final class OpenStackStandIn: Sendable {
    public static let username = "micado-test"
    /// Recognisable if it ever leaked into a log, an event or an error.
    public static let password = "os-test-secret-8c1f2a7e"
    public static let project = "micado-project"
    public static let network = "3cb9bc59-5699-4588-a4b1-b87f96708bc6"
    public static let image = "70a599e0-31e7-49b7-b260-868f441e862b"

    public enum Call: String, Sendable { case login, create, get, list, delete, flavors }

    public enum Fault: Sendable {
        /// Nova's error document (`{"<kind>": {"message", "code"}}`) with this status.
        case error(status: UInt, kind: String, message: String)
        /// The call is carried out, then its answer is lost (a 502 from a proxy on the way).
        case lostAnswer
    }

    public struct Server: Sendable {
        public var id: String
        public var name: String
        public var status: String
        public var metadata: [String: String]
        public var tags: [String]
        public var flavorID: String
        public var image: String
        public var network: String
        public var zone: String?
        /// The boot document, decoded.
        public var userData: String
        public var address: String?
        var looks = 0
    }

    struct State {
        var servers: [Server] = []
        var tokens: Set<String> = []
    }

    let state = Mutex(State())
    let ledger: StandInLedger<Call, Fault>
    /// A server stays BUILD for this many looks (GET or list).
    let buildLooks: Int
    let onActive: @Sendable (Server) async -> Void
    let onDeleted: @Sendable (Server) async -> Void
    let portBox = Mutex(0)

    init(
        addresses: ClosedRange<IPv4>,
        buildLooks: Int,
        onActive: @escaping @Sendable (Server) async -> Void,
        onDeleted: @escaping @Sendable (Server) async -> Void
    ) {
        ledger = StandInLedger(addresses: addresses)
        self.buildLooks = buildLooks
        self.onActive = onActive
        self.onDeleted = onDeleted
    }

    public var endpoint: String { "http://127.0.0.1:\(portBox.withLock { $0 })" }
    /// Keystone v3, as clouds.yaml's authURL.
    public var authURL: String { endpoint + "/identity/v3" }

    public static func withCloud<T>(
        addresses: ClosedRange<IPv4> = IPv4("10.99.0.10")!...IPv4("10.99.0.250")!,
        buildLooks: Int = 2,
        onActive: @escaping @Sendable (Server) async -> Void = { _ in },
        onDeleted: @escaping @Sendable (Server) async -> Void = { _ in },
        _ body: (OpenStackStandIn) async throws -> T
    ) async throws -> T {
        let cloud = OpenStackStandIn(addresses: addresses, buildLooks: buildLooks, onActive: onActive, onDeleted: onDeleted)
        let documents = try Documents()
        return try await LoopbackHTTPServer.withServer({ request in await cloud.answer(request, documents) }) { server in
            cloud.portBox.withLock { $0 = server.port }
            return try await body(cloud)
        }
    }

    // MARK: what tests look at and change

    /// Where the next servers' addresses come from (a test's bridge network, once it exists).
    public func setAddresses(_ addresses: ClosedRange<IPv4>) { ledger.setAddresses(addresses) }

    public func inject(_ call: Call, _ faults: Fault...) { ledger.inject(call, faults) }
    public func count(_ call: Call) -> Int { ledger.count(call) }
    public var servers: [Server] { state.withLock { $0.servers } }
    /// Every token handed out stops working (as when Keystone revokes them).
    public func revokeTokens() { state.withLock { $0.tokens = [] } }
    /// Everything the server was sent (headers and bodies), to check what never travels.
    public var everything: String { ledger.everything }

    // MARK: recorded documents

    /// The recorded documents every answer starts from.
    struct Documents: @unchecked Sendable {
        // @unchecked: read-only trees from JSONSerialization, copied before any change.
        let token: [String: Any]
        let flavors: [[String: Any]]
        let server: [String: Any]
        let created: [String: Any]

        init() throws {
            token = try CloudFixtures.object(CloudFixtures.keystone + "/admin/auth-password-project-scoped-response.json")
            flavors =
                (try CloudFixtures.object(CloudFixtures.nova + "/flavors/flavors-detail-resp.json")["flavors"] as? [[String: Any]]) ?? []
            server =
                (try CloudFixtures.object(CloudFixtures.nova + "/servers/v2.52/server-get-resp.json")["server"] as? [String: Any]) ?? [:]
            created =
                (try CloudFixtures.object(CloudFixtures.nova + "/servers/v2.52/server-create-resp.json")["server"] as? [String: Any]) ?? [:]
        }
    }

    static func novaError(_ status: UInt, kind: String, _ message: String) -> LoopbackHTTPServer.Response {
        .json(HTTPResponseStatus(statusCode: Int(status)), [kind: ["message": message, "code": status]])
    }

    // MARK: answering

    func answer(_ request: LoopbackHTTPServer.Request, _ documents: Documents) async -> LoopbackHTTPServer.Response {
        ledger.record(request)
        if request.method == .POST && request.path == "/identity/v3/auth/tokens" { return login(request, documents) }
        // The catalog's compute endpoint: the recorded one's path (/v2.1/<project id>) on this server.
        let parts = request.path.split(separator: "/").map(String.init)
        guard parts.count >= 3, parts[0] == "v2.1" else { return Self.novaError(404, kind: "itemNotFound", "no such resource") }
        guard let token = request.header("X-Auth-Token"), state.withLock({ $0.tokens.contains(token) }) else {
            return .json(
                .unauthorized,
                ["error": ["code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."]]
            )
        }
        guard request.header("OpenStack-API-Version") == "compute 2.52" else {
            return Self.novaError(400, kind: "badRequest", "this stand-in speaks compute 2.52")
        }
        let route = Array(parts.dropFirst(2))
        switch (request.method, route.count) {
        case (.GET, 2) where route == ["flavors", "detail"]:
            if let fault = take(.flavors) { return fault.response }
            return .json(.ok, ["flavors": documents.flavors])
        case (.POST, 1) where route == ["servers"]:
            return create(request, documents)
        case (.GET, 2) where route == ["servers", "detail"]:
            if let fault = take(.list) { return fault.response }
            return list(request, documents)
        case (.GET, 2) where route[0] == "servers":
            if let fault = take(.get) { return fault.response }
            guard let server = look(at: route[1]) else {
                return Self.novaError(404, kind: "itemNotFound", "Instance \(route[1]) could not be found.")
            }
            return .json(.ok, ["server": Self.document(server, documents)])
        case (.DELETE, 2) where route[0] == "servers":
            return await delete(route[1])
        default:
            return Self.novaError(404, kind: "itemNotFound", "The resource could not be found.")
        }
    }

    func take(_ call: Call) -> Fault? { ledger.take(call) }

    func login(_ request: LoopbackHTTPServer.Request, _ documents: Documents) -> LoopbackHTTPServer.Response {
        if let fault = take(.login) { return fault.response }
        guard let body = try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any],
            let auth = body["auth"] as? [String: Any], let identity = auth["identity"] as? [String: Any],
            let password = (identity["password"] as? [String: Any])?["user"] as? [String: Any],
            password["name"] as? String == Self.username, password["password"] as? String == Self.password,
            ((auth["scope"] as? [String: Any])?["project"] as? [String: Any])?["name"] as? String == Self.project
        else {
            return .json(
                .unauthorized,
                ["error": ["code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."]]
            )
        }
        let token = "gAAAA" + UUID().uuidString.replacingOccurrences(of: "-", with: "")
        state.withLock { _ = $0.tokens.insert(token) }
        var document = documents.token
        var inner = document["token"] as? [String: Any] ?? [:]
        let here = endpoint
        inner["catalog"] = (inner["catalog"] as? [[String: Any]] ?? []).map { service in
            var service = service
            service["endpoints"] = (service["endpoints"] as? [[String: Any]] ?? []).map { endpoint in
                var endpoint = endpoint
                if let url = endpoint["url"] as? String, let parsed = URLComponents(string: url) { endpoint["url"] = here + parsed.path }
                return endpoint
            }
            return service
        }
        inner["expires_at"] = RFC3339.string(Date().addingTimeInterval(3600))
        document["token"] = inner
        return .json(.created, document, headers: [("X-Subject-Token", token)])
    }

    func create(_ request: LoopbackHTTPServer.Request, _ documents: Documents) -> LoopbackHTTPServer.Response {
        let fault = take(.create)
        if case .error? = fault { return fault!.response }
        guard let body = try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any],
            let server = body["server"] as? [String: Any],
            let name = server["name"] as? String, let image = server["imageRef"] as? String, let flavor = server["flavorRef"] as? String,
            let networks = server["networks"] as? [[String: Any]], let network = networks.first?["uuid"] as? String,
            let encoded = server["user_data"] as? String, let userData = Data(base64Encoded: encoded)
        else { return Self.novaError(400, kind: "badRequest", "Invalid input for field/attribute server.") }
        guard documents.flavors.contains(where: { $0["id"] as? String == flavor }) else {
            return Self.novaError(400, kind: "badRequest", "Flavor \(flavor) could not be found.")
        }
        guard image == Self.image else { return Self.novaError(400, kind: "badRequest", "Can not find requested image") }
        guard network == Self.network else { return Self.novaError(400, kind: "badRequest", "Network \(network) could not be found.") }
        let created = Server(
            id: UUID().uuidString.lowercased(),
            name: name,
            status: "BUILD",
            metadata: server["metadata"] as? [String: String] ?? [:],
            tags: server["tags"] as? [String] ?? [],
            flavorID: flavor,
            image: image,
            network: network,
            zone: server["availability_zone"] as? String,
            userData: String(decoding: userData, as: UTF8.self)
        )
        state.withLock { $0.servers.append(created) }
        if case .lostAnswer? = fault { return .text(.badGateway, "upstream connection lost") }
        var answer = documents.created
        answer["id"] = created.id
        answer["links"] = [["href": endpoint + "/v2.1/servers/\(created.id)", "rel": "self"]]
        return .json(.accepted, ["server": answer])
    }

    func list(_ request: LoopbackHTTPServer.Request, _ documents: Documents) -> LoopbackHTTPServer.Response {
        let wanted = request.query["tags"]
        let limit = Int(request.query["limit"] ?? "") ?? 1000
        var ids = state.withLock { $0.servers.filter { wanted == nil || $0.tags.contains(wanted!) }.map(\.id) }
        if let marker = request.query["marker"] {
            guard let index = ids.firstIndex(of: marker) else {
                return Self.novaError(400, kind: "badRequest", "marker [\(marker)] not found")
            }
            ids = Array(ids[(index + 1)...])
        }
        let page = ids.prefix(limit).compactMap { look(at: $0) }
        return .json(.ok, ["servers": page.map { Self.document($0, documents) }, "servers_links": []])
    }

    /// The server after one more look: BUILD until `buildLooks`, then ACTIVE with an address (booted by `onActive`).
    func look(at id: String) -> Server? {
        let (server, activated): (Server?, Bool) = state.withLock { state in
            guard let index = state.servers.firstIndex(where: { $0.id == id }) else { return (nil, false) }
            state.servers[index].looks += 1
            guard state.servers[index].status == "BUILD", state.servers[index].looks >= buildLooks else {
                return (state.servers[index], false)
            }
            guard let address = ledger.nextAddress() else {
                state.servers[index].status = "ERROR"
                return (state.servers[index], false)
            }
            state.servers[index].address = address
            state.servers[index].status = "ACTIVE"
            return (state.servers[index], true)
        }
        if activated, let server {
            let onActive = self.onActive
            Task { await onActive(server) }
        }
        return server
    }

    func delete(_ id: String) async -> LoopbackHTTPServer.Response {
        if let fault = take(.delete) { return fault.response }
        let removed: Server? = state.withLock { state in
            guard let index = state.servers.firstIndex(where: { $0.id == id }) else { return nil }
            return state.servers.remove(at: index)
        }
        guard let removed else { return Self.novaError(404, kind: "itemNotFound", "Instance \(id) could not be found.") }
        await onDeleted(removed)
        return LoopbackHTTPServer.Response(.noContent)
    }

    /// Nova's recorded server document with this server's values in it.
    static func document(_ server: Server, _ documents: Documents) -> [String: Any] {
        var document = documents.server
        document["id"] = server.id
        document["name"] = server.name
        document["status"] = server.status
        document["metadata"] = server.metadata
        document["tags"] = server.tags
        document["OS-EXT-STS:vm_state"] = server.status == "ACTIVE" ? "active" : server.status == "BUILD" ? "building" : "error"
        document["OS-EXT-SRV-ATTR:user_data"] = Data(server.userData.utf8).base64EncodedString()
        document["OS-EXT-AZ:availability_zone"] = server.zone ?? "nova"
        document["image"] = ["id": server.image, "links": []]
        if let flavor = documents.flavors.first(where: { $0["id"] as? String == server.flavorID }) {
            document["flavor"] = [
                "original_name": flavor["name"] ?? "", "ram": flavor["ram"] ?? 0, "vcpus": flavor["vcpus"] ?? 0,
                "disk": flavor["disk"] ?? 0, "ephemeral": 0,
                "swap": 0, "extra_specs": [String: String](),
            ]
        }
        // The recorded address entry, with this server's address on its network.
        if let address = server.address,
            var entry = ((documents.server["addresses"] as? [String: Any])?["private"] as? [[String: Any]])?.first
        {
            entry["addr"] = address
            document["addresses"] = ["micado-net": [entry]]
        } else {
            document["addresses"] = [String: Any]()
        }
        if server.status == "ERROR" {
            document["fault"] = [
                "code": 500, "message": "No valid host was found. There are not enough hosts available.", "created": "2017-02-14T19:23:59Z",
            ]
        }
        document["links"] = [["href": "/v2.1/servers/\(server.id)", "rel": "self"]]
        return document
    }
}

extension OpenStackStandIn.Fault {
    var response: LoopbackHTTPServer.Response {
        switch self {
        case .error(let status, let kind, let message): OpenStackStandIn.novaError(status, kind: kind, message)
        case .lostAnswer: .text(.badGateway, "upstream connection lost")
        }
    }
}
