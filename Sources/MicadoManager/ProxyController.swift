import AsyncHTTPClient
import DockerEngine
import Foundation
import Logging
import MicadoClouds
import MicadoCore
import MicadoStore
import NIOCore
import NIOHTTP1
import ServiceLifecycle

/// Runs Caddy and keeps its routes equal to the containers launched with `-d DOMAIN`.
///
/// Caddy is programmed only through its admin API on loopback: the whole HTTP app is
/// rebuilt from the store and the swarm and loaded with `POST /load` whenever it changes
/// (Caddy swaps configurations atomically), so routes come back after any restart of the
/// manager or of Caddy. Caddy runs with a parent-death signal: it never outlives the manager.
public struct ProxyController: Service {
    let routes: Routes
    let home: MicadoHome
    let eventLog: EventLog
    /// For Caddy's admin API and its readiness probe.
    let http: HTTPClient
    var logger: Logger { eventLog.logger }

    init(routes: Routes, home: MicadoHome, eventLog: EventLog, http: HTTPClient) {
        self.routes = routes
        self.home = home
        self.eventLog = eventLog
        self.http = http
    }

    var proxy: ManagerConfiguration.Proxy { routes.configuration.proxy }
    /// Caddy's admin API: a unix socket in the proxy folder (0700, Caddy's user's), never
    /// TCP, so no other local user can load a configuration (a file server rooted at /, say).
    var adminSocket: String { home.proxyDirectory + "/admin.sock" }
    /// The unprivileged user Caddy runs as.
    static let user = "micado-proxy"

    func adminURL(_ uri: String) throws(MicadoError) -> String {
        guard let url = URL(httpURLWithSocketPath: adminSocket, uri: uri) else {
            throw .init(
                .configuration,
                "Caddy's admin socket \(adminSocket) and \(uri) do not make a URL; use a MICADO_HOME of plain characters"
            )
        }
        return url.absoluteString
    }

    public func run() async throws {
        guard proxy.enabled else {
            try? await gracefulShutdown()
            return
        }
        await cancelWhenGracefulShutdown {
            var loaded: String?
            await Supervisor(name: "caddy", restarted: .caddyRestart, failed: .caddyFailed, eventLog: eventLog).run(start: start) { fresh in
                if fresh { loaded = nil }
                do {
                    let desired = try await routes.desired()
                    let config = try Self.caddyConfig(routes: desired, proxy: proxy)
                    guard config != loaded else { return }
                    try await load(config)
                    loaded = config
                    await routes.loaded.set(desired)
                    await eventLog.note(
                        .proxyRoutes,
                        "caddy",
                        desired.isEmpty
                            ? "no routes"
                            : "routes: " + desired.map { "\($0.domain) → \($0.targets.joined(separator: ", "))" }.joined(separator: "; ")
                    )
                } catch {
                    logger.warning("proxy pass failed", metadata: ["error": "\(error)"])
                }
            }
        }
    }

