import Foundation
import GRDB
import MicadoCore

/// A container the manager was asked for: the desired state, kept until `remove`.
public struct ContainerRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord, StoreRecord {
    public static let databaseTableName = "containers"

    public var name: String
    public var client: String
    public var image: String
    public var desired: DesiredState
    /// Set once the service exists; nil while the manager is still creating it.
    public var serviceID: String?
    public var location: String?
    public var script: String?
    public var domain: String?
    public var arguments: [String]
    public var environment: [EnvironmentVariable]
    public var portPublished: Int?
    public var portTarget: Int?
    public var memoryMiB: Int
    /// What the manager last observed and why (for `list`, `explain`).
    public var lastState: ObservedState
    public var lastReason: String?
    public var createdAt: Date
    public var updatedAt: Date
    /// The domain is served over HTTPS too.
    public var tls: Bool = false
    /// The application it is a service of (`micado apply`); nil for a launched container.
    public var application: String?
    /// Tasks wanted while running: 1 for a launched container; the file's (or the scaling
    /// policy's) count for an application's service.
    public var replicas: Int = 1
    /// What an application's service says beyond a launched container's fields.
    public var settings: ServiceSettings?

    public init(
        name: String,
        client: String,
        image: String,
        desired: DesiredState,
        serviceID: String?,
        location: String?,
        script: String?,
        domain: String?,
        arguments: [String],
        environment: [EnvironmentVariable],
        port: PortMapping?,
        memoryMiB: Int,
        lastState: ObservedState,
        lastReason: String?,
        createdAt: Date,
        updatedAt: Date
    ) {
        self.name = name
        self.client = client
        self.image = image
        self.desired = desired
        self.serviceID = serviceID
        self.location = location
        self.script = script
        self.domain = domain
        self.arguments = arguments
        self.environment = environment
        self.portPublished = port?.published
        self.portTarget = port?.target
        self.memoryMiB = memoryMiB
        self.lastState = lastState
        self.lastReason = lastReason
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    public var port: PortMapping? {
        guard let portPublished, let portTarget else { return nil }
        return PortMapping(published: portPublished, target: portTarget)
    }

    /// Every port it publishes on its nodes.
    public var publishedPorts: [Int] { settings.map { $0.ports.map(\.published) } ?? portPublished.map { [$0] } ?? [] }

    /// Tasks wanted now.
    public var wantedReplicas: Int { desired == .running ? replicas : 0 }
}

/// An application as last applied: its file, kept so that what runs can always be
/// compared with (and converged to) what was asked.
public struct ApplicationRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord, StoreRecord {
    public static let databaseTableName = "applications"
    public var name: String
    public var file: String
    public var fileName: String
    /// Counts the applies that changed something.
    public var revision: Int
    public var createdAt: Date
    public var updatedAt: Date

