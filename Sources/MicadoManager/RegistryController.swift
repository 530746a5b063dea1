import AsyncHTTPClient
import DockerEngine
import Foundation
import Logging
import MicadoClouds
import MicadoCore
import NIOCore
import NIOHTTP1
import NIOSSL
import ServiceLifecycle

/// micado's private registry: where `build` pushes and from where instances pull.
public struct Registry: Sendable {
    /// host:port, on the manager's bridge so that every instance reaches it.
    public var address: String
    public var username: String
    public var password: String
    public var directory: String
    /// A second registry beside it, in proxy mode: a pull-through cache of `upstream`, at
    /// the next port, with the same certificate authority and the same credentials.
    public var pullThrough: PullThroughCache?

    public struct PullThroughCache: Sendable {
        public var address: String
        public var upstream: String
    }

    /// The registry of a home whose clouds have a local network; nil without one.
    /// The password is made once (0600) and kept, so pushed images stay reachable.
    public static func forHome(
        _ home: MicadoHome,
        clouds: CloudSet,
        pullThrough upstream: String? = nil,
        port: Int = 5000
    ) throws(MicadoError) -> Registry? {
        guard let network = clouds.configurations.compactMap(\.network).first else { return nil }
        let directory = home.path + "/registry"
        let passwordFile = directory + "/password"
        do {
            try FileManager.default.createDirectory(
                atPath: directory + "/data",
                withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700]
            )
            if !FileManager.default.fileExists(atPath: passwordFile) {
                let password = (0..<24).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
                guard
                    FileManager.default.createFile(
                        atPath: passwordFile,
                        contents: Data(password.utf8),
                        attributes: [.posixPermissions: 0o600]
                    )
                else {
                    throw MicadoError(.configuration, "cannot write \(passwordFile)")
                }
            }
            let password = try String(contentsOfFile: passwordFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            let host = String(network.bridgeCIDR.split(separator: "/")[0])
            var registry = Registry(address: "\(host):\(port)", username: "micado", password: password, directory: directory)
            registry.pullThrough = upstream.map { PullThroughCache(address: "\(host):\(port + 1)", upstream: $0) }
            return registry
        } catch let error as MicadoError {
            throw error
        } catch {
            throw .init(.configuration, "cannot prepare the registry in \(directory): \(error)")
        }
    }

    /// X-Registry-Auth for engines.
    public var auth: String { EngineClient.registryAuth(username: username, password: password, server: address) }

    /// Pushes `repository:tag` from `engine` to this registry. A push whose registry did not
    /// answer in time (the engine's own HTTP client gave up: a busy machine, a registry
    /// restarting under its supervisor) is tried again, twice, a few seconds apart, and the
    /// retries are said in the result; any other failure is the caller's at once.
    public func push(
        _ repository: String,
        tag: String,
        from engine: any EngineAPI
    ) async throws(MicadoError) -> EngineClient.PushResult {
        try await Self.retryingTimeouts(of: "the push of \(repository):\(tag)") { () async throws(MicadoError) in
            try await engine.pushImage(repository: repository, tag: tag, auth: auth)
        }
    }

    /// `push` tried up to `attempts` times while it fails with a registry timeout.
    static func retryingTimeouts(
        of what: String,
        attempts: Int = 3,
        pause: Duration = .seconds(3),
        _ push: () async throws(MicadoError) -> EngineClient.PushResult
    ) async throws(MicadoError) -> EngineClient.PushResult {
        var earlier: [String] = []
        var attempt = 1
        while true {
            do {
                var result = try await push()
                result.retries = earlier + result.retries
                return result
            } catch {
                guard attempt < attempts, isRegistryTimeout(error) else { throw error }
                earlier.append("attempt \(attempt) timed out (\(error.message)); tried again")
                do { try await Task.sleep(for: pause * attempt) } catch { throw MicadoError(.busy, "\(what) was cancelled") }
                attempt += 1
            }
        }
    }

