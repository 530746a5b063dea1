import DockerEngine
import Foundation
import Logging
import MicadoCore
import MicadoStore
import Prometheus
import ServiceLifecycle

/// Samples CPU and memory of every running container through its instance's engine,
/// keeps a bounded history in the store, and records each image's critical usage: the
/// 95th percentile of its containers' memory plus a quarter, which becomes the default
/// reservation of the image's next launch (MiCADO's image table). Also keeps the
/// Prometheus gauges of `/metrics` current.
public struct UsageMonitor: Service, RecordsEvents, ReadsSwarm {
    /// How often it samples and how many samples it keeps (`monitor:`).
    let settings: ManagerConfiguration.Monitor
    let store: any ContainerStore & ImageStore & UsageStore
    /// Each node's engine, on the monitor's own connections.
    let engines: NodeEngines
    let metrics: ManagerMetrics
    let eventLog: EventLog
    let swarm: SwarmView
    /// Where it puts each application service's averaged usage, and whom it wakes after a pass.
    let serviceLoads: ServiceLoads
    let autoscalerWakeUp: WakeUps
    let containers: any ContainerViews
    /// The previous CPU reading of each container, for one-shot samples.
    let cpuReadings = CPUReadings()

    init(
        settings: ManagerConfiguration.Monitor,
        store: any ContainerStore & ImageStore & UsageStore,
        engines: NodeEngines,
        metrics: ManagerMetrics,
        eventLog: EventLog,
        swarm: SwarmView,
        serviceLoads: ServiceLoads,
        autoscalerWakeUp: WakeUps,
        containers: any ContainerViews
    ) {
        self.settings = settings
        self.store = store
        self.engines = engines
        self.metrics = metrics
        self.eventLog = eventLog
        self.swarm = swarm
        self.serviceLoads = serviceLoads
        self.autoscalerWakeUp = autoscalerWakeUp
        self.containers = containers
    }

    public func run() async throws {
        let interval = Duration.seconds(settings.intervalSeconds)
        await cancelWhenGracefulShutdown {
            var lastFull = ContinuousClock.now - interval
            while !Task.isCancelled {
                let started = ContinuousClock.now
                // Services with a scaling policy are sampled as often as their cooldowns need;
                // everything else every `interval`.
                let policies = ((try? await store.containers()) ?? []).compactMap { $0.desired == .running ? $0.settings?.scaling : nil }
                let tick = policies.map { Self.samplingInterval(for: $0) }.min().map { min($0, interval) } ?? interval
                let full = started - lastFull >= interval
                if full { lastFull = started }
                do { try await samplePass(scalingOnly: !full) } catch  where !Task.isCancelled {
                    logger.warning("usage sampling failed", metadata: ["error": "\(error)"])
                } catch {}
                autoscalerWakeUp.yield()
                // At most half of the time sampling: a pass that takes longer than the interval
                // (hundreds of containers) must not keep the engine and the manager busy for good.
                let took = ContinuousClock.now - started
                try? await Task.sleep(for: max(took, tick - took, .milliseconds(100)))
            }
        }
    }

    /// How often a policy's service is sampled: three samples per up cooldown, between 1 s and 5 s.
    static func samplingInterval(for policy: ScalingPolicy) -> Duration {
        .milliseconds(Int(min(5, max(1, policy.upCooldownSeconds / 3)) * 1000))
    }
}

/// The manager's Prometheus metrics. API latency comes from Hummingbird's MetricsMiddleware.
public final class ManagerMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    let instances: Gauge
    let containersRunning: Gauge
    let containersPending: Gauge
    let sampleDuration: Gauge
    let sampledContainers: Gauge
    let scaleUps: Counter
    let scaleDowns: Counter

    public init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
        // Named micado_<name>[_<unit>].
        func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(namespace: "micado", metricName: metric, unitName: unit, helpText: help)
        }
        instances = registry.makeGauge(descriptor: name("instances", "", "Instances of this manager, its own engine included"))
        containersRunning = registry.makeGauge(descriptor: name("containers_running", "", "Containers with a running task"))
        containersPending = registry.makeGauge(descriptor: name("containers_pending", "", "Containers that want to run and do not yet"))
        sampleDuration = registry.makeGauge(descriptor: name("monitor_pass", "seconds", "Duration of the last usage sampling pass"))
        sampledContainers = registry.makeGauge(descriptor: name("monitor_sampled_containers", "", "Containers sampled in the last pass"))
        scaleUps = registry.makeCounter(descriptor: name("scaler_instances_started", "total", "Instances the scaler decided to start"))
        scaleDowns = registry.makeCounter(descriptor: name("scaler_instances_drained", "total", "Instances the scaler decided to drain"))
    }
}

extension UsageMonitor {
    /// Stats calls in flight at once, on the monitor's own connections, so API calls never
    /// wait behind them.
    static let samplingConcurrency = 32

