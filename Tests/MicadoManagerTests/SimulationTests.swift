import DockerEngine
import Foundation
import Logging
import MicadoClouds
import MicadoCore
import MicadoManager
import MicadoSim
import Testing

/// The simulator itself: a trace replays to the same figures, a tiny case gives the cost
/// worked out by hand, traces are read as hostile input, and a short day runs through
/// micado's own scaler with every container started.
@Suite struct SimulationTests {
    static var logger: Logger {
        var logger = Logger(label: "sim-test")
        logger.logLevel = .critical
        return logger
    }

    /// A cloud that does one thing at a time: boots take exactly 30 s, nothing is refused or taken back.
    static var plainCloud: SimCloud.Settings {
        var settings = SimCloud.Settings()
        settings.bootJitterSeconds = 0
        settings.bootSecondsPerGiB = 0
        settings.capacityRefusalChance = 0
        settings.meanHoursToInterruption = 0
        return settings
    }

    @Test func aTraceReplaysToTheSameFiguresWithTheSameSeed() async throws {
        let trace = DiurnalTrace.generate(hours: 0.5, peakInstances: 60, seed: 7)
        #expect(trace == DiurnalTrace.generate(hours: 0.5, peakInstances: 60, seed: 7))
        #expect(trace != DiurnalTrace.generate(hours: 0.5, peakInstances: 60, seed: 8))
        let flavours = FlavourCatalogue.flavours(count: 40)
        let first = try await DaySimulation(trace: trace, hours: 0.5, policy: .micadoDefaults(flavours), seed: 7, logger: Self.logger).run()
        let second = try await DaySimulation(trace: trace, hours: 0.5, policy: .micadoDefaults(flavours), seed: 7, logger: Self.logger)
            .run()
        #expect(first.launches > 10)
        #expect(first.simulated == second.simulated)
    }

    /// One 512 MiB container for 600 s on the one flavour (1,024 MiB at 0.36 an hour). By hand:
    /// the pass at 0 s creates the instance, it boots in 30 s, joins and is admitted within
    /// the next passes, the container runs 600 s, the instance idles through the 60 s grace
    /// period and is drained and deleted within a few passes: alive 690 to 700 s, so it costs
    /// 0.069 to 0.070. The bound is 512 MiB for 600 s at 0.36/1,024 per MiB-hour: 0.03.
    @Test func aTinyCaseGivesTheCostWorkedOutByHand() async throws {
        let flavour = Flavour(name: "one", cpus: 1, memoryMiB: 1024, pricePerHour: 0.36)
        let trace = Trace(launches: [.init(at: 0, memoryMiB: 512, milliCPU: 250, lifetime: 600)])
        let policy = SimPolicy(name: "one", passSeconds: 1, gracePeriodSeconds: 60, consolidateBelowPercent: 100, flavours: [flavour])
        let report = try await DaySimulation(trace: trace, hours: 0.5, policy: policy, seed: 1, cloud: Self.plainCloud, logger: Self.logger)
            .run()
        #expect(report.launches == 1 && report.started == 1 && report.launchErrors == 0, "\(report.firstLaunchError ?? "")")
        #expect(report.instancesCreated == 1 && report.instancesDeleted == 1 && report.peakInstances == 1)
        #expect(report.lowerBound == 0.03)
        #expect((0.069...0.07).contains(report.cost), "cost \(report.cost)")
        #expect((30...34).contains(report.pendingP50), "pending \(report.pendingP50)")
        #expect(report.pendingExcludingBootP99 <= 4)
        #expect(report.consolidationMoves == 0)
        #expect(report.createdPerHour == [1] && report.deletedPerHour == [1])
    }

    @Test func aShortDayStartsEveryContainerNearTheBound() async throws {
        let trace = DiurnalTrace.generate(hours: 1, peakInstances: 200, seed: 3)
        let flavours = FlavourCatalogue.flavours(count: 400)
        let report = try await DaySimulation(
            trace: trace,
            hours: 1,
            policy: .micadoDefaults(flavours),
            seed: 3,
            applications: 2,
            logger: Self.logger
        ).run()
        #expect(report.launches > 50)
        #expect(report.launchErrors == 0)
        // Those launched in the last minutes may still wait for their instance's boot.
        #expect(report.started >= report.launches - trace.launches.count { $0.at > 3300 && $0.at < 3600 })
        #expect(report.costRatio > 1 && report.costRatio < 3, "cost ratio \(report.costRatio)")
        // Without headroom most wait for a boot; what micado itself adds to that is seconds.
        #expect(report.pendingExcludingBootP50 < 5, "pending p50 less boot \(report.pendingExcludingBootP50)")
        #expect(report.pendingP99 < 300, "pending p99 \(report.pendingP99)")
        #expect(report.peakInstances > 1)
        // The applications start at one replica each under a load of several: the real
        // monitor and autoscaler scale them up, to near their target.
        #expect(report.applications == 2 && report.applicationScalings >= 2)
        #expect(report.applicationPeakReplicas >= 4, "peak replicas \(report.applicationPeakReplicas)")
        #expect((50...150).contains(report.applicationLoadP50), "load \(report.applicationLoadP50)% of target")
    }

