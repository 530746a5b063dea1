import DockerEngine
import Foundation
import MicadoCore
import MicadoStore

/// What of ours runs on one node: tasks, the memory they reserve, and whether one of them
/// publishes a host port (and so cannot simply move to any other node).
struct NodeUsage {
    var count = 0
    var memory = 0
    var tasksMiB: [Int] = []
    var pinned = false
    /// Host ports its tasks publish.
    var ports: Set<Int> = []
}

/// What the engine says at one moment: nodes and the tasks of each service.
struct SwarmSnapshot: Sendable {
    var nodes: [String: Node]
    var tasksByService: [String: [SwarmTask]]

    /// The task that best tells the container's state: one meant to run, newest first.
    func currentTask(of serviceID: String?) -> SwarmTask? {
        guard let serviceID, let tasks = tasksByService[serviceID] else { return nil }
        return tasks.max { a, b in
            let ar = a.desiredState == .running
            let br = b.desiredState == .running
            if ar != br { return !ar }
            return (a.updatedAt ?? "") < (b.updatedAt ?? "")
        }
    }
}

/// The swarm as the manager's engine sees it, with the one snapshot the scaler, monitor and
/// proxy loops share (see `SnapshotCache`). Copies share the cache.
struct SwarmView: Sendable {
    let engine: any EngineAPI
    let cache = SnapshotCache()

    /// The whole swarm as seen at most `maxAge` ago.
    func snapshot(maxAge: Duration) async throws(MicadoError) -> SwarmSnapshot {
        try await cache.snapshot(maxAge: maxAge) { [self] in
            do throws(MicadoError) { return .success(try await snapshot()) } catch { return .failure(error) }
        }
    }

    /// A snapshot fetched now, of one service or of the whole swarm.
    func snapshot(serviceID: String? = nil) async throws(MicadoError) -> SwarmSnapshot {
        let nodes = try await engine.nodes()
        let tasks = try await engine.tasks(filters: serviceID.map { ["service": [$0]] } ?? [:])
        return SwarmSnapshot(
            nodes: Dictionary(nodes.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a }),
            tasksByService: Dictionary(grouping: tasks, by: \.serviceID)
        )
    }

    /// Forgets the shared snapshot after a change, so the next reader sees it.
    func invalidate() async { await cache.invalidate() }
}

/// A part that reads the swarm.
protocol ReadsSwarm: Sendable {
    var swarm: SwarmView { get }
}

extension ReadsSwarm {
    func snapshot(maxAge: Duration) async throws(MicadoError) -> SwarmSnapshot { try await swarm.snapshot(maxAge: maxAge) }
    func snapshot(serviceID: String? = nil) async throws(MicadoError) -> SwarmSnapshot { try await swarm.snapshot(serviceID: serviceID) }
}

extension SwarmSnapshot {
    /// How a node is called in views: micado's instance ID (from the label its engine boots
    /// with), or the manager's hostname.
    static func name(of node: Node) -> String {
        node.engineLabel(Label.instance) ?? node.description?.hostname ?? node.id
    }

    /// Tasks of our containers that run (or are about to) per node, and the memory they reserve.
    func usage(of records: [ContainerRecord]) -> [String: NodeUsage] {
        let byService = Dictionary(records.compactMap { r in r.serviceID.map { ($0, r) } }, uniquingKeysWith: { a, _ in a })
        var usage: [String: NodeUsage] = [:]
        for (serviceID, tasks) in tasksByService {
            guard let record = byService[serviceID] else { continue }
            for task in tasks
            where task.desiredState == .running
                && [TaskState.assigned, .accepted, .preparing, .ready, .starting, .running].contains(task.status.state)
            {
                guard let nodeID = task.nodeID else { continue }
                usage[nodeID, default: NodeUsage()].count += 1
                usage[nodeID, default: NodeUsage()].memory += record.memoryMiB
                usage[nodeID, default: NodeUsage()].tasksMiB.append(record.memoryMiB)
                if !record.publishedPorts.isEmpty {
                    usage[nodeID, default: NodeUsage()].pinned = true
                    usage[nodeID, default: NodeUsage()].ports.formUnion(record.publishedPorts)
                }
            }
        }
        return usage
    }
}
