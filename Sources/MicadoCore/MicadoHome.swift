/// The micado home folder (`$MICADO_HOME`, default `~/.micado`) and the files in it.
public struct MicadoHome: Sendable, Equatable {
    public var path: String

    public init(path: String) {
        self.path = path.hasSuffix("/") && path.count > 1 ? String(path.dropLast()) : path
    }

    /// `$MICADO_HOME`, else `$HOME/.micado`.
    public static func resolve(environment: [String: String]) -> MicadoHome {
        if let home = environment["MICADO_HOME"], !home.isEmpty { return MicadoHome(path: home) }
        return MicadoHome(path: (environment["HOME"] ?? "/root") + "/.micado")
    }

    public var configFile: String { path + "/config.yaml" }
    /// The API token: random, mode 0600, read by the manager and the CLI.
    public var tokenFile: String { path + "/token" }
    /// Cloud credentials (mode 0600); empty until clouds are configured.
    public var credentialsFile: String { path + "/credentials.yaml" }
    public var defaultStoreFile: String { path + "/micado.sqlite" }
    public var pidFile: String { path + "/manager.pid" }
    /// Held (flock) by the one manager running on this home; holds its pid and port.
    public var lockFile: String { path + "/manager.lock" }
    public var logFile: String { path + "/manager.log" }
    /// Uploads being received (unlinked files: the folder always looks empty).
    public var spoolDirectory: String { path + "/spool" }
    /// Clouds, locations, flavours and bounds; absent when the manager has no cloud.
    public var cloudsFile: String { path + "/clouds.yaml" }
    /// micado's CA and the manager's client certificate for instance engines.
    public var tlsDirectory: String { path + "/tls" }
    /// Caddy's own files (its storage, its log, its pid).
    public var proxyDirectory: String { path + "/proxy" }
}
