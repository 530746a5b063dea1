import AsyncHTTPClient
import DockerEngine
import Foundation
import Logging
import MicadoClouds
import MicadoCore
import MicadoStore
import Prometheus

/// Labels on every service, node and instance micado makes.
enum Label {
    static let manager = "micado.manager"
    static let container = "micado.container"
    static let client = "micado.client"
    static let location = "micado.location"
    static let instance = "micado.instance"
    static let purpose = "micado.purpose"
    static let domain = "micado.domain"
    static let tls = "micado.tls"
    static let application = "micado.application"
    /// A digest of the spec micado wrote: a service whose label differs from its record's is
    /// rolled to the record (an apply that a crash cut between the store and the swarm).
    static let specDigest = "micado.spec-digest"
    /// A secret's or config's name in its application's file, and the SHA-256 of its content
    /// (on the Swarm object only: whoever reads the engine's objects can read their data anyway).
    static let object = "micado.object"
    static let contentDigest = "micado.content-digest"
    /// On a node, one per named volume that lives there (`micado.volume.APP_VOLUME=home`): the
    /// services that mount the volume are constrained to the node that has it.
    static func volume(_ name: String) -> String { "micado.volume.\(name)" }
    static let volumePrefix = "micado.volume."
}

/// The event log as the parts write it: every event is stored and logged. A loop's per-item
/// failures (`step`) become events once per distinct reason. Copies share the failures.
struct EventLog: Sendable {
    let store: any EventStore
    let logger: Logger
    /// The manager's time of day, for its events and for every part that records them.
    let clock: any WallClock
    let failures = ItemFailures()

    init(store: any EventStore, logger: Logger, clock: any WallClock = SystemClock()) {
        self.store = store
        self.logger = logger
        self.clock = clock
    }

    func event(_ kind: EventKind, _ subject: String, _ message: String) -> EventRecord {
        EventRecord(time: clock.now, kind: kind, subject: subject, message: message)
    }

    /// Events a transaction stored, into the log too (as `note` does for one on its own).
    func log(_ events: [EventRecord]) {
        for event in events {
            logger.info("\(event.message)", metadata: ["event.kind": "\(event.kind)", "event.subject": "\(event.subject)"])
        }
    }

    /// An event in the store and the log.
    func note(_ kind: EventKind, _ subject: String, _ message: String) async {
        let event = event(kind, subject, message)
        log([event])
        do { try await store.record(event) } catch {
            logger.error("cannot record event", metadata: ["error": "\(error)"])
        }
    }

    /// Runs one item's step of a loop (reconciler, scaler). A failure is an event naming the
    /// item, once per distinct reason, and never stops the pass: one bad record must not
    /// hold back every other one. `kind` names the step: one kind per kind of step, since
    /// the item's success in one must not count as the end of its failure in another.
    /// Returns whether the step succeeded.
    @discardableResult
    func step(_ kind: EventKind, _ subject: String, _ body: () async throws(MicadoError) -> Void) async -> Bool {
        let key = kind.rawValue + " " + subject
        do {
            try await body()
            if await failures.succeed(key) { await note(kind, subject, "\(subject): the earlier failure is resolved") }
            return true
        } catch {
            if await failures.fail(key, error.message) { await note(kind, subject, "\(subject): \(error.message)") }
            return false
        }
    }
}

/// A part that says what it does in events. Only the event log: everything else a part uses
/// it names in its initializer.
protocol RecordsEvents: Sendable {
    var eventLog: EventLog { get }
}

extension RecordsEvents {
    var logger: Logger { eventLog.logger }
    /// The time of day by the manager's clock (`WallClock`).
    var now: Date { eventLog.clock.now }
    func event(_ kind: EventKind, _ subject: String, _ message: String) -> EventRecord { eventLog.event(kind, subject, message) }
    func event(_ kind: EventKind, _ instance: InstanceID, _ message: String) -> EventRecord {
        eventLog.event(kind, instance.rawValue, message)
    }
    func note(_ kind: EventKind, _ subject: String, _ message: String) async { await eventLog.note(kind, subject, message) }
    @discardableResult
    func step(_ kind: EventKind, _ subject: String, _ body: () async throws(MicadoError) -> Void) async -> Bool {
        await eventLog.step(kind, subject, body)
    }
}

/// The engine that runs a node's containers: the manager's own, or an instance's (reached
/// through its record's endpoint, over mutual TLS in the daemon).
struct NodeEngines: Sendable {
    /// The manager's engine.
    let own: any EngineAPI
    /// The usage monitor's own connections to every engine (owned by the daemon): sampling
    /// hundreds of containers never queues an API call behind it. Nil: the API's own.
    let monitorHTTP: HTTPClient?
    /// Instance engines, by the endpoint their cloud reported.
    let connector: any EngineConnector
    let clouds: CloudSet
    let instances: any InstanceStore

    /// `monitoring`: for the usage monitor, on connections of its own.
    func engine(forNode nodeID: String?, monitoring: Bool = false) async throws(MicadoError) -> any EngineAPI {
        let own = monitoring ? monitorHTTP.map(self.own.using) ?? self.own : self.own
        guard let nodeID else { return own }
        // The store knows every node of ours: the manager's own (recorded at bootstrap, keyed by node ID) and each instance.
        let instance = try await instances.instances().first { $0.runs(node: nodeID) }
        if instance?.isManager == true { return own }
        guard let instance else {
            throw .init(.engine, "the container runs on node \(nodeID), which is not an instance of this manager")
        }
        return try await engine(of: instance, monitoring: monitoring)
    }

    /// An instance's engine, through the endpoint its cloud reported.
    func engine(of instance: InstanceRecord, monitoring: Bool = false) async throws(MicadoError) -> any EngineAPI {
        try await connector.engine(at: clouds.endpoint(of: instance), monitoring: monitoring)
    }
}

extension InstanceRecord {
    /// Whether this is the record of the swarm node `node`: an instance by the node ID it was
    /// admitted with, the manager's own by its record's ID (which is its node's).
    func runs(node: String?) -> Bool { nodeID == node || (isManager && id.rawValue == node) }
}

extension ManagerConfiguration {
    /// Where ports published on `node` answer.
    func publishAddress(for node: Node) -> String? {
        if node.spec.role == .manager, let address = docker.publishAddress { return address }
        if node.spec.role == .manager, node.status.addr == nil || node.status.addr == "0.0.0.0" {
            return docker.advertiseAddress
        }
        return node.status.addr
    }
}

extension CloudSet {
    /// Where a container launched without `-l` goes: the configured default location when
    /// it has instances to offer (the manager's own engine, or a cloud's location), else the
    /// first location of the first cloud (a manager whose only cloud is EC2 has no "local").
    func defaultLocation(configured: String) -> String {
        guard !isEmpty, !locations.contains(configured) else { return configured }
        return configurations.first.flatMap { $0.locations.keys.sorted().first } ?? configured
    }
}
