import AsyncHTTPClient
import DockerEngine
import Foundation
import Logging
import MicadoClouds
import MicadoCore
import MicadoStore
import Prometheus

/// The manager, put together: the context every part shares and the parts, each owning its
/// own state. The HTTP API and the daemon reach the parts through it; the parts that loop
/// (`Reconciler`, `Scaler`, `UsageMonitor`, `ServiceAutoscaler`) are the daemon's services.
///
///     Containers ──▶ Instances ──▶ CloudDriver, InstanceLifecycle (pure)
///     Applications ──▶ Containers, Instances, ServiceAutoscaler ──▶ ReplicaRecommender (pure)
///     Scaler ──▶ Instances, Containers, ServiceAutoscaler
///     Reconciler, UsageMonitor ──▶ Containers
///     Images, Routes (◀── ProxyController)    every part ──▶ ManagerContext
public final class Orchestrator: ManagerPart {
    public let context: ManagerContext
    public let instances: Instances
    public let containers: Containers
    public let images: Images
    public let routes: Routes
    public let scaler: Scaler
    public let reconciler: Reconciler
    public let monitor: UsageMonitor
    public let autoscaler: ServiceAutoscaler
    public let applications: Applications

    /// `engines` defaults to mutual-TLS clients over `http` (itself defaulting to the shared client).
    public init(
        configuration: ManagerConfiguration,
        store: Store,
        engine: any EngineAPI,
        managerID: String,
        clouds: CloudSet = CloudSet(configurations: [], drivers: [:], authority: .init(directory: "/nonexistent")),
        engines: (any EngineConnector)? = nil,
        http: HTTPClient? = nil,
        monitorHTTP: HTTPClient? = nil,
        metrics: ManagerMetrics = ManagerMetrics(registry: .init()),
        registry: Registry? = nil,
        logger: Logger
    ) {
        let context = ManagerContext(
            configuration: configuration,
            store: store,
            engine: engine,
            managerID: managerID,
            clouds: clouds,
            engines: engines,
            http: http,
            monitorHTTP: monitorHTTP,
            metrics: metrics,
            registry: registry,
            logger: logger
        )
        self.context = context
        instances = Instances(context: context)
        containers = Containers(context: context, instances: instances)
        images = Images(context: context)
        routes = Routes(context: context)
        autoscaler = ServiceAutoscaler(context: context)
        applications = Applications(context: context, containers: containers, instances: instances, autoscaler: autoscaler)
        scaler = Scaler(context: context, instances: instances, containers: containers, autoscaler: autoscaler)
        reconciler = Reconciler(context: context, containers: containers)
        monitor = UsageMonitor(context: context, containers: containers)
    }
}