    /// The engine's registry client timing out, as Docker words it. (micado's own client waiting
    /// 300 s for the engine is not retried: that is a stuck engine, not a slow registry.)
    static func isRegistryTimeout(_ error: MicadoError) -> Bool {
        let markers = ["Client.Timeout exceeded", "i/o timeout", "TLS handshake timeout", "context deadline exceeded"]
        return markers.contains { error.message.contains($0) }
    }

    /// X-Registry-Auth for an engine that pulls `reference`: this registry's or its cache's
    /// credentials, or nil for a registry of someone else.
    public func auth(for reference: String) -> String? {
        if reference.hasPrefix(address + "/") { return auth }
        if let cache = pullThrough, reference.hasPrefix(cache.address + "/") {
            return EngineClient.registryAuth(username: username, password: password, server: cache.address)
        }
        return nil
    }

    /// What instances pull for `image`, which the manager's engine does not hold: a Docker Hub
    /// image through the pull-through cache when one runs, anything else as written.
    public func pullReference(of image: String) -> String {
        guard let cache = pullThrough, let path = ImageReference.dockerHubPath(of: image) else { return image }
        return cache.address + "/" + path
    }

    /// A client configuration that trusts the registry's certificate (signed by micado's CA).
    func clientTLS(_ authority: CertificateAuthority) -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .file(authority.caCertificate)
        return tls
    }

}

/// Runs and supervises Debian's `docker-registry` with htpasswd (bcrypt) auth and TLS from
/// micado's CA, as its own unprivileged user (see `HelperUser`): micado's registry, or its
/// pull-through cache (the same program in proxy mode, which takes no pushes). Like Caddy,
/// it dies with the manager (parent-death signal) and restarts if it dies.
public struct RegistryController: Service {
    let registry: Registry
    /// Where this one listens: the registry's address, or its cache's.
    let address: String
    /// The cache's upstream; nil for the registry itself.
    let upstream: String?
    let authority: CertificateAuthority
    let eventLog: EventLog
    /// For the readiness probe.
    let http: HTTPClient
    var logger: Logger { eventLog.logger }

    /// The controllers of a registry: its own, and its cache's when it has one.
    static func controllers(of registry: Registry, authority: CertificateAuthority, eventLog: EventLog, http: HTTPClient) -> [Self] {
        [Self(registry: registry, address: registry.address, upstream: nil, authority: authority, eventLog: eventLog, http: http)]
            + (registry.pullThrough.map {
                [
                    Self(
                        registry: registry,
                        address: $0.address,
                        upstream: $0.upstream,
                        authority: authority,
                        eventLog: eventLog,
                        http: http
                    )
                ]
            } ?? [])
    }

    /// Engines trust the registry's certificate through this folder (Docker reads certs.d per registry).
    var trustDirectory: String { "/etc/docker/certs.d/\(address)" }
    var name: String { upstream == nil ? "registry" : "pull-through cache" }

    public func run() async throws {
        do { try await prepare() } catch {
            await eventLog.note(.registryFailed, address, "the \(name) cannot be prepared: \(error)")
            try? await gracefulShutdown()
            return
        }
        await cancelWhenGracefulShutdown {
            await Supervisor(name: name, restarted: .registryRestart, failed: .registryFailed, eventLog: eventLog).run(start: start) {
                _ in
            }
        }
        try? FileManager.default.removeItem(atPath: trustDirectory)
    }

    /// The unprivileged user the registry runs as.
    static let user = "micado-registry"
    /// What the registry itself reads and writes: its configuration, htpasswd, certificate,
    /// key and data, owned by its user. The password stays beside it, root's alone.
    var serveDirectory: String { registry.directory + (upstream == nil ? "/serve" : "/cache") }

