import DockerEngine
import AsyncHTTPClient
import Foundation
import Logging
import MicadoClouds
import MicadoCore
import MicadoStore
import Prometheus

/// The manager's operations on containers, images and the swarm.
///
/// Desired state goes to the store first, then to the engine, so that a crash between
/// the two leaves a record that the reconciler finishes (see `Reconciler`): a container
/// record without a service gets one, a service without a record is removed.
public final class Orchestrator: Sendable {
    public let configuration: ManagerConfiguration
    public let store: Store
    public let engine: any EngineAPI
    /// Labels every service this manager creates, so that managers sharing an engine never touch each other's.
    public let managerID: String
    /// The clouds instances come from; empty when the manager's engine is the only instance.
    public let clouds: CloudSet
    /// Instance engines, by the endpoint their cloud reported (TCP with mutual TLS in the daemon).
    let engines: any EngineConnector
    /// For the proxy's health probes of route targets.
    let http: HTTPClient
    /// The usage monitor's own connections to every engine (owned by the daemon): sampling
    /// hundreds of containers never queues an API call behind it. Nil: the API's own.
    let monitorHTTP: HTTPClient?
    let creating = InFlight()
    let scalerNotes = ScalerNotes()
    let bootBackoff = BootBackoff()
    let itemFailures = ItemFailures()
    let snapshots = SnapshotCache()
    let cpuReadings = CPUReadings()
    let loadedRoutes = LoadedRoutes()
    /// Prometheus metrics for `/metrics` (a private registry unless the daemon passes its own).
    public let metrics: ManagerMetrics
    /// micado's private registry, when the clouds have a network to serve it on.
    public let registry: Registry?
    /// Wakes the scaler at once (after a launch) instead of at its next tick.
    public let scalerWakeUp = WakeUps()
    let logger: Logger

    /// `engines` defaults to mutual-TLS clients over `http` (itself defaulting to the shared client).
    public init(
        configuration: ManagerConfiguration, store: Store, engine: any EngineAPI, managerID: String,
        clouds: CloudSet = CloudSet(configurations: [], drivers: [:], authority: .init(directory: "/nonexistent")),
        engines: (any EngineConnector)? = nil, http: HTTPClient? = nil, monitorHTTP: HTTPClient? = nil,
        metrics: ManagerMetrics = ManagerMetrics(registry: .init()), registry: Registry? = nil, logger: Logger
    ) {
        self.metrics = metrics
        self.registry = registry
        self.configuration = configuration
        self.store = store
        self.engine = engine
        self.managerID = managerID
        self.clouds = clouds
        self.http = http ?? .shared
        self.engines = engines ?? EngineDirectory(http: self.http, logger: logger)
        self.monitorHTTP = monitorHTTP
        self.logger = logger
    }

    enum Label {
        static let manager = "micado.manager"
        static let container = "micado.container"
        static let client = "micado.client"
        static let location = "micado.location"
        static let instance = "micado.instance"
        static let purpose = "micado.purpose"
        static let domain = "micado.domain"
        static let tls = "micado.tls"
    }

    func event(_ kind: String, _ subject: String, _ message: String) -> EventRecord {
        EventRecord(time: Date(), kind: kind, subject: subject, message: message)
    }

    func event(_ kind: String, _ instance: InstanceID, _ message: String) -> EventRecord {
        event(kind, instance.rawValue, message)
    }

    func note(_ kind: String, _ subject: String, _ message: String) async {
        logger.info("\(message)", metadata: ["event.kind": "\(kind)", "event.subject": "\(subject)"])
        do { try await store.record(event(kind, subject, message)) } catch {
            logger.error("cannot record event", metadata: ["error": "\(error)"])
        }
    }

    // MARK: swarm bootstrap

    /// Makes the engine a swarm manager (advertising only on the configured address) and
    /// labels its node with the default location, so that launches have somewhere to go.
    public func bootstrapSwarm() async throws(MicadoError) {
        var info = try await engine.info()
        switch info.swarm.localNodeState {
        case "active":
            guard info.swarm.controlAvailable == true else {
                throw .init(.configuration, "the engine at \(engine.endpoint) is a worker of another swarm; micado needs a swarm manager (docker swarm leave, then restart micado)")
            }
        case "inactive":
            let advertise = configuration.docker.advertiseAddress
            _ = try await engine.initSwarm(advertiseAddress: advertise, listenAddress: "\(advertise):2377")
            info = try await engine.info()
            await note("swarm.init", info.swarm.nodeID, "initialised a swarm on \(engine.endpoint), advertising on \(advertise)")
        default:
            throw .init(.engine, "the engine's swarm is '\(info.swarm.localNodeState)'; wait for it to settle or run docker swarm leave --force")
        }
        let node = try await engine.node(info.swarm.nodeID)
        var spec = node.spec
        var labels = spec.labels ?? [:]
        if labels[Label.location] == nil {
            labels[Label.location] = configuration.defaults.location
            spec.labels = labels
            try await engine.updateNode(node.id, version: node.version, spec: spec)
            await note("node.labelled", node.id, "labelled the manager's node micado.location=\(configuration.defaults.location)")
        }
        // With clouds, application containers run on instances, as in MiCADO: the manager's node takes none.
        let wanted = clouds.isEmpty ? "active" : "drain"
        if spec.availability != wanted {
            let fresh = try await engine.node(node.id)
            var update = fresh.spec
            update.availability = wanted
            try await engine.updateNode(fresh.id, version: fresh.version, spec: update)
            await note("node.availability", node.id, "the manager's node is now \(wanted)\(clouds.isEmpty ? "" : ": containers run on cloud instances")")
        }
        for cloud in clouds.configurations {
            if let network = cloud.network, network.managerAddress != configuration.docker.advertiseAddress {
                throw .init(
                    .configuration,
                    "cloud \(cloud.name): network.manager is \(network.managerAddress) but the swarm advertises on \(configuration.docker.advertiseAddress); they must be the same address")
            }
        }
        let now = Date()
        let existing = try await store.instances().first { $0.id.rawValue == node.id }
        try await store.upsertInstance(
            InstanceRecord(
                id: InstanceID(node.id), hostname: node.description?.hostname ?? info.name, cloud: "manager",
                location: labels[Label.location], role: .manager, state: .ready, address: publishAddress(for: node),
                createdAt: existing?.createdAt ?? now, updatedAt: now))
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

    /// The engine that runs the containers of `nodeID`. Until clouds exist, that is the
    /// manager's own engine; other nodes are reached through their instance records.
    func engine(forNode nodeID: String?) async throws(MicadoError) -> any EngineAPI {
        guard let nodeID else { return engine }
        // The store knows every node of ours: the manager's own (recorded at bootstrap, keyed by node ID) and each instance.
        let instance = try await store.instances().first { $0.nodeID == nodeID || ($0.isManager && $0.id.rawValue == nodeID) }
        if instance?.isManager == true { return engine }
        guard let instance else {
            throw .init(.engine, "the container runs on node \(nodeID), which is not an instance of this manager")
        }
        return try await engines.engine(at: clouds.endpoint(of: instance))
    }
}
