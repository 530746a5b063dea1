import Foundation
import MicadoCore
import Testing

@testable import MicadoManager

/// The configuration loaded into Caddy, read back as plain JSON: the keys and values Caddy
/// 2.6 acts on, whatever Swift types produce them.
@Suite struct CaddyConfigTests {
    static var proxy: ManagerConfiguration.Proxy {
        var proxy = ManagerConfiguration.Proxy()
        proxy.listenPort = 8080
        proxy.tlsPort = 8443
        return proxy
    }

    /// The value at `path` (string keys into objects, integer indices into arrays), or nil.
    static func value(_ root: Any, _ path: [any Sendable]) -> Any? {
        var current: Any? = root
        for step in path {
            switch step {
            case let key as String: current = (current as? [String: Any])?[key]
            case let index as Int: current = (current as? [Any]).flatMap { $0.indices.contains(index) ? $0[index] : nil }
            default: return nil
            }
        }
        return current
    }

    static func decoded(_ routes: [RouteView]) throws -> [String: Any] {
        let text = try ProxyController.caddyConfig(routes: routes, proxy: proxy)
        return try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test func twoRoutesOneServedOverHTTPSToo() throws {
        let plain = RouteView(
            domain: "blog.example",
            container: "container-blog",
            targets: ["10.213.0.2:8080", "10.213.0.4:8080"],
            healthy: []
        )
        var secure = RouteView(domain: "shop.example", container: "container-shop", targets: ["10.213.0.3:9000"], healthy: [])
        secure.tls = true
        let config = try Self.decoded([plain, secure])
        func at(_ path: [any Sendable]) -> Any? { Self.value(config, path) }

        // Admin API on the unix socket in Caddy's own folder, Host checked, nothing persisted.
        #expect(at(["admin", "listen"]) as? String == "unix//proc/self/fd/3/admin.sock")
        #expect(at(["admin", "origins"]) as? [String] == ["localhost"])
        #expect(at(["admin", "config", "persist"]) as? Bool == false)
        #expect(at(["logging", "logs", "default", "level"]) as? String == "WARN")
        #expect(at(["apps", "http", "grace_period"]) as? String == "1s")
        #expect((at(["apps", "http", "servers"]) as? [String: Any]).map { Set($0.keys) } == ["micado", "micado-tls"])

        // HTTP: both domains, then the 404 for any other host.
        let http: [any Sendable] = ["apps", "http", "servers", "micado"]
        #expect(at(http + ["listen"]) as? [String] == [":8080"])
        #expect(at(http + ["automatic_https", "disable"]) as? Bool == true)
        #expect(at(http + ["tls_connection_policies"]) == nil)
        #expect((at(http + ["routes"]) as? [Any])?.count == 3)
        let blog = http + ["routes", 0]
        #expect(at(blog + ["match", 0, "host"]) as? [String] == ["blog.example"])
        #expect(at(blog + ["terminal"]) as? Bool == true)
        let reverseProxy = blog + ["handle", 0]
        #expect(at(reverseProxy + ["handler"]) as? String == "reverse_proxy")
        #expect(
            (at(reverseProxy + ["upstreams"]) as? [[String: Any]])?.compactMap { $0["dial"] as? String }
                == ["10.213.0.2:8080", "10.213.0.4:8080"]
        )
        #expect(at(reverseProxy + ["load_balancing", "selection_policy", "policy"]) as? String == "round_robin")
        #expect(at(reverseProxy + ["health_checks", "active", "uri"]) as? String == "/")
        #expect(at(reverseProxy + ["health_checks", "active", "interval"]) as? String == "2s")
        #expect(at(reverseProxy + ["health_checks", "active", "timeout"]) as? String == "1s")
        #expect(at(reverseProxy + ["health_checks", "passive", "fail_duration"]) as? String == "10s")
        #expect(at(reverseProxy + ["health_checks", "passive", "max_fails"]) as? Int == 1)
        #expect(at(http + ["routes", 1, "match", 0, "host"]) as? [String] == ["shop.example"])
        let notFound = http + ["routes", 2]
        #expect((at(notFound) as? [String: Any]).map { Set($0.keys) } == ["handle"])  // no match: every other host
        #expect(at(notFound + ["handle", 0, "handler"]) as? String == "static_response")
        #expect(at(notFound + ["handle", 0, "status_code"]) as? Int == 404)
        #expect(at(notFound + ["handle", 0, "body"]) as? String == "micado: no route for this host\n")

        // HTTPS: only the --tls domain, with one default connection policy (`[{}]`).
        let https: [any Sendable] = ["apps", "http", "servers", "micado-tls"]
        #expect(at(https + ["listen"]) as? [String] == [":8443"])
        #expect(at(https + ["automatic_https", "disable"]) as? Bool == true)
        #expect((at(https + ["tls_connection_policies"]) as? [[String: Any]]).map { $0.map(\.count) } == [0])
        #expect((at(https + ["routes"]) as? [Any])?.count == 2)
        #expect(at(https + ["routes", 0, "match", 0, "host"]) as? [String] == ["shop.example"])
        #expect(
            (at(https + ["routes", 0, "handle", 0, "upstreams"]) as? [[String: Any]])?.compactMap { $0["dial"] as? String }
                == ["10.213.0.3:9000"]
        )
        #expect(at(https + ["routes", 1, "handle", 0, "status_code"]) as? Int == 404)

