// Swarm's words for the state of a task, a node and an engine's membership, as the Engine API
// writes them. Each is an open set of known values: a newer engine may answer one micado does
// not know, which is then carried as written (and never matches a known one), not refused.

/// One of Swarm's words: coded as its string (the standard library's coding of a
/// string-backed `RawRepresentable`, which keeps any value) and shown as it.
public protocol SwarmWord: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible where RawValue == String {}

extension SwarmWord {
    public var description: String { rawValue }
}

/// A task's state, and the state it is meant to reach (moby's `TaskState`).
public struct TaskState: SwarmWord {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let new = TaskState(rawValue: "new")
    public static let allocated = TaskState(rawValue: "allocated")
    public static let pending = TaskState(rawValue: "pending")
    public static let assigned = TaskState(rawValue: "assigned")
    public static let accepted = TaskState(rawValue: "accepted")
    public static let preparing = TaskState(rawValue: "preparing")
    public static let ready = TaskState(rawValue: "ready")
    public static let starting = TaskState(rawValue: "starting")
    public static let running = TaskState(rawValue: "running")
    public static let complete = TaskState(rawValue: "complete")
    public static let shutdown = TaskState(rawValue: "shutdown")
    public static let failed = TaskState(rawValue: "failed")
    public static let rejected = TaskState(rawValue: "rejected")
    public static let remove = TaskState(rawValue: "remove")
    public static let orphaned = TaskState(rawValue: "orphaned")
    /// Every state the Engine API documents, in its order (openapi.yaml lists them).
    public static let known: [TaskState] = [
        .new, .allocated, .pending, .assigned, .accepted, .preparing, .ready, .starting, .running, .complete, .shutdown, .failed,
        .rejected, .remove, .orphaned,
    ]
    /// A state a task leaves only by being replaced: it ended, or never began.
    public var isFinal: Bool { [.complete, .shutdown, .failed, .rejected, .remove, .orphaned].contains(self) }
}

/// A node's state as the swarm's managers see it (moby's `NodeState`).
public struct SwarmNodeState: SwarmWord {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let unknown = SwarmNodeState(rawValue: "unknown")
    public static let down = SwarmNodeState(rawValue: "down")
    public static let ready = SwarmNodeState(rawValue: "ready")
    public static let disconnected = SwarmNodeState(rawValue: "disconnected")
}

/// An engine's own membership of a swarm (moby's `LocalNodeState`).
public struct LocalNodeState: SwarmWord {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let inactive = LocalNodeState(rawValue: "inactive")
    public static let pending = LocalNodeState(rawValue: "pending")
    public static let active = LocalNodeState(rawValue: "active")
    public static let error = LocalNodeState(rawValue: "error")
    public static let locked = LocalNodeState(rawValue: "locked")
}

/// How a service's last rolling update went (moby's `UpdateState`).
public struct ServiceUpdateState: SwarmWord {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let updating = ServiceUpdateState(rawValue: "updating")
    public static let paused = ServiceUpdateState(rawValue: "paused")
    public static let completed = ServiceUpdateState(rawValue: "completed")
    public static let rollbackStarted = ServiceUpdateState(rawValue: "rollback_started")
    public static let rollbackPaused = ServiceUpdateState(rawValue: "rollback_paused")
    public static let rollbackCompleted = ServiceUpdateState(rawValue: "rollback_completed")
}
