import Foundation

/// Everything the manager and the CLI read from `config.yaml`, with defaults.
///
/// Precedence is flags > `MICADO_*` environment > file > defaults; the file may leave
/// out any key. `validate()` names the key that is wrong.
public struct ManagerConfiguration: Codable, Sendable, Equatable {
    public struct Manager: Codable, Sendable, Equatable {
        /// The API listens here. Loopback by default: the token is the only guard.
        public var address: String = "127.0.0.1"
        public var port: Int = 7400
        public init() {}
    }

    public struct Docker: Codable, Sendable, Equatable {
        /// The manager's engine, as `DOCKER_HOST` spells it; nil takes `DOCKER_HOST`, then the default socket.
        public var host: String?
        /// The address the swarm advertises when the manager initialises it. It must be an
        /// address micado owns (loopback or its own bridge), never the machine's interface.
        public var advertiseAddress: String = "127.0.0.1"
        /// Where ports published on the manager's engine answer (for `list -c`); defaults to the advertise address.
        public var publishAddress: String?
        /// The node's generic resource `mem` (MiB) that launches reserve; the engine advertises it.
        public var reserveGenericMemory: Bool = true
        public init() {}
    }

    public struct Store: Codable, Sendable, Equatable {
        /// SQLite file; nil puts it in the micado home as `micado.sqlite`.
        public var path: String?
        /// A PostgreSQL database instead of SQLite: `postgres://USER@HOST:PORT/DATABASE` (a HOST
        /// that is a path, or `?host=/dir`, is a unix socket's folder). What it leaves out comes
        /// from the usual PG* variables. Never with a password: that comes from `passwordFile`,
        /// PGPASSWORD or PGPASSFILE (~/.pgpass), so it is on no command line and in no log.
        public var postgres: String?
        /// A file (0600) holding the PostgreSQL password.
        public var passwordFile: String?
        /// Several managers on one PostgreSQL database: one leads by a lease of this long,
        /// renewed this often; the others stand by and take over when it ends.
        public var leaseSeconds: Double = 3
        public var renewSeconds: Double = 1
        public init() {}
    }

    public struct Defaults: Codable, Sendable, Equatable {
        /// The location label the manager gives its own engine's node.
        public var location: String = "local"
        /// Memory for a launch without `-m` whose image has no recorded usage.
        public var memoryMiB: Int = 64
        /// How long `launch` waits for a running task before it reports why not.
        public var launchTimeoutSeconds: Int = 60
        public init() {}
    }

    public struct Proxy: Codable, Sendable, Equatable {
        /// Run Caddy and route `launch -d DOMAIN` to the containers.
        public var enabled: Bool = true
        /// Where Caddy serves HTTP for the domains (80 on a real manager, a high port in tests).
        public var listenPort: Int = 80
        /// Where Caddy serves HTTPS for domains launched with --tls.
        public var tlsPort: Int = 443
        public init() {}
    }

    public struct Monitor: Codable, Sendable, Equatable {
        /// Seconds between usage samples of every running container.
        public var intervalSeconds: Int = 5
        /// Samples kept per container (older ones are dropped).
        public var historyPerContainer: Int = 240
        public init() {}
    }

    /// What one request may send. Over a limit the API answers 413 with the limit.
    public struct Limits: Codable, Sendable, Equatable {
        /// A JSON body (launch, quit, exec, start).
        public var jsonBodyBytes: Int = 1 << 20
        /// A build context or a file copied into a container; spooled to disk, never held in memory.
        public var uploadBytes: Int = 1 << 30
        /// A connection that sends nothing for this long (mid-upload included) is closed, so a
        /// stalled client cannot hold an upload slot or a connection for good. Not while the
        /// manager answers (a waiting launch) or on an attached execute.
        public var idleSeconds: Int = 60
        /// Open connections to the API at most, and from one peer address at most (local users
        /// all come from 127.0.0.1). At a bound, the oldest connection that is not in the middle
        /// of a request is closed to make room; with none, the new one is answered 503 and closed.
        public var connections: Int = 1024
        public var connectionsPerPeer: Int = 512
        public init() {}
    }

    /// micado's registries, which run only with a cloud that has a local network.
    public struct Registry: Codable, Sendable, Equatable {
        /// The upstream of a pull-through cache micado runs beside its registry (a second
        /// registry with `proxy.remoteurl`, which takes no pushes): instances pull Docker Hub
        /// images (`nginx:1.27`) through it. Nil: they pull from Docker Hub themselves.
        public var pullThrough: String?
    }

    public var manager = Manager()
    public var registry = Registry()
    public var limits = Limits()
    public var docker = Docker()
    public var proxy = Proxy()
    public var monitor = Monitor()
    public var store = Store()
    public var defaults = Defaults()

    public init() {}

