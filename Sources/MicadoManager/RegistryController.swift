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

    /// The registry of a home whose clouds have a local network; nil without one.
    /// The password is made once (0600) and kept, so pushed images stay reachable.
    public static func forHome(_ home: MicadoHome, clouds: CloudSet, port: Int = 5000) throws(MicadoError) -> Registry? {
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
            return Registry(address: "\(host):\(port)", username: "micado", password: password, directory: directory)
        } catch let error as MicadoError {
            throw error
        } catch {
            throw .init(.configuration, "cannot prepare the registry in \(directory): \(error)")
        }
    }

    /// X-Registry-Auth for engines.
    public var auth: String { EngineClient.registryAuth(username: username, password: password, server: address) }

    /// A client configuration that trusts the registry's certificate (signed by micado's CA).
    func clientTLS(_ authority: CertificateAuthority) -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .file(authority.caCertificate)
        return tls
    }

    /// Engines trust the registry's certificate through this folder (Docker reads certs.d per registry).
    var trustDirectory: String { "/etc/docker/certs.d/\(address)" }
}

/// Runs and supervises Debian's `docker-registry` with htpasswd (bcrypt) auth and TLS from
/// micado's CA, as its own unprivileged user (see `HelperUser`). Like Caddy, it dies with the
/// manager (parent-death signal) and restarts if it dies.
public struct RegistryController: Service {
    let registry: Registry
    let authority: CertificateAuthority
    let eventLog: EventLog
    /// For the readiness probe.
    let http: HTTPClient
    var logger: Logger { eventLog.logger }

    init(registry: Registry, authority: CertificateAuthority, eventLog: EventLog, http: HTTPClient) {
        self.registry = registry
        self.authority = authority
        self.eventLog = eventLog
        self.http = http
    }

    public func run() async throws {
        do { try await prepare() } catch {
            await eventLog.note(.registryFailed, registry.address, "the registry cannot be prepared: \(error)")
            try? await gracefulShutdown()
            return
        }
        await cancelWhenGracefulShutdown {
            await Supervisor(name: "registry", restarted: .registryRestart, failed: .registryFailed, eventLog: eventLog).run(start: start) {
                _ in
            }
        }
        try? FileManager.default.removeItem(atPath: registry.trustDirectory)
    }

    /// The unprivileged user the registry runs as.
    static let user = "micado-registry"
    /// What the registry itself reads and writes: its configuration, htpasswd, certificate,
    /// key and data, owned by its user. The password stays beside it, root's alone.
    var serveDirectory: String { registry.directory + "/serve" }

    func prepare() async throws {
        let dir = serveDirectory
        let user = try await HelperUser.ensure(Self.user)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        // Data of a registry that ran as root beside its password moves into its own folder.
        if FileManager.default.fileExists(atPath: registry.directory + "/data"), !FileManager.default.fileExists(atPath: dir + "/data") {
            try FileManager.default.moveItem(atPath: registry.directory + "/data", toPath: dir + "/data")
        }
        try FileManager.default.createDirectory(atPath: dir + "/data", withIntermediateDirectories: true)
        let host = String(registry.address.split(separator: ":")[0])
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
        let config = """
            version: 0.1
            log: {level: warn}
            storage:
              filesystem: {rootdirectory: \(own("data"))}
              delete: {enabled: true}
            http:
              addr: \(registry.address)
              tls: {certificate: \(own("server.pem")), key: \(own("server-key.pem"))}
            auth:
              htpasswd: {realm: micado, path: \(own("htpasswd"))}

            """
        try Data(config.utf8).write(to: URL(fileURLWithPath: dir + "/config.yml"))
        try await user.own(dir)
        try FileManager.default.createDirectory(atPath: registry.trustDirectory, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: authority.caCertificate, toPath: registry.trustDirectory + "/ca.crt.tmp")
        _ = try? FileManager.default.removeItem(atPath: registry.trustDirectory + "/ca.crt")
        try FileManager.default.moveItem(atPath: registry.trustDirectory + "/ca.crt.tmp", toPath: registry.trustDirectory + "/ca.crt")
    }

    func start() async throws -> ChildProcess {
        let dir = serveDirectory
        let child = try await HelperUser.ensure(Self.user).start(
            ["/usr/bin/docker-registry", "serve", HelperUser.inFolder("config.yml")],
            folder: dir,
            environment: ["PATH": "/usr/bin:/bin"],
            output: dir + "/registry.log"
        )
        var probe = HTTPClientRequest(url: "https://\(registry.address)/v2/")
        probe.tlsConfiguration = registry.clientTLS(authority)
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if let status = child.poll() {
                let log = (try? String(contentsOfFile: dir + "/registry.log", encoding: .utf8)) ?? ""
                throw MicadoError(
                    .configuration,
                    "the registry exited (\(status)): \(log.split(separator: "\n").suffix(3).joined(separator: " "))"
                )
            }
            // 401: up, and asking for the password it should ask for.
            if let response = try? await http.execute(probe, timeout: .seconds(1)), response.status.code == 401 { return child }
            try await Task.sleep(for: .milliseconds(100))
        }
        child.signal(SIGKILL)
        _ = await child.exit()
        throw MicadoError(.timeout, "the registry did not answer on \(registry.address)")
    }
}
