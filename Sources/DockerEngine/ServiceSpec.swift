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
        public init(condition: String?, maxAttempts: Int? = nil) {
            self.condition = condition
            self.maxAttempts = maxAttempts
        }
        enum CodingKeys: String, CodingKey {
            case condition = "Condition"
            case maxAttempts = "MaxAttempts"
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
