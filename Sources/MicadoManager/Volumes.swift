import DockerEngine
import Foundation
import MicadoCore
import MicadoStore

/// Applications' named volumes: where each lives, and their removal.
///
/// A named volume is a local volume of one node's engine, made there by the first task that
/// mounts it. micado chooses that node (its home) before a task of it is placed, and labels
/// the node `micado.volume.NAME=home`; the services that mount the volume are constrained to
/// that label (`constraints(for:)`), so each of their tasks, after any restart, roll, crash
/// or re-apply, runs where the data is. The home is stored first, then put on the node's
/// labels, which every pass re-makes from the store. A node that is a home is never drained
/// or deleted (the scaler protects it, a drain refuses it), until `apps rm --volumes`.
final class Volumes: RecordsEvents, ReadsSwarm {
    let store: any VolumeStore & ContainerStore & InstanceStore
    let engines: NodeEngines
    let eventLog: EventLog
    let swarm: SwarmView
    /// When each volume was first found still in use by a stopping task: that is said (as an
    /// event) only once it has lasted a minute, since a task usually stops within seconds.
    let inUseSince = InUseSince()

    init(store: any VolumeStore & ContainerStore & InstanceStore, engines: NodeEngines, eventLog: EventLog, swarm: SwarmView) {
        self.store = store
        self.engines = engines
        self.eventLog = eventLog
        self.swarm = swarm
    }

    /// The engine names of the named volumes a record's service mounts.
    static func names(of record: ContainerRecord) -> [String] {
        guard let application = record.application else { return [] }
        let sources = Set((record.settings?.options?.volumes ?? []).compactMap(\.source))
        return sources.sorted().map { ApplicationSpec.volumeName(application: application, volume: $0) }
    }

    /// The placement constraints that keep a record's tasks where its named volumes live.
    static func constraints(for record: ContainerRecord) -> [String] {
        names(of: record).map { "node.labels.\(Label.volume($0)) == home" }
    }

    /// The manager's own node: every volume's home when there is no cloud.
    func managerNode() async throws(MicadoError) -> String {
        try await engines.own.info().swarm.nodeID
    }

    /// The nodes that hold a volume: never drained, never deleted.
    func homes() async throws(MicadoError) -> [String: [String]] {
        var homes: [String: [String]] = [:]
        for volume in try await store.volumes() {
            if let node = volume.nodeID { homes[node, default: []].append(volume.name) }
        }
        return homes
    }

    /// Gives each volume that a running service mounts and that has no home one: the home of
    /// the other volumes its services mount if they have one, else the node `choose` picks
    /// for the location and the memory (MiB) of all its services' replicas; nil leaves it
    /// homeless for now (its tasks wait, and the scaler starts an instance for them).
    /// Returns whether it gave one.
    @discardableResult
    func placeHomeless(
        choose: (_ location: String?, _ memoryMiB: Int) async throws(MicadoError) -> String?
    ) async throws(MicadoError)
        -> Bool
    {
        var volumes = try await store.volumes()
        guard volumes.contains(where: { $0.nodeID == nil && !$0.removing }) else { return false }
        let records = try await store.containers().filter { $0.desired == .running && $0.application != nil }
        var placed = false
        for index in volumes.indices where volumes[index].nodeID == nil && !volumes[index].removing {
            let volume = volumes[index]
            let mounting = records.filter { Self.names(of: $0).contains(volume.name) }
            guard !mounting.isEmpty else { continue }
            // Every volume its services mount lives on one node with them.
            let group = Set(mounting.flatMap(Self.names(of:)))
            let known = Set(volumes.filter { group.contains($0.name) }.compactMap(\.nodeID))
            guard known.count <= 1 else { continue }  // refused at apply; a store edited by hand waits
            let home: String
            if let node = known.first {
                home = node
            } else {
                let memory = mounting.reduce(0) { $0 + $1.memoryMiB * max(1, $1.wantedReplicas) }
                guard let node = try await choose(mounting.first?.location, memory) else { continue }
                home = node
            }
            for other in volumes.indices where group.contains(volumes[other].name) && volumes[other].nodeID == nil {
                volumes[other].nodeID = home
                let services = mounting.map(\.name).joined(separator: ", ")
                try await store.updateVolume(
                    volumes[other],
                    event: event(
                        .volumeHomed,
                        volumes[other].name,
                        "volume \(volumes[other].name) lives on node \(home.prefix(12)) from now on: \(services) run there"
                    )
                )
            }
            placed = true
        }
        if placed {
            try await syncLabels()
            await swarm.invalidate()
        }
        return placed
    }

