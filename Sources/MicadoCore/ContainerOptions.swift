/// What a Compose service says about its containers beyond image, command and resources:
/// each field is one Compose key, carried into the Swarm service's container spec as
/// `docker stack deploy` does. Kept with the service's record (`ServiceSettings.options`), so
/// a change of any of them rolls the service. Nil: the engine's default.
public struct ContainerOptions: Codable, Sendable, Equatable {
    public struct Ulimit: Codable, Sendable, Equatable {
        public var name: String
        public var soft: Int64
        public var hard: Int64
        public init(name: String, soft: Int64, hard: Int64) {
            self.name = name
            self.soft = soft
            self.hard = hard
        }
    }

    /// `healthcheck`: Swarm's HealthConfig. `test` as the engine takes it (`["CMD", …]`,
    /// `["CMD-SHELL", line]`, or `["NONE"]` for `disable: true`).
    public struct Healthcheck: Codable, Sendable, Equatable {
        public var test: [String]
        public var intervalSeconds: Double?
        public var timeoutSeconds: Double?
        public var startPeriodSeconds: Double?
        public var retries: Int?
        public init(test: [String]) { self.test = test }
    }

    /// `restart` or `deploy.restart_policy`: Swarm's restart policy.
    public struct RestartPolicy: Codable, Sendable, Equatable {
        public enum Condition: String, Codable, Sendable, CaseIterable {
            case none
            case onFailure = "on-failure"
            case any
        }
        public var condition: Condition
        public var maxAttempts: Int?
        public var delaySeconds: Double?
        public var windowSeconds: Double?
        public init(condition: Condition) { self.condition = condition }
    }

    /// `logging`: the log driver and its options.
    public struct Logging: Codable, Sendable, Equatable {
        public var driver: String
        public var options: [String: String]
        public init(driver: String, options: [String: String] = [:]) {
            self.driver = driver
            self.options = options
        }
    }

    /// A secret or config mounted as a file (`secrets:` and `configs:` of a service).
    public struct FileMount: Codable, Sendable, Equatable {
        /// The file's name for it (top-level `secrets:` or `configs:`).
        public var source: String
        /// An absolute path, or (for a secret) a name under /run/secrets.
        public var target: String
        public var uid: String
        public var gid: String
        public var mode: UInt32
        /// The Swarm secret or config that holds this content: a new one per content, so a
        /// changed content rolls exactly the services that mount it. Set by the manager.
        public var object: String?
        public init(source: String, target: String, uid: String = "0", gid: String = "0", mode: UInt32 = 0o444) {
            self.source = source
            self.target = target
            self.uid = uid
            self.gid = gid
            self.mode = mode
        }
    }

    /// A `tmpfs` mount (`tmpfs:`, a `type: tmpfs` volume, and `shm_size` as /dev/shm).
    public struct Tmpfs: Codable, Sendable, Equatable {
        public var target: String
        public var sizeBytes: Int64?
        /// Permission bits of its root (the engine's default: 1777).
        public var mode: UInt32?
        public init(target: String, sizeBytes: Int64? = nil) {
            self.target = target
            self.sizeBytes = sizeBytes
        }
    }

    /// A volume mounted into the service's containers (`volumes:`): one of the application's
    /// named volumes (`source`, as the file names it), which lives on one instance and
    /// outlives the service; or, without a source, an anonymous one that lives with its task.
    public struct VolumeMount: Codable, Sendable, Equatable {
        public var source: String?
        public var target: String
        public var readOnly = false
        /// Do not copy the image's files at the target into a new volume.
        public var noCopy = false
        public init(source: String? = nil, target: String, readOnly: Bool = false) {
            self.source = source
            self.target = target
            self.readOnly = readOnly
        }
    }

    public var hostname: String?
    public var user: String?
    public var groups: [String]?
    public var workingDirectory: String?
    public var stopSignal: String?
    public var stopGracePeriodSeconds: Double?
    public var capabilityAdd: [String]?
    public var capabilityDrop: [String]?
    public var sysctls: [String: String]?
    public var ulimits: [Ulimit]?
    public var initProcess: Bool?
    public var tty: Bool?
    public var openStdin: Bool?
    public var readOnly: Bool?
    /// `extra_hosts`, as the engine takes them: `IP HOSTNAME`.
    public var hosts: [String]?
    public var nameservers: [String]?
    public var dnsSearch: [String]?
    public var dnsOptions: [String]?
    public var logging: Logging?
    public var healthcheck: Healthcheck?
    public var restart: RestartPolicy?
    public var tmpfs: [Tmpfs]?
    public var volumes: [VolumeMount]?
    /// `expose`: ports other services reach on the application's network (all are; recorded
    /// so that the plan and `micado explain` can show them).
    public var expose: [Int]?
    /// `networks`: the file's networks the service joins, each with its `aliases` (more names
    /// it answers to there). Nil: the application's default network only.
    public var networks: [String: [String]]?
    /// `deploy.labels`: the service's own labels (`labels` are its containers').
    public var serviceLabels: [String: String]?
    public var secrets: [FileMount]?
    public var configs: [FileMount]?

    public init() {}

    /// Whether nothing is set (a service without any of these keys stores none).
    public var isEmpty: Bool { self == ContainerOptions() }

    /// The Compose keys whose values differ from `other`'s, for the plan.
    public func changedKeys(to other: ContainerOptions) -> [String] {
        let checks: [(String, Bool)] = [
            ("hostname", hostname == other.hostname), ("user", user == other.user), ("group_add", groups == other.groups),
            ("working_dir", workingDirectory == other.workingDirectory), ("stop_signal", stopSignal == other.stopSignal),
            ("stop_grace_period", stopGracePeriodSeconds == other.stopGracePeriodSeconds),
            ("cap_add", capabilityAdd == other.capabilityAdd), ("cap_drop", capabilityDrop == other.capabilityDrop),
            ("sysctls", sysctls == other.sysctls), ("ulimits", ulimits == other.ulimits), ("init", initProcess == other.initProcess),
            ("tty", tty == other.tty), ("stdin_open", openStdin == other.openStdin), ("read_only", readOnly == other.readOnly),
            ("extra_hosts", hosts == other.hosts),
            ("dns", nameservers == other.nameservers && dnsSearch == other.dnsSearch && dnsOptions == other.dnsOptions),
            ("logging", logging == other.logging), ("healthcheck", healthcheck == other.healthcheck), ("restart", restart == other.restart),
            ("tmpfs", tmpfs == other.tmpfs), ("volumes", volumes == other.volumes), ("expose", expose == other.expose),
            ("networks", networks == other.networks),
            ("deploy.labels", serviceLabels == other.serviceLabels), ("secrets", secrets == other.secrets),
            ("configs", configs == other.configs),
        ]
        return checks.filter { !$0.1 }.map(\.0)
    }
}
