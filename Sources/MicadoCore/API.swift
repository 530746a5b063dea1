import Foundation

/// `POST /v1/containers`: what `micado launch` asks for.
public struct LaunchRequest: Codable, Sendable, Equatable {
    public var image: String
    public var client: String
    public var location: String?
    public var script: String?
    public var domain: String?
    public var arguments: [String]
    public var port: PortMapping?
    public var environment: [EnvironmentVariable]
    /// Memory reserved and enforced as a limit; nil takes the image's recorded critical usage.
    public var memoryMiB: Int?
    /// An explicit container name; nil generates `container-<client>-<random>`.
    public var name: ContainerName?
    /// Answer once the service exists instead of waiting for a running task.
    public var detach: Bool
    /// Serve the domain over HTTPS too (certificate from the proxy's internal CA).
    public var tls: Bool?

    public init(
        image: String,
        client: String,
        location: String? = nil,
        script: String? = nil,
        domain: String? = nil,
        arguments: [String] = [],
        port: PortMapping? = nil,
        environment: [EnvironmentVariable] = [],
        memoryMiB: Int? = nil,
        name: ContainerName? = nil,
        detach: Bool = false,
        tls: Bool? = nil
    ) {
        self.tls = tls
        self.image = image
        self.client = client
        self.location = location
        self.script = script
        self.domain = domain
        self.arguments = arguments
        self.port = port
        self.environment = environment
        self.memoryMiB = memoryMiB
        self.name = name
        self.detach = detach
    }

    /// What a launch's script, arguments and environment may take together.
    public static let maximumCommandBytes = 64 << 10

    /// Checks every field; the same rules apply to the CLI's flags and to API bodies.
    public func validate() throws(MicadoError) {
        try ImageReference.validate(image)
        try ClientName.validate(client)
        if let name, name.isApplicationService {
            throw .badRequest("invalid container name '\(name)': names with '_' are an application's services ('micado apply')")
        }
        if let location { try LocationName.validate(location) }
        if let domain { try DomainName.validate(domain) }
        if tls == true, domain == nil { throw .badRequest("--tls serves a domain over HTTPS: give the domain with -d") }
        // By byte: "/" before a combining mark or an emoji modifier is a Character that is not "/".
        if let script, script.utf8.first != 0x2F {
            throw .badRequest("invalid script '\(script)': give the absolute path of the script inside the image")
        }
        try port?.validate()
        for variable in environment {
            try EnvironmentVariable.validateKey(variable.key, in: Text.escaped(variable.description))
            try Text.requireSafe(variable.value, field: "the value of \(variable.key)")
        }
        if let script { try Text.requireSafe(script, field: "the script") }
        for (i, argument) in arguments.enumerated() { try Text.requireSafe(argument, field: "argument \(i + 1)") }
        // A swarm service spec lives in a raft message (a few MiB at most, shared with the
        // rest of the spec): a launch that cannot be stored there must not reach the swarm.
        let size =
            (script?.utf8.count ?? 0) + arguments.reduce(0) { $0 + $1.utf8.count }
            + environment.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count + 1 }
        guard size <= Self.maximumCommandBytes else {
            throw .init(
                .tooLarge,
                "the script, arguments and environment together take \(size) bytes; at most \(Self.maximumCommandBytes) are allowed"
            )
        }
        guard arguments.count <= 1000, environment.count <= 1000 else {
            throw .badRequest("at most 1000 arguments and 1000 environment variables")
        }
        if let memoryMiB, !(6...1_048_576).contains(memoryMiB) {
            throw .badRequest("invalid memory \(memoryMiB) MiB: give between 6 MiB and 1 TiB")
        }
    }
}

/// What a container is meant to be doing (desired) and what it does (observed).
public enum DesiredState: String, Codable, Sendable {
    case running, stopped
}