    /// Puts on each node the labels of the volumes that live there, and takes off the others.
    func syncLabels() async throws(MicadoError) {
        let volumes = try await store.volumes()
        for node in try await engines.own.nodes() {
            var labels = node.spec.labels ?? [:]
            let wanted = Set(volumes.filter { $0.nodeID == node.id }.map { Label.volume($0.name) })
            let present = Set(labels.keys.filter { $0.hasPrefix(Label.volumePrefix) })
            guard wanted != present || wanted.contains(where: { labels[$0] != "home" }) else { continue }
            for key in present.subtracting(wanted) { labels[key] = nil }
            for key in wanted { labels[key] = "home" }
            var spec = node.spec
            spec.labels = labels
            try await engines.own.updateNode(node.id, version: node.version, spec: spec)
        }
    }

    /// `apps rm --volumes`: each volume of the application is to go, once no task mounts it.
    func requestRemoval(of application: String) async throws(MicadoError) -> [String] {
        var names: [String] = []
        for var volume in try await store.volumes() where volume.application == application && !volume.removing {
            volume.removing = true
            try await store.updateVolume(volume, event: nil)
            names.append(volume.name)
        }
        return names
    }

    /// Removes the volumes whose removal was asked for and that no record mounts any more,
    /// from their node's engine, with their data. One still in use (a task that is stopping)
    /// is tried again on the next pass. Returns those still waiting.
    @discardableResult
    func removeRequested() async -> [String] {
        guard let volumes = try? await store.volumes().filter(\.removing), !volumes.isEmpty,
            let records = try? await store.containers(), let instances = try? await store.instances()
        else { return [] }
        let mounted = Set(records.flatMap(Self.names(of:)))
        var waiting: [String] = []
        for volume in volumes {
            var deleted = false
            await step(.volumeRemoveFailed, volume.name) { () throws(MicadoError) in
                guard !mounted.contains(volume.name) else {
                    throw .conflict(
                        "volume \(volume.name) is still mounted by a service of \(volume.application); it is removed once that service is"
                    )
                }
                if let node = volume.nodeID, instances.contains(where: { $0.runs(node: node) }) {
                    let engine = try await engines.engine(forNode: node)
                    do throws(MicadoError) {
                        try await engine.removeVolume(volume.name)
                    } catch  where error.code == .notFound {
                    } catch  where error.code == .conflict {
                        guard await inUseSince.longerThan(.seconds(60), volume.name) else { return }
                        throw .conflict("volume \(volume.name) is still in use on its node: \(error.message)")
                    }
                }
                try await store.deleteVolume(
                    volume.name,
                    event: event(.volumeRemoved, volume.name, "removed volume \(volume.name) of \(volume.application) with its data")
                )
                deleted = true
            }
            if deleted {
                await inUseSince.forget(volume.name)
            } else {
                waiting.append(volume.name)
            }
        }
        try? await syncLabels()
        return waiting
    }

    /// What `micado explain` says of a record's volumes.
    func explanation(of record: ContainerRecord) async throws(MicadoError) -> [String] {
        let names = Self.names(of: record)
        guard !names.isEmpty else { return [] }
        let volumes = try await store.volumes()
        let instances = try await store.instances()
        var lines: [String] = []
        for name in names {
            guard let volume = volumes.first(where: { $0.name == name }), let node = volume.nodeID else {
                lines.append("its volume \(name) has no home yet: it is made on the first instance with room for its services")
                continue
            }
            if let instance = instances.first(where: { $0.runs(node: node) }) {
                lines.append(
                    "its volume \(name) lives on \(instance.isManager ? "the manager's node" : "instance \(instance.id)"): it runs only there, and that instance is never drained"
                )
            } else {
                lines.append(
                    "its volume \(name) lived on node \(node.prefix(12)), which micado no longer knows: its data went with it; 'micado apps rm \(volume.application) --volumes' and apply again to start anew"
                )
            }
        }
        return lines
    }
}

/// When each volume was first found in use.
actor InUseSince {
    private var since: [String: ContinuousClock.Instant] = [:]

    /// Whether `name` has been in use for longer than `limit` (starting its clock now if new).
    func longerThan(_ limit: Duration, _ name: String) -> Bool {
        let now = ContinuousClock.now
        let first = since[name] ?? now
        since[name] = first
        return now - first > limit
    }

    func forget(_ name: String) { since[name] = nil }
}
