import Foundation
import MicadoClouds
import MicadoCore
import NIOHTTP1
import Synchronization

/// The CloudBroker Platform's REST API on 127.0.0.1, with state, speaking the XML its
/// reference clients (Occopus' resource handler, MiCADO's launcher, CloudBroker's Java
/// client) send and read, since no recording of the real service is public: `POST
/// /instances.xml` takes MiCADO's launcher's document (snake_case fields, base64
/// `cloud-init`) and answers 201 with the `<instance>`; an instance is `starting`, then
/// `preparing`, then `running` with the next address of the pool (booted by `onActive`);
/// `PUT …/stop(.xml)` makes it `stopping`, then `halted` (`onDeleted`). Errors are
/// `<errors><error>…</error><type>…</type></errors>` as the Java client parses them.
public final class CloudBrokerStandIn: Sendable {
    public static let email = "admin@micado.test"
    /// Recognisable if it ever leaked into a log, an event or an error.
    public static let password = "cb-test-secret-7a3e91c2"
    public static let deployment = "2e4b9e3e-4a52-4bd5-8f39-1c5b8bd7c0a1"
    /// Instance types: id, name, cpus, memory (GiB), runtime fee per hour.
    public static let instanceTypes: [(id: String, name: String, cpus: Int, memory: Double, fee: Double)] = [
        ("8b1f7b52-6c1f-4f3a-9f3e-0d2c3f6a1b01", "Micro - 64 bit", 1, 0.5, 0.011),
        ("8b1f7b52-6c1f-4f3a-9f3e-0d2c3f6a1b02", "Small - 64 bit", 1, 2, 0.034),
    ]

    public enum Call: String, Sendable { case create, get, list, stop, types, price }

    public enum Fault: Sendable {
        case error(status: UInt, type: String?, message: String)
        case lostAnswer
    }

    public struct Instance: Sendable {
        public var id: String
        public var name: String
        public var status: String
        public var deployment: String
        public var instanceType: String
        public var openedPort: String
        /// The boot document, decoded from `cloud-init`.
        public var userData: String
        public var address: String?
        var looks = 0
    }

    struct State {
        var instances: [Instance] = []
    }

    let state = Mutex(State())
    let ledger: StandInLedger<Call, Fault>
    let onActive: @Sendable (Instance) async -> Void
    let onDeleted: @Sendable (Instance) async -> Void
    let portBox = Mutex(0)

    init(
        addresses: ClosedRange<IPv4>,
        onActive: @escaping @Sendable (Instance) async -> Void,
        onDeleted: @escaping @Sendable (Instance) async -> Void
    ) {
        ledger = StandInLedger(addresses: addresses)
        self.onActive = onActive
        self.onDeleted = onDeleted
    }

    public var endpoint: String { "http://127.0.0.1:\(portBox.withLock { $0 })" }

    public static func withCloud<T>(
        addresses: ClosedRange<IPv4> = IPv4("10.97.0.10")!...IPv4("10.97.0.250")!,
        onActive: @escaping @Sendable (Instance) async -> Void = { _ in },
        onDeleted: @escaping @Sendable (Instance) async -> Void = { _ in },
        _ body: (CloudBrokerStandIn) async throws -> T
    ) async throws -> T {
        let cloud = CloudBrokerStandIn(addresses: addresses, onActive: onActive, onDeleted: onDeleted)
        return try await LoopbackHTTPServer.withServer({ request in await cloud.answer(request) }) { server in
            cloud.portBox.withLock { $0 = server.port }
            return try await body(cloud)
        }
    }

    public func setAddresses(_ addresses: ClosedRange<IPv4>) { ledger.setAddresses(addresses) }
    public func inject(_ call: Call, _ faults: Fault...) { ledger.inject(call, faults) }
    public func count(_ call: Call) -> Int { ledger.count(call) }
    public var instances: [Instance] { state.withLock { $0.instances } }
    /// Those neither stopping nor halted.
    public var live: [Instance] { instances.filter { $0.status != "stopping" && $0.status != "halted" } }
    public var everything: String { ledger.everything }

    // MARK: answering

    static func xml(_ status: HTTPResponseStatus, _ body: String) -> LoopbackHTTPServer.Response {
        .text(status, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + body, contentType: "application/xml; charset=utf-8")
    }

