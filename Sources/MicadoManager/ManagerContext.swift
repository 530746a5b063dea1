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
}

/// What every part of the manager shares: the configuration, the store, the manager's
/// engine and the way to instance engines, the clouds, events, the swarm snapshot the loops
/// share, and the scaler's notes and wake-ups. It holds no state of any one part: each
/// part (`Containers`, `Instances`, `Images`, `Routes`, `Scaler`, `Reconciler`,
/// `UsageMonitor`) owns its own.
///
/// Desired state goes to the store first, then to the engine, so that a crash between the
/// two leaves a record that the reconciler finishes.
public final class ManagerContext: Sendable {
    public let configuration: ManagerConfiguration
    public let store: Store
    public let engine: any EngineAPI
    /// Labels every service this manager creates, so that managers sharing an engine never touch each other's.
    public let managerID: String
    /// The clouds instances come from; empty when the manager's engine is the only instance.
    public let clouds: CloudSet
    /// Instance engines, by the endpoint their cloud reported (TCP with mutual TLS in the daemon).
    let engines: any EngineConnector
    /// For the helpers' probes (Caddy, the registry) and the proxy's health probes of route targets.
    let http: HTTPClient
    /// The usage monitor's own connections to every engine (owned by the daemon): sampling
    /// hundreds of containers never queues an API call behind it. Nil: the API's own.
    let monitorHTTP: HTTPClient?
    /// One swarm snapshot for the scaler, monitor and proxy loops.
    let snapshots = SnapshotCache()
    let itemFailures = ItemFailures()
    /// What the scaler last said about each pending container; container views show it.
    let scalerNotes = ScalerNotes()
    /// Wakes the scaler at once (after a launch, an instance change) instead of at its next tick.
    public let scalerWakeUp = WakeUps()
    /// Changes to applications one at a time: applies, removals, and the removal of a removed
    /// application's network (which must not race a new apply of the same name).
    let applicationChanges = SerialQueue()
    /// The newest usage of each application service, as the monitor averaged it over the replicas.
    let serviceLoads = ServiceLoads()
    /// Wakes the service autoscaler (the monitor, after each pass).
    let autoscalerWakeUp = WakeUps()
    /// Prometheus metrics for `/metrics` (a private registry unless the daemon passes its own).
    public let metrics: ManagerMetrics
    /// micado's private registry, when the clouds have a network to serve it on.
    public let registry: Registry?
    let logger: Logger

    public init(
        configuration: ManagerConfiguration,
        store: Store,
        engine: any EngineAPI,
        managerID: String,
        clouds: CloudSet,
        engines: (any EngineConnector)?,
        http: HTTPClient?,
        monitorHTTP: HTTPClient?,
        metrics: ManagerMetrics,
        registry: Registry?,
        logger: Logger
    ) {
        self.configuration = configuration
        self.store = store
        self.engine = engine
        self.managerID = managerID
        self.clouds = clouds
        self.http = http ?? .shared
        self.engines = engines ?? EngineDirectory(logger: logger)
        self.monitorHTTP = monitorHTTP
        self.metrics = metrics
        self.registry = registry
        self.logger = logger
    }

    func event(_ kind: String, _ subject: String, _ message: String) -> EventRecord {
        EventRecord(time: Date(), kind: kind, subject: subject, message: message)
    }

    func event(_ kind: String, _ instance: InstanceID, _ message: String) -> EventRecord {
        event(kind, instance.rawValue, message)
    }

    /// Events a transaction stored, into the log too (as `note` does for one on its own).
    func log(_ events: [EventRecord]) {
        for event in events {
            logger.info("\(event.message)", metadata: ["event.kind": "\(event.kind)", "event.subject": "\(event.subject)"])
        }
    }

