import Foundation

/// An application: services described in a Compose file and deployed together
/// (`micado apply`). Each service is a Swarm service named `APP_SERVICE`, reachable by the
/// application's other services as `SERVICE` on the application's own overlay network.
public struct ApplicationSpec: Sendable, Equatable {
    public var name: ApplicationName
    /// Sorted by name.
    public var services: [ServiceDefinition]
    /// What the file asks that micado accepts but does not carry out, by line and field
    /// (`container_name`, an unset variable): shown with the plan.
    public var warnings: [String]
    /// The file's top-level secrets and configs, by name: where their content comes from.
    public var secrets: [String: ObjectSource] = [:]
    public var configs: [String: ObjectSource] = [:]
    /// The file's named volumes that its services mount, by name.
    public var volumes: [String: VolumeDefinition] = [:]

    /// A top-level volume: driver `local`, on the instance its services are pinned to.
    public struct VolumeDefinition: Sendable, Equatable {
        public var labels: [String: String] = [:]
        public init(labels: [String: String] = [:]) { self.labels = labels }
    }

    /// The engine's name of an application's volume (as `docker compose` names them: the
    /// application's name has no `_`, so `shop` with `db_data` never meets `shop_db` with `data`… nor `shop-db`).
    public static func volumeName(application: String, volume: String) -> String { "\(application)_\(volume)" }

    public init(name: ApplicationName, services: [ServiceDefinition], warnings: [String] = []) {
        self.name = name
        self.services = services.sorted { $0.name < $1.name }
        self.warnings = warnings
    }

    /// Where a secret's or config's content comes from. The CLI reads it (a file beside the
    /// Compose file, a variable of its environment) and sends it with the apply; only a Swarm
    /// secret or config holds it after that, never micado's store, log or answers.
    public enum ObjectSource: Sendable, Equatable {
        case file(String)
        case environment(String)
        /// A config's `content:`, written in the file itself.
        case content(String)
    }

    /// The key of an object's content in `ApplyRequest.objects`.
    public static func objectKey(_ kind: FileMountKind, _ name: String) -> String { "\(kind.rawValue)/\(name)" }
}

/// Which of a service's file mounts: a secret or a config.
public enum FileMountKind: String, Codable, Sendable, CaseIterable {
    case secrets, configs
}

/// `depends_on`: a service created only after another, and how long it waits for it.
public struct ServiceDependency: Codable, Sendable, Equatable {
    public enum Condition: String, Codable, Sendable, CaseIterable {
        case started = "service_started"
        case healthy = "service_healthy"
        case completedSuccessfully = "service_completed_successfully"
    }
    public var service: String
    public var condition: Condition
    public init(service: String, condition: Condition = .started) {
        self.service = service
        self.condition = condition
    }
}

/// One `env_file` entry: a path relative to the Compose file's folder, whether it must
/// exist, and whether its values are taken as written (`format: raw`) or as `.env` reads them.
public struct EnvironmentFileReference: Sendable, Equatable {
    public var path: String
    public var required: Bool
    public var raw: Bool
    public init(path: String, required: Bool = true, raw: Bool = false) {
        self.path = path
        self.required = required
        self.raw = raw
    }
    /// The key of its content in `ApplyRequest.objects`.
    public var objectKey: String { "env_file/\(path)" }
}

/// A service's `build:`: a context folder beside the Compose file, the Dockerfile in it, the
/// stage to stop at and `ARG` values. The CLI packs the context and has micado build it.
public struct ServiceBuild: Sendable, Equatable {
    public var context: String
    public var dockerfile: String?
    public var target: String?
    public var arguments: [String: String] = [:]
    public init(context: String) { self.context = context }

    /// The image micado builds for an application's service: `container-APP-SERVICE`, tagged
    /// by the digest of its context and options (`DIGEST`, hex).
    public static func imageName(application: String, service: String) -> String { "container-\(application)-\(service)" }
}

/// One service of an application, as the Compose file says it.
public struct ServiceDefinition: Sendable, Equatable {
    public var name: String
    public var image: String
    public var command: [String]?
    public var entrypoint: [String]?
    public var environment: [EnvironmentVariable] = []
    public var ports: [PortMapping] = []
    public var replicas: Int?
    public var memoryReservationMiB: Int?
    public var memoryLimitMiB: Int?
    public var cpuLimit: Double?
    public var location: String?
    public var update: UpdatePolicy?
    public var labels: [String: String] = [:]
    public var domain: String?
    public var tls = false
    public var scaling: ScalingPolicy?
    public var options = ContainerOptions()
    public var dependsOn: [ServiceDependency] = []
    /// `env_file`, in order: files beside the Compose file that the CLI reads and sends with
    /// the apply; their variables come before `environment`, which wins.
    public var environmentFiles: [EnvironmentFileReference] = []
    /// `build:`: the CLI builds it and sends the tag (`ApplyRequest.builds`); `image` is that tag.
    public var build: ServiceBuild?

    public init(name: String, image: String) {
        self.name = name
        self.image = image
    }

