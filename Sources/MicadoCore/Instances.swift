/// micado's own name for an instance. It is made from the create call's idempotency token
/// before any cloud is asked, so the store holds the record before the instance exists; the
/// cloud's own ID (`i-0abc…` on EC2) is learned from its answer and kept beside it.
public struct InstanceID: RawRepresentable, Hashable, Comparable, Codable, Sendable, CustomStringConvertible {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }

    /// `m` and the token's first ten hex digits: short, and the same on every retry of a create.
    public init(token: String) {
        rawValue = "m" + String(token.lowercased().filter(\.isHexDigit).prefix(10))
    }

    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
    public var description: String { rawValue }
    public static func < (a: InstanceID, b: InstanceID) -> Bool { a.rawValue < b.rawValue }
}

/// Where an instance is in its life. Cloud instances go creating → booting → joining →
/// ready (↔ down), and draining → deleting on the way out; the manager's own engine is
/// always ready.
public enum InstanceState: String, Codable, Sendable, CaseIterable {
    /// The record exists; the cloud's create call is under way (or was cut by a crash).
    case creating
    /// The cloud made it; its engine is not answering yet.
    case booting
    /// Its engine answers; the manager joined it to the swarm and waits for the node.
    case joining
    case ready
    /// Its node stopped answering: its tasks move elsewhere; replaced after the grace period.
    case down
    /// Taking no new tasks; deleted once its tasks are gone.
    case draining
    case deleting

    /// Not ready yet, but on its way: the scaler counts it as capacity to come.
    public var isStarting: Bool { self == .creating || self == .booting || self == .joining }

    /// A Swarm node's state (`ready`, `down`, `disconnected`, `unknown`) in these words, for a
    /// node without a record (the manager's own, or one micado did not make).
    public init(swarmNodeState: SwarmNodeState) { self = swarmNodeState == .ready ? .ready : .down }
}

/// The manager's own engine, or an instance started on a cloud.
public enum InstanceRole: String, Codable, Sendable, CaseIterable {
    case manager, worker
}

/// A Swarm node's availability: whether it takes new tasks.
public enum NodeAvailability: String, Codable, Sendable, CaseIterable {
    case active, pause, drain
}

/// What an instance is for (MiCADO's `start -n`): database instances take only containers
/// placed on them by location and are never removed by the scaler.
public enum InstancePurpose: String, Codable, Sendable, CaseIterable {
    case application, database
}

/// The swarm generic resource through which micado schedules memory: each node advertises
/// its MiB, each service reserves its own.
public enum SchedulerResource {
    public static let memory = "mem"
}
