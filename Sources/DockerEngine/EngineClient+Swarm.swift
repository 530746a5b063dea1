import Foundation
import MicadoCore
import NIOCore
import NIOHTTP1

// Swarm, nodes, services and tasks.
extension EngineClient {
    public func info() async throws(MicadoError) -> SystemInfo {
        try await get("/info")
    }

    /// `POST /swarm/init`. `advertiseAddress` must be an address micado owns.
    public func initSwarm(advertiseAddress: String, listenAddress: String, defaultAddressPool: String?) async throws(MicadoError) -> String
    {
        struct Body: Encodable {
            var listenAddr: String
            var advertiseAddr: String
            var defaultAddrPool: [String]?
            enum CodingKeys: String, CodingKey {
                case listenAddr = "ListenAddr"
                case advertiseAddr = "AdvertiseAddr"
                case defaultAddrPool = "DefaultAddrPool"
            }
        }
        let body = Body(listenAddr: listenAddress, advertiseAddr: advertiseAddress, defaultAddrPool: defaultAddressPool.map { [$0] })
        let response = try await send(.POST, "/swarm/init", body: try encode(body), timeout: .seconds(60))
        return String(buffer: response.body).trimmingCharacters(in: CharacterSet(charactersIn: "\"\n "))
    }

    public func swarm() async throws(MicadoError) -> SwarmInspect {
        try await get("/swarm")
    }

    /// `POST /swarm/join`: makes this engine a worker of the swarm at `remoteAddress`.
    public func joinSwarm(remoteAddress: String, token: String, advertiseAddress: String, listenAddress: String) async throws(MicadoError) {
        struct Body: Encodable {
            var listenAddr: String
            var advertiseAddr: String
            var remoteAddrs: [String]
            var joinToken: String
            enum CodingKeys: String, CodingKey {
                case listenAddr = "ListenAddr"
                case advertiseAddr = "AdvertiseAddr"
                case remoteAddrs = "RemoteAddrs"
                case joinToken = "JoinToken"
            }
        }
        let body = Body(listenAddr: listenAddress, advertiseAddr: advertiseAddress, remoteAddrs: [remoteAddress], joinToken: token)
        _ = try await send(.POST, "/swarm/join", body: try encode(body), timeout: .seconds(60))
    }

    public func leaveSwarm(force: Bool) async throws(MicadoError) {
        _ = try await send(.POST, "/swarm/leave", query: [("force", force ? "true" : "false")], timeout: .seconds(30))
    }

    public func nodes() async throws(MicadoError) -> [Node] {
        try await get("/nodes")
    }

    public func node(_ id: String) async throws(MicadoError) -> Node {
        try await get("/nodes/\(id)")
    }

    public func updateNode(_ id: String, version: ObjectVersion, spec: Node.Spec) async throws(MicadoError) {
        _ = try await send(.POST, "/nodes/\(id)/update", query: [("version", String(version.index))], body: try encode(spec))
    }

    public func removeNode(_ id: String, force: Bool) async throws(MicadoError) {
        _ = try await send(.DELETE, "/nodes/\(id)", query: [("force", force ? "true" : "false")])
    }

    /// Creates a service and returns its ID. Local images are used as they are:
    /// micado never asks a public registry to resolve a digest.
    public func createService(_ spec: ServiceSpec, registryAuth: String?) async throws(MicadoError) -> String {
        var headers: [(String, String)] = []
        if let registryAuth { headers.append(("X-Registry-Auth", registryAuth)) }
        let response = try await send(.POST, "/services/create", body: try encode(spec), headers: headers)
        return try decode(IDResponse.self, response.body, what: "/services/create").id
    }

    /// Services, optionally only those carrying a label (`key` or `key=value`).
    public func services(label: String?) async throws(MicadoError) -> [SwarmService] {
        let query = label.map { [("filters", Self.filters(["label": [$0]]))] } ?? []
        return try await get("/services", query: query)
    }

    public func service(_ idOrName: String) async throws(MicadoError) -> SwarmService {
        try await get("/services/\(idOrName)")
    }

    /// Sets the replica count, re-sending the engine's own copy of the spec so that no
    /// field micado does not model is lost.
    public func scaleService(_ idOrName: String, replicas: Int) async throws(MicadoError) {
        try await updateServiceSpec(idOrName) { spec in spec["Mode"] = ["Replicated": ["Replicas": replicas]] }
    }

    /// Sets labels of the service itself (not of its tasks: the containers keep running).
    public func labelService(_ idOrName: String, _ labels: [String: String]) async throws(MicadoError) {
        try await updateServiceSpec(idOrName) { spec in
            var current = spec["Labels"] as? [String: Any] ?? [:]
            for (key, value) in labels { current[key] = value }
            spec["Labels"] = current
        }
    }