    /// One sampling pass over every running task of our containers.
    /// `scalingOnly`: only the services with a scaling policy.
    public func samplePass(scalingOnly: Bool = false) async throws(MicadoError) {
        let started = ContinuousClock.now
        let records = try await store.containers()
        let snapshot = try await snapshot(maxAge: scalingOnly ? .milliseconds(500) : .seconds(2))
        var work: [(ContainerRecord, String, String?)] = []
        for record in records where record.desired == .running && (!scalingOnly || record.settings?.scaling != nil) {
            // Every running replica of an application's service; a launched container's current task.
            let tasks =
                record.application != nil
                ? (snapshot.tasksByService[record.serviceID ?? ""] ?? []).filter { $0.desiredState == .running }
                : snapshot.currentTask(of: record.serviceID).map { [$0] } ?? []
            for task in tasks where task.status.state == .running {
                guard let containerID = task.status.containerStatus?.containerID else { continue }
                work.append((record, containerID, task.nodeID))
            }
        }
        // The manager's clock, as the autoscaler's that judges a sample's freshness by it.
        let now = self.now
        // At most `samplingConcurrency` stats calls at once, on the monitor's own connections.
        let replicaSamples = await withTaskGroup(of: (UsageRecord, hasCPU: Bool)?.self) { group in
            var pending = work[...]
            func addNext() {
                guard let (record, containerID, nodeID) = pending.popFirst() else { return }
                group.addTask {
                    guard let engine = try? await engines.engine(forNode: nodeID, monitoring: true),
                        let usage = try? await engine.usage(container: containerID, oneShot: true)
                    else { return nil }
                    // One-shot samples are cheap for the engine; CPU comes from this and the previous one.
                    let cpu = await self.cpuReadings.percent(containerID, usage.cpu)
                    let sample = UsageRecord(
                        container: record.name,
                        image: record.image,
                        time: now,
                        cpuPercent: max(0, cpu ?? 0),
                        memoryMiB: Double(usage.memoryBytes) / 1_048_576
                    )
                    return (sample, cpu != nil)
                }
            }
            for _ in 0..<Self.samplingConcurrency { addNext() }
            var all: [(UsageRecord, hasCPU: Bool)] = []
            for await sample in group {
                if let sample { all.append(sample) }
                addNext()
            }
            return all
        }
        // Replicas of one service become one sample: their average.
        var byService: [String: [(UsageRecord, hasCPU: Bool)]] = [:]
        for sample in replicaSamples { byService[sample.0.container, default: []].append(sample) }
        var samples: [UsageRecord] = []
        for (service, replicas) in byService {
            let withCPU = replicas.filter(\.hasCPU).map(\.0.cpuPercent)
            let cpu = withCPU.isEmpty ? nil : withCPU.reduce(0, +) / Double(withCPU.count)
            let memory = replicas.map(\.0.memoryMiB).reduce(0, +) / Double(replicas.count)
            var average = replicas[0].0
            average.cpuPercent = cpu ?? 0
            average.memoryMiB = memory
            samples.append(average)
            await serviceLoads.set(
                ServiceLoad(time: now, cpuPercent: cpu, memoryMiB: memory, replicas: replicas.count),
                of: service
            )
        }
        if !scalingOnly {
            await cpuReadings.keep(only: Set(work.map(\.1)))
            await serviceLoads.keep(only: Set(byService.keys))
        }
        try await store.recordUsage(samples, keep: settings.historyPerContainer)
        for image in Set(samples.map(\.image)) {
            let values = try await store.memorySamples(image: image).sorted()
            guard values.count >= 3 else { continue }
            let p95 = values[min(values.count - 1, Int(Double(values.count - 1) * 0.95))]
            let critical = max(6, Int((p95 * 1.25).rounded(.up)))
            let previous = try await store.image(image)?.criticalMemoryMiB
            guard previous != critical else { continue }
            // Only its own field: a digest written meanwhile by an apply stays.
            try await store.updateImage(image) { $0.criticalMemoryMiB = critical }
            if previous == nil {
                await note(
                    .imageCriticalUsage,
                    image,
                    "critical usage of \(image): \(critical) MiB (p95 \(String(format: "%.1f", p95)) MiB + 25%); its next launches reserve this"
                )
            }
        }
        let states = records.filter { $0.desired == .running }.map { containers.view(of: $0, in: snapshot).state }
        metrics.containersRunning.set(Double(states.filter { $0 == .running }.count))
        metrics.containersPending.set(Double(states.filter { $0 == .pending || $0 == .creating }.count))
        metrics.instances.set(Double(snapshot.nodes.count))
        metrics.sampledContainers.set(Double(samples.count))
        metrics.sampleDuration.set((ContinuousClock.now - started).inSeconds)
    }
}

/// The previous CPU reading of each container, for one-shot samples.
actor CPUReadings {
    var readings: [String: EngineClient.Usage.CPUReading] = [:]

    /// Percent of one CPU since the previous reading of `container` (nil for its first).
    func percent(_ container: String, _ reading: EngineClient.Usage.CPUReading) -> Double? {
        defer { readings[container] = reading }
        return readings[container].flatMap { reading.percent(since: $0) }
    }

    /// Forgets containers no longer sampled.
    func keep(only containers: Set<String>) { readings = readings.filter { containers.contains($0.key) } }
}