        // Certificates from Caddy's internal CA, never ACME, its root never installed.
        #expect(at(["apps", "tls", "certificates", "automate"]) as? [String] == ["shop.example"])
        #expect(at(["apps", "tls", "automation", "policies", 0, "subjects"]) as? [String] == ["shop.example"])
        #expect(at(["apps", "tls", "automation", "policies", 0, "issuers", 0, "module"]) as? String == "internal")
        #expect((at(["apps", "tls", "automation", "policies"]) as? [Any])?.count == 1)
        #expect(at(["apps", "pki", "certificate_authorities", "local", "install_trust"]) as? Bool == false)
    }

    /// The bootstrap (no routes), and a domain whose container has no running task: a 404
    /// for everything, no HTTPS server, no TLS or PKI app.
    @Test func withoutTargetsOnlyThe404() throws {
        let idle = RouteView(domain: "idle.example", container: "container-idle", targets: [], healthy: [])
        for routes in [[], [idle]] {
            let config = try Self.decoded(routes)
            func at(_ path: [any Sendable]) -> Any? { Self.value(config, path) }
            #expect((at(["apps"]) as? [String: Any]).map { Set($0.keys) } == ["http"])
            #expect((at(["apps", "http", "servers"]) as? [String: Any]).map { Set($0.keys) } == ["micado"])
            #expect((at(["apps", "http", "servers", "micado", "routes"]) as? [Any])?.count == 1)
            #expect(at(["apps", "http", "servers", "micado", "routes", 0, "handle", 0, "status_code"]) as? Int == 404)
        }
    }

    /// The manager compares configurations as text to skip loads that change nothing: keys
    /// are sorted, so the same routes always give the same text.
    @Test func keysAreSorted() throws {
        let routes = [
            RouteView(domain: "b.example", container: "container-b", targets: ["10.213.0.2:80"], healthy: []),
            RouteView(domain: "a.example", container: "container-a", targets: ["10.213.0.3:80"], healthy: []),
        ]
        let text = try ProxyController.caddyConfig(routes: routes, proxy: Self.proxy)
        #expect(text.hasPrefix(#"{"admin":{"config":{"persist":false},"listen":"#))
        #expect(text.contains(#"{"handle":[{"handler":"reverse_proxy","health_checks":{"active":{"interval":"2s","timeout":"1s","uri":"#))
        #expect(try text == ProxyController.caddyConfig(routes: routes, proxy: Self.proxy))
    }
}