    /// What its command, entrypoint, environment and labels take, bounded by `LaunchRequest.maximumCommandBytes`.
    public var commandBytes: Int {
        (command ?? []).reduce(0) { $0 + $1.utf8.count } + (entrypoint ?? []).reduce(0) { $0 + $1.utf8.count }
            + environment.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count + 1 }
            + labels.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count }
    }
}

/// What an application's service says beyond a launched container's fields; kept with its
/// container record (`ContainerRecord.settings`).
public struct ServiceSettings: Codable, Sendable, Equatable {
    /// Its name inside the application: the DNS name the other services use.
    public var service: String
    public var entrypoint: [String]?
    /// Every published port (the record's `port` is the first, the one a domain routes to).
    public var ports: [PortMapping] = []
    public var memoryLimitMiB: Int?
    public var cpuLimit: Double?
    public var labels: [String: String] = [:]
    public var update: UpdatePolicy?
    public var scaling: ScalingPolicy?
    /// Nil when the service sets none (records made before these keys existed read the same).
    public var options: ContainerOptions?
    /// `depends_on`: the services (of its application) made before it, and what it waits for.
    public var dependsOn: [ServiceDependency]?

    public init(service: String) { self.service = service }
}

/// Compose's `deploy.update_config`: how Swarm rolls a changed service. micado's default
/// rolls back on failure.
public struct UpdatePolicy: Codable, Sendable, Equatable {
    public enum FailureAction: String, Codable, Sendable, CaseIterable { case rollback, pause, `continue` }
    public enum Order: String, Codable, Sendable, CaseIterable {
        case stopFirst = "stop-first"
        case startFirst = "start-first"
    }
    public var parallelism = 1
    public var delaySeconds = 0.0
    public var failureAction = FailureAction.rollback
    public var monitorSeconds = 5.0
    public var maxFailureRatio = 0.0
    public var order = Order.stopFirst

    public init() {}
}

/// `x-micado.scaling`: the replica count follows the replicas' usage.
public struct ScalingPolicy: Codable, Sendable, Equatable {
    public enum Metric: String, Codable, Sendable, CaseIterable {
        /// Percent of the CPU limit (of one core without a limit), averaged over the replicas.
        case cpu
        /// Percent of the memory reservation, averaged over the replicas.
        case memory
    }
    public struct Target: Codable, Sendable, Equatable {
        public var metric: Metric
        public var percent: Double
        public init(metric: Metric, percent: Double) {
            self.metric = metric
            self.percent = percent
        }
    }
    public var min: Int
    public var max: Int
    /// One or more; when they disagree, the largest recommendation wins (scale-up wins).
    public var targets: [Target]
    /// After a change, how long before the next scale-up.
    public var upCooldownSeconds: Double = 30
    /// Scale-down takes the highest recommendation over this window.
    public var downStabilizationSeconds: Double = 300
    /// A ratio of observed to target within 1 ± tolerance changes nothing.
    public var tolerance: Double = 0.1

    public init(min: Int, max: Int, targets: [Target]) {
        self.min = min
        self.max = max
        self.targets = targets
    }
}

/// `micado apply`'s body: the Compose file as written, and the name to use if neither `-n`
/// nor the file's `name:` gives one (the file's folder).
public struct ApplyRequest: Codable, Sendable {
    public var name: String?
    public var folderName: String?
    public var file: String
    public var fileName: String?
    public var dryRun: Bool
    /// The values of the variables the file interpolates (`${VAR}`), and only those: from the
    /// CLI's environment, then the `.env` beside the file (or `--env-file`).
    public var variables: [String: String]?
    /// The content of each secret and config a service uses, base64, by `ApplicationSpec.objectKey`,
    /// and of each `env_file` that exists, by `EnvironmentFileReference.objectKey`.
    public var objects: [String: String]?

    public init(
        name: String?,
        folderName: String?,
        file: String,
        fileName: String?,
        dryRun: Bool,
        variables: [String: String]? = nil,
        objects: [String: String]? = nil
    ) {
        self.name = name
        self.folderName = folderName
        self.file = file
        self.fileName = fileName
        self.dryRun = dryRun
        self.variables = variables
        self.objects = objects
    }

    /// The image the CLI built for each service with `build:`, by service name
    /// (`container-APP-SERVICE:DIGEST`); on a dry run, the tag it would build.
    public var builds: [String: String]?

    /// Swarm's bound on a secret's or config's content.
    public static let maximumObjectBytes = 500 << 10

    /// A Compose file is small; one this large is a mistake or an attack.
    public static let maximumFileBytes = 256 << 10
}

/// What `apply` does (or, with `--dry-run`, would do), service by service.
public struct ApplyPlanView: Codable, Sendable, Equatable {
    public enum Action: String, Codable, Sendable { case create, update, remove, unchanged }
    public struct Step: Codable, Sendable, Equatable {
        public var service: String
        public var action: Action
        /// For an update: the fields that changed.
        public var fields: [String]
        public init(service: String, action: Action, fields: [String] = []) {
            self.service = service
            self.action = action
            self.fields = fields
        }
    }
    public var application: ApplicationName
    public var revision: Int
    public var dryRun: Bool
    public var steps: [Step]
    /// What the file asks that is accepted but not carried out, by line and field.
    public var warnings: [String]
    /// The images the nodes pull themselves, not from the manager's engine.
    public var pulls: [Pull]