    public init(name: String, file: String, fileName: String, revision: Int, createdAt: Date, updatedAt: Date) {
        self.name = name
        self.file = file
        self.fileName = fileName
        self.revision = revision
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// A named volume of an application (`volumes:` of its Compose file): where it lives once a
/// task has been placed for it (its home, a node), and whether it is being removed. The
/// volume itself is the node's engine's; its home keeps the services that mount it on that
/// node and keeps the node's instance from being drained.
public struct VolumeRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord, StoreRecord {
    public static let databaseTableName = "volumes"
    /// The engine's name: `APPLICATION_VOLUME`.
    public var name: String
    public var application: String
    /// As the file names it.
    public var volume: String
    /// The labels the file gives it (JSON).
    public var labels: [String: String]
    /// The node it lives on; nil until micado chooses one.
    public var nodeID: String?
    /// `apps rm --volumes` asked for it to go: removed from its node once no task mounts it.
    public var removing: Bool
    public var createdAt: Date

    public init(application: String, volume: String, labels: [String: String] = [:], createdAt: Date) {
        self.name = ApplicationSpec.volumeName(application: application, volume: volume)
        self.application = application
        self.volume = volume
        self.labels = labels
        self.nodeID = nil
        self.removing = false
        self.createdAt = createdAt
    }
}

extension DesiredState: DatabaseValueConvertible {}
extension ObservedState: DatabaseValueConvertible {}

/// An instance (Swarm node) the manager knows: its own engine, or one it started on a cloud.
public struct InstanceRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord, StoreRecord {
    public static let databaseTableName = "instances"
    /// micado's name for it (the node ID for the manager's own engine).
    public var id: InstanceID
    public var hostname: String
    public var cloud: String
    public var location: String?
    public var role: InstanceRole
    public var state: InstanceState
    public var address: String?
    public var createdAt: Date
    public var updatedAt: Date
    public var flavour: String?
    public var memoryMiB: Int = 0
    public var pricePerHour: Double = 0
    public var tag: String?
    public var purpose: InstancePurpose = .application
    /// MiCADO's `start -I`: never removed by the scaler.
    public var first: Bool = false
    /// The idempotency token of the create call, recorded before the call.
    public var token: String?
    public var nodeID: String?
    /// Why it is in its state (the scaler's reason, a failure).
    public var reason: String?
    public var stateSince: Date?
    public var idleSince: Date?
    /// The cloud's own ID for it, from the create call's answer (nil until then).
    public var cloudID: String?
    /// Where its engine answers (`tcp://address:2376`, mutual TLS), as the cloud reported it.
    public var engineEndpoint: String?
    /// The machine image it was created from (a resumed create uses the same).
    public var machineImage: String?

    public init(
        id: InstanceID,
        hostname: String,
        cloud: String,
        location: String?,
        role: InstanceRole,
        state: InstanceState,
        address: String?,
        createdAt: Date,
        updatedAt: Date
    ) {
        self.id = id
        self.hostname = hostname
        self.cloud = cloud
        self.location = location
        self.role = role
        self.state = state
        self.address = address
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    public var isManager: Bool { role == .manager }
}

extension InstanceID: DatabaseValueConvertible {}
extension InstanceRole: DatabaseValueConvertible {}
extension InstanceState: DatabaseValueConvertible {}
extension InstancePurpose: DatabaseValueConvertible {}

/// An image built through micado (or seen in use), with its critical memory usage.
public struct ImageRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord, StoreRecord {
    public static let databaseTableName = "images"
    public var name: String
    public var imageID: String?
    public var sizeBytes: Int64?
    public var criticalMemoryMiB: Int?
    public var createdAt: Date
    /// Where it is in micado's registry (`10.213.0.1:5000/container-app:latest`), once pushed.
    public var reference: String?
    public var digest: String?

    public init(name: String, imageID: String?, sizeBytes: Int64?, criticalMemoryMiB: Int?, createdAt: Date) {
        self.name = name
        self.imageID = imageID
        self.sizeBytes = sizeBytes
        self.criticalMemoryMiB = criticalMemoryMiB
        self.createdAt = createdAt
    }
}

/// An attached `micado execute` while it runs: after a crash of the manager, what is left
/// of it in the container is hung up.
public struct ExecSessionRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord, StoreRecord {
    public static let databaseTableName = "execSessions"
    /// The value of the session variable in the processes' environment.
    public var session: String
    public var container: String
    public var containerID: String
    public var command: String
    public var startedAt: Date

    public init(session: String, container: String, containerID: String, command: String, startedAt: Date) {
        self.session = session
        self.container = container
        self.containerID = containerID
        self.command = command
        self.startedAt = startedAt
    }
}

/// One thing that happened, for `micado events`. Append-only.
public struct EventRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord, StoreRecord {
    public static let databaseTableName = "events"
    public var id: Int64?
    public var time: Date
    public var kind: EventKind
    public var subject: String
    public var message: String

    /// Longer messages are cut (with "…" and how much was cut): a message may quote what a
    /// user sent (an executed command, say), and every reader of the log (`micado events`,
    /// the dashboard's live view) must stay small.
    public static let messageLimit = 1024

    public init(id: Int64? = nil, time: Date, kind: EventKind, subject: String, message: String) {
        self.id = id
        self.time = time
        self.kind = kind
        self.subject = String(subject.prefix(256))
        self.message =
            message.count > Self.messageLimit
            ? "\(message.prefix(Self.messageLimit))… (\(message.count - Self.messageLimit) more characters)" : message
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// One usage sample of a container's task.
public struct UsageRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord, StoreRecord {
    public static let databaseTableName = "usage"
    public var id: Int64?
    public var container: String
    public var image: String
    public var time: Date
    public var cpuPercent: Double
    public var memoryMiB: Double

    public init(container: String, image: String, time: Date, cpuPercent: Double, memoryMiB: Double) {
        self.container = container
        self.image = image
        self.time = time
        self.cpuPercent = cpuPercent
        self.memoryMiB = memoryMiB
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}
