import DockerEngine
import Foundation
import Logging
import MicadoClouds
import MicadoCore
import MicadoStore
import Prometheus
import ServiceLifecycle

/// Grows and shrinks the fleet: pending tasks become instances, idle instances are
/// drained and deleted. Runs a pass at once when woken (a launch, an instance change)
/// and otherwise every `interval`; every pass re-reads the store and the swarm, so it is
/// idempotent across restarts.
public final class Scaler: Service, RecordsEvents, ReadsSwarm {
    /// The configuration's default location (`defaults.location`), where a container without one runs.
    let configuredLocation: String
    let store: any ContainerStore & InstanceStore & EventStore
    let engine: any EngineAPI
    let clouds: CloudSet
    let metrics: ManagerMetrics
    let eventLog: EventLog
    let swarm: SwarmView
    /// What it last said about each pending container (container views show it).
    let scalerNotes: ScalerNotes
    /// What wakes it at once (a launch, an instance change).
    let scalerWakeUp: WakeUps
    let instances: any ScalerFleet
    let containers: any ContainerViews
    let volumes: any VolumeHomes
    let autoscaler: any PolicyExplanations
    /// Between passes when nothing wakes it.
    let interval: Duration
    /// Whether the last pass succeeded (only then may passes go faster).
    let pace = Pace()

    var defaultLocation: String { clouds.defaultLocation(configured: configuredLocation) }

    init(
        configuredLocation: String,
        store: any ContainerStore & InstanceStore & EventStore,
        engine: any EngineAPI,
        clouds: CloudSet,
        metrics: ManagerMetrics,
        eventLog: EventLog,
        swarm: SwarmView,
        scalerNotes: ScalerNotes,
        scalerWakeUp: WakeUps,
        instances: any ScalerFleet,
        containers: any ContainerViews,
        volumes: any VolumeHomes,
        autoscaler: any PolicyExplanations,
        interval: Duration = .milliseconds(500)
    ) {
        self.configuredLocation = configuredLocation
        self.store = store
        self.engine = engine
        self.clouds = clouds
        self.metrics = metrics
        self.eventLog = eventLog
        self.swarm = swarm
        self.scalerNotes = scalerNotes
        self.scalerWakeUp = scalerWakeUp
        self.instances = instances
        self.containers = containers
        self.volumes = volumes
        self.autoscaler = autoscaler
        self.interval = interval
    }

    public func run() async throws {
        guard !clouds.isEmpty else {
            // Nothing to scale; stay until shutdown, since a service that returns stops the manager.
            try? await gracefulShutdown()
            return
        }
        await instances.deleteOrphanInstances()
        var swept = ContinuousClock.now
        await PassLoop.run(every: { [self] in await currentInterval() }, wakeUps: scalerWakeUp) {
            do {
                try await pass()
                await pace.succeeded()
            } catch {
                // A failing pass (an engine gone) waits for the normal interval: no fast retries, no log flood.
                await pace.failed()
                logger.warning("scaler pass failed", metadata: ["error": "\(error)"])
            }
            // By the clock, not by passes: fast passes must not make fast cloud listings.
            if ContinuousClock.now - swept >= Self.sweepInterval {
                swept = ContinuousClock.now
                await instances.deleteOrphanInstances()
            }
        }
    }
}

extension Scaler {
    /// How often orphan instances are looked for (a cloud listing each time).
    static let sweepInterval = Duration.seconds(60)

    /// The loop's interval now: `startingInterval` while an instance starts on a cloud whose
    /// describes may be that frequent and the last pass succeeded, else `interval`.
    func currentInterval() async -> Duration {
        guard await pace.lastSucceeded, let records = try? await store.instances() else { return interval }
        let starting = records.filter { $0.state.isStarting }.compactMap { clouds.drivers[$0.cloud]?.describeInterval }
        guard let fastest = starting.min() else { return interval }
        return min(interval, max(Self.startingInterval, fastest))
    }

    /// Tasks that wait for room: the scheduler's words for "no node can take it".
    static func isWaitingForCapacity(_ task: SwarmTask) -> Bool {
        guard task.desiredState == .running, task.status.state == .pending else { return false }
        let text = (task.status.err ?? "") + " " + (task.status.message ?? "")
        return text.contains("insufficient resources") || text.contains("no suitable node") || text.contains("pending task scheduling")
    }

    /// Between passes while an instance starts: each step it takes (booted, joined, ready) is
    /// noticed within this instead of the loop's interval (describes stay as rare as the
    /// cloud's `describeInterval`).
    static let startingInterval = Duration.milliseconds(100)