    /// A service's image that the manager's engine does not hold: the nodes pull `reference`
    /// (the image as written, or through micado's pull-through cache).
    public struct Pull: Codable, Sendable, Equatable {
        public var service: String
        public var image: String
        public var reference: String
        public init(service: String, image: String, reference: String) {
            self.service = service
            self.image = image
            self.reference = reference
        }
    }

    public init(application: ApplicationName, revision: Int, dryRun: Bool, steps: [Step], warnings: [String] = [], pulls: [Pull] = []) {
        self.application = application
        self.revision = revision
        self.dryRun = dryRun
        self.steps = steps
        self.warnings = warnings
        self.pulls = pulls
    }

    enum CodingKeys: String, CodingKey { case application, revision, dryRun, steps, warnings, pulls }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        application = try c.decode(ApplicationName.self, forKey: .application)
        revision = try c.decode(Int.self, forKey: .revision)
        dryRun = try c.decode(Bool.self, forKey: .dryRun)
        steps = try c.decode([Step].self, forKey: .steps)
        warnings = try c.decodeIfPresent([String].self, forKey: .warnings) ?? []
        pulls = try c.decodeIfPresent([Pull].self, forKey: .pulls) ?? []
    }
}

/// `micado apps`.
public struct ApplicationView: Codable, Sendable, Equatable {
    public struct Service: Codable, Sendable, Equatable {
        /// The Swarm service (and container) name, `APP_SERVICE`.
        public var name: String
        public var image: String
        public var desiredReplicas: Int
        public var runningReplicas: Int
        public var memoryMiB: Int
        public var domain: String?
        /// The scaling policy's state in words (nil without a policy).
        public var policy: String?
        public init(
            name: String,
            image: String,
            desiredReplicas: Int,
            runningReplicas: Int,
            memoryMiB: Int,
            domain: String?,
            policy: String?
        ) {
            self.name = name
            self.image = image
            self.desiredReplicas = desiredReplicas
            self.runningReplicas = runningReplicas
            self.memoryMiB = memoryMiB
            self.domain = domain
            self.policy = policy
        }
    }
    public var name: ApplicationName
    public var revision: Int
    public var services: [Service]
    public var updatedAt: Date

    public init(name: ApplicationName, revision: Int, services: [Service], updatedAt: Date) {
        self.name = name
        self.revision = revision
        self.services = services
        self.updatedAt = updatedAt
    }
}

/// An application's name (`-n`, the file's `name:`, or its folder): part of every service name.
/// An application's name (`micado apply -n`, the file's `name:`, its folder's): the first
/// half of its services' names (`APP_SERVICE`), its network's and its volumes' prefix.
public struct ApplicationName: RawRepresentable, Hashable, Sendable, Codable, Comparable, CustomStringConvertible {
    public let rawValue: String

    public init?(rawValue: String) {
        guard (try? Self.validate(rawValue)) != nil else { return nil }
        self.rawValue = rawValue
    }

    /// A name read back from the store, where only checked names are written.
    public init(stored rawValue: String) { self.rawValue = rawValue }

    /// Parses a user-supplied name, explaining what is wrong with a bad one.
    public static func parse(_ text: String) throws(MicadoError) -> ApplicationName {
        try validate(text)
        return ApplicationName(stored: text)
    }

    public var description: String { rawValue }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let name = ApplicationName(rawValue: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "invalid application name"))
        }
        self = name
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }

    public static func validate(_ text: String, what: String = "application name") throws(MicadoError) {
        let ok =
            !text.isEmpty && text.count <= 30
            && text.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2d }
            && !text.hasPrefix("-") && !text.hasSuffix("-") && text != "container"
        guard ok else {
            throw .badRequest(
                "invalid \(what) '\(Text.escaped(String(text.prefix(64))))': use 1 to 30 lowercase letters, digits and inner dashes"
            )
        }
    }

    /// What a folder's name becomes as a default application name: lowercased, other characters dropped.
    public static func fromFolder(_ folder: String) -> String? {
        let cleaned = String(
            folder.lowercased().unicodeScalars.filter { ($0 >= "a" && $0 <= "z") || ($0 >= "0" && $0 <= "9") || $0 == "-" }.prefix(30)
        )
        var trimmed = Substring(cleaned)
        while trimmed.first == "-" { trimmed.removeFirst() }
        while trimmed.last == "-" { trimmed.removeLast() }
        return (try? validate(String(trimmed))).map { String(trimmed) }
    }
}

/// `micado apps rm --volumes`: the named volumes removed with their data, and those still
/// waiting for a task of theirs to stop (removed by the manager soon after).
public struct ApplicationRemovalView: Codable, Sendable, Equatable {
    public var application: ApplicationName
    public var removedVolumes: [String]
    public var pendingVolumes: [String]
    public init(application: ApplicationName, removedVolumes: [String], pendingVolumes: [String]) {
        self.application = application
        self.removedVolumes = removedVolumes
        self.pendingVolumes = pendingVolumes
    }
}
