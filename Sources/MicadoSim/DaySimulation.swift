import DockerEngine
import Foundation
import Logging
import MicadoClouds
import MicadoCore
import MicadoManager
import MicadoStore

/// Policy settings a day is run with: micado's knobs, set as micado's defaults or like another
/// autoscaler's (labelled as settings like it, not as that system).
public struct SimPolicy: Sendable {
    public var name: String
    /// Between scaler passes (micado's scaler runs on every launch and every 500 ms; the
    /// simulation steps a second at a time).
    public var passSeconds: Int
    public var gracePeriodSeconds: Int
    public var consolidateBelowPercent: Int
    public var flavours: [Flavour]

    public init(name: String, passSeconds: Int, gracePeriodSeconds: Int, consolidateBelowPercent: Int, flavours: [Flavour]) {
        self.name = name
        self.passSeconds = passSeconds
        self.gracePeriodSeconds = gracePeriodSeconds
        self.consolidateBelowPercent = consolidateBelowPercent
        self.flavours = flavours
    }

    public static func micadoDefaults(_ flavours: [Flavour]) -> SimPolicy {
        SimPolicy(name: "micado defaults", passSeconds: 1, gracePeriodSeconds: 60, consolidateBelowPercent: 100, flavours: flavours)
    }

    /// cluster-autoscaler's defaults in micado's knobs: a 10 s scan, 10 min unneeded time,
    /// nodes below 50 % utilisation consolidated.
    public static func clusterAutoscalerLike(_ flavours: [Flavour]) -> SimPolicy {
        SimPolicy(
            name: "settings like cluster-autoscaler's",
            passSeconds: 10,
            gracePeriodSeconds: 600,
            consolidateBelowPercent: 50,
            flavours: flavours
        )
    }

    /// One general-purpose flavour, packed first fit: a single fixed node group.
    public static func firstFit(_ flavours: [Flavour]) -> SimPolicy {
        let one = flavours.first { $0.name == "m5.xlarge" } ?? flavours[flavours.count / 2]
        return SimPolicy(
            name: "first fit, one flavour (\(one.name))",
            passSeconds: 1,
            gracePeriodSeconds: 60,
            consolidateBelowPercent: 100,
            flavours: [one]
        )
    }
}

/// What a simulated day gave.
public struct SimReport: Sendable, Codable, Equatable {
    public var policy: String
    public var hours: Double
    public var launches: Int
    public var started: Int
    public var launchErrors: Int
    /// What the first refused launch was told, if one was.
    public var firstLaunchError: String?
    public var cost: Double
    public var lowerBound: Double
    /// cost / lowerBound (infinite when the fleet cost nothing while work was due: nothing ran).
    public var costRatio: Double
    /// Launched containers that never started in the simulated hours.
    public var notStarted: Int
    /// Seconds from launch to running; one that never started counts until the end of the run.
    public var pendingP50: Double
    public var pendingP99: Double
    public var pendingMax: Double
    /// The same, less the part of each wait an instance spent booting.
    public var pendingExcludingBootP50: Double
    public var pendingExcludingBootP99: Double
    public var instancesCreated: Int
    public var instancesDeleted: Int
    public var createdPerHour: [Int]
    public var deletedPerHour: [Int]
    public var peakInstances: Int
    public var consolidationMoves: Int
    public var interruptions: Int
    public var interruptedTasks: Int
    public var cloudRefusals: [String: Int]
    /// Applications with a scaling policy under a load curve: their replicas' CPU against the
    /// policy's target (percent of the target, p50 and p95 over the samples), and how often a
    /// count changed.
    public var applications = 0
    public var applicationScalings = 0
    public var applicationPeakReplicas = 0
    public var applicationLoadP50 = 0.0
    public var applicationLoadP95 = 0.0
    /// Wall-clock figures: not part of a replay's identity.
    public var passP50ms: Double = 0
    public var passP99ms: Double = 0
    public var peakMemoryMiB: Double = 0
    public var wallSeconds: Double = 0

    /// The figures a replay with the same seed must repeat (the simulated ones).
    public var simulated: SimReport {
        var copy = self
        copy.passP50ms = 0
        copy.passP99ms = 0
        copy.peakMemoryMiB = 0
        copy.wallSeconds = 0
        return copy
    }
}

