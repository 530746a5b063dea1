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
    let orchestrator: Orchestrator
    let home: MicadoHome
    let logger: Logger

    public init(orchestrator: Orchestrator, home: MicadoHome, logger: Logger) {
        self.orchestrator = orchestrator
        self.home = home
        self.logger = logger
    }

    var proxy: ManagerConfiguration.Proxy { orchestrator.configuration.proxy }
    /// Caddy's admin API: a unix socket in the proxy folder (0700, Caddy's user's), never
    /// TCP, so no other local user can load a configuration (a file server rooted at /, say).
    var adminSocket: String { home.proxyDirectory + "/admin.sock" }
    /// The unprivileged user Caddy runs as.
    static let user = "micado-proxy"

    func adminURL(_ uri: String) -> String { URL(httpURLWithSocketPath: adminSocket, uri: uri)!.absoluteString }

    public func run() async throws {
        guard proxy.enabled else {
            try? await gracefulShutdown()
            return
        }
        try? await cancelWhenGracefulShutdown {
            var loaded: String?
            await Supervisor(name: "caddy", orchestrator: orchestrator).run(start: start) { fresh in
                if fresh { loaded = nil }
                do {
                    let routes = try await orchestrator.desiredRoutes()
                    let config = Self.caddyConfig(routes: routes, proxy: proxy)
                    guard config != loaded else { return }
                    try await load(config)
                    loaded = config
                    await orchestrator.setRoutes(routes)
                    await orchestrator.note(
                        "proxy.routes", "caddy",
                        routes.isEmpty ? "no routes" : "routes: " + routes.map { "\($0.domain) → \($0.targets.joined(separator: ", "))" }.joined(separator: "; "))
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
            throw MicadoError(.configuration, "the home's path is too long for Caddy's admin socket (\(adminSocket) has over 107 bytes); use a shorter MICADO_HOME")
        }
        let user = try HelperUser.ensure(Self.user)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try? FileManager.default.removeItem(atPath: adminSocket)  // a killed Caddy leaves it behind
        try Data(Self.caddyConfig(routes: [], proxy: proxy).utf8).write(to: URL(fileURLWithPath: dir + "/bootstrap.json"))
        try user.own(dir)
        guard let caddy = ["/usr/bin/caddy", "/usr/local/bin/caddy"].first(where: FileManager.default.isExecutableFile(atPath:)) else {
            throw MicadoError(.configuration, "caddy is not installed (apt-get install caddy), or set proxy.enabled: false in config.yaml")
        }
        let own = HelperUser.inFolder
        let environment = ["HOME": own(""), "XDG_DATA_HOME": own("data"), "XDG_CONFIG_HOME": own("config"), "PATH": "/usr/bin:/bin"]
        let child = try user.start(
            [caddy, "run", "--config", own("bootstrap.json"), "--pidfile", own("caddy.pid")], folder: dir, environment: environment,
            output: dir + "/caddy.log")
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if let status = child.poll() {
                let log = (try? String(contentsOfFile: dir + "/caddy.log", encoding: .utf8)) ?? ""
                throw MicadoError(.configuration, "caddy exited (\(status)): \(log.split(separator: "\n").suffix(3).joined(separator: " "))")
            }
            if (try? await orchestrator.http.execute(adminRequest("/config/"), timeout: .seconds(1)))?.status == .ok { return child }
            try await Task.sleep(for: .milliseconds(50))
        }
        child.signal(SIGKILL)
        _ = child.wait()
        throw MicadoError(.timeout, "caddy's admin API did not answer on \(adminSocket)")
    }

    /// A request to the admin API; Caddy checks the Host of admin requests, so it is named.
    func adminRequest(_ uri: String) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: adminURL(uri))
        request.headers.replaceOrAdd(name: "Host", value: "localhost")
        return request
    }

    func load(_ config: String) async throws {
        var request = adminRequest("/load")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: config))
        let response = try await orchestrator.http.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 1 << 20)
        guard response.status == .ok else { throw MicadoError(.engine, "caddy refused the routes: \(String(buffer: body))") }
    }

    /// The Caddy configuration for `routes`: one host-matched reverse proxy per domain,
    /// load-balanced over the container's tasks with active and passive health checks,
    /// and a 404 for any other host.
    static func caddyConfig(routes: [RouteView], proxy: ManagerConfiguration.Proxy) -> String {
        var servers: [String: Any] = [
            "micado": ["listen": [":\(proxy.listenPort)"], "automatic_https": ["disable": true], "routes": caddyRoutes(routes)]
        ]
        var apps: [String: Any] = [:]
        let secure = routes.filter(\.tls)
        if !secure.isEmpty {
            // --tls domains: HTTPS with certificates from Caddy's internal CA, never ACME,
            // and never installed into the machine's trust store.
            let domains = secure.map(\.domain)
            servers["micado-tls"] = [
                "listen": [":\(proxy.tlsPort)"], "routes": caddyRoutes(secure), "tls_connection_policies": [[String: Any]()],
                "automatic_https": ["disable": true],
            ]
            apps["tls"] = [
                "certificates": ["automate": domains],
                "automation": ["policies": [["subjects": domains, "issuers": [["module": "internal"]]]]],
            ]
            apps["pki"] = ["certificate_authorities": ["local": ["install_trust": false]]]
        }
        // A short grace period: connections of a replaced config do not linger on old routes.
        apps["http"] = ["grace_period": "1s", "servers": servers]
        let config: [String: Any] = [
            // Over a unix socket Caddy accepts only the Host named in origins (an empty one by default).
            "admin": ["listen": "unix/" + HelperUser.inFolder("admin.sock"), "origins": ["localhost"], "config": ["persist": false]],
            "logging": ["logs": ["default": ["level": "WARN"]]],
            "apps": apps,
        ]
        let data = try! JSONSerialization.data(withJSONObject: config, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }

    /// One host-matched, load-balanced, health-checked reverse proxy per domain, then a 404.
    static func caddyRoutes(_ routes: [RouteView]) -> [[String: Any]] {
        var handlers: [[String: Any]] = routes.filter { !$0.targets.isEmpty }.map { route in
            [
                "match": [["host": [route.domain]]],
                "handle": [[
                    "handler": "reverse_proxy",
                    "upstreams": route.targets.map { ["dial": $0] },
                    "load_balancing": ["selection_policy": ["policy": "round_robin"]],
                    "health_checks": [
                        "active": ["uri": "/", "interval": "2s", "timeout": "1s"],
                        "passive": ["fail_duration": "10s", "max_fails": 1],
                    ],
                ]],
                "terminal": true,
            ]
        }
        handlers.append(["handle": [["handler": "static_response", "status_code": 404, "body": "micado: no route for this host\n"]]])
        return handlers
    }
}

