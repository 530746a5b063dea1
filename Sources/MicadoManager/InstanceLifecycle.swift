import Foundation
import MicadoClouds
import MicadoCore
import MicadoStore

/// Where a cloud instance goes next: a pure function of its record and what was observed
/// of it (the cloud's answer, its swarm node, its tasks, the time). The orchestrator
/// observes, asks `decide`, and carries out the step; every transition is unit-tested
/// without a cloud or an engine, resuming a half-made instance from each state included.
public enum InstanceLifecycle {
    /// What the cloud says about the instance; asked only while it boots.
    public enum CloudView: Sendable, Equatable {
        case notAsked
        case missing
        case present(CloudInstance.State, detail: String?)
    }

    /// The instance's swarm node, found by its engine's `micado.instance` label or the record's node ID.
    public struct NodeView: Sendable, Equatable {
        public var id: String
        public var ready: Bool
        public var drained: Bool
        public var message: String?
        public init(id: String, ready: Bool, drained: Bool, message: String? = nil) {
            self.id = id
            self.ready = ready
            self.drained = drained
            self.message = message
        }
    }

    /// Where the cloud says the instance's engine answers, once it has an address (clouds that
    /// hand one out by DHCP say so only after the create).
    public struct Reported: Sendable, Equatable {
        public var address: String
        public var engineEndpoint: String
        public init(address: String, engineEndpoint: String) {
            self.address = address
            self.engineEndpoint = engineEndpoint
        }
    }

    public struct Observation: Sendable, Equatable {
        public var now: Date
        /// A create call for it is under way in this process (not a crash to resume).
        public var createInFlight: Bool = false
        public var cloud: CloudView = .notAsked
        /// The address the cloud's description gave, if it gave one.
        public var reported: Reported?
        public var node: NodeView?
        public var runningTasks: Int = 0
        /// An application's named volume lives on it: a down one is waited for, never
        /// replaced (its data would go with it).
        public var holdsVolumes = false
        public init(
            now: Date,
            createInFlight: Bool = false,
            cloud: CloudView = .notAsked,
            reported: Reported? = nil,
            node: NodeView? = nil,
            runningTasks: Int = 0
        ) {
            self.now = now
            self.createInFlight = createInFlight
            self.cloud = cloud
            self.reported = reported
            self.node = node
            self.runningTasks = runningTasks
        }
    }

    /// One step. `move` records the new state with its event before anything else is done.
    public enum Step: Sendable, Equatable {
        case stay
        /// Ask the cloud about it, then decide again with its answer.
        case describe
        /// Call create again with the record's token (a crash cut the first call); see `created`/`createFailed`.
        case resumeCreate
        /// Record the address the cloud now reports (after checking micado may connect to it), then decide again.
        case addressed(Reported)
        /// Join its engine to the swarm through the engine's API (idempotent); then `move` if given.
        case join(then: Transition?)
        /// Load images and label the node, then become ready.
        case admit(nodeID: String, then: Transition)
        /// Set the node to drain (it is still active), then decide again.
        case drainNode(nodeID: String)
        /// Remove its node (if any) and delete it from the cloud; the record goes last.
        case delete(nodeID: String?)
        case move(Transition)
    }

    public struct Transition: Sendable, Equatable {
        public var state: InstanceState
        public var event: EventKind
        public var message: String
        public var wakeScaler: Bool
        public init(_ state: InstanceState, _ event: EventKind, _ message: String, wakeScaler: Bool = false) {
            self.state = state
            self.event = event
            self.message = message
            self.wakeScaler = wakeScaler
        }
    }

    /// The events of an instance that never came up: the scaler backs off in its location.
    public static let failedToComeUp: Set<EventKind> = [
        .instanceLost, .instanceBootFailed, .instanceBootTimeout, .instanceCreateFailed,
    ]

