import Foundation
import MicadoClouds
import MicadoCore
import MicadoStore
import Testing

@testable import MicadoManager

/// Every transition of a cloud instance, without a cloud or an engine: the record and what
/// was observed go in, the step comes out.
struct InstanceLifecycleTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)
    static let timings: CloudConfiguration.Timings = {
        var t = CloudConfiguration.Timings()
        t.bootTimeoutSeconds = 120
        t.gracePeriodSeconds = 60
        t.drainTimeoutSeconds = 30
        return t
    }()

    static func record(
        _ state: InstanceState,
        since seconds: TimeInterval = 0,
        token: String? = "0123456789abcdef",
        nodeID: String? = nil
    ) -> InstanceRecord {
        var r = InstanceRecord(
            id: InstanceID(token: "0123456789abcdef"),
            hostname: "h",
            cloud: "local",
            location: "eu",
            role: .worker,
            state: state,
            address: "10.0.0.5",
            createdAt: start,
            updatedAt: start
        )
        r.token = token
        r.flavour = "small"
        r.nodeID = nodeID
        r.stateSince = start.addingTimeInterval(-seconds)
        return r
    }

    static func seen(
        after seconds: TimeInterval = 1,
        inFlight: Bool = false,
        cloud: InstanceLifecycle.CloudView = .notAsked,
        node: InstanceLifecycle.NodeView? = nil,
        running: Int = 0
    ) -> InstanceLifecycle.Observation {
        .init(now: start.addingTimeInterval(seconds), createInFlight: inFlight, cloud: cloud, node: node, runningTasks: running)
    }

    static let readyNode = InstanceLifecycle.NodeView(id: "n1", ready: true, drained: false)
    static let downNode = InstanceLifecycle.NodeView(id: "n1", ready: false, drained: false, message: "heartbeat failure")

    func decide(_ r: InstanceRecord, _ o: InstanceLifecycle.Observation) -> InstanceLifecycle.Step {
        InstanceLifecycle.decide(r, o, timings: Self.timings)
    }

    func movesTo(_ step: InstanceLifecycle.Step) -> (InstanceState, EventKind)? {
        if case .move(let t) = step { return (t.state, t.event) }
        return nil
    }

    @Test func theIDIsMicadosOwnAndStableForAToken() {
        #expect(InstanceID(token: "ABCDEF0123456789").rawValue == "mabcdef0123")
        #expect(InstanceID(token: "abcdef0123456789") == InstanceID(token: "abcdef0123456789"))
    }

    // MARK: creating (a crash between the record and the cloud's answer)

    @Test func creatingInFlightWaits() {
        #expect(decide(Self.record(.creating), Self.seen(inFlight: true)) == .stay)
    }

    @Test func creatingAfterACrashResumesTheCreate() {
        #expect(decide(Self.record(.creating), Self.seen()) == .resumeCreate)
    }

    @Test func creatingWithoutTokenIsAbandoned() {
        #expect(movesTo(decide(Self.record(.creating, token: nil), Self.seen()))! == (.deleting, .instanceAbandoned))
    }

    @Test func aResumedCreateKeepsTheCloudsAnswer() {
        let instance = CloudInstance(id: "i-0abc", address: "10.0.0.9", state: .booting, engineEndpoint: "tcp://10.0.0.9:2376", tags: [:])
        let (updated, transition) = InstanceLifecycle.created(Self.record(.creating), instance, resumed: true)
        #expect(updated.cloudID == "i-0abc" && updated.address == "10.0.0.9" && updated.engineEndpoint == "tcp://10.0.0.9:2376")
        #expect(transition.state == .booting)
        #expect(InstanceLifecycle.createFailed(Self.record(.creating), CloudError(.capacity, "none")).state == .deleting)
    }

    // MARK: booting and joining

    @Test func bootingAsksTheCloudFirst() {
        #expect(decide(Self.record(.booting), Self.seen()) == .describe)
        #expect(decide(Self.record(.joining), Self.seen()) == .describe)
    }

    @Test func bootingWhileTheCloudStillBootsWaits() {
        #expect(decide(Self.record(.booting), Self.seen(cloud: .present(.booting, detail: nil))) == .stay)
    }

    @Test func bootingInstanceThatVanishedOrFailedIsDeleted() {
        #expect(movesTo(decide(Self.record(.booting), Self.seen(cloud: .missing)))! == (.deleting, .instanceLost))
        #expect(
            movesTo(decide(Self.record(.joining), Self.seen(cloud: .present(.failed, detail: "no engine"))))! == (
                .deleting, .instanceBootFailed
            )
        )
        #expect(
            movesTo(decide(Self.record(.booting), Self.seen(cloud: .present(.terminated, detail: nil))))! == (
                .deleting, .instanceBootFailed
            )
        )
    }

    @Test func bootingPastTheTimeoutIsReplaced() {
        let step = decide(Self.record(.booting, since: 100), Self.seen(after: 21, cloud: .present(.booting, detail: nil)))
        #expect(movesTo(step)! == (.deleting, .instanceBootTimeout))
        #expect(decide(Self.record(.booting, since: 100), Self.seen(after: 19, cloud: .present(.booting, detail: nil))) == .stay)
    }

    /// A cloud that hands the address out once the instance runs (DHCP): the create's answer
    /// has none; the instance waits for a description that gives one, records it, then joins.
    @Test func anAddressThatComesLaterIsRecordedBeforeTheJoin() {
        var record = Self.record(.booting)
        record.address = nil
        let reported = InstanceLifecycle.Reported(address: "10.0.0.9", engineEndpoint: "tcp://10.0.0.9:2376")
        #expect(decide(record, Self.seen(cloud: .present(.booting, detail: nil))) == .stay)
        #expect(decide(record, Self.seen(cloud: .present(.running, detail: nil))) == .stay)
        var seen = Self.seen(cloud: .present(.running, detail: nil))
        seen.reported = reported
        #expect(decide(record, seen) == .addressed(reported))
        // Still bounded by the boot timeout, and a failure still fails it.
        var late = Self.seen(after: 21, cloud: .present(.running, detail: nil))
        late.reported = nil
        #expect(movesTo(decide(Self.record(.booting, since: 100).withoutAddress, late))! == (.deleting, .instanceBootTimeout))
        #expect(movesTo(decide(record, Self.seen(cloud: .present(.failed, detail: "ERROR"))))! == (.deleting, .instanceBootFailed))
        // Created without an address: nothing invented.
        let instance = CloudInstance(
            id: "5f0c2b1e-0000-4000-8000-000000000001",
            address: "",
            state: .booting,
            engineEndpoint: "",
            tags: [:]
        )
        let (created, transition) = InstanceLifecycle.created(Self.record(.creating), instance, resumed: false)
        #expect(created.address == nil && created.engineEndpoint == nil && transition.state == .booting)
        #expect(transition.message.contains("gives its address once it runs"))
    }

    @Test func aRunningInstanceIsJoinedThenAdmitted() {
        let joining = decide(Self.record(.booting), Self.seen(cloud: .present(.running, detail: nil)))
        guard case .join(let then) = joining else {
            Issue.record("\(joining)")
            return
        }
        #expect(then?.state == .joining)
        // Resumed in joining (a crash after the join): join again (idempotent) without a new event.
        #expect(decide(Self.record(.joining), Self.seen(cloud: .present(.running, detail: nil))) == .join(then: nil))
        // A node that is not ready yet is joined again, not admitted.
        #expect(decide(Self.record(.joining), Self.seen(cloud: .present(.running, detail: nil), node: Self.downNode)) == .join(then: nil))
        let admit = decide(Self.record(.joining), Self.seen(cloud: .present(.running, detail: nil), node: Self.readyNode))
        guard case .admit(let nodeID, let ready) = admit else {
            Issue.record("\(admit)")
            return
        }
        #expect(nodeID == "n1" && ready.state == .ready && ready.wakeScaler)
    }

    // MARK: ready and down

    @Test func readyStaysWhileItsNodeIsReady() {
        #expect(decide(Self.record(.ready), Self.seen(node: Self.readyNode)) == .stay)
    }

    @Test func readyGoesDownWithItsNode() {
        #expect(movesTo(decide(Self.record(.ready), Self.seen(node: Self.downNode)))! == (.down, .instanceDown))
        #expect(movesTo(decide(Self.record(.ready), Self.seen(node: nil)))! == (.down, .instanceDown))
    }

    @Test func downComesBackOrIsReplacedAfterTheGracePeriod() {
        #expect(movesTo(decide(Self.record(.down, since: 10), Self.seen(node: Self.readyNode)))! == (.ready, .instanceReady))
        #expect(decide(Self.record(.down, since: 10), Self.seen(node: Self.downNode)) == .stay)
        let replace = decide(Self.record(.down, since: 59), Self.seen(after: 1, node: Self.downNode))
        guard case .move(let t) = replace else {
            Issue.record("\(replace)")
            return
        }
        #expect(t.state == .deleting && t.event == .instanceReplace && t.wakeScaler)
        // One that holds a named volume is waited for however long it is down: its data is there.
        var holder = Self.seen(after: 3600, node: Self.downNode)
        holder.holdsVolumes = true
        #expect(decide(Self.record(.down, since: 59), holder) == .stay)
    }

    // MARK: draining and deleting

    @Test func drainingFirstDrainsTheNode() {
        #expect(decide(Self.record(.draining), Self.seen(node: Self.readyNode, running: 2)) == .drainNode(nodeID: "n1"))
    }

    @Test func drainingWaitsForItsTasksThenDeletes() {
        let drained = InstanceLifecycle.NodeView(id: "n1", ready: true, drained: true)
        #expect(decide(Self.record(.draining, since: 5), Self.seen(node: drained, running: 2)) == .stay)
        #expect(movesTo(decide(Self.record(.draining, since: 5), Self.seen(node: drained, running: 0)))! == (.deleting, .instanceDrained))
        #expect(
            movesTo(decide(Self.record(.draining, since: 5), Self.seen(node: Self.downNode, running: 2)))! == (
                .deleting, .instanceDrained
            )
        )
        #expect(
            movesTo(decide(Self.record(.draining, since: 31), Self.seen(node: drained, running: 2)))! == (
                .deleting, .instanceDrainTimeout
            )
        )
    }

    @Test func deletingRemovesTheNodeItKnows() {
        #expect(decide(Self.record(.deleting, nodeID: "n7"), Self.seen()) == .delete(nodeID: "n7"))
        #expect(decide(Self.record(.deleting), Self.seen(node: Self.readyNode)) == .delete(nodeID: "n1"))
        // A half-made instance (a crash before the create answered): deleted by token, no node.
        #expect(decide(Self.record(.deleting), Self.seen()) == .delete(nodeID: nil))
    }

    @Test func everyStateHasAStep() {
        for state in InstanceState.allCases {
            _ = decide(Self.record(state), Self.seen())
        }
    }

    /// An address of the manager's own machine (its interfaces, read with getifaddrs) is never an instance's.
    @Test func anAddressOfThisMachineIsNoInstances() {
        let machine = HostAddresses.ipv4()
        #expect(machine.contains("127.0.0.1"), "\(machine)")
        #expect(InstanceLifecycle.addressProblem("10.9.9.9", managerAddress: "10.0.0.2", heldBy: [], machineAddresses: ["10.9.9.9"]) != nil)
        #expect(InstanceLifecycle.addressProblem("10.9.9.8", managerAddress: "10.0.0.2", heldBy: [], machineAddresses: ["10.9.9.9"]) == nil)
    }
}

extension InstanceRecord {
    var withoutAddress: InstanceRecord {
        var record = self
        record.address = nil
        return record
    }
}