    /// One scaler pass: converge instances, plan, act, and say why.
    public func pass() async throws(MicadoError) {
        let starting = try await store.instances().contains { $0.state.isStarting }
        let snapshot = try await snapshot(maxAge: starting ? Self.startingInterval : .milliseconds(500))
        let records = try await store.containers()
        let usage = snapshot.usage(of: records)
        await instances.convergeInstances(nodes: Array(snapshot.nodes.values), runningByNode: usage.mapValues(\.count))

        let instanceRecords = try await store.instances()
        let homes = try await volumes.homes()
        let homeOf = Dictionary(homes.flatMap { node, names in names.map { ($0, node) } }, uniquingKeysWith: { a, _ in a })
        var pending: [ScalingPlanner.PendingTask] = []
        var pinnedNotes: [(String, String)] = []
        for record in records where record.desired == .running {
            guard let serviceID = record.serviceID, let tasks = snapshot.tasksByService[serviceID] else { continue }
            // Each replica that waits for room and is still missing is one task to place.
            let running = tasks.filter { $0.status.state == .running && $0.desiredState == .running }.count
            let missing = min(tasks.filter(Self.isWaitingForCapacity).count, max(0, record.wantedReplicas - running))
            let volumeNames = Volumes.names(of: record)
            if missing > 0, !volumeNames.isEmpty, volumeNames.allSatisfy({ homeOf[$0] != nil }) {
                // Its volumes have a home: only room there helps, no new instance does.
                let node = homeOf[volumeNames[0]] ?? ""
                let holder = instanceRecords.first { $0.runs(node: node) }
                pinnedNotes.append(
                    (
                        record.name,
                        "waits for room on \(holder.map { "instance \($0.id)" } ?? "node \(node.prefix(12))"), which holds its volume \(volumeNames[0])"
                    )
                )
                continue
            }
            for replica in 0..<missing {
                let id = replica == 0 ? record.name : "\(record.name)#\(replica + 1)"
                pending.append(
                    .init(
                        id: id,
                        location: record.location ?? defaultLocation,
                        memoryMiB: record.memoryMiB,
                        ports: Set(record.publishedPorts)
                    )
                )
            }
        }
        let now = self.now
        var planned: [ScalingPlanner.Instance] = []
        for var record in instanceRecords where !record.isManager && record.purpose != .database {
            let state: ScalingPlanner.Instance.State
            switch record.state {
            case .creating, .booting, .joining: state = .booting
            case .ready: state = .ready
            case .down, .draining, .deleting: state = .draining
            }
            let reserved = record.nodeID.flatMap { usage[$0]?.memory } ?? 0
            // Idle since: kept in the store so a restart does not reset the grace period.
            if state == .ready {
                let idleSince = reserved == 0 ? (record.idleSince ?? now) : nil
                if idleSince != record.idleSince {
                    record.idleSince = idleSince
                    try await store.updateInstance(record, event: nil)
                }
            }
            planned.append(
                .init(
                    id: record.id.rawValue,
                    location: record.location ?? "",
                    capacityMiB: record.memoryMiB,
                    reservedMiB: reserved,
                    pricePerHour: record.pricePerHour,
                    state: state,
                    protected: record.first || record.nodeID.map { homes[$0] != nil } == true,
                    createdAt: record.createdAt,
                    idleSince: record.idleSince,
                    movableTasksMiB: record.nodeID.flatMap { usage[$0] }.flatMap { $0.pinned ? nil : $0.tasksMiB },
                    ports: record.nodeID.flatMap { usage[$0]?.ports } ?? []
                )
            )
        }
        // Volumes without a home: on the ready instance in their location with the least room
        // that holds all their services' replicas (none: the planner starts one for their tasks).
        // Each home given in this pass takes its room: two volumes never overbook one instance.
        var homedMiB: [String: Int] = [:]
        try await volumes.placeHomeless { location, memory throws(MicadoError) in
            let location = location ?? defaultLocation
            func free(_ instance: ScalingPlanner.Instance) -> Int { instance.freeMiB - homedMiB[instance.id, default: 0] }
            let fitting = planned.filter { $0.state == .ready && $0.location == location && free($0) >= memory }
            guard let best = fitting.min(by: { (free($0), $0.id) < (free($1), $1.id) }) else { return nil }
            homedMiB[best.id, default: 0] += memory
            return instanceRecords.first { $0.id.rawValue == best.id }?.nodeID
        }
        let plan = clouds.planner().plan(pending: pending, instances: planned, now: now)

        for addition in plan.add {
            await add(addition)
            metrics.scaleUps.increment()
        }
        for removal in plan.remove {
            await step(.instanceDrainFailed, removal.instanceID) { () throws(MicadoError) in
                try await instances.drain(InstanceID(removal.instanceID), reason: removal.reason)
                metrics.scaleDowns.increment()
            }
        }
        await scalerNotes.keep(only: Set(pending.map(\.id) + pinnedNotes.map(\.0)))
        for (name, note) in pinnedNotes { await scalerNotes.set(name, note) }
        for unplaceable in plan.unplaceable {
            guard await scalerNotes.note(unplaceable.taskID) != unplaceable.reason else { continue }
            await scalerNotes.set(unplaceable.taskID, unplaceable.reason)
            await note(.scalerUnplaceable, unplaceable.taskID, "\(unplaceable.taskID) cannot be placed: \(unplaceable.reason)")
        }
    }