/// A day of a trace through micado's own manager parts (launch, the scaler's pass with its
/// planner and instance lifecycle, drain) against a simulated cloud and swarm on a virtual
/// clock. Nothing of the manager's logic is copied: the simulation only moves time on,
/// launches and quits containers as the trace says, and runs scaler passes.
public final class DaySimulation: Sendable {
    let trace: Trace
    let hours: Double
    let policy: SimPolicy
    let seed: UInt64
    let cloudSettings: SimCloud.Settings
    let boundFlavours: [Flavour]
    let applications: Int
    let logger: Logger

    /// - Parameter boundFlavours: whose cheapest price per MiB the lower bound is priced at
    ///   (rows of one run compare against one bound); by default the policy's flavours.
    public init(
        trace: Trace,
        hours: Double,
        policy: SimPolicy,
        seed: UInt64,
        cloud: SimCloud.Settings = .init(),
        boundFlavours: [Flavour]? = nil,
        applications: Int = 0,
        logger: Logger
    ) {
        self.applications = max(0, min(1000, applications))
        self.trace = trace
        self.hours = hours
        self.policy = policy
        self.seed = seed
        cloudSettings = cloud
        self.boundFlavours = boundFlavours ?? policy.flavours
        self.logger = logger
    }

    static let start = Date(timeIntervalSince1970: 1_796_529_600)  // 2026-12-07 04:00 UTC
    static let location = "zone-a"

