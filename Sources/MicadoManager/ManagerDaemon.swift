import AsyncHTTPClient
import DockerEngine
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import Metrics
import MicadoCore
import MicadoStore
import NIOCore
import Prometheus
import ServiceLifecycle
import UnixSignals

/// `micado manager`: opens the store, connects the engine, makes it a swarm manager,
/// reconciles, and serves the API until SIGTERM or SIGINT.
public struct ManagerDaemon {
    public var home: MicadoHome
    public var configuration: ManagerConfiguration
    public var logger: Logger
    /// Take over micado services of the swarm that the store does not know.
    public var adopt: Bool

    public init(home: MicadoHome, configuration: ManagerConfiguration, adopt: Bool = false, logger: Logger) {
        self.home = home
        self.configuration = configuration
        self.adopt = adopt
        self.logger = logger
    }

    public func run() async throws {
        // First of all: a second manager on this home stops here, having changed nothing.
        let lock = try HomeLock.acquire(home, port: configuration.manager.port)
        // Two homes can name one store: it has a lock of its own.
        let storePath = configuration.store.path ?? home.defaultStoreFile
        // By the store's real path: a symlink to another home's store is the same store.
        let realStore = URL(fileURLWithPath: storePath).resolvingSymlinksInPath().path
        let storeLock = try HomeLock.acquire(realStore + ".lock", port: configuration.manager.port, what: "the store \(realStore)")
        defer { withExtendedLifetime((lock, storeLock)) {} }
        // Uploads and backups a killed manager was receiving (unlinked already, unless it died in between).
        try? FileManager.default.removeItem(atPath: home.spoolDirectory)
        let token = try home.readToken()
        let store = try Store.open(path: storePath)
        let managerID = try await store.setting("manager.id") { "m" + String(UInt64.random(in: 0...UInt64.max), radix: 36) }
        let endpoint = try EngineEndpoint.parse(configuration.docker.host ?? EngineEndpoint.defaultSocket.description)
        let http = EngineClient.makeHTTPClient()
        let monitorHTTP = EngineClient.makeHTTPClient()
        let instanceEngines = EngineDirectory(logger: logger)
        do {
            let engine = try await EngineClient.connect(to: endpoint, http: http, logger: logger)
            let clouds = try await CloudSet.load(home: home, logger: logger)
            let prometheus = PrometheusCollectorRegistry()
            MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: prometheus))
            let metrics = ManagerMetrics(registry: prometheus)
            let registry = try Registry.forHome(home, clouds: clouds)
            let orchestrator = Orchestrator(
                configuration: configuration,
                store: store,
                engine: engine,
                managerID: managerID,
                clouds: clouds,
                engines: instanceEngines,
                http: http,
                monitorHTTP: monitorHTTP,
                metrics: metrics,
                registry: registry,
                logger: logger
            )
            try await orchestrator.instances.waitForSwarm()
            try await orchestrator.checkForeignServices(adopt: adopt)
            try await orchestrator.instances.bootstrapSwarm()
            try await orchestrator.reconciler.pass()
            try await orchestrator.containers.hangUpLeftoverExecSessions()
            try await orchestrator.images.reportInterruptedBuilds()
            try writePIDFile()
            defer { try? FileManager.default.removeItem(atPath: home.pidFile) }
            await orchestrator.note(
                "manager.start",
                managerID,
                "manager \(MicadoVersion.current) up on \(configuration.manager.address):\(configuration.manager.port), engine \(engine.engineVersion) (API \(engine.apiVersion))"
            )
            let sessions = DashboardSessions(token: token)
            let router = HTTPAPI.router(
                orchestrator: orchestrator,
                token: token,
                sessions: sessions,
                spool: home.spoolDirectory,
                logger: logger
            )
            var services: [any Service] = [
                orchestrator.reconciler, orchestrator.scaler, ProxyController(routes: orchestrator.routes, home: home),
                orchestrator.monitor, orchestrator.autoscaler,
            ]
            if let registry {
                services.insert(
                    RegistryController(context: orchestrator.context, registry: registry, authority: clouds.authority, logger: logger),
                    at: 0
                )
            }
            // A connection must send its first request head within this (then Hummingbird's idle timeout holds).
            let headDeadline = TimeAmount.seconds(Int64(min(configuration.limits.idleSeconds, 10)))
            let idleTimeout = TimeAmount.seconds(Int64(configuration.limits.idleSeconds))
            let webSocketResponder = HTTPAPI.webSocketRouter(orchestrator: orchestrator, token: token, sessions: sessions, logger: logger)
                .buildResponder()
            let connections = ConnectionBudget(
                limits: .init(total: configuration.limits.connections, perPeer: configuration.limits.connectionsPerPeer)
            )
            let app = Application(
                router: router,
                server: HTTPServerBuilder { [webSocketResponder, idleTimeout, connections] responder in
                    HeadDeadlineChannel(
                        inner: HTTP1WebSocketUpgradeChannel(
                            responder: responder,
                            webSocketResponder: webSocketResponder,
                            configuration: .init(
                                http1: .init(
                                    additionalChannelHandlers: [RefusedUpgradeAnswer(), ConnectionActivity(budget: connections)],
                                    idleTimeout: idleTimeout
                                )
                            )
                        ),
                        deadline: headDeadline,
                        budget: connections
                    )
                },
                configuration: .init(
                    address: .hostname(configuration.manager.address, port: configuration.manager.port),
                    serverName: "micado"
                ),
                services: services,
                logger: logger
            )
            // Graceful shutdown on SIGTERM and SIGINT, bounded: a pass stuck on a stalled cloud
            // must not keep the manager (and its home lock) for minutes; past the bound its work
            // is cancelled (cloud calls honour cancellation), and past that the process ends.
            var group = ServiceGroupConfiguration(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
            group.maximumGracefulShutdownDuration = .seconds(15)
            group.maximumCancellationDuration = .seconds(5)
            try await ServiceGroup(configuration: group).run()
            await orchestrator.note("manager.stop", managerID, "manager stopped")
        } catch {
            await instanceEngines.shutdown()
            try? await monitorHTTP.shutdown()
            try? await http.shutdown()
            throw error
        }
        await instanceEngines.shutdown()
        try? await monitorHTTP.shutdown()
        try await http.shutdown()
    }

    func writePIDFile() throws(MicadoError) {
        try NewFile.write("\(getpid())\n", to: home.pidFile, mode: 0o644)
    }
}