public enum ObservedState: String, Codable, Sendable {
    /// The manager recorded the container but has not created its service yet.
    case creating
    /// The service exists; its task is not running yet (pending, preparing, starting).
    case pending
    case running
    /// Quit, and its task is still shutting down.
    case stopping
    case stopped
    /// The task failed or keeps restarting.
    case failed
    /// The service disappeared from the swarm behind the manager's back.
    case missing
}

/// One container as `micado list -c` shows it.
public struct ContainerView: Codable, Sendable, Equatable {
    public var name: ContainerName
    public var client: String
    public var image: ImageReference
    public var desired: DesiredState
    public var state: ObservedState
    public var location: String?
    public var domain: String?
    public var port: PortMapping?
    public var memoryMiB: Int
    /// The node (instance) its task runs on.
    public var node: String?
    /// Where it answers: `address:published-port` of its node, when a port is published.
    public var endpoint: String?
    /// Why it is not running, when it is not.
    public var reason: String?
    public var serviceID: String?
    public var createdAt: Date
    /// The newest usage sample: percent of one CPU, and memory in use (MiB).
    public var cpuPercent: Double?
    public var memoryUsedMiB: Double?
    /// For an application's service: its application, and its replicas wanted and running.
    public var application: ApplicationName?
    public var replicas: Int?
    public var runningReplicas: Int?

    public init(
        name: ContainerName,
        client: String,
        image: ImageReference,
        desired: DesiredState,
        state: ObservedState,
        location: String?,
        domain: String?,
        port: PortMapping?,
        memoryMiB: Int,
        node: String?,
        endpoint: String?,
        reason: String?,
        serviceID: String?,
        createdAt: Date
    ) {
        self.name = name
        self.client = client
        self.image = image
        self.desired = desired
        self.state = state
        self.location = location
        self.domain = domain
        self.port = port
        self.memoryMiB = memoryMiB
        self.node = node
        self.endpoint = endpoint
        self.reason = reason
        self.serviceID = serviceID
        self.createdAt = createdAt
    }
}

/// One instance (a Swarm node) as `micado list -i` shows it.
public struct InstanceView: Codable, Sendable, Equatable {
    public var id: InstanceID
    public var hostname: String
    public var cloud: String
    public var location: String?
    public var role: InstanceRole
    public var state: InstanceState
    /// The Swarm node's availability; nil before the instance has a node.
    public var availability: NodeAvailability?
    public var address: String?
    public var containers: Int
    public var memoryReservedMiB: Int
    public var memoryTotalMiB: Int?
    public var engineVersion: String?
    public var flavour: String?
    public var tag: String?
    public var purpose: InstancePurpose?
    /// The cloud's own ID for it (`i-0abc…` on EC2), once the cloud answered.
    public var cloudID: String?
    public var pricePerHour: Double?
    public var createdAt: Date?
    /// Why it is in its state.
    public var reason: String?

    public init(
        id: InstanceID,
        hostname: String,
        cloud: String,
        location: String?,
        role: InstanceRole,
        state: InstanceState,
        availability: NodeAvailability?,
        address: String?,
        containers: Int,
        memoryReservedMiB: Int,
        memoryTotalMiB: Int?,
        engineVersion: String?
    ) {
        self.id = id
        self.hostname = hostname
        self.cloud = cloud
        self.location = location
        self.role = role
        self.state = state
        self.availability = availability
        self.address = address
        self.containers = containers
        self.memoryReservedMiB = memoryReservedMiB
        self.memoryTotalMiB = memoryTotalMiB
        self.engineVersion = engineVersion
    }
}

/// `micado info`: a service with its tasks and where they run.
public struct ServiceInfo: Codable, Sendable {
    public struct Task: Codable, Sendable {
        public var id: String
        public var node: String?
        public var state: TaskState
        public var desiredState: TaskState
        public var message: String?
        public var error: String?
        public var containerID: String?
        public var updatedAt: Date?