    /// Starts one instance for an addition; on a capacity or quota refusal, the next
    /// cheapest flavour that still holds the load.
    func add(_ addition: ScalingPlanner.Addition) async {
        guard let cloud = clouds.cloud(forLocation: addition.location) else { return }
        if let failures = await instances.bootBackoff.holding(addition.location, now: now) {
            let wait = Int(failures.until.timeIntervalSince(now).rounded(.up))
            for task in addition.tasks {
                await scalerNotes.set(
                    task,
                    "waiting \(wait) s before another instance in \(addition.location): \(failures.count) failed to come up in a row (last: \(failures.lastReason))"
                )
            }
            return
        }
        // With tasks to carry, only flavours at least as large as the planned one; for min or headroom, any.
        let minimum = addition.tasks.isEmpty ? 0 : addition.flavour.memoryMiB
        var candidates =
            [addition.flavour]
            + cloud.flavours.filter { $0 != addition.flavour && $0.memoryMiB >= minimum }.sorted { $0.pricePerHour < $1.pricePerHour }
        let application = cloud.applications.keys.sorted().first ?? "node"
        while let flavour = candidates.first {
            candidates.removeFirst()
            let request = StartInstanceRequest(
                cloud: cloud.name,
                application: application,
                flavour: flavour.name,
                tag: "auto",
                role: .application,
                first: false
            )
            do {
                let reason = addition.tasks.isEmpty ? addition.reason : "\(addition.reason) (for \(addition.tasks.joined(separator: ", ")))"
                _ = try await instances.startInstance(request, location: addition.location, reason: reason)
                for task in addition.tasks {
                    await scalerNotes.set(task, "waiting for a new \(flavour.name) instance in \(addition.location)")
                }
                return
            } catch  where [.cloudCapacity, .cloudQuota, .cloudTransient].contains(error.code) {
                await note(
                    .scalerRetryFlavour,
                    addition.location,
                    "\(flavour.name) refused (\(error.message)); trying the next cheapest flavour"
                )
            } catch {
                await instances.backOff(addition.location, reason: error.message)
                await note(.scalerAddFailed, addition.location, "could not start an instance in \(addition.location): \(error.message)")
                return
            }
        }
        await instances.backOff(addition.location, reason: "every flavour that holds the load was refused")
    }

    /// `micado explain NAME`.
    public func explain(_ name: String) async throws(MicadoError) -> ExplainView {
        let record = try await containers.record(named: name)
        let view = try await containers.view(of: record)
        var lines: [String] = []
        let location = record.location ?? defaultLocation
        switch view.state {
        case .running:
            lines.append("\(name) runs on \(view.node ?? "?")" + (view.endpoint.map { " and answers at \($0)" } ?? ""))
        case .stopped:
            lines.append("\(name) was quit; 'micado remove -n \(name)' forgets it")
        case .missing:
            lines.append("\(name)'s service was removed outside micado")
        case .pending where view.reason?.hasPrefix("restarting after") == true:
            // Placed, but its command ends: no instance would help, so none is promised.
            lines.append("\(name) ran and exits; Swarm restarts it: \(view.reason ?? "")")
            lines.append("its command ends or fails; see 'micado logs -n \(name)' and 'micado info -s \(name)'")
        default:
            lines.append("\(name) is \(view.state.rawValue): \(view.reason ?? "waiting for the scheduler")")
            lines.append("it reserves \(record.memoryMiB) MiB in location \(location)")
            if clouds.isEmpty {
                lines.append("no cloud is configured: only the manager's engine can take it")
            } else if let cloud = clouds.cloud(forLocation: location) {
                let instances = try await store.instances().filter { $0.location == location && !$0.isManager }
                let booting = instances.filter(\.state.isStarting)
                lines.append(
                    "location \(location) (cloud \(cloud.name)): \(instances.count) of max \(cloud.locations[location]?.max ?? 0) instances, \(booting.count) booting"
                )
                for b in booting { lines.append("  \(b.id) (\(b.flavour ?? "?")) is \(b.state): \(b.reason ?? "")") }
                if booting.isEmpty && view.reason?.contains("max") != true {
                    lines.append("the scaler starts an instance on its next pass if no node has \(record.memoryMiB) MiB free")
                }
            } else {
                lines.append("no cloud serves location \(location)")
            }
        }
        if record.application != nil, let running = view.runningReplicas, let replicas = view.replicas {
            lines.append("\(running) of \(replicas) replica(s) of application \(record.application ?? "") running")
        }
        lines += try await volumes.explanation(of: record)
        lines += try await autoscaler.explanation(of: record)
        let events = try await store.events(subject: name, limit: 10).map {
            EventView(id: $0.id ?? 0, time: $0.time, kind: $0.kind, subject: $0.subject, message: $0.message)
        }
        return ExplainView(container: view, explanation: lines, recentEvents: events)
    }
}

/// Whether the scaler's last pass succeeded.
actor Pace {
    private(set) var lastSucceeded = true
    func succeeded() { lastSucceeded = true }
    func failed() { lastSucceeded = false }
}