    public func run() async throws -> SimReport {
        let wallStarted = ContinuousClock.now
        let clock = VirtualClock(start: Self.start)
        let swarm = InMemorySwarm(managerAddress: "10.0.0.2", managerMemoryMiB: 0)
        await swarm.setRecordsCalls(false)
        await swarm.noteStarts(on: clock)
        let cloud = SimCloud(swarm: swarm, clock: clock, settings: cloudSettings, seed: seed)
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("micado-sim-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: home) }
        try FileManager.default.createDirectory(atPath: home + "/tls", withIntermediateDirectories: true)
        let authority = CertificateAuthority(directory: home + "/tls")
        try authority.create()
        var configuration = ManagerConfiguration()
        configuration.docker.advertiseAddress = "10.0.0.2"
        configuration.defaults.location = Self.location
        var timings = CloudConfiguration.Timings()
        timings.gracePeriodSeconds = policy.gracePeriodSeconds
        timings.consolidateBelowPercent = policy.consolidateBelowPercent
        timings.bootTimeoutSeconds = 600
        let clouds = CloudSet(
            configurations: [
                CloudConfiguration(
                    name: "sim",
                    driver: "sim",
                    locations: [Self.location: LocationBounds(min: 0, max: 50_000)],
                    flavours: policy.flavours,
                    applications: ["node": "sim-image"],
                    timings: timings,
                    network: nil
                )
            ],
            drivers: ["sim": cloud],
            authority: authority
        )
        let orchestrator = Orchestrator(
            configuration: configuration,
            store: try Store.inMemory(),
            engine: swarm.managerEngine,
            managerID: "msim",
            clouds: clouds,
            engines: swarm,
            spool: home,
            clock: clock,
            logger: logger
        )
        try await orchestrator.instances.bootstrapSwarm()
        var appRandom = SeededGenerator(seed: seed ^ 0xA99)
        let apps = (0..<applications).map { i in
            AppLoad(
                name: "web\(i)",
                peakCPU: 1200 * Double.random(in: 0.5...1.5, using: &appRandom),
                phase: Double.random(in: -2...2, using: &appRandom)
            )
        }
        for app in apps {
            _ = try await orchestrator.applications.apply(
                ApplyRequest(name: app.name, folderName: nil, file: Self.composeFile, fileName: "compose.yaml", dryRun: false)
            )
        }
        var appLoads: [Double] = []
        var appReplicaSeconds = 0.0
        var appPeakReplicas = 0

        let seconds = Int((hours * 3600).rounded())
        let launches = trace.launches.filter { $0.at < Double(seconds) }
        var next = 0
        var launchedAt: [String: (at: Double, lifetime: Double)] = [:]
        var ends = MinHeap<Due>()
        var pending: [Double] = []
        var pendingExcludingBoot: [Double] = []
        var passes: [(instances: Int, ms: Double)] = []
        var launchErrors = 0
        var firstLaunchError: String?
        var peakInstances = 0
        var peakMemory = 0.0
        for second in 0...seconds {
            let t = Double(second)
            clock.advance(to: Self.start.addingTimeInterval(t))
            await cloud.advance()
            while next < launches.count, launches[next].at <= t {
                let launch = launches[next]
                let name = "container-t\(next)"
                next += 1
                do {
                    _ = try await orchestrator.containers.launch(
                        LaunchRequest(
                            image: "busybox:local",
                            client: "sim",
                            arguments: ["sleep", "infinity"],
                            memoryMiB: launch.memoryMiB,
                            name: try ContainerName.parse(name),
                            detach: true
                        )
                    )
                    launchedAt[name] = (launch.at, launch.lifetime)
                } catch {
                    launchErrors += 1
                    if firstLaunchError == nil { firstLaunchError = "\(error)" }
                }
            }
            while let end = ends.min, end.at <= t {
                _ = ends.pop()
                _ = try? await orchestrator.containers.quit(end.name, remove: true)
            }
            if !apps.isEmpty, second % Self.samplingSeconds == 0 {
                var replicas = 0
                for app in apps {
                    let running = await swarm.runningTasks(of: app.serviceName).count
                    replicas += running
                    let load = app.cpu(at: t)
                    await swarm.setLoad(service: app.serviceName, cpuPercent: load)
                    if running > 0 { appLoads.append(load / Double(running) / Self.targetCPU * 100) }
                }
                appPeakReplicas = max(appPeakReplicas, replicas)
                appReplicaSeconds += Double(replicas * Self.samplingSeconds)
                try? await orchestrator.monitor.samplePass(scalingOnly: true)
                try? await orchestrator.autoscaler.pass()
            }
            if second % policy.passSeconds == 0 {
                let began = ContinuousClock.now
                try? await orchestrator.scaler.pass()
                let ms = (ContinuousClock.now - began).inSeconds * 1000
                let alive = await cloud.aliveCount()
                passes.append((alive, ms))
                if alive >= peakInstances {
                    peakInstances = alive
                    if second % 60 == 0 || passes.count < 3 { peakMemory = max(peakMemory, Self.residentMiB()) }
                }
            }
            for start in await swarm.takeStarts() {
                guard let launched = launchedAt.removeValue(forKey: start.service) else { continue }
                let startedAt = start.at.timeIntervalSince(Self.start)
                let waited = max(0, startedAt - launched.at)
                pending.append(waited)
                // The part of the wait its instance spent booting (created after the launch).
                var booting = 0.0
                if let entry = await cloud.entry(atEndpoint: start.machine) {
                    let from = max(launched.at, entry.createdAt.timeIntervalSince(Self.start))
                    let to = min(startedAt, entry.bootsAt.timeIntervalSince(Self.start))
                    booting = max(0, to - from)
                }
                pendingExcludingBoot.append(max(0, waited - booting))
                ends.push(Due(at: startedAt + launched.lifetime, name: start.service))
            }
        }
        let end = Self.start.addingTimeInterval(Double(seconds))
        let cost = await cloud.cost(until: end)
        let cheapestPerMiBHour = Self.cheapestPerMiBHour(boundFlavours)
        let reservedMiBHours =
            launches.reduce(0.0) { sum, launch in
                sum + Double(launch.memoryMiB) * max(0, min(Double(seconds), launch.at + launch.lifetime) - launch.at) / 3600
            } + appReplicaSeconds * Double(Self.replicaMiB) / 3600
        let scalings = try await orchestrator.store.events(subject: nil, after: nil, limit: 1_000_000).count { $0.kind == .serviceScaled }
        let entries = await cloud.entries()
        var createdPerHour = Array(repeating: 0, count: max(1, Int((hours).rounded(.up))))
        var deletedPerHour = createdPerHour
        // The run's last second belongs to its last hour.
        func hour(_ date: Date) -> Int { min(createdPerHour.count - 1, max(0, Int(date.timeIntervalSince(Self.start) / 3600))) }
        for entry in entries {
            createdPerHour[hour(entry.createdAt)] += 1
            if let deleted = entry.deletedAt, entry.interruptedAt == nil { deletedPerHour[hour(deleted)] += 1 }
        }
        // Those still waiting: their wait so far is a wait too (else a run where nothing starts looks instant).
        let started = pending.count
        for launched in launchedAt.values {
            pending.append(max(0, Double(seconds) - launched.at))
            pendingExcludingBoot.append(max(0, Double(seconds) - launched.at))
        }
        let atPeak = passes.filter { Double($0.instances) >= 0.9 * Double(peakInstances) }.map(\.ms).sorted()
        peakMemory = max(peakMemory, Self.residentMiB())
        let roundedCost = (cost * 100).rounded() / 100
        let bound = (reservedMiBHours * cheapestPerMiBHour * 100).rounded() / 100
        return SimReport(
            policy: policy.name,
            hours: hours,
            launches: launches.count,
            started: started,
            launchErrors: launchErrors,
            firstLaunchError: firstLaunchError,
            cost: roundedCost,
            lowerBound: bound,
            costRatio: bound > 0
                ? (roundedCost > 0 ? (cost / (reservedMiBHours * cheapestPerMiBHour) * 1000).rounded() / 1000 : .infinity) : 0,
            notStarted: launchedAt.count,
            pendingP50: Self.percentile(pending.sorted(), 0.5),
            pendingP99: Self.percentile(pending.sorted(), 0.99),
            pendingMax: pending.max() ?? 0,
            pendingExcludingBootP50: Self.percentile(pendingExcludingBoot.sorted(), 0.5),
            pendingExcludingBootP99: Self.percentile(pendingExcludingBoot.sorted(), 0.99),
            instancesCreated: entries.count,
            instancesDeleted: entries.count { $0.deletedAt != nil && $0.interruptedAt == nil },
            createdPerHour: createdPerHour,
            deletedPerHour: deletedPerHour,
            peakInstances: peakInstances,
            consolidationMoves: await swarm.evictedTasks,
            interruptions: await cloud.interruptions,
            interruptedTasks: await swarm.orphanedTasks,
            cloudRefusals: await cloud.refusals,
            applications: apps.count,
            applicationScalings: scalings,
            applicationPeakReplicas: appPeakReplicas,
            applicationLoadP50: Self.percentile(appLoads.sorted(), 0.5),
            applicationLoadP95: Self.percentile(appLoads.sorted(), 0.95),
            passP50ms: Self.percentile(atPeak, 0.5),
            passP99ms: Self.percentile(atPeak, 0.99),
            peakMemoryMiB: (peakMemory * 10).rounded() / 10,
            wallSeconds: (ContinuousClock.now - wallStarted).inSeconds
        )
    }

    /// The applications: one service each, 512 MiB a replica, scaled on CPU at 60 % of a core.
    static let replicaMiB = 512
    static let targetCPU = 60.0
    /// As the monitor samples a policy's service: three times per 30 s up cooldown, at most every 5 s.
    static let samplingSeconds = 5
    static let composeFile = """
        services:
          web:
            image: busybox:local
            command: [sleep, infinity]
            deploy:
              resources:
                reservations: {memory: 512M}
            x-micado:
              scaling: {min: 1, max: 60, metric: cpu, target: 60, upCooldown: 30s, downStabilization: 5m}
        """

    /// An application's load: CPU of all its replicas together, diurnal like the trace (lowest
    /// at 04:00 shifted by its phase in hours) with a peak of `peakCPU` percent of one core.
    struct AppLoad {
        var name: String
        var peakCPU: Double
        var phase: Double
        var serviceName: String { "\(name)_web" }
        func cpu(at t: Double) -> Double {
            let angle = ((t / 3600 - phase) / 24) * 2 * .pi
            return peakCPU * (0.2 + 0.8 * (1 - cos(angle)) / 2)
        }
    }

    /// The lower bound's price: the least any flavour charges for a MiB for an hour.
    static func cheapestPerMiBHour(_ flavours: [Flavour]) -> Double {
        flavours.filter { $0.memoryMiB > 0 }.map { $0.pricePerHour / Double($0.memoryMiB) }.min() ?? 0
    }

    static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        let value = sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))]
        return (value * 1000).rounded() / 1000
    }

    /// This process's resident memory now, in MiB (VmRSS).
    static func residentMiB() -> Double {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kib = Double(line.split(separator: " ").dropFirst().first ?? "")
        else { return 0 }
        return kib / 1024
    }
}
