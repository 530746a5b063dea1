import DockerEngine
import Foundation
import Logging
import MicadoCore
import MicadoStore
import ServiceLifecycle

/// Sets the replica count of every application service with a scaling policy, from the
/// usage the monitor averaged over its replicas (`ServiceLoads`), by the policy's
/// `ReplicaRecommender`. Woken after each sampling pass. A new count goes to the store
/// (with an event that has the numbers), then to the swarm; replicas that do not fit wait
/// for capacity and the instance scaler starts instances for them, as for any task, and
/// drains them when the replicas go.
public final class ServiceAutoscaler: Service, RecordsEvents, ReadsSwarm {
    let store: any ContainerStore & EventStore
    let engine: any EngineAPI
    let eventLog: EventLog
    let swarm: SwarmView
    /// The newest usage of each application service (the monitor writes it).
    let serviceLoads: ServiceLoads
    /// What wakes it: the monitor, after each pass.
    let wakeUps: WakeUps
    /// Wakes the scaler after a scale-up (the new replicas may need instances).
    let scalerWakeUp: WakeUps
    let state = AutoscalerState()

    init(
        store: any ContainerStore & EventStore,
        engine: any EngineAPI,
        eventLog: EventLog,
        swarm: SwarmView,
        serviceLoads: ServiceLoads,
        wakeUps: WakeUps,
        scalerWakeUp: WakeUps
    ) {
        self.store = store
        self.engine = engine
        self.eventLog = eventLog
        self.swarm = swarm
        self.serviceLoads = serviceLoads
        self.wakeUps = wakeUps
        self.scalerWakeUp = scalerWakeUp
    }

    public func run() async throws {
        // The monitor wakes it after each pass; the interval only bounds a silent monitor.
        await PassLoop.run(every: .seconds(30), wakeUps: wakeUps) {
            do { try await pass() } catch {
                logger.warning("autoscale pass failed", metadata: ["error": "\(error)"])
            }
        }
    }
}

/// Each policy's recommender and its last decision.
actor AutoscalerState {
    var recommenders: [String: ReplicaRecommender] = [:]
    var decisions: [String: (time: Date, decision: ReplicaRecommender.Decision)] = [:]
    /// The last held recommendation noted as an event, per service (one event per new one).
    var notedHolds: [String: Int] = [:]

    func decide(
        _ name: String,
        policy: ScalingPolicy,
        current: Int,
        running: Int,
        observed: [ScalingPolicy.Metric: Double],
        now: Date
    ) -> ReplicaRecommender.Decision {
        var recommender = recommenders[name] ?? ReplicaRecommender()
        let decision = recommender.decide(policy: policy, current: current, running: running, observed: observed, now: now)
        recommenders[name] = recommender
        decisions[name] = (now, decision)
        return decision
    }

    /// Whether a held recommendation is new enough to be an event.
    func shouldNote(_ name: String, held recommended: Int?) -> Bool {
        guard notedHolds[name] != recommended else { return false }
        notedHolds[name] = recommended
        return recommended != nil
    }

    func keep(only names: Set<String>) {
        recommenders = recommenders.filter { names.contains($0.key) }
        decisions = decisions.filter { names.contains($0.key) }
        notedHolds = notedHolds.filter { names.contains($0.key) }
    }
}

extension ServiceAutoscaler {
    /// Samples older than this are not acted on (a monitor that stalled).
    static let freshness: TimeInterval = 30

    public func pass() async throws(MicadoError) {
        let records = try await store.containers().filter { $0.desired == .running && $0.settings?.scaling != nil }
        await state.keep(only: Set(records.map(\.name)))
        let now = self.now
        for var record in records {
            guard let policy = record.settings?.scaling else { continue }
            var observed: [ScalingPolicy.Metric: Double] = [:]
            var running = 0
            if let load = await serviceLoads.load(of: record.name), now.timeIntervalSince(load.time) < Self.freshness,
                load.replicas > 0
            {
                running = load.replicas
                // A replica's first sample has no CPU yet (it takes two readings): none is not 0 %.
                if let cpu = load.cpuPercent { observed[.cpu] = cpu / (record.settings?.cpuLimit ?? 1) }
                observed[.memory] = load.memoryMiB / Double(max(1, record.memoryMiB)) * 100
            }
            let decision = await state.decide(
                record.name,
                policy: policy,
                current: record.replicas,
                running: running,
                observed: observed,
                now: now
            )
            let summary = decision.summary(policy: policy)
            if decision.changes {
                record.replicas = decision.desired
                // The count alone: an apply may have changed the rest of the record since it was read.
                guard
                    try await store.setReplicas(
                        record.name,
                        decision.desired,
                        event: event(.serviceScaled, record.name, "\(record.name) scaled: \(summary)")
                    )
                else { continue }
                CrashPoint.reached(.scaleStored)
                if let serviceID = record.serviceID {
                    await step(.serviceScaleFailed, record.name) { () throws(MicadoError) in
                        try await engine.scaleService(serviceID, replicas: record.wantedReplicas)
                    }
                }
                await swarm.invalidate()
                scalerWakeUp.yield()
                _ = await state.shouldNote(record.name, held: nil)
            } else if decision.held != nil, decision.recommended != decision.current {
                if await state.shouldNote(record.name, held: decision.recommended) {
                    await note(.serviceScaleHeld, record.name, "\(record.name) not scaled yet: \(summary)")
                }
            } else {
                _ = await state.shouldNote(record.name, held: nil)
            }
        }
    }

    /// The policy's state in words, for `micado apps`.
    func policyState(of record: ContainerRecord) async -> String? {
        guard let policy = record.settings?.scaling else { return nil }
        let bounds =
            "\(policy.min)-\(policy.max) on " + policy.targets.map { "\($0.metric.rawValue) \(Int($0.percent))%" }.joined(separator: ", ")
        guard let last = await state.decisions[record.name] else { return bounds + ": waiting for samples" }
        return bounds + ": " + last.decision.summary(policy: policy)
    }

    /// The policy's last decisions, for `micado explain`.
    func explanation(of record: ContainerRecord) async throws(MicadoError) -> [String] {
        guard let policy = record.settings?.scaling else { return [] }
        var lines = [
            "scaling: \(await policyState(of: record) ?? "")",
            "  (min \(policy.min), max \(policy.max), up cooldown \(Int(policy.upCooldownSeconds)) s, down stabilization \(Int(policy.downStabilizationSeconds)) s, tolerance \(Int(policy.tolerance * 100))%)",
        ]
        let decisions = try await store.events(subject: record.name, limit: 50).filter {
            [.serviceScaled, .serviceScaleHeld, .serviceScaleFailed].contains($0.kind)
        }.prefix(5)
        for decision in decisions {
            lines.append("  \(RFC3339.string(decision.time)) \(decision.message)")
        }
        return lines
    }
}