/// Routes currently loaded into Caddy, for `micado routes`.
actor LoadedRoutes {
    var routes: [RouteView] = []
    func set(_ routes: [RouteView]) { self.routes = routes }
}

extension Orchestrator {
    /// Domain → the addresses where the container's running tasks answer.
    func desiredRoutes() async throws(MicadoError) -> [RouteView] {
        let records = try await store.containers().filter { $0.desired == .running && $0.domain != nil && $0.port != nil }
        guard !records.isEmpty else { return [] }
        let snapshot = try await snapshot(maxAge: .milliseconds(500))
        return records.map { record in
            let tasks = (snapshot.tasksByService[record.serviceID ?? ""] ?? []).filter { $0.status.state == "running" && $0.desiredState == "running" }
            let targets = tasks.compactMap { task -> String? in
                guard let node = task.nodeID.flatMap({ snapshot.nodes[$0] }), let address = publishAddress(for: node) else { return nil }
                return "\(address):\(record.port!.published)"
            }
            var route = RouteView(domain: record.domain!, container: record.name, targets: targets.sorted(), healthy: [])
            route.tls = record.tls
            return route
        }.sorted { $0.domain < $1.domain }
    }

    func setRoutes(_ routes: [RouteView]) async { await loadedRoutes.set(routes) }

    /// `micado routes`: what Caddy routes, with each target probed (1 s timeout, never a hang).
    public func routes() async -> [RouteView] {
        var routes = await loadedRoutes.routes
        for i in routes.indices {
            var healthy: [Bool] = []
            for target in routes[i].targets {
                let ok = (try? await http.execute(HTTPClientRequest(url: "http://\(target)/"), timeout: .seconds(1)))
                    .map { (200..<500).contains($0.status.code) } ?? false
                healthy.append(ok)
            }
            routes[i].healthy = healthy
        }
        return routes
    }
}