    public func validate() throws(MicadoError) {
        guard (1...65535).contains(manager.port) else {
            throw .init(.configuration, "config: manager.port \(manager.port) is out of range 1-65535")
        }
        guard !manager.address.isEmpty else {
            throw .init(.configuration, "config: manager.address is empty")
        }
        guard !docker.advertiseAddress.isEmpty else {
            throw .init(.configuration, "config: docker.advertiseAddress is empty")
        }
        do { try LocationName.validate(defaults.location) } catch {
            throw .init(.configuration, "config: defaults.location: \(error.message)")
        }
        for (key, port) in [("proxy.listenPort", proxy.listenPort), ("proxy.tlsPort", proxy.tlsPort)] where !(1...65535).contains(port) {
            throw .init(.configuration, "config: \(key) \(port) is out of range 1-65535")
        }
        if proxy.enabled, proxy.listenPort == proxy.tlsPort || proxy.tlsPort == manager.port || proxy.listenPort == manager.port {
            throw .init(.configuration, "config: proxy.listenPort, proxy.tlsPort and manager.port must differ")
        }
        guard (1...300).contains(store.leaseSeconds), store.renewSeconds >= 0.1, store.renewSeconds * 3 <= store.leaseSeconds else {
            throw .init(
                .configuration,
                "config: store.leaseSeconds must be 1-300 and store.renewSeconds at least 0.1 and at most a third of it (\(store.leaseSeconds), \(store.renewSeconds))"
            )
        }
        guard (1...3600).contains(monitor.intervalSeconds) else {
            throw .init(.configuration, "config: monitor.intervalSeconds must be between 1 and 3600")
        }
        guard (10...100_000).contains(monitor.historyPerContainer) else {
            throw .init(.configuration, "config: monitor.historyPerContainer must be between 10 and 100000")
        }
        guard (6...1_048_576).contains(defaults.memoryMiB) else {
            throw .init(.configuration, "config: defaults.memoryMiB \(defaults.memoryMiB) must be between 6 and 1048576")
        }
        guard (1 << 10...64 << 20).contains(limits.jsonBodyBytes) else {
            throw .init(.configuration, "config: limits.jsonBodyBytes \(limits.jsonBodyBytes) must be between 1024 and 67108864")
        }
        guard (1 << 20...64 << 30).contains(limits.uploadBytes) else {
            throw .init(.configuration, "config: limits.uploadBytes \(limits.uploadBytes) must be between 1 MiB and 64 GiB")
        }
        guard (1...3600).contains(limits.idleSeconds) else {
            throw .init(.configuration, "config: limits.idleSeconds \(limits.idleSeconds) must be between 1 and 3600")
        }
        guard (16...16384).contains(limits.connections), (8...limits.connections).contains(limits.connectionsPerPeer) else {
            throw .init(
                .configuration,
                "config: limits.connections \(limits.connections) must be between 16 and 16384, and limits.connectionsPerPeer \(limits.connectionsPerPeer) between 8 and limits.connections"
            )
        }
        guard (1...3600).contains(defaults.launchTimeoutSeconds) else {
            throw .init(.configuration, "config: defaults.launchTimeoutSeconds must be between 1 and 3600")
        }
        if let upstream = registry.pullThrough {
            let url = URLComponents(string: upstream)
            guard let url, ["http", "https"].contains(url.scheme ?? ""), let host = url.host, !host.isEmpty, url.user == nil,
                url.password == nil, url.query == nil, url.fragment == nil, upstream.count <= 512
            else {
                throw .init(
                    .configuration,
                    "config: registry.pullThrough must be the http(s) URL of the registry to cache, without credentials (such as https://registry-1.docker.io)"
                )
            }
        }
    }
}

extension ManagerConfiguration.Manager {
    enum CodingKeys: String, CodingKey { case address, port }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        address = try c.decodeIfPresent(String.self, forKey: .address) ?? address
        port = try c.decodeIfPresent(Int.self, forKey: .port) ?? port
    }
}

extension ManagerConfiguration.Docker {
    enum CodingKeys: String, CodingKey { case host, advertiseAddress, publishAddress, reserveGenericMemory }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        host = try c.decodeIfPresent(String.self, forKey: .host)
        advertiseAddress = try c.decodeIfPresent(String.self, forKey: .advertiseAddress) ?? advertiseAddress
        publishAddress = try c.decodeIfPresent(String.self, forKey: .publishAddress)
        reserveGenericMemory = try c.decodeIfPresent(Bool.self, forKey: .reserveGenericMemory) ?? reserveGenericMemory
    }
}

extension ManagerConfiguration.Proxy {
    enum CodingKeys: String, CodingKey { case enabled, listenPort, tlsPort }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        enabled = try c.decodeIfPresent(Bool.self, forKey: .enabled) ?? enabled
        listenPort = try c.decodeIfPresent(Int.self, forKey: .listenPort) ?? listenPort
        tlsPort = try c.decodeIfPresent(Int.self, forKey: .tlsPort) ?? tlsPort
    }
}