    func prepare() async throws {
        let dir = serveDirectory
        let user = try await HelperUser.ensure(Self.user)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        // Data of a registry that ran as root beside its password moves into its own folder.
        if upstream == nil, FileManager.default.fileExists(atPath: registry.directory + "/data"),
            !FileManager.default.fileExists(atPath: dir + "/data")
        {
            try FileManager.default.moveItem(atPath: registry.directory + "/data", toPath: dir + "/data")
        }
        try FileManager.default.createDirectory(atPath: dir + "/data", withIntermediateDirectories: true)
        let host = String(address.split(separator: ":")[0])
        if !FileManager.default.fileExists(atPath: dir + "/server.pem") {
            try authority.issueServer(ipAddress: host, certificate: dir + "/server.pem", key: dir + "/server-key.pem")
        }
        // The password on stdin (-i): an argument would show in every local user's `ps`.
        let hash = try await ChildProcess.run("/usr/bin/htpasswd", ["-iBn", registry.username], input: Array(registry.password.utf8))
        guard hash.status == 0 else { throw MicadoError(.configuration, "htpasswd failed (apt-get install apache2-utils): \(hash.output)") }
        guard
            FileManager.default.createFile(
                atPath: dir + "/htpasswd",
                contents: Data(hash.output.utf8),
                attributes: [.posixPermissions: 0o600]
            )
        else {
            throw MicadoError(.configuration, "cannot write \(dir)/htpasswd")
        }
        let own = HelperUser.inFolder
        // The upstream is the administrator's URL; as a YAML double-quoted scalar it is one value.
        let proxy = upstream.map { "proxy: {remoteurl: \(Self.yamlQuoted($0))}\n" } ?? ""
        let config = """
            version: 0.1
            log: {level: warn}
            storage:
              filesystem: {rootdirectory: \(own("data"))}
              delete: {enabled: true}
            http:
              addr: \(address)
              tls: {certificate: \(own("server.pem")), key: \(own("server-key.pem"))}
            auth:
              htpasswd: {realm: micado, path: \(own("htpasswd"))}
            \(proxy)
            """
        try Data(config.utf8).write(to: URL(fileURLWithPath: dir + "/config.yml"))
        try await user.own(dir)
        try FileManager.default.createDirectory(atPath: trustDirectory, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: authority.caCertificate, toPath: trustDirectory + "/ca.crt.tmp")
        _ = try? FileManager.default.removeItem(atPath: trustDirectory + "/ca.crt")
        try FileManager.default.moveItem(atPath: trustDirectory + "/ca.crt.tmp", toPath: trustDirectory + "/ca.crt")
    }

    static func yamlQuoted(_ text: String) -> String {
        "\"" + text.unicodeScalars.map { $0 == "\"" || $0 == "\\" ? "\\\($0)" : $0.value < 0x20 ? "" : String($0) }.joined() + "\""
    }

    func start() async throws -> ChildProcess {
        let dir = serveDirectory
        let child = try await HelperUser.ensure(Self.user).start(
            ["/usr/bin/docker-registry", "serve", HelperUser.inFolder("config.yml")],
            folder: dir,
            environment: ["PATH": "/usr/bin:/bin"],
            output: dir + "/registry.log"
        )
        var probe = HTTPClientRequest(url: "https://\(address)/v2/")
        probe.tlsConfiguration = registry.clientTLS(authority)
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if let status = child.poll() {
                let log = (try? String(contentsOfFile: dir + "/registry.log", encoding: .utf8)) ?? ""
                throw MicadoError(
                    .configuration,
                    "the \(name) exited (\(status)): \(log.split(separator: "\n").suffix(3).joined(separator: " "))"
                )
            }
            // 401: up, and asking for the password it should ask for.
            if let response = try? await http.execute(probe, timeout: .seconds(1)), response.status.code == 401 { return child }
            try await Task.sleep(for: .milliseconds(100))
        }
        child.signal(SIGKILL)
        _ = await child.exit()
        throw MicadoError(.timeout, "the \(name) did not answer on \(address)")
    }
}