        public init(
            id: String,
            node: String?,
            state: TaskState,
            desiredState: TaskState,
            message: String?,
            error: String?,
            containerID: String?,
            updatedAt: Date?
        ) {
            self.id = id
            self.node = node
            self.state = state
            self.desiredState = desiredState
            self.message = message
            self.error = error
            self.containerID = containerID
            self.updatedAt = updatedAt
        }
    }

    public var name: String
    public var serviceID: String
    public var image: String
    public var replicas: Int
    public var running: Int
    public var ports: [PortMapping]
    public var constraints: [String]
    public var tasks: [Task]
    /// The newest usage sample of its running task.
    public var cpuPercent: Double?
    public var memoryUsedMiB: Double?

    public init(
        name: String,
        serviceID: String,
        image: String,
        replicas: Int,
        running: Int,
        ports: [PortMapping],
        constraints: [String],
        tasks: [Task]
    ) {
        self.name = name
        self.serviceID = serviceID
        self.image = image
        self.replicas = replicas
        self.running = running
        self.ports = ports
        self.constraints = constraints
        self.tasks = tasks
    }
}

/// One line of `micado events`.
public struct EventView: Codable, Sendable, Equatable {
    public var id: Int64
    public var time: Date
    public var kind: EventKind
    public var subject: String
    public var message: String

    public init(id: Int64, time: Date, kind: EventKind, subject: String, message: String) {
        self.id = id
        self.time = time
        self.kind = kind
        self.subject = subject
        self.message = message
    }
}

/// One usage sample of a container (the average over its replicas), as the monitor recorded it.
public struct UsageSampleView: Codable, Sendable, Equatable {
    public var time: Date
    /// Percent of one CPU.
    public var cpuPercent: Double
    public var memoryMiB: Double

    public init(time: Date, cpuPercent: Double, memoryMiB: Double) {
        self.time = time
        self.cpuPercent = cpuPercent
        self.memoryMiB = memoryMiB
    }
}

/// An image micado built or knows, with its recorded critical memory usage.
public struct ImageView: Codable, Sendable, Equatable {
    public var name: ImageReference
    public var imageID: String?
    public var sizeBytes: Int64?
    public var criticalMemoryMiB: Int?
    public var createdAt: Date
    /// Where it is in micado's registry, and its digest there.
    public var reference: String?
    public var digest: String?

    public init(name: ImageReference, imageID: String?, sizeBytes: Int64?, criticalMemoryMiB: Int?, createdAt: Date) {
        self.name = name
        self.imageID = imageID
        self.sizeBytes = sizeBytes
        self.criticalMemoryMiB = criticalMemoryMiB
        self.createdAt = createdAt
    }
}

/// `micado explain NAME`: why a container is where it is, and what the scaler does about it.
public struct ExplainView: Codable, Sendable {
    public var container: ContainerView
    public var explanation: [String]
    public var recentEvents: [EventView]
    public init(container: ContainerView, explanation: [String], recentEvents: [EventView]) {
        self.container = container
        self.explanation = explanation
        self.recentEvents = recentEvents
    }
}

/// One domain the proxy routes, for `micado routes`.
public struct RouteView: Codable, Sendable, Equatable {
    public var domain: String
    public var container: String
    /// address:port of each running task.
    public var targets: [String]
    /// Whether each target answered HTTP just now (same order as `targets`).
    public var healthy: [Bool]
    /// Also served over HTTPS.
    public var tls: Bool = false
    public init(domain: String, container: String, targets: [String], healthy: [Bool]) {
        self.domain = domain
        self.container = container
        self.targets = targets
        self.healthy = healthy
    }
}

/// `POST /v1/containers/{name}/exec`.
public struct ExecRequest: Codable, Sendable {
    public var command: String
    public init(command: String) { self.command = command }
}

public struct ExecResult: Codable, Sendable {
    public var exitCode: Int
    public var stdout: String
    public var stderr: String
    public init(exitCode: Int, stdout: String, stderr: String) {
        self.exitCode = exitCode
        self.stdout = stdout
        self.stderr = stderr
    }
}