    static func errors(_ status: UInt, type: String?, _ message: String) -> LoopbackHTTPServer.Response {
        xml(
            HTTPResponseStatus(statusCode: Int(status)),
            "<errors><error>\(escaped(message))</error>" + (type.map { "<type>\(escaped($0))</type>" } ?? "") + "</errors>"
        )
    }

    static func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(
            of: ">",
            with: "&gt;"
        )
    }

    /// A flat element's text (the launcher's document has no nesting), unescaped.
    static func field(_ name: String, in document: String) -> String? {
        guard let start = document.range(of: "<\(name)>"),
            let end = document.range(of: "</\(name)>", range: start.upperBound..<document.endIndex)
        else { return nil }
        return String(document[start.upperBound..<end.lowerBound]).replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(
            of: "&gt;",
            with: ">"
        )
        .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&apos;", with: "'").replacingOccurrences(
            of: "&amp;",
            with: "&"
        )
    }

    func answer(_ request: LoopbackHTTPServer.Request) async -> LoopbackHTTPServer.Response {
        ledger.record(request)
        let expected = "Basic " + Data("\(Self.email):\(Self.password)".utf8).base64EncodedString()
        guard request.header("Authorization") == expected else {
            return Self.errors(401, type: "authentication", "Invalid email or password.")
        }
        let parts = request.path.split(separator: "/").map(String.init)
        switch (request.method, parts.count) {
        case (.GET, 1) where parts == ["instance_types.xml"]:
            if let fault = take(.types) { return fault.response }
            let types = Self.instanceTypes.map {
                "<instance-type><id>\($0.id)</id><name>\(Self.escaped($0.name))</name><active>true</active><cpus>\($0.cpus)</cpus><memory>\($0.memory)</memory><description></description></instance-type>"
            }
            return Self.xml(.ok, "<instance-types type=\"array\">" + types.joined() + "</instance-types>")
        case (.GET, 3) where parts[0] == "instance_types" && parts[2] == "price.xml":
            if let fault = take(.price) { return fault.response }
            guard let type = Self.instanceTypes.first(where: { $0.id == parts[1] }) else {
                return Self.errors(404, type: nil, "Instance type not found")
            }
            return Self.xml(
                .ok,
                "<instance-type-price><id>p-\(type.id)</id><instance-type-id>\(type.id)</instance-type-id><instance-runtime-fee>\(type.fee)</instance-runtime-fee></instance-type-price>"
            )
        case (.POST, 1) where parts == ["instances.xml"]:
            return create(request)
        case (.GET, 1) where parts == ["instances.xml"]:
            if let fault = take(.list) { return fault.response }
            let ids = state.withLock { $0.instances.map(\.id) }
            return Self.xml(
                .ok,
                "<instances type=\"array\">" + ids.compactMap { look(at: $0) }.map(Self.document).joined() + "</instances>"
            )
        case (.GET, 2) where parts[0] == "instances" && parts[1].hasSuffix(".xml"):
            if let fault = take(.get) { return fault.response }
            guard let instance = look(at: String(parts[1].dropLast(4))) else { return Self.errors(404, type: nil, "Instance not found") }
            return Self.xml(.ok, Self.document(instance))
        case (.PUT, 3) where parts[0] == "instances" && (parts[2] == "stop.xml" || parts[2] == "stop"):
            return await stop(parts[1])
        default:
            return Self.errors(404, type: nil, "Not found")
        }
    }

    func take(_ call: Call) -> Fault? { ledger.take(call) }

    func create(_ request: LoopbackHTTPServer.Request) -> LoopbackHTTPServer.Response {
        let fault = take(.create)
        if case .error? = fault { return fault!.response }
        let document = request.text
        guard request.header("Content-Type")?.hasPrefix("application/xml") == true, document.contains("<instance>") else {
            return Self.errors(422, type: nil, "Instance could not be parsed")
        }
        // Rails reads `deployment-id` and `deployment_id` alike.
        func value(_ name: String) -> String? {
            Self.field(name, in: document) ?? Self.field(name.replacingOccurrences(of: "_", with: "-"), in: document)
        }
        guard let deployment = value("deployment_id"), !deployment.isEmpty else {
            return Self.errors(422, type: nil, "Deployment can't be blank")
        }
        guard deployment == Self.deployment else { return Self.errors(422, type: nil, "Deployment not found") }
        guard let type = value("instance_type_id"), Self.instanceTypes.contains(where: { $0.id == type }) else {
            return Self.errors(422, type: nil, "Instance type can't be blank")
        }
        guard value("cloud-init-b64") == "true", let encoded = value("cloud-init"), let userData = Data(base64Encoded: encoded) else {
            return Self.errors(422, type: nil, "cloud-init is not base64")
        }
        let instance = Instance(
            id: UUID().uuidString.lowercased(),
            name: value("name") ?? "MiCADO-\(UUID().uuidString.prefix(8))",
            status: "starting",
            deployment: deployment,
            instanceType: type,
            openedPort: value("opened_port") ?? "0",
            userData: String(decoding: userData, as: UTF8.self)
        )
        state.withLock { $0.instances.append(instance) }
        if case .lostAnswer? = fault { return .text(.badGateway, "upstream connection lost") }
        return Self.xml(.created, Self.document(instance))
    }

    /// One more look: `starting`, `preparing`, then `running` with an address; `stopping`, then `halted`.
    func look(at id: String) -> Instance? {
        let (instance, activated): (Instance?, Bool) = state.withLock { state in
            guard let index = state.instances.firstIndex(where: { $0.id == id }) else { return (nil, false) }
            state.instances[index].looks += 1
            switch state.instances[index].status {
            case "starting" where state.instances[index].looks >= 1: state.instances[index].status = "preparing"
            case "preparing":
                guard let address = ledger.nextAddress() else {
                    state.instances[index].status = "failed"
                    return (state.instances[index], false)
                }
                state.instances[index].address = address
                state.instances[index].status = "running"
                return (state.instances[index], true)
            case "stopping": state.instances[index].status = "halted"
            default: break
            }
            return (state.instances[index], false)
        }
        if activated, let instance {
            let onActive = self.onActive
            Task { await onActive(instance) }
        }
        return instance
    }

    func stop(_ id: String) async -> LoopbackHTTPServer.Response {
        if let fault = take(.stop) { return fault.response }
        enum Outcome {
            case missing, wrongStatus
            case stopped(Instance)
        }
        let outcome: Outcome = state.withLock { state in
            guard let index = state.instances.firstIndex(where: { $0.id == id }) else { return .missing }
            guard state.instances[index].status != "stopping" && state.instances[index].status != "halted" else { return .wrongStatus }
            state.instances[index].status = "stopping"
            state.instances[index].looks = 0
            return .stopped(state.instances[index])
        }
        switch outcome {
        case .missing: return Self.errors(404, type: nil, "Instance not found")
        case .wrongStatus: return Self.errors(422, type: "wrong status", "Instance can not be stopped in its current status")
        case .stopped(let instance):
            await onDeleted(instance)
            return Self.xml(.ok, Self.document(instance))
        }
    }

    /// The instance as the reference clients read it: `id` first, every address element present (empty when unknown).
    static func document(_ instance: Instance) -> String {
        """
        <instance>
          <id>\(instance.id)</id>
          <name>\(escaped(instance.name))</name>
          <status>\(instance.status)</status>
          <deployment-id>\(instance.deployment)</deployment-id>
          <instance-type-id>\(instance.instanceType)</instance-type-id>
          <opened-port>\(escaped(instance.openedPort))</opened-port>
          <disable-autostop>true</disable-autostop>
          <isolated>true</isolated>
          <external-ip-address></external-ip-address>
          <internal-ip-address>\(instance.address ?? "")</internal-ip-address>
          <external-hostname></external-hostname>
          <internal-hostname></internal-hostname>
          <created-at>2026-12-01T12:00:00Z</created-at>
          <updated-at>2026-12-01T12:00:00Z</updated-at>
        </instance>
        """
    }
}

extension CloudBrokerStandIn.Fault {
    var response: LoopbackHTTPServer.Response {
        switch self {
        case .error(let status, let type, let message): CloudBrokerStandIn.errors(status, type: type, message)
        case .lostAnswer: .text(.badGateway, "upstream connection lost")
        }
    }
}