    public static func decide(_ record: InstanceRecord, _ seen: Observation, timings: CloudConfiguration.Timings) -> Step {
        let id = record.id
        let inState = seen.now.timeIntervalSince(record.stateSince ?? record.createdAt)
        switch record.state {
        case .creating:
            if seen.createInFlight { return .stay }
            guard record.token != nil, record.flavour != nil else {
                return .move(.init(.deleting, .instanceAbandoned, "\(id) has no token or flavour; deleting"))
            }
            return .resumeCreate
        case .booting, .joining:
            let state: CloudInstance.State
            let detail: String?
            switch seen.cloud {
            case .notAsked: return .describe
            case .missing: return .move(.init(.deleting, .instanceLost, "\(id) is gone from \(record.cloud) while booting"))
            case .present(let s, let d): (state, detail) = (s, d)
            }
            if state == .failed || state == .terminated {
                return .move(.init(.deleting, .instanceBootFailed, "\(id) failed to boot: \(detail ?? state.rawValue)"))
            }
            if inState > Double(timings.bootTimeoutSeconds) {
                return .move(
                    .init(
                        .deleting,
                        .instanceBootTimeout,
                        "\(id) not ready after \(timings.bootTimeoutSeconds) s; deleting and replacing"
                    )
                )
            }
            if record.address?.isEmpty ?? true {
                // The cloud hands the address out once the instance runs: until it does, wait (within the boot timeout).
                guard let reported = seen.reported, !reported.address.isEmpty else { return .stay }
                return .addressed(reported)
            }
            guard state == .running else { return .stay }
            guard let node = seen.node, node.ready else {
                return .join(then: record.state == .booting ? .init(.joining, .instanceJoining, "\(id) booted; joining the swarm") : nil)
            }
            let took = seen.now.timeIntervalSince(record.createdAt)
            return .admit(
                nodeID: node.id,
                then: .init(
                    .ready,
                    .instanceReady,
                    String(format: "%@ ready at %@ after %.1f s", id.rawValue, record.address ?? "?", took),
                    wakeScaler: true
                )
            )
        case .ready:
            guard let node = seen.node, node.ready else {
                let volumes = seen.holdsVolumes ? "; it holds a volume, so it is waited for and never replaced" : ""
                return .move(
                    .init(
                        .down,
                        .instanceDown,
                        "\(id) is down (\(seen.node?.message ?? "node missing")); its tasks move elsewhere\(volumes)"
                    )
                )
            }
            return .stay
        case .down:
            if seen.node?.ready == true { return .move(.init(.ready, .instanceReady, "\(id) is back")) }
            if inState >= Double(timings.gracePeriodSeconds), !seen.holdsVolumes {
                return .move(
                    .init(
                        .deleting,
                        .instanceReplace,
                        "\(id) down for \(Int(inState)) s (grace \(timings.gracePeriodSeconds) s); deleting it",
                        wakeScaler: true
                    )
                )
            }
            return .stay
        case .draining:
            if let node = seen.node, node.ready, !node.drained { return .drainNode(nodeID: node.id) }
            if seen.runningTasks == 0 || seen.node?.ready != true {
                return .move(.init(.deleting, .instanceDrained, "\(id) drained"))
            }
            if inState > Double(timings.drainTimeoutSeconds) {
                return .move(
                    .init(
                        .deleting,
                        .instanceDrainTimeout,
                        "drain of \(id) did not finish within \(timings.drainTimeoutSeconds) s (\(seen.runningTasks) task(s) left); deleting it anyway, its tasks are rescheduled"
                    )
                )
            }
            return .stay
        case .deleting:
            return .delete(nodeID: record.nodeID ?? seen.node?.id)
        }
    }

    /// After a create answered (the first call, or one resumed after a restart): the record
    /// keeps the cloud's ID, address and engine endpoint (the address may come later, from a
    /// description), and the instance boots.
    public static func created(_ record: InstanceRecord, _ instance: CloudInstance, resumed: Bool) -> (InstanceRecord, Transition) {
        var record = record
        record.cloudID = instance.id
        record.address = instance.address.isEmpty ? nil : instance.address
        record.engineEndpoint = instance.address.isEmpty || instance.engineEndpoint.isEmpty ? nil : instance.engineEndpoint
        let at = instance.address.isEmpty ? "; \(record.cloud) gives its address once it runs" : " at \(instance.address)"
        let message = "\(record.id) booting\(at)" + (resumed ? " (create resumed after a restart)" : "")
        return (record, .init(.booting, .instanceBooting, message))
    }

    /// Why the address a cloud reported for an instance cannot be its engine's, if it cannot:
    /// only a unicast IPv4 address that is neither this machine's (loopback, unspecified,
    /// link-local, any of its interfaces') nor the manager's own, and that no other live instance holds (two records
    /// on one engine would each take the other's node). A hostile or confused cloud must not
    /// make the manager connect anywhere it names.
    public static func addressProblem(
        _ address: String,
        managerAddress: String,
        heldBy others: [InstanceRecord],
        machineAddresses: Set<String> = []
    ) -> String? {
        guard let ip = IPv4(address) else { return "'\(Text.escaped(address))' is not an IPv4 address" }
        let first = ip.value >> 24
        if first == 0 || first == 127 { return "\(address) is this machine's (\(first == 0 ? "unspecified" : "loopback"))" }
        if ip.value >> 16 == 0xA9FE { return "\(address) is link-local" }
        if first >= 224 { return "\(address) is not unicast" }
        if address == managerAddress { return "\(address) is the manager's own address" }
        if machineAddresses.contains(address) { return "\(address) is an address of the manager's machine" }
        if let holder = others.first(where: { $0.address == address && $0.state != .deleting }) { return "\(address) is \(holder.id)'s" }
        return nil
    }

    /// After a resumed create was refused: the instance is deleted (whatever the cloud made of it).
    public static func createFailed(_ record: InstanceRecord, _ error: CloudError) -> Transition {
        .init(.deleting, .instanceCreateFailed, "\(record.id): \(error)")
    }
}
