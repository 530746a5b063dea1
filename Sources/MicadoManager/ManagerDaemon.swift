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
        defer { withExtendedLifetime(lock) {} }
        // Uploads and backups a killed manager was receiving (unlinked already, unless it died in between).
        try? FileManager.default.removeItem(atPath: home.spoolDirectory)
        let token = try home.readToken()
        let (store, storeLock, resign) = try await openStore()
        defer { withExtendedLifetime(storeLock) {} }
        let clients = Clients(logger: logger)
        do {
            let manager = try await buildManager(configuration: configuration, store: store, token: token, clients: clients)
            let orchestrator = manager.orchestrator
            try await orchestrator.instances.waitForSwarm()
            try await orchestrator.checkForeignServices(adopt: adopt)
            try await orchestrator.instances.bootstrapSwarm()
            try await orchestrator.reconciler.pass()
            try await orchestrator.containers.hangUpLeftoverExecSessions()
            try await orchestrator.images.reportInterruptedBuilds()
            try writePIDFile()
            defer { try? FileManager.default.removeItem(atPath: home.pidFile) }
            let engine = orchestrator.engine
            await orchestrator.note(
                .managerStart,
                orchestrator.managerID,
                "manager \(MicadoVersion.current) up on \(configuration.manager.address):\(configuration.manager.port), engine \(engine.engineVersion) (API \(engine.apiVersion))"
            )
            // Graceful shutdown on SIGTERM and SIGINT, bounded: a pass stuck on a stalled cloud
            // must not keep the manager (and its home lock) for minutes; past the bound its work
            // is cancelled (cloud calls honour cancellation), and past that the process ends.
            var group = ServiceGroupConfiguration(services: [manager.server], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
            group.maximumGracefulShutdownDuration = .seconds(15)
            group.maximumCancellationDuration = .seconds(5)
            try await ServiceGroup(configuration: group).run()
            await orchestrator.note(.managerStop, orchestrator.managerID, "manager stopped")
            // Best effort: a reader still open makes SQLite refuse, and the log is then folded at the next start.
            try? await orchestrator.store.checkpoint()
            // A manager standing by takes over at its next try, not when the lease would end.
            await resign()
        } catch {
            // A manager that could not start gives its lease up too, not only one that stops.
            await resign()
            try? await clients.shutdown()
            throw error
        }
        try await clients.shutdown()
    }

    /// The store the configuration names, held by this manager alone: SQLite (the embedded
    /// default) under a lock file beside it, or PostgreSQL under its lease. Several managers may
    /// run on one PostgreSQL database: this one waits here, standing by, until it leads. A
    /// leader that loses its lease stops at once (exit 75, as if killed: what it left is
    /// finished by the next leader), because another manager acts now.
    func openStore() async throws -> (any ManagerStore, HomeLock?, resign: @Sendable () async -> Void) {
        if let url = configuration.store.postgres {
            let location = try PostgresLocation.parse(url, passwordFile: configuration.store.passwordFile)
            let timings = PostgresStore.LeaseTimings(
                lease: .milliseconds(Int(configuration.store.leaseSeconds * 1000)),
                renewEvery: .milliseconds(Int(configuration.store.renewSeconds * 1000))
            )
            let store = try await PostgresStore.open(location, logger: logger, timings: timings)
            let logger = logger
            let holder = "\(ProcessInfo.processInfo.hostName)/\(getpid())/\(String(UInt32.random(in: 0...UInt32.max), radix: 36))"
            logger.info("store: PostgreSQL at \(location); manager \(holder) asks for the lease")
            let leadership = try await store.lead(holder: holder) { note in
                logger.notice("\(note)")
            } onLoss: { error in
                logger.critical("\(error.message)")
                // At once, from whichever thread saw it: no exit handlers, no unwinding that
                // could act on the way out. What is written is written; stdio is flushed.
                fflush(nil)
                _exit(75)
            }
            logger.notice("leading: manager \(holder), epoch \(leadership.epoch)")
            return (store, nil, { await store.resign() })
        }
        // Two homes can name one store: it has a lock of its own.
        let storePath = configuration.store.path ?? home.defaultStoreFile
        // By the store's real path: a symlink to another home's store is the same store.
        let realStore = URL(fileURLWithPath: storePath).resolvingSymlinksInPath().path
        let storeLock = try HomeLock.acquire(realStore + ".lock", port: configuration.manager.port, what: "the store \(realStore)")
        return (try Store.open(path: storePath), storeLock, {})
    }

    /// The connections the manager owns, shut down when it stops.
    struct Clients {
        /// The API's and the helpers' connections.
        let http = EngineClient.makeHTTPClient()
        /// The usage monitor's own, so that sampling never queues an API call behind it.
        let monitorHTTP = EngineClient.makeHTTPClient()
        /// Instance engines, over mutual TLS.
        let instanceEngines: EngineDirectory

        init(logger: Logger) { instanceEngines = EngineDirectory(logger: logger) }

        func shutdown() async throws {
            await instanceEngines.shutdown()
            try? await monitorHTTP.shutdown()
            try await http.shutdown()
        }
    }

    /// The manager, built from its configuration and store: its parts (`Orchestrator`), the
    /// HTTP server, and the loops and helpers as the server's services. Read top to bottom.
    struct Manager {
        let orchestrator: Orchestrator
        let server: any Service
    }

    func buildManager(configuration: ManagerConfiguration, store: any ManagerStore, token: String, clients: Clients) async throws -> Manager
    {
        let managerID = try await store.setting("manager.id") { "m" + String(UInt64.random(in: 0...UInt64.max), radix: 36) }
        let endpoint = try EngineEndpoint.parse(configuration.docker.host ?? EngineEndpoint.defaultSocket.description)
        let engine = try await EngineClient.connect(to: endpoint, http: clients.http, logger: logger)
        let clouds = try await CloudSet.load(home: home, logger: logger)
        let prometheus = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: prometheus))
        let registry = try Registry.forHome(home, clouds: clouds, pullThrough: configuration.registry.pullThrough)

        // The parts.
        let orchestrator = Orchestrator(
            configuration: configuration,
            store: store,
            engine: engine,
            managerID: managerID,
            clouds: clouds,
            engines: clients.instanceEngines,
            http: clients.http,
            monitorHTTP: clients.monitorHTTP,
            metrics: ManagerMetrics(registry: prometheus),
            registry: registry,
            spool: home.spoolDirectory,
            logger: logger
        )

        // The loops and helpers, run as the server's services.
        var services: [any Service] = [
            orchestrator.reconciler, orchestrator.scaler, orchestrator.proxyController(home: home),
            orchestrator.monitor, orchestrator.autoscaler,
        ]
        services.insert(contentsOf: orchestrator.registryControllers(authority: clouds.authority), at: 0)

        // The API: HTTP routes and WebSockets behind the token or a dashboard session.
        let sessions = DashboardSessions(token: token)
        let router = HTTPAPI.router(
            orchestrator: orchestrator,
            token: token,
            sessions: sessions,
            spool: home.spoolDirectory,
            logger: logger
        )
        let webSocketResponder = HTTPAPI.webSocketRouter(orchestrator: orchestrator, token: token, sessions: sessions, logger: logger)
            .buildResponder()

        // The server: a connection must send its first request head within `headDeadline`
        // (then Hummingbird's idle timeout holds), and connections are budgeted per peer.
        let headDeadline = TimeAmount.seconds(Int64(min(configuration.limits.idleSeconds, 10)))
        let idleTimeout = TimeAmount.seconds(Int64(configuration.limits.idleSeconds))
        let connections = ConnectionBudget(
            limits: .init(total: configuration.limits.connections, perPeer: configuration.limits.connectionsPerPeer)
        )
        let server = Application(
            router: router,
            server: HTTPServerBuilder { [webSocketResponder, idleTimeout, connections] responder in
                HeadDeadlineChannel(
                    inner: HTTP1WebSocketUpgradeChannel(
                        responder: responder,
                        webSocketResponder: webSocketResponder,
                        configuration: .init(
                            http1: .init(
                                additionalChannelHandlers: [
                                    OneAnswerAtATime(), RefusedUpgradeAnswer(), ConnectionActivity(budget: connections),
                                ],
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
        return Manager(orchestrator: orchestrator, server: server)
    }

    func writePIDFile() throws(MicadoError) {
        try NewFile.write("\(getpid())\n", to: home.pidFile, mode: 0o644)
    }
}