    /// Starts Caddy, unprivileged (see `HelperUser`), with a bootstrap config that only
    /// opens its admin API; routes come through the API.
    func start() async throws -> ChildProcess {
        let dir = home.proxyDirectory
        guard adminSocket.utf8.count < 108 else {
            throw MicadoError(
                .configuration,
                "the home's path is too long for Caddy's admin socket (\(adminSocket) has over 107 bytes); use a shorter MICADO_HOME"
            )
        }
        let user = try await HelperUser.ensure(Self.user)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try? FileManager.default.removeItem(atPath: adminSocket)  // a killed Caddy leaves it behind
        try Data(Self.caddyConfig(routes: [], proxy: proxy).utf8).write(to: URL(fileURLWithPath: dir + "/bootstrap.json"))
        try await user.own(dir)
        guard let caddy = ["/usr/bin/caddy", "/usr/local/bin/caddy"].first(where: FileManager.default.isExecutableFile(atPath:)) else {
            throw MicadoError(.configuration, "caddy is not installed (apt-get install caddy), or set proxy.enabled: false in config.yaml")
        }
        let own = HelperUser.inFolder
        let environment = ["HOME": own(""), "XDG_DATA_HOME": own("data"), "XDG_CONFIG_HOME": own("config"), "PATH": "/usr/bin:/bin"]
        let child = try await user.start(
            [caddy, "run", "--config", own("bootstrap.json"), "--pidfile", own("caddy.pid")],
            folder: dir,
            environment: environment,
            output: dir + "/caddy.log"
        )
        let probe = try adminRequest("/config/")
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if let status = child.poll() {
                let log = (try? String(contentsOfFile: dir + "/caddy.log", encoding: .utf8)) ?? ""
                throw MicadoError(
                    .configuration,
                    "caddy exited (\(status)): \(log.split(separator: "\n").suffix(3).joined(separator: " "))"
                )
            }
            if (try? await http.execute(probe, timeout: .seconds(1)))?.status == .ok { return child }
            try await Task.sleep(for: .milliseconds(50))
        }
        child.signal(SIGKILL)
        _ = await child.exit()
        throw MicadoError(.timeout, "caddy's admin API did not answer on \(adminSocket)")
    }

    /// A request to the admin API; Caddy checks the Host of admin requests, so it is named.
    func adminRequest(_ uri: String) throws(MicadoError) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: try adminURL(uri))
        request.headers.replaceOrAdd(name: "Host", value: "localhost")
        return request
    }

    func load(_ config: String) async throws {
        var request = try adminRequest("/load")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: config))
        let response = try await http.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 1 << 20)
        guard response.status == .ok else { throw MicadoError(.engine, "caddy refused the routes: \(String(buffer: body))") }
    }

    /// The Caddy configuration for `routes`: one host-matched reverse proxy per domain,
    /// load-balanced over the container's tasks with active and passive health checks,
    /// and a 404 for any other host.
    static func caddyConfig(routes: [RouteView], proxy: ManagerConfiguration.Proxy) throws(MicadoError) -> String {
        var servers = [
            "micado": CaddyConfig.Server(
                listen: [":\(proxy.listenPort)"],
                routes: caddyRoutes(routes),
                automaticHTTPS: .init(disable: true)
            )
        ]
        var tls: CaddyConfig.TLSApp?
        var pki: CaddyConfig.PKIApp?
        let secure = routes.filter(\.tls)
        if !secure.isEmpty {
            // --tls domains: HTTPS with certificates from Caddy's internal CA, never ACME,
            // and never installed into the machine's trust store.
            let domains = secure.map(\.domain)
            servers["micado-tls"] = CaddyConfig.Server(
                listen: [":\(proxy.tlsPort)"],
                routes: caddyRoutes(secure),
                automaticHTTPS: .init(disable: true),
                tlsConnectionPolicies: [CaddyConfig.TLSConnectionPolicy()]
            )
            tls = CaddyConfig.TLSApp(
                certificates: .init(automate: domains),
                automation: .init(policies: [.init(subjects: domains, issuers: [.init(module: "internal")])])
            )
            pki = CaddyConfig.PKIApp(certificateAuthorities: ["local": .init(installTrust: false)])
        }
        let config = CaddyConfig(
            // Over a unix socket Caddy accepts only the Host named in origins (an empty one by default).
            admin: .init(listen: "unix/" + HelperUser.inFolder("admin.sock"), origins: ["localhost"], config: .init(persist: false)),
            logging: .init(logs: ["default": .init(level: "WARN")]),
            // A short grace period: connections of a replaced config do not linger on old routes.
            apps: .init(http: .init(gracePeriod: "1s", servers: servers), tls: tls, pki: pki)
        )
        return try config.json()
    }

    /// One host-matched, load-balanced, health-checked reverse proxy per domain, then a 404.
    static func caddyRoutes(_ routes: [RouteView]) -> [CaddyConfig.Route] {
        var hostRoutes: [CaddyConfig.Route] = routes.filter { !$0.targets.isEmpty }.map { route in
            let proxy = CaddyConfig.ReverseProxy(
                upstreams: route.targets.map { .init(dial: $0) },
                loadBalancing: .init(selectionPolicy: .init(policy: "round_robin"), tryDuration: "2s", tryInterval: "250ms"),
                healthChecks: .init(
                    active: .init(uri: "/", interval: "2s", timeout: "1s"),
                    passive: .init(failDuration: "10s", maxFails: 1)
                )
            )
            return CaddyConfig.Route(match: [.init(host: [route.domain])], handle: [.reverseProxy(proxy)], terminal: true)
        }
        hostRoutes.append(CaddyConfig.Route(handle: [.staticResponse(.init(statusCode: 404, body: "micado: no route for this host\n"))]))
        return hostRoutes
    }
}

/// Routes currently loaded into Caddy, for `micado routes`.
actor LoadedRoutes {
    var routes: [RouteView] = []
    func set(_ routes: [RouteView]) { self.routes = routes }
}

/// Routes: domain → the addresses where each routed container's running tasks answer, as
/// wanted (from the store and the swarm) and as loaded into Caddy.
public struct Routes: ReadsSwarm {
    let configuration: ManagerConfiguration
    let store: any ContainerStore
    let swarm: SwarmView
    /// For the health probes of route targets.
    let http: HTTPClient
    /// What Caddy was last given.
    let loaded = LoadedRoutes()

    /// Domain → the addresses where the container's running tasks answer.
    func desired() async throws(MicadoError) -> [RouteView] {
        // Only running containers launched with both a domain and a port are routed.
        let routed = try await store.containers().compactMap { record -> (record: ContainerRecord, domain: String, port: Int)? in
            guard record.desired == .running, let domain = record.domain, let port = record.port?.published else { return nil }
            return (record, domain, port)
        }
        guard !routed.isEmpty else { return [] }
        let snapshot = try await snapshot(maxAge: .milliseconds(500))
        return routed.map { record, domain, port in
            let tasks = (snapshot.tasksByService[record.serviceID ?? ""] ?? []).filter {
                $0.status.state == .running && $0.desiredState == .running
            }
            let targets = tasks.compactMap { task -> String? in
                guard let node = task.nodeID.flatMap({ snapshot.nodes[$0] }), let address = configuration.publishAddress(for: node) else {
                    return nil
                }
                return "\(address):\(port)"
            }
            var route = RouteView(domain: domain, container: record.name, targets: targets.sorted(), healthy: [])
            route.tls = record.tls
            return route
        }.sorted { $0.domain < $1.domain }
    }

    /// `micado routes`: what Caddy routes, with each target probed (1 s timeout, never a hang).
    public func list() async -> [RouteView] {
        var routes = await loaded.routes
        for i in routes.indices {
            var healthy: [Bool] = []
            for target in routes[i].targets {
                let ok =
                    (try? await http.execute(HTTPClientRequest(url: "http://\(target)/"), timeout: .seconds(1)))
                    .map { (200..<500).contains($0.status.code) } ?? false
                healthy.append(ok)
            }
            routes[i].healthy = healthy
        }
        return routes
    }
}