    /// An event in the store and the log.
    func note(_ kind: String, _ subject: String, _ message: String) async {
        let event = event(kind, subject, message)
        logger.info("\(event.message)", metadata: ["event.kind": "\(event.kind)", "event.subject": "\(event.subject)"])
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
    func step(_ kind: String, _ subject: String, _ body: () async throws(MicadoError) -> Void) async -> Bool {
        let key = kind + " " + subject
        do {
            try await body()
            if await itemFailures.succeed(key) { await note(kind, subject, "\(subject): the earlier failure is resolved") }
            return true
        } catch {
            if await itemFailures.fail(key, error.message) { await note(kind, subject, "\(subject): \(error.message)") }
            return false
        }
    }

    /// Where a container launched without `-l` goes: the configured default location when
    /// it has instances to offer (the manager's own engine, or a cloud's location), else the
    /// first location of the first cloud (a manager whose only cloud is EC2 has no "local").
    var defaultLocation: String {
        let configured = configuration.defaults.location
        guard !clouds.isEmpty, !clouds.locations.contains(configured) else { return configured }
        return clouds.configurations.first.flatMap { $0.locations.keys.sorted().first } ?? configured
    }

    /// Where ports published on `node` answer.
    func publishAddress(for node: Node) -> String? {
        if node.spec.role == "manager", let address = configuration.docker.publishAddress { return address }
        if node.spec.role == "manager", node.status.addr == nil || node.status.addr == "0.0.0.0" {
            return configuration.docker.advertiseAddress
        }
        return node.status.addr
    }

    /// The engine that runs the containers of `nodeID`: the manager's own, or an instance's
    /// (reached through its record's endpoint).
    /// `monitoring`: for the usage monitor, on connections of its own.
    func engine(forNode nodeID: String?, monitoring: Bool = false) async throws(MicadoError) -> any EngineAPI {
        let own = monitoring ? monitorHTTP.map(engine.using) ?? engine : engine
        guard let nodeID else { return own }
        // The store knows every node of ours: the manager's own (recorded at bootstrap, keyed by node ID) and each instance.
        let instance = try await store.instances().first { $0.nodeID == nodeID || ($0.isManager && $0.id.rawValue == nodeID) }
        if instance?.isManager == true { return own }
        guard let instance else {
            throw .init(.engine, "the container runs on node \(nodeID), which is not an instance of this manager")
        }
        return try await engines.engine(at: clouds.endpoint(of: instance), monitoring: monitoring)
    }
}

/// A part of the manager: it owns its own state and reaches what all parts share through
/// its context. The forwarding below keeps each part's code about its own concern.
protocol ManagerPart: Sendable {
    var context: ManagerContext { get }
}

extension ManagerPart {
    var configuration: ManagerConfiguration { context.configuration }
    var store: Store { context.store }
    var engine: any EngineAPI { context.engine }
    var managerID: String { context.managerID }
    var clouds: CloudSet { context.clouds }
    var engines: any EngineConnector { context.engines }
    var http: HTTPClient { context.http }
    var metrics: ManagerMetrics { context.metrics }
    var registry: Registry? { context.registry }
    var logger: Logger { context.logger }
    var snapshots: SnapshotCache { context.snapshots }
    var scalerNotes: ScalerNotes { context.scalerNotes }
    var scalerWakeUp: WakeUps { context.scalerWakeUp }
    var defaultLocation: String { context.defaultLocation }

    func event(_ kind: String, _ subject: String, _ message: String) -> EventRecord { context.event(kind, subject, message) }
    func event(_ kind: String, _ instance: InstanceID, _ message: String) -> EventRecord { context.event(kind, instance, message) }
    func note(_ kind: String, _ subject: String, _ message: String) async { await context.note(kind, subject, message) }
    @discardableResult
    func step(_ kind: String, _ subject: String, _ body: () async throws(MicadoError) -> Void) async -> Bool {
        await context.step(kind, subject, body)
    }
    func publishAddress(for node: Node) -> String? { context.publishAddress(for: node) }
    func engine(forNode nodeID: String?, monitoring: Bool = false) async throws(MicadoError) -> any EngineAPI {
        try await context.engine(forNode: nodeID, monitoring: monitoring)
    }
    func snapshot(maxAge: Duration) async throws(MicadoError) -> SwarmSnapshot { try await context.snapshot(maxAge: maxAge) }
    func snapshot(serviceID: String? = nil) async throws(MicadoError) -> SwarmSnapshot { try await context.snapshot(serviceID: serviceID) }
}