extension ManagerConfiguration.Monitor {
    enum CodingKeys: String, CodingKey { case intervalSeconds, historyPerContainer }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        intervalSeconds = try c.decodeIfPresent(Int.self, forKey: .intervalSeconds) ?? intervalSeconds
        historyPerContainer = try c.decodeIfPresent(Int.self, forKey: .historyPerContainer) ?? historyPerContainer
    }
}

extension ManagerConfiguration.Limits {
    enum CodingKeys: String, CodingKey { case jsonBodyBytes, uploadBytes, idleSeconds, connections, connectionsPerPeer }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        jsonBodyBytes = try c.decodeIfPresent(Int.self, forKey: .jsonBodyBytes) ?? jsonBodyBytes
        uploadBytes = try c.decodeIfPresent(Int.self, forKey: .uploadBytes) ?? uploadBytes
        idleSeconds = try c.decodeIfPresent(Int.self, forKey: .idleSeconds) ?? idleSeconds
        connections = try c.decodeIfPresent(Int.self, forKey: .connections) ?? connections
        connectionsPerPeer = try c.decodeIfPresent(Int.self, forKey: .connectionsPerPeer) ?? connectionsPerPeer
    }
}

extension ManagerConfiguration.Registry {
    enum CodingKeys: String, CodingKey { case pullThrough }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        pullThrough = try c.decodeIfPresent(String.self, forKey: .pullThrough)
    }
}

extension ManagerConfiguration.Store {
    enum CodingKeys: String, CodingKey { case path, postgres, passwordFile, leaseSeconds, renewSeconds }
    /// `store: postgres://…` is short for `store: {postgres: postgres://…}`.
    public init(from decoder: any Decoder) throws {
        self.init()
        if let url = try? decoder.singleValueContainer().decode(String.self) {
            postgres = url
            return
        }
        let c = try decoder.container(keyedBy: CodingKeys.self)
        path = try c.decodeIfPresent(String.self, forKey: .path)
        postgres = try c.decodeIfPresent(String.self, forKey: .postgres)
        passwordFile = try c.decodeIfPresent(String.self, forKey: .passwordFile)
        leaseSeconds = try c.decodeIfPresent(Double.self, forKey: .leaseSeconds) ?? leaseSeconds
        renewSeconds = try c.decodeIfPresent(Double.self, forKey: .renewSeconds) ?? renewSeconds
        if path != nil, postgres != nil {
            throw DecodingError.dataCorruptedError(
                forKey: .postgres,
                in: c,
                debugDescription: "store: give either path (SQLite) or postgres, not both"
            )
        }
    }
}

extension ManagerConfiguration.Defaults {
    enum CodingKeys: String, CodingKey { case location, memoryMiB, launchTimeoutSeconds }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        location = try c.decodeIfPresent(String.self, forKey: .location) ?? location
        memoryMiB = try c.decodeIfPresent(Int.self, forKey: .memoryMiB) ?? memoryMiB
        launchTimeoutSeconds = try c.decodeIfPresent(Int.self, forKey: .launchTimeoutSeconds) ?? launchTimeoutSeconds
    }
}

extension ManagerConfiguration {
    enum CodingKeys: String, CodingKey, CaseIterable { case manager, docker, store, defaults, proxy, monitor, limits, registry }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        manager = try c.decodeIfPresent(Manager.self, forKey: .manager) ?? manager
        docker = try c.decodeIfPresent(Docker.self, forKey: .docker) ?? docker
        store = try c.decodeIfPresent(Store.self, forKey: .store) ?? store
        defaults = try c.decodeIfPresent(Defaults.self, forKey: .defaults) ?? defaults
        proxy = try c.decodeIfPresent(Proxy.self, forKey: .proxy) ?? proxy
        monitor = try c.decodeIfPresent(Monitor.self, forKey: .monitor) ?? monitor
        limits = try c.decodeIfPresent(Limits.self, forKey: .limits) ?? limits
        registry = try c.decodeIfPresent(Registry.self, forKey: .registry) ?? registry
    }

    /// Keys the file may contain, section by section; anything else is a typo worth reporting.
    public static let knownKeys: [String: Set<String>] = [
        "manager": ["address", "port"],
        "docker": ["host", "advertiseAddress", "publishAddress", "reserveGenericMemory"],
        "store": ["path", "postgres", "passwordFile", "leaseSeconds", "renewSeconds"],
        "defaults": ["location", "memoryMiB", "launchTimeoutSeconds"],
        "proxy": ["enabled", "listenPort", "tlsPort"],
        "monitor": ["intervalSeconds", "historyPerContainer"],
        "limits": ["jsonBodyBytes", "uploadBytes", "idleSeconds", "connections", "connectionsPerPeer"],
        "registry": ["pullThrough"],
    ]
}
