import AsyncHTTPClient
import DockerEngine
import Foundation
import Logging
import MicadoClouds
import MicadoCore
import MicadoStore
import Prometheus

/// The manager, put together: the parts, each given only the collaborators it names, built
/// here top to bottom. The HTTP API and the daemon reach the parts through it; the parts
/// that loop (`Reconciler`, `Scaler`, `UsageMonitor`, `ServiceAutoscaler`) are the daemon's
/// services.
///
///     Containers ──▶ Instances ──▶ CloudDriver, InstanceLifecycle (pure)
///     Applications ──▶ Containers, Instances, Volumes, ServiceAutoscaler ──▶ ReplicaRecommender (pure)
///     Scaler ──▶ Instances, Containers, Volumes, ServiceAutoscaler
///     Reconciler ──▶ Containers, Volumes;  UsageMonitor ──▶ Containers
///     Images, Routes (◀── ProxyController)
///     shared mechanisms: EventLog, SwarmView, NodeEngines, WakeUps, ScalerNotes, ServiceLoads
public final class Orchestrator: RecordsEvents {
    public let configuration: ManagerConfiguration
    public let store: any ManagerStore
    public let engine: any EngineAPI
    /// Labels every service this manager creates, so that managers sharing an engine never touch each other's.
    public let managerID: String
    /// The clouds instances come from; empty when the manager's engine is the only instance.
    public let clouds: CloudSet
    /// Prometheus metrics for `/metrics` (a private registry unless the daemon passes its own).
    public let metrics: ManagerMetrics
    /// micado's private registry, when the clouds have a network to serve it on.
    public let registry: Registry?
    /// For the helpers' probes (Caddy, the registry) and the proxy's health probes of route targets.
    let http: HTTPClient
    let eventLog: EventLog
    /// The newest usage of each application service (the monitor writes, the autoscaler reads).
    let serviceLoads: ServiceLoads

    public let instances: Instances
    public let containers: Containers
    public let images: Images
    public let routes: Routes
    public let scaler: Scaler
    public let reconciler: Reconciler
    public let monitor: UsageMonitor
    public let autoscaler: ServiceAutoscaler
    public let applications: Applications
    let volumes: Volumes

    /// `engines` defaults to mutual-TLS clients over `http` (itself defaulting to the shared client).
    public init(
        configuration: ManagerConfiguration,
        store: any ManagerStore,
        engine: any EngineAPI,
        managerID: String,
        clouds: CloudSet = CloudSet(configurations: [], drivers: [:], authority: .init(directory: "/nonexistent")),
        engines: (any EngineConnector)? = nil,
        http: HTTPClient? = nil,
        monitorHTTP: HTTPClient? = nil,
        metrics: ManagerMetrics = ManagerMetrics(registry: .init()),
        registry: Registry? = nil,
        spool: String? = nil,
        clock: any WallClock = SystemClock(),
        logger: Logger
    ) {
        let http = http ?? .shared
        self.configuration = configuration
        self.store = store
        self.engine = engine
        self.managerID = managerID
        self.clouds = clouds
        self.metrics = metrics
        self.registry = registry
        self.http = http

        // What several parts share, each a mechanism of its own.
        let eventLog = EventLog(store: store, logger: logger, clock: clock)
        let swarm = SwarmView(engine: engine)
        let nodeEngines = NodeEngines(
            own: engine,
            monitorHTTP: monitorHTTP,
            connector: engines ?? EngineDirectory(logger: logger),
            clouds: clouds,
            instances: store
        )
        let scalerWakeUp = WakeUps()
        let autoscalerWakeUp = WakeUps()
        let scalerNotes = ScalerNotes()
        let serviceLoads = ServiceLoads()
        let applicationChanges = SerialQueue()
        self.eventLog = eventLog
        self.serviceLoads = serviceLoads

        // The parts, each after those it uses.
        instances = Instances(
            configuration: configuration,
            store: store,
            engines: nodeEngines,
            managerID: managerID,
            clouds: clouds,
            registry: registry,
            eventLog: eventLog,
            swarm: swarm,
            scalerWakeUp: scalerWakeUp,
            spool: spool ?? FileManager.default.temporaryDirectory.path + "/micado-spool-" + UUID().uuidString
        )
        containers = Containers(
            configuration: configuration,
            store: store,
            engines: nodeEngines,
            managerID: managerID,
            clouds: clouds,
            registry: registry,
            eventLog: eventLog,
            swarm: swarm,
            scalerNotes: scalerNotes,
            scalerWakeUp: scalerWakeUp,
            instances: instances
        )
        volumes = Volumes(store: store, engines: nodeEngines, eventLog: eventLog, swarm: swarm)
        images = Images(store: store, engine: engine, clouds: clouds, http: http, registry: registry, eventLog: eventLog)
        routes = Routes(configuration: configuration, store: store, swarm: swarm, http: http)
        autoscaler = ServiceAutoscaler(
            store: store,
            engine: engine,
            eventLog: eventLog,
            swarm: swarm,
            serviceLoads: serviceLoads,
            wakeUps: autoscalerWakeUp,
            scalerWakeUp: scalerWakeUp
        )
        applications = Applications(
            defaults: configuration.defaults,
            store: store,
            engine: engine,
            managerID: managerID,
            eventLog: eventLog,
            swarm: swarm,
            scalerWakeUp: scalerWakeUp,
            changes: applicationChanges,
            clouds: clouds,
            containers: containers,
            volumes: volumes,
            autoscaler: autoscaler
        )
        scaler = Scaler(
            configuredLocation: configuration.defaults.location,
            store: store,
            engine: engine,
            clouds: clouds,
            metrics: metrics,
            eventLog: eventLog,
            swarm: swarm,
            scalerNotes: scalerNotes,
            scalerWakeUp: scalerWakeUp,
            instances: instances,
            containers: containers,
            volumes: volumes,
            autoscaler: autoscaler
        )
        reconciler = Reconciler(
            store: store,
            engine: engine,
            managerID: managerID,
            eventLog: eventLog,
            swarm: swarm,
            applicationChanges: applicationChanges,
            containers: containers,
            volumes: volumes,
            placesHomes: clouds.isEmpty
        )
        monitor = UsageMonitor(
            settings: configuration.monitor,
            store: store,
            engines: nodeEngines,
            metrics: metrics,
            eventLog: eventLog,
            swarm: swarm,
            serviceLoads: serviceLoads,
            autoscalerWakeUp: autoscalerWakeUp,
            containers: containers
        )
    }

    /// The daemon's helper services: Caddy, fed from `routes`, and the registry when there is one.
    func proxyController(home: MicadoHome) -> ProxyController {
        ProxyController(routes: routes, home: home, eventLog: eventLog, http: http)
    }

    func registryControllers(authority: CertificateAuthority) -> [RegistryController] {
        registry.map { RegistryController.controllers(of: $0, authority: authority, eventLog: eventLog, http: http) } ?? []
    }
}
