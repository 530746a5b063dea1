/// The subset of a Swarm service spec that micado writes and reads back.
///
/// Updates re-send the whole spec, so a field that micado sets must round-trip here.
public struct ServiceSpec: Codable, Sendable {
    public struct ContainerSpec: Codable, Sendable {
        public var image: String
        public var labels: [String: String]?
        public var command: [String]?
        public var args: [String]?
        public var env: [String]?
        public var hostname: String?
        public var dir: String?
        public var user: String?
        public var groups: [String]?
        public var tty: Bool?
        public var openStdin: Bool?
        public var readOnly: Bool?
        public var mounts: [Mount]?
        public var stopSignal: String?
        /// Nanoseconds.
        public var stopGracePeriod: Int64?
        public var healthCheck: HealthConfig?
        /// `IP HOSTNAME` lines for /etc/hosts.
        public var hosts: [String]?
        public var dnsConfig: DNSConfig?
        public var initProcess: Bool?
        public var sysctls: [String: String]?
        public var capabilityAdd: [String]?
        public var capabilityDrop: [String]?
        public var ulimits: [Ulimit]?
        public var secrets: [FileReference]?
        public var configs: [FileReference]?
        public init(image: String, labels: [String: String]? = nil, command: [String]? = nil, args: [String]? = nil, env: [String]? = nil) {
            self.image = image
            self.labels = labels
            self.command = command
            self.args = args
            self.env = env
        }
        enum CodingKeys: String, CodingKey {
            case image = "Image"
            case labels = "Labels"
            case command = "Command"
            case args = "Args"
            case env = "Env"
            case hostname = "Hostname"
            case dir = "Dir"
            case user = "User"
            case groups = "Groups"
            case tty = "TTY"
            case openStdin = "OpenStdin"
            case readOnly = "ReadOnly"
            case mounts = "Mounts"
            case stopSignal = "StopSignal"
            case stopGracePeriod = "StopGracePeriod"
            // The engine's Go field is `Healthcheck` (its JSON takes any case in, answers this one).
            case healthCheck = "Healthcheck"
            case hosts = "Hosts"
            case dnsConfig = "DNSConfig"
            case initProcess = "Init"
            case sysctls = "Sysctls"
            case capabilityAdd = "CapabilityAdd"
            case capabilityDrop = "CapabilityDrop"
            case ulimits = "Ulimits"
            case secrets = "Secrets"
            case configs = "Configs"
        }
    }
    /// A secret or config mounted as a file: the same shape for both, but for its ID's and
    /// name's keys (`SecretID`, `ConfigID`), which `Kind` chooses.
    public struct FileReference: Codable, Sendable, Equatable {
        public struct File: Codable, Sendable, Equatable {
            public var name: String
            public var uid: String
            public var gid: String
            public var mode: UInt32
            public init(name: String, uid: String, gid: String, mode: UInt32) {
                self.name = name
                self.uid = uid
                self.gid = gid
                self.mode = mode
            }
            enum CodingKeys: String, CodingKey {
                case name = "Name"
                case uid = "UID"
                case gid = "GID"
                case mode = "Mode"
            }
        }
        public var file: File
        public var id: String
        public var name: String
        public init(file: File, id: String, name: String) {
            self.file = file
            self.id = id
            self.name = name
        }
        struct Keys: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: Keys.self)
            file = try c.decode(File.self, forKey: Keys(stringValue: "File"))
            let secret = c.contains(Keys(stringValue: "SecretID"))
            id = try c.decode(String.self, forKey: Keys(stringValue: secret ? "SecretID" : "ConfigID"))
            name = try c.decode(String.self, forKey: Keys(stringValue: secret ? "SecretName" : "ConfigName"))
            isSecret = secret
        }
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: Keys.self)
            try c.encode(file, forKey: Keys(stringValue: "File"))
            try c.encode(id, forKey: Keys(stringValue: isSecret ? "SecretID" : "ConfigID"))
            try c.encode(name, forKey: Keys(stringValue: isSecret ? "SecretName" : "ConfigName"))
        }
        /// Which of the two it is (set by the spec's field it is in).
        public var isSecret = true
        public static func secret(id: String, name: String, file: File) -> Self {
            var reference = Self(file: file, id: id, name: name)
            reference.isSecret = true
            return reference
        }
        public static func config(id: String, name: String, file: File) -> Self {
            var reference = Self(file: file, id: id, name: name)
            reference.isSecret = false
            return reference
        }
    }
    /// A mount of a task's container: a tmpfs, or a volume (named: created on the node by
    /// the first task that mounts it, and kept there; anonymous: one per task).
    public struct Mount: Codable, Sendable, Equatable {
        public struct TmpfsOptions: Codable, Sendable, Equatable {
            public var sizeBytes: Int64?
            public var mode: UInt32?
            public init(sizeBytes: Int64?, mode: UInt32? = nil) {
                self.sizeBytes = sizeBytes
                self.mode = mode
            }
            enum CodingKeys: String, CodingKey {
                case sizeBytes = "SizeBytes"
                case mode = "Mode"
            }
        }
        public struct VolumeOptions: Codable, Sendable, Equatable {
            public struct DriverConfig: Codable, Sendable, Equatable {
                public var name: String
                public init(name: String) { self.name = name }
                enum CodingKeys: String, CodingKey { case name = "Name" }
            }
            public var noCopy: Bool?
            public var labels: [String: String]?
            public var driverConfig: DriverConfig?
            public init(noCopy: Bool?, labels: [String: String]?, driverConfig: DriverConfig?) {
                self.noCopy = noCopy
                self.labels = labels
                self.driverConfig = driverConfig
            }
            enum CodingKeys: String, CodingKey {
                case noCopy = "NoCopy"
                case labels = "Labels"
                case driverConfig = "DriverConfig"
            }
        }
        public var type: String
        public var source: String?
        public var target: String
        public var readOnly: Bool?
        public var tmpfsOptions: TmpfsOptions?
        public var volumeOptions: VolumeOptions?
        public init(tmpfs target: String, sizeBytes: Int64?, mode: UInt32? = nil) {
            type = "tmpfs"
            self.target = target
            tmpfsOptions = sizeBytes != nil || mode != nil ? TmpfsOptions(sizeBytes: sizeBytes, mode: mode) : nil
        }
        /// A volume: `source` names it (nil: anonymous), `labels` go on it when the node makes it.
        public init(volume source: String?, target: String, readOnly: Bool, noCopy: Bool, labels: [String: String]?) {
            type = "volume"
            self.source = source
            self.target = target
            self.readOnly = readOnly ? true : nil
            volumeOptions = .init(noCopy: noCopy ? true : nil, labels: labels, driverConfig: .init(name: "local"))
        }
        enum CodingKeys: String, CodingKey {
            case type = "Type"
            case source = "Source"
            case target = "Target"
            case readOnly = "ReadOnly"
            case tmpfsOptions = "TmpfsOptions"
            case volumeOptions = "VolumeOptions"
        }
    }
    /// Durations in nanoseconds.
    public struct HealthConfig: Codable, Sendable, Equatable {
        public var test: [String]
        public var interval: Int64?
        public var timeout: Int64?
        public var retries: Int?
        public var startPeriod: Int64?
        public init(test: [String], interval: Int64?, timeout: Int64?, retries: Int?, startPeriod: Int64?) {
            self.test = test
            self.interval = interval
            self.timeout = timeout
            self.retries = retries
            self.startPeriod = startPeriod
        }
        enum CodingKeys: String, CodingKey {
            case test = "Test"
            case interval = "Interval"
            case timeout = "Timeout"
            case retries = "Retries"
            case startPeriod = "StartPeriod"
        }
    }
    public struct DNSConfig: Codable, Sendable, Equatable {
        public var nameservers: [String]?
        public var search: [String]?
        public var options: [String]?
        public init(nameservers: [String]?, search: [String]?, options: [String]?) {
            self.nameservers = nameservers
            self.search = search
            self.options = options
        }
        enum CodingKeys: String, CodingKey {
            case nameservers = "Nameservers"
            case search = "Search"
            case options = "Options"
        }
    }
    public struct Ulimit: Codable, Sendable, Equatable {
        public var name: String
        public var soft: Int64
        public var hard: Int64
        public init(name: String, soft: Int64, hard: Int64) {
            self.name = name
            self.soft = soft
            self.hard = hard
        }
        enum CodingKeys: String, CodingKey {
            case name = "Name"
            case soft = "Soft"
            case hard = "Hard"
        }
    }
    public struct LogDriver: Codable, Sendable, Equatable {
        public var name: String
        public var options: [String: String]?
        public init(name: String, options: [String: String]?) {
            self.name = name
            self.options = options
        }
        enum CodingKeys: String, CodingKey {
            case name = "Name"
            case options = "Options"
        }
    }
    public struct Resources: Codable, Sendable {
        public struct Limits: Codable, Sendable {
            public var memoryBytes: Int64?
            /// CPU in billionths of a core.
            public var nanoCPUs: Int64?
            public init(memoryBytes: Int64?, nanoCPUs: Int64? = nil) {
                self.memoryBytes = memoryBytes
                self.nanoCPUs = nanoCPUs
            }
            enum CodingKeys: String, CodingKey {
                case memoryBytes = "MemoryBytes"
                case nanoCPUs = "NanoCPUs"
            }
        }
        public struct Reservations: Codable, Sendable {
            public var memoryBytes: Int64?
            public var genericResources: [GenericResource]?
            public init(memoryBytes: Int64? = nil, genericResources: [GenericResource]? = nil) {
                self.memoryBytes = memoryBytes
                self.genericResources = genericResources
            }
            enum CodingKeys: String, CodingKey {
                case memoryBytes = "MemoryBytes"
                case genericResources = "GenericResources"
            }
        }
        public var limits: Limits?
        public var reservations: Reservations?
        public init(limits: Limits?, reservations: Reservations?) {
            self.limits = limits
            self.reservations = reservations
        }
        enum CodingKeys: String, CodingKey {
            case limits = "Limits"
            case reservations = "Reservations"
        }
    }
    public struct Placement: Codable, Sendable {
        public var constraints: [String]?
        public init(constraints: [String]?) { self.constraints = constraints }
        enum CodingKeys: String, CodingKey { case constraints = "Constraints" }
    }
    public struct RestartPolicy: Codable, Sendable {
        public var condition: String?
        public var maxAttempts: Int?
        /// Nanoseconds.
        public var delay: Int64?
        public var window: Int64?
        public init(condition: String?, maxAttempts: Int? = nil, delay: Int64? = nil, window: Int64? = nil) {
            self.condition = condition
            self.maxAttempts = maxAttempts
            self.delay = delay
            self.window = window
        }
        enum CodingKeys: String, CodingKey {
            case condition = "Condition"
            case maxAttempts = "MaxAttempts"
            case delay = "Delay"
            case window = "Window"
        }
    }
    /// A network a service's tasks join, under extra DNS names.
    public struct NetworkAttachment: Codable, Sendable {
        public var target: String
        public var aliases: [String]?
        public init(target: String, aliases: [String]?) {
            self.target = target
            self.aliases = aliases
        }
        enum CodingKeys: String, CodingKey {
            case target = "Target"
            case aliases = "Aliases"
        }
    }
    public struct TaskTemplate: Codable, Sendable {
        public var containerSpec: ContainerSpec
        public var resources: Resources?
        public var placement: Placement?
        public var restartPolicy: RestartPolicy?
        public var forceUpdate: Int?
        public var networks: [NetworkAttachment]?
        public var logDriver: LogDriver?
        public init(
            containerSpec: ContainerSpec,
            resources: Resources? = nil,
            placement: Placement? = nil,
            restartPolicy: RestartPolicy? = nil
        ) {
            self.containerSpec = containerSpec
            self.resources = resources
            self.placement = placement
            self.restartPolicy = restartPolicy
        }
        enum CodingKeys: String, CodingKey {
            case containerSpec = "ContainerSpec"
            case resources = "Resources"
            case placement = "Placement"
            case
                restartPolicy = "RestartPolicy"
            case forceUpdate = "ForceUpdate"
            case networks = "Networks"
            case logDriver = "LogDriver"
        }
    }
    public struct Mode: Codable, Sendable {
        public struct Replicated: Codable, Sendable {
            public var replicas: Int
            enum CodingKeys: String, CodingKey { case replicas = "Replicas" }
        }
        public var replicated: Replicated?
        public init(replicas: Int) { replicated = Replicated(replicas: replicas) }
        enum CodingKeys: String, CodingKey { case replicated = "Replicated" }
    }
    public struct EndpointSpec: Codable, Sendable {
        public struct Port: Codable, Sendable {
            public var proto: String
            public var targetPort: Int
            public var publishedPort: Int?
            public var publishMode: String
            public init(targetPort: Int, publishedPort: Int?, publishMode: String = "host", proto: String = "tcp") {
                self.proto = proto
                self.targetPort = targetPort
                self.publishedPort = publishedPort
                self.publishMode = publishMode
            }
            enum CodingKeys: String, CodingKey {
                case proto = "Protocol"
                case targetPort = "TargetPort"
                case publishedPort = "PublishedPort"
                case publishMode = "PublishMode"
            }
        }
        public var mode: String?
        public var ports: [Port]?
        public init(mode: String? = nil, ports: [Port]?) {
            self.mode = mode
            self.ports = ports
        }
        enum CodingKeys: String, CodingKey {
            case mode = "Mode"
            case ports = "Ports"
        }
    }

    /// How Swarm rolls an update (and a rollback) through the tasks. Durations in nanoseconds.
    /// Optional all: the engine leaves out what is zero.
    public struct UpdateConfig: Codable, Sendable {
        public var parallelism: Int?
        public var delay: Int64?
        public var failureAction: String?
        public var monitor: Int64?
        public var maxFailureRatio: Double?
        public var order: String?
        public init(parallelism: Int?, delay: Int64?, failureAction: String?, monitor: Int64?, maxFailureRatio: Double?, order: String?) {
            self.parallelism = parallelism
            self.delay = delay
            self.failureAction = failureAction
            self.monitor = monitor
            self.maxFailureRatio = maxFailureRatio
            self.order = order
        }
        enum CodingKeys: String, CodingKey {
            case parallelism = "Parallelism"
            case delay = "Delay"
            case failureAction = "FailureAction"
            case monitor = "Monitor"
            case
                maxFailureRatio = "MaxFailureRatio"
            case order = "Order"
        }
    }

    public var name: String
    public var labels: [String: String]?
    public var taskTemplate: TaskTemplate
    public var mode: Mode?
    public var endpointSpec: EndpointSpec?
    public var updateConfig: UpdateConfig?
    public var rollbackConfig: UpdateConfig?

    public init(name: String, labels: [String: String]?, taskTemplate: TaskTemplate, mode: Mode?, endpointSpec: EndpointSpec?) {
        self.name = name
        self.labels = labels
        self.taskTemplate = taskTemplate
        self.mode = mode
        self.endpointSpec = endpointSpec
    }

    enum CodingKeys: String, CodingKey {
        case name = "Name"
        case labels = "Labels"
        case taskTemplate = "TaskTemplate"
        case mode = "Mode"
        case endpointSpec = "EndpointSpec"
        case
            updateConfig = "UpdateConfig"
        case rollbackConfig = "RollbackConfig"
    }

    public var replicas: Int { mode?.replicated?.replicas ?? 0 }
}
