import Foundation
import MicadoCore
import Yams

extension ManagerConfiguration {
    /// Reads `config.yaml` from the home, then applies `MICADO_*` and `DOCKER_HOST` from
    /// the environment. Unknown keys and wrong types are reported with the key's name.
    public static func load(home: MicadoHome, environment: [String: String]) throws(MicadoError) -> ManagerConfiguration {
        guard let data = FileManager.default.contents(atPath: home.configFile) else {
            throw .init(.configuration, "no micado configuration at \(home.configFile): run 'micado init' first (or set MICADO_HOME)")
        }
        var configuration = try parse(String(decoding: data, as: UTF8.self), file: home.configFile)
        if let port = environment["MICADO_PORT"] {
            guard let value = Int(port) else { throw .init(.configuration, "MICADO_PORT '\(port)' is not a number") }
            configuration.manager.port = value
        }
        if let host = environment["MICADO_DOCKER_HOST"] ?? (configuration.docker.host == nil ? environment["DOCKER_HOST"] : nil),
            !host.isEmpty
        {
            configuration.docker.host = host
        }
        try configuration.validate()
        return configuration
    }

    public static func parse(_ text: String, file: String) throws(MicadoError) -> ManagerConfiguration {
        let tree: Node?
        do { tree = try YAMLDocument.compose(text) } catch {
            throw .init(.configuration, "\(file) is not valid YAML: \(error)")
        }
        guard let tree else { return ManagerConfiguration() }
        guard let sections = tree.mapping else {
            throw .init(.configuration, "\(file): expected sections manager, docker, store, defaults, proxy at the top level")
        }
        // `<<` merges keys in (YAMLDecoder reads merge keys); they are not checked by name.
        for (key, value) in sections where key.string != "<<" {
            let section = key.string ?? ""
            guard let keys = knownKeys[section] else {
                throw .init(
                    .configuration,
                    "\(file): unknown section '\(section)' (known: \(knownKeys.keys.sorted().joined(separator: ", ")))"
                )
            }
            guard let fields = value.mapping else {
                if value.null != nil { continue }
                // `store: postgres://…`, the one section that may be a single value.
                if section == "store", let url = value.string, url.hasPrefix("postgres") { continue }
                throw .init(.configuration, "\(file): '\(section)' must be a mapping of keys")
            }
            for field in fields.keys.map({ $0.string ?? "" }) where !keys.contains(field) && field != "<<" {
                throw .init(.configuration, "\(file): unknown key '\(section).\(field)' (known: \(keys.sorted().joined(separator: ", ")))")
            }
        }
        do {
            return try YAMLDocument.decode(ManagerConfiguration.self, from: tree)
        } catch let error as DecodingError {
            throw .init(.configuration, "\(file): \(describe(error))")
        } catch {
            throw .init(.configuration, "\(file): \(error)")
        }
    }

    static func describe(_ error: DecodingError) -> String {
        switch error {
        case .typeMismatch(let type, let c), .valueNotFound(let type, let c):
            return "'\(c.codingPath.map(\.stringValue).joined(separator: "."))' must be a \(type)"
        case .dataCorrupted(let c):
            return "bad value for '\(c.codingPath.map(\.stringValue).joined(separator: "."))': \(c.debugDescription)"
        case .keyNotFound(let key, _):
            return "missing key '\(key.stringValue)'"
        @unknown default:
            return "\(error)"
        }
    }

    /// The file `micado init` writes: every key with its default, commented.
    public static func template(
        home: MicadoHome,
        dockerHost: String?,
        advertiseAddress: String,
        port: Int,
        proxy: Proxy = Proxy()
    ) -> String {
        """
        # micado manager configuration. Precedence: flags > MICADO_* environment > this file.
        manager:
          # The API listens here; keep it on loopback unless a proxy with TLS is in front.
          address: 127.0.0.1
          port: \(port)
        docker:
          # The manager's engine (DOCKER_HOST syntax). Unset: $DOCKER_HOST, then /var/run/docker.sock.
        \(dockerHost.map { "  host: \($0)" } ?? "  # host: unix:///var/run/docker.sock")
          # The swarm advertises here when micado initialises it: an address micado owns.
          advertiseAddress: \(advertiseAddress)
          # Launches reserve the node's generic resource "mem" (MiB) that engines advertise.
          reserveGenericMemory: true
        store:
          path: \(home.defaultStoreFile)
        defaults:
          location: local
          memoryMiB: 64
          launchTimeoutSeconds: 60
        proxy:
          # Caddy routes 'launch -d DOMAIN' to the containers; micado programs it through its
          # admin API, a unix socket in the home that only root can open.
          enabled: \(proxy.enabled)
          listenPort: \(proxy.listenPort)
          # HTTPS for domains launched with --tls (certificates from Caddy's internal CA).
          tlsPort: \(proxy.tlsPort)
        limits:
          # What one API request may send; over it the answer is 413 with the limit.
          jsonBodyBytes: 1048576
          # Build contexts and copied files (spooled to disk, never held in memory).
          uploadBytes: 1073741824
          # A connection that sends nothing for this long, mid-upload too, is closed.
          idleSeconds: 60
          # Open API connections at most, in all and from one address (local users share 127.0.0.1);
          # at a bound the oldest idle one is closed for the new one, else the new one gets 503.
          connections: 1024
          connectionsPerPeer: 512
        registry:
          # With a cloud that has a local network, micado runs a registry for its images. Name
          # an upstream here and it also runs a pull-through cache of it, from which instances
          # pull Docker Hub images (nginx:1.27) instead of each pulling from the internet.
          # pullThrough: https://registry-1.docker.io

        """
    }
}