    /// Changes the engine's own copy of a service's spec and sends it back at its version.
    func updateServiceSpec(_ idOrName: String, _ change: (inout [String: Any]) -> Void) async throws(MicadoError) {
        let raw = try await send(.GET, "/services/\(idOrName)")
        guard let object = (try? JSONSerialization.jsonObject(with: Data(raw.body.readableBytesView))) as? [String: Any],
            let version = (object["Version"] as? [String: Any])?["Index"] as? Int,
            var spec = object["Spec"] as? [String: Any]
        else { throw .init(.engine, "unexpected answer from the engine for service \(idOrName)") }
        change(&spec)
        guard let body = try? JSONSerialization.data(withJSONObject: spec) else {
            throw .init(.engine, "the engine's spec of service \(idOrName) cannot be sent back")
        }
        _ = try await send(.POST, "/services/\(idOrName)/update", query: [("version", String(version))], body: Array(body))
    }

    public func updateService(_ id: String, version: ObjectVersion, spec: ServiceSpec, registryAuth: String?) async throws(MicadoError) {
        var headers: [(String, String)] = []
        if let registryAuth { headers.append(("X-Registry-Auth", registryAuth)) }
        _ = try await send(
            .POST,
            "/services/\(id)/update",
            query: [("version", String(version.index))],
            body: try encode(spec),
            headers: headers
        )
    }

    /// An attachable overlay network (VXLAN between the nodes).
    public func createNetwork(name: String, labels: [String: String]) async throws(MicadoError) -> String {
        struct Create: Encodable {
            var name: String
            var driver = "overlay"
            var attachable = true
            var checkDuplicate = true
            var labels: [String: String]
            enum CodingKeys: String, CodingKey {
                case name = "Name"
                case driver = "Driver"
                case attachable = "Attachable"
                case checkDuplicate = "CheckDuplicate"
                case labels = "Labels"
            }
        }
        let response = try await send(.POST, "/networks/create", body: try encode(Create(name: name, labels: labels)))
        return try decode(IDResponse.self, response.body, what: "/networks/create").id
    }

    public func networks(label: String?) async throws(MicadoError) -> [NetworkSummary] {
        let query = label.map { [("filters", Self.filters(["label": [$0]]))] } ?? []
        return try await get("/networks", query: query)
    }

    public func removeNetwork(_ idOrName: String) async throws(MicadoError) {
        _ = try await send(.DELETE, "/networks/\(idOrName)")
    }

    public func volumes(label: String?) async throws(MicadoError) -> [String] {
        struct Listing: Decodable {
            struct Volume: Decodable {
                var name: String
                enum CodingKeys: String, CodingKey { case name = "Name" }
            }
            var volumes: [Volume]?
            enum CodingKeys: String, CodingKey { case volumes = "Volumes" }
        }
        let query = label.map { [("filters", Self.filters(["label": [$0]]))] } ?? []
        let listing: Listing = try await get("/volumes", query: query)
        return (listing.volumes ?? []).map(\.name)
    }

    /// Removes a volume; a conflict while a container still uses it.
    public func removeVolume(_ name: String) async throws(MicadoError) {
        _ = try await send(.DELETE, "/volumes/\(name)")
    }

    public func createSwarmObject(
        _ kind: SwarmObject.Kind,
        name: String,
        data: [UInt8],
        labels: [String: String]
    ) async throws(MicadoError) -> String {
        struct Create: Encodable {
            var name: String
            var labels: [String: String]
            var data: String
            enum CodingKeys: String, CodingKey {
                case name = "Name"
                case labels = "Labels"
                case data = "Data"
            }
        }
        let body = Create(name: name, labels: labels, data: Data(data).base64EncodedString())
        let response = try await send(.POST, "/\(kind.rawValue)/create", body: try encode(body))
        return try decode(IDResponse.self, response.body, what: "/\(kind.rawValue)/create").id
    }

    public func swarmObjects(_ kind: SwarmObject.Kind, label: String?) async throws(MicadoError) -> [SwarmObject] {
        let query = label.map { [("filters", Self.filters(["label": [$0]]))] } ?? []
        return try await get("/\(kind.rawValue)", query: query)
    }

    public func removeSwarmObject(_ kind: SwarmObject.Kind, _ id: String) async throws(MicadoError) {
        _ = try await send(.DELETE, "/\(kind.rawValue)/\(id)")
    }

    public func removeService(_ idOrName: String) async throws(MicadoError) {
        _ = try await send(.DELETE, "/services/\(idOrName)")
    }

    /// Tasks, filtered as the API allows (`service`, `node`, `desired-state`, `label`).
    public func tasks(filters: [String: [String]]) async throws(MicadoError) -> [SwarmTask] {
        try await get("/tasks", query: filters.isEmpty ? [] : [("filters", Self.filters(filters))])
    }

    /// The service's combined stdout and stderr (the engine gathers them from every node).
    public func serviceLogs(_ idOrName: String, tail: Int?, timestamps: Bool) async throws(MicadoError) -> [LogLine] {
        var query = [("stdout", "true"), ("stderr", "true"), ("timestamps", timestamps ? "true" : "false")]
        if let tail { query.append(("tail", String(tail))) }
        let response = try await send(.GET, "/services/\(idOrName)/logs", query: query, timeout: .seconds(30))
        return LogDemultiplexer.lines(Array(buffer: response.body))
    }
}
