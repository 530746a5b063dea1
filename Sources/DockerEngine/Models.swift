import Foundation
import MicadoCore

// Typed views of the Engine API's JSON, with only the fields micado reads.
// Field names follow the API (see moby's api/swagger.yaml), mapped to Swift casing.

public struct EngineVersion: Decodable, Sendable {
    public var version: String
    public var apiVersion: String
    public var minAPIVersion: String?
    enum CodingKeys: String, CodingKey {
        case version = "Version"
        case apiVersion = "ApiVersion"
        case minAPIVersion = "MinAPIVersion"
    }
}

public struct SystemInfo: Decodable, Sendable {
    public struct Swarm: Decodable, Sendable {
        public var localNodeState: LocalNodeState
        public var nodeID: String
        public var nodeAddr: String?
        public var controlAvailable: Bool?
        enum CodingKeys: String, CodingKey {
            case localNodeState = "LocalNodeState"
            case nodeID = "NodeID"
            case nodeAddr = "NodeAddr"
            case controlAvailable = "ControlAvailable"
        }
    }
    public var id: String?
    public var name: String
    public var serverVersion: String?
    public var memTotal: Int64?
    public var cpus: Int?
    public var swarm: Swarm
    enum CodingKeys: String, CodingKey {
        case id = "ID"
        case name = "Name"
        case serverVersion = "ServerVersion"
        case memTotal = "MemTotal"
        case cpus = "NCPU"
        case swarm = "Swarm"
    }
}

public struct SwarmInspect: Decodable, Sendable {
    public struct JoinTokens: Decodable, Sendable {
        public var worker: String
        public var manager: String
        enum CodingKeys: String, CodingKey {
            case worker = "Worker"
            case manager = "Manager"
        }
    }
    public var id: String
    public var joinTokens: JoinTokens
    enum CodingKeys: String, CodingKey {
        case id = "ID"
        case joinTokens = "JoinTokens"
    }
}

public struct ObjectVersion: Codable, Sendable {
    public var index: UInt64
    enum CodingKeys: String, CodingKey { case index = "Index" }
}

public struct GenericResource: Codable, Sendable, Equatable {
    public struct Discrete: Codable, Sendable, Equatable {
        public var kind: String
        public var value: Int64
        enum CodingKeys: String, CodingKey {
            case kind = "Kind"
            case value = "Value"
        }
    }
    public var discrete: Discrete?
    enum CodingKeys: String, CodingKey { case discrete = "DiscreteResourceSpec" }

    public init(kind: String, value: Int64) { discrete = Discrete(kind: kind, value: value) }
}

public struct Node: Decodable, Sendable {
    public struct Description: Decodable, Sendable {
        public struct Resources: Decodable, Sendable {
            public var nanoCPUs: Int64?
            public var memoryBytes: Int64?
            public var genericResources: [GenericResource]?
            enum CodingKeys: String, CodingKey {
                case nanoCPUs = "NanoCPUs"
                case memoryBytes = "MemoryBytes"
                case genericResources = "GenericResources"
            }
        }
        public struct Engine: Decodable, Sendable {
            public var engineVersion: String?
            /// The engine's own labels (daemon.json `labels`), set when the instance boots.
            public var labels: [String: String]?
            enum CodingKeys: String, CodingKey {
                case engineVersion = "EngineVersion"
                case labels = "Labels"
            }
        }
        public var hostname: String?
        public var resources: Resources?
        public var engine: Engine?
        enum CodingKeys: String, CodingKey {
            case hostname = "Hostname"
            case resources = "Resources"
            case engine = "Engine"
        }
    }
    public struct Spec: Codable, Sendable {
        public var role: InstanceRole?
        public var availability: NodeAvailability?
        public var labels: [String: String]?
        public var name: String?
        enum CodingKeys: String, CodingKey {
            case role = "Role"
            case availability = "Availability"
            case labels = "Labels"
            case name = "Name"
        }
    }
    public struct Status: Decodable, Sendable {
        public var state: SwarmNodeState
        public var addr: String?
        public var message: String?
        enum CodingKeys: String, CodingKey {
            case state = "State"
            case addr = "Addr"
            case message = "Message"
        }
    }
    public var id: String
    public var version: ObjectVersion
    public var description: Description?
    public var spec: Spec
    public var status: Status
    enum CodingKeys: String, CodingKey {
        case id = "ID"
        case version = "Version"
        case description = "Description"
        case spec = "Spec"
        case status = "Status"
    }

    /// A label its engine booted with (not the node's own labels, which the manager sets).
    public func engineLabel(_ key: String) -> String? { description?.engine?.labels?[key] }