/// The size of a terminal, in character cells.
public struct TerminalSize: Codable, Sendable, Equatable {
    public var columns: Int
    public var rows: Int
    public init(columns: Int, rows: Int) {
        self.columns = columns
        self.rows = rows
    }
}

/// An attached `micado execute`: a WebSocket at
/// `GET /v1/containers/{name}/exec/stream?command=...&tty=true|false&columns=C&rows=R&term=TERM`.
///
/// Client to manager: binary messages are the command's stdin; text messages are one
/// `ExecStreamControl` each. Manager to client: binary messages whose first byte names the
/// stream (`stdout` or `stderr`) and whose rest is output; then one text message, an
/// `ExecStreamEnd`, and a normal close.
public enum ExecStream {
    public static let path = "/exec/stream"
    public static let stdout: UInt8 = 1
    public static let stderr: UInt8 = 2
}

public struct ExecStreamControl: Codable, Sendable, Equatable {
    /// The client's terminal changed size.
    public var resize: TerminalSize?
    /// The client's stdin ended: the command reads end of file.
    public var closeStdin: Bool?
    public init(resize: TerminalSize? = nil, closeStdin: Bool? = nil) {
        self.resize = resize
        self.closeStdin = closeStdin
    }
}

/// The last message of an attached exec: the command's exit code, or why it could not run.
public struct ExecStreamEnd: Codable, Sendable {
    public var exitCode: Int?
    public var error: ErrorBody.Detail?
    public init(exitCode: Int) { self.exitCode = exitCode }
    public init(error: MicadoError) { self.error = ErrorBody(error).error }
}

/// `POST /v1/containers/{name}/quit`.
public struct QuitRequest: Codable, Sendable {
    public var remove: Bool
    /// Also SIGKILL the tasks that still run after an earlier quit: what the CLI asks once its
    /// `--timeout` has passed, as Swarm's stop grace would (absent: false).
    public var kill: Bool?
    public init(remove: Bool, kill: Bool = false) {
        self.remove = remove
        self.kill = kill ? true : nil
    }
}

/// `POST /v1/instances`: what `micado start` asks for.
public struct StartInstanceRequest: Codable, Sendable {
    public typealias Role = InstancePurpose
    public var cloud: String
    public var application: String
    public var flavour: String
    public var tag: String
    public var role: Role
    public var first: Bool

    public init(cloud: String, application: String, flavour: String, tag: String, role: Role, first: Bool) {
        self.cloud = cloud
        self.application = application
        self.flavour = flavour
        self.tag = tag
        self.role = role
        self.first = first
    }

    /// 1 to 63 letters, digits, '.', '_' and '-': a name a command can give (clouds.yaml's flavours are held to it too).
    public static func isName(_ value: String) -> Bool {
        !value.isEmpty && value.utf8.count <= 63
            && value.utf8.allSatisfy {
                ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x30 && $0 <= 0x39) || [0x2d, 0x2e, 0x5f].contains($0)
            }
    }

    /// Names as clouds.yaml writes them, and a tag that `stop -t` can name.
    public func validate() throws(MicadoError) {
        for (field, value) in [("cloud", cloud), ("application", application), ("flavour", flavour), ("tag", tag)] {
            guard Self.isName(value) else {
                throw .badRequest(
                    "invalid \(field) '\(Text.escaped(String(value.prefix(64))))': use 1 to 63 letters, digits, '.', '_' and '-'"
                )
            }
        }
    }
}

/// `GET /v1/health`: unauthenticated liveness and identity.
public struct HealthView: Codable, Sendable {
    public var status: String
    public var version: String
    public var engineAPIVersion: String?
    public var pid: Int32
    public init(status: String, version: String, engineAPIVersion: String?, pid: Int32) {
        self.status = status
        self.version = version
        self.engineAPIVersion = engineAPIVersion
        self.pid = pid
    }
}

public enum MicadoVersion {
    public static let current = "0.1.0"
}