    @Test func aTraceFileRoundTripsAndBadLinesAreRefusedByLine() throws {
        let trace = DiurnalTrace.generate(hours: 0.2, peakInstances: 4, seed: 1)
        #expect(try Trace.parse(Array(trace.jsonLines().utf8)) == trace)
        let good = #"{"at": 1, "memoryMiB": 100, "milliCPU": 100, "lifetime": 60}"#
        let cases: [(String, String)] = [
            ("# comment\n\(good)\n{\"at\": -1, \"memoryMiB\": 100, \"milliCPU\": 1, \"lifetime\": 60}", "line 3: at must be"),
            ("\(good)\n{\"at\": 1, \"memoryMiB\": 5, \"milliCPU\": 1, \"lifetime\": 60}", "line 2: memoryMiB must be"),
            ("{\"at\": 1, \"memoryMiB\": 100, \"milliCPU\": 1}", "line 1: not a launch"),
            ("{\"at\": 1, \"memoryMiB\": 100, \"milliCPU\": 1, \"lifetime\": 0}", "line 1: lifetime must be"),
            ("[1, 2]", "line 1: not a launch"),
            (String(repeating: " ", count: 2000), "line 1: longer than"),
            (#"{"at": 5, "memoryMiB": 100, "milliCPU": 1, "lifetime": 60, "at": 1}"#, "line 1: a key is given twice"),
            (String(repeating: "\n", count: Trace.maxLines) + good, "more than 4000000 lines"),
        ]
        for (text, message) in cases {
            #expect {
                try Trace.parse(Array(text.utf8))
            } throws: { error in
                (error as? MicadoError)?.code == .usage && (error as? MicadoError)?.message.contains(message) == true
            }
        }
        // Blank lines and comments cost no launch; a last line without its newline counts.
        #expect(try Trace.parse(Array("\n\n# c\n\(good)\n\n\(good)".utf8)).launches.count == 2)
        // Launches in any order are replayed in time order.
        let shuffled = Trace(launches: [
            .init(at: 5, memoryMiB: 100, milliCPU: 1, lifetime: 1), .init(at: 2, memoryMiB: 200, milliCPU: 1, lifetime: 1),
        ])
        #expect(shuffled.launches.map(\.at) == [2, 5])
    }

    /// Swarm moves a drained node's tasks to other nodes (the moves consolidation costs) and
    /// a down node's too; the tasks' filter takes a service's name as its ID.
    @Test func aDrainedNodesTasksMoveAndAreCounted() async throws {
        let w = try await ManagerPartsTests.world(clouds: true, max: 3)
        for name in ["container-a", "container-b"] {
            _ = try await w.orchestrator.containers.launch(ManagerPartsTests.request(name, memory: 200, detach: true))
        }
        try await w.orchestrator.scaler.pass()
        await w.cloud.finishBoots()
        for _ in 0..<4 { try await w.orchestrator.scaler.pass() }
        let node = try #require(await w.swarm.runningTasks(of: "container-a").first?.node)
        #expect(await w.swarm.runningTasks(of: "container-b").first?.node == node)
        // A second node with room, then the first drained.
        let engine = w.swarm.managerEngine
        let first = try await engine.node(node)
        var spec = first.spec
        spec.availability = .drain
        try await engine.updateNode(node, version: first.version, spec: spec)
        #expect(await w.swarm.evictedTasks == 2)
        #expect(await w.swarm.runningTasks(of: "container-a").isEmpty)
        let byName = try await engine.tasks(filters: ["service": ["container-a"]])
        #expect(byName.count == 2 && byName.contains { $0.status.state == .shutdown })
    }

    @Test func theSimulatedCloudThrottlesCreatesAndSaysWhenToRetry() async throws {
        let swarm = InMemorySwarm()
        let clock = VirtualClock(start: Date(timeIntervalSince1970: 0))
        var settings = Self.plainCloud
        settings.createBucket = 2
        settings.createRefillPerSecond = 0.5
        let cloud = SimCloud(swarm: swarm, clock: clock, settings: settings, seed: 1)
        func request(_ token: String) -> CreateInstanceRequest {
            CreateInstanceRequest(
                idempotencyToken: token,
                location: "zone",
                flavour: Flavour(name: "f", cpus: 1, memoryMiB: 1024, pricePerHour: 1),
                machineImage: "i",
                userData: UserData(labels: [:], capacityMiB: 1024, caCertificatePEM: ""),
                tags: [:]
            )
        }
        _ = try await cloud.create(request("a"))
        // The same token is the same instance, and spends no token.
        let again = try await cloud.create(request("a"))
        #expect(again.id == "sim-1")
        _ = try await cloud.create(request("b"))
        await #expect(throws: CloudError(.transient, "RequestLimitExceeded: retry after 2 s")) { try await cloud.create(request("c")) }
        clock.advance(by: 2)
        _ = try await cloud.create(request("c"))
        // A boot completes at its time: the machine's engine answers then, not before.
        #expect(await !swarm.isMachine("tcp://100.64.1.1:2376"))
        clock.advance(by: 28)
        await cloud.advance()
        #expect(await swarm.isMachine("tcp://100.64.1.1:2376"))
        #expect(abs(await cloud.cost(until: clock.now) - 88.0 / 3600) < 1e-12)
    }
}