    /// The node's discrete generic resource of this kind (micado's `mem`, in MiB), if it advertises one.
    public func genericResource(_ kind: String) -> Int64? {
        description?.resources?.genericResources?.first { $0.discrete?.kind == kind }?.discrete?.value
    }
}

public struct SwarmService: Decodable, Sendable {
    /// How the last rolling update went (`updating`, `paused`, `completed`, `rollback_started`,
    /// `rollback_paused`, `rollback_completed`), and why.
    public struct UpdateStatus: Decodable, Sendable {
        public var state: ServiceUpdateState?
        public var message: String?
        enum CodingKeys: String, CodingKey {
            case state = "State"
            case message = "Message"
        }
        public var rolledBack: Bool {
            guard let state else { return false }
            return [.paused, .rollbackStarted, .rollbackPaused, .rollbackCompleted].contains(state)
        }
    }
    public var id: String
    public var version: ObjectVersion
    public var spec: ServiceSpec
    public var createdAt: String?
    public var updateStatus: UpdateStatus?
    enum CodingKeys: String, CodingKey {
        case id = "ID"
        case version = "Version"
        case spec = "Spec"
        case createdAt = "CreatedAt"
        case updateStatus = "UpdateStatus"
    }
}

public struct SwarmTask: Decodable, Sendable {
    public struct Status: Decodable, Sendable {
        public struct ContainerStatus: Decodable, Sendable {
            public var containerID: String?
            public var exitCode: Int?
            enum CodingKeys: String, CodingKey {
                case containerID = "ContainerID"
                case exitCode = "ExitCode"
            }
        }
        public var timestamp: String?
        public var state: TaskState
        public var message: String?
        public var err: String?
        public var containerStatus: ContainerStatus?
        enum CodingKeys: String, CodingKey {
            case timestamp = "Timestamp"
            case state = "State"
            case message = "Message"
            case err = "Err"
            case containerStatus = "ContainerStatus"
        }
    }
    public var id: String
    public var serviceID: String
    public var nodeID: String?
    public var slot: Int?
    public var status: Status
    public var desiredState: TaskState
    public var updatedAt: String?
    enum CodingKeys: String, CodingKey {
        case id = "ID"
        case serviceID = "ServiceID"
        case nodeID = "NodeID"
        case slot = "Slot"
        case status = "Status"
        case
            desiredState = "DesiredState"
        case updatedAt = "UpdatedAt"
    }
}

public struct ImageInspect: Decodable, Sendable {
    public var id: String
    public var size: Int64?
    public var repoTags: [String]?
    public var repoDigests: [String]?
    enum CodingKeys: String, CodingKey {
        case id = "Id"
        case size = "Size"
        case repoTags = "RepoTags"
        case repoDigests = "RepoDigests"
    }
}

public struct ExecInspect: Decodable, Sendable {
    public var running: Bool
    public var exitCode: Int?
    enum CodingKeys: String, CodingKey {
        case running = "Running"
        case exitCode = "ExitCode"
    }
}

struct IDResponse: Decodable {
    var id: String
    enum CodingKeys: String, CodingKey {
        case id = "Id"
        case capitalID = "ID"
    }
    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decodeIfPresent(String.self, forKey: .id) ?? c.decode(String.self, forKey: .capitalID)
    }
}

struct EngineErrorBody: Decodable {
    var message: String
}

/// An Engine timestamp (RFC 3339 with nanoseconds) as a `Date`.
public func parseEngineTime(_ text: String?) -> Date? {
    text.flatMap(RFC3339.date)
}

/// A Swarm secret or config as the engine lists it (its data is never given back).
public struct SwarmObject: Decodable, Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case secret = "secrets"
        case config = "configs"
    }
    public struct Spec: Decodable, Sendable, Equatable {
        public var name: String
        public var labels: [String: String]?
        public init(name: String, labels: [String: String]?) {
            self.name = name
            self.labels = labels
        }
        enum CodingKeys: String, CodingKey {
            case name = "Name"
            case labels = "Labels"
        }
    }
    public var id: String
    public var spec: Spec
    public init(id: String, spec: Spec) {
        self.id = id
        self.spec = spec
    }
    enum CodingKeys: String, CodingKey {
        case id = "ID"
        case spec = "Spec"
    }
}

public struct NetworkSummary: Decodable, Sendable {
    public var id: String
    public var name: String
    public var labels: [String: String]?
    enum CodingKeys: String, CodingKey {
        case id = "Id"
        case name = "Name"
        case labels = "Labels"
    }
}
