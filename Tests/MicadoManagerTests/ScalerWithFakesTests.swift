import DockerEngine
import Foundation
import Logging
import MicadoClouds
import MicadoCore
import MicadoSim
import MicadoStore
import MicadoTestSupport
import Prometheus
import Testing

@testable import MicadoManager

/// The scaler built with fakes of only what it names: the fleet, the containers' views, the
/// volumes' homes and the policies' explanations are fakes that record what they are asked;
/// the engine is the in-memory swarm, the store an in-memory one. No other part exists.
@Suite struct ScalerWithFakesTests {
    /// The instances, as a list of what the scaler asked.
    actor FakeFleet: ScalerFleet {
        let bootBackoff = BootBackoff()
        var started: [(request: StartInstanceRequest, location: String?, reason: String)] = []
        var drained: [InstanceID] = []
        var converged = 0
        func convergeInstances(nodes: [Node], runningByNode: [String: Int]) async { converged += 1 }
        func startInstance(_ request: StartInstanceRequest, location: String?, reason: String) async throws(MicadoError) -> InstanceRecord {
            started.append((request, location, reason))
            return InstanceRecord(
                id: InstanceID("i-fake-\(started.count)"),
                hostname: "fake",
                cloud: request.cloud,
                location: location,
                role: .worker,
                state: .creating,
                address: nil,
                createdAt: Date(),
                updatedAt: Date()
            )
        }
        func drain(_ id: InstanceID, reason: String) async throws(MicadoError) { drained.append(id) }
        func backOff(_ location: String, reason: String) async {}
        func deleteOrphanInstances() async {}
    }
    struct NoViews: ContainerViews {
        func record(named name: String) async throws(MicadoError) -> ContainerRecord { throw .notFound(name) }
        func view(of record: ContainerRecord) async throws(MicadoError) -> ContainerView { throw .notFound(record.name) }
        func view(of record: ContainerRecord, in snapshot: SwarmSnapshot) -> ContainerView {
            fatalError("the scaler's pass asks for no view")
        }
    }
    struct NoVolumes: VolumeHomes {
        func homes() async throws(MicadoError) -> [String: [String]] { [:] }
        func placeHomeless(choose: (String?, Int) async throws(MicadoError) -> String?) async throws(MicadoError) -> Bool { false }
        func explanation(of record: ContainerRecord) async throws(MicadoError) -> [String] { [] }
    }
    struct NoPolicies: PolicyExplanations {
        func explanation(of record: ContainerRecord) async throws(MicadoError) -> [String] { [] }
        func policyState(of record: ContainerRecord) async -> String? { nil }
    }

    static func scaler(store: Store, engine: any EngineAPI, fleet: FakeFleet, clock: any WallClock = SystemClock()) -> Scaler {
        let authority = CertificateAuthority(directory: "/nonexistent")
        let clouds = CloudSet(
            configurations: [
                CloudConfiguration(
                    name: "mem",
                    driver: "in-memory",
                    locations: ["zone": LocationBounds(min: 0, max: 3)],
                    flavours: [
                        Flavour(name: "small", cpus: 1, memoryMiB: 512, pricePerHour: 0.01),
                        Flavour(name: "large", cpus: 2, memoryMiB: 2048, pricePerHour: 0.05),
                    ],
                    applications: ["node": "image-1"],
                    timings: .init()
                )
            ],
            drivers: [:],
            authority: authority
        )
        let eventLog = EventLog(store: store, logger: ManagerPartsTests.logger, clock: clock)
        return Scaler(
            configuredLocation: "zone",
            store: store,
            engine: engine,
            clouds: clouds,
            metrics: ManagerMetrics(registry: .init()),
            eventLog: eventLog,
            swarm: SwarmView(engine: engine),
            scalerNotes: ScalerNotes(),
            scalerWakeUp: WakeUps(),
            instances: fleet,
            containers: NoViews(),
            volumes: NoVolumes(),
            autoscaler: NoPolicies()
        )
    }

    /// A service the manager's node has no room for: its task waits with the scheduler's words.
    static func pendingService(_ swarm: InMemorySwarm, name: String, memoryMiB: Int) async -> String {
        let spec = ServiceSpec(
            name: name,
            labels: [:],
            taskTemplate: .init(
                containerSpec: .init(image: "busybox:local"),
                resources: .init(
                    limits: nil,
                    reservations: .init(genericResources: [GenericResource(kind: SchedulerResource.memory, value: Int64(memoryMiB))])
                )
            ),
            mode: .init(replicas: 1),
            endpointSpec: nil
        )
        return await swarm.addService(spec)
    }

    /// A task no node has room for becomes one instance of the cheapest flavour that holds it.
    @Test func aWaitingTaskStartsTheCheapestFlavourThatHoldsIt() async throws {
        let swarm = InMemorySwarm(managerMemoryMiB: 256)
        let engine = swarm.managerEngine
        _ = try await engine.initSwarm(advertiseAddress: "10.0.0.2", listenAddress: "10.0.0.2:2377", defaultAddressPool: nil)
        let store = try Store.inMemory()
        let serviceID = await Self.pendingService(swarm, name: "container-big", memoryMiB: 1024)
        var record = ContainerRecord(
            name: "container-big",
            client: "c",
            image: "busybox:local",
            desired: .running,
            serviceID: serviceID,
            location: "zone",
            script: nil,
            domain: nil,
            arguments: [],
            environment: [],
            port: nil,
            memoryMiB: 1024,
            lastState: .pending,
            lastReason: nil,
            createdAt: Date(),
            updatedAt: Date()
        )
        record.replicas = 1
        try await store.insertContainer(
            record,
            event: EventRecord(time: Date(), kind: .containerLaunch, subject: record.name, message: "test")
        )
        let fleet = FakeFleet()
        let scaler = Self.scaler(store: store, engine: engine, fleet: fleet)
        try await scaler.pass()
        let started = await fleet.started
        #expect(started.count == 1, "\(started)")
        #expect(started.first?.request.flavour == "large" && started.first?.location == "zone")
        #expect(started.first?.reason.contains("container-big") == true, "\(started.first?.reason ?? "")")
        #expect(await fleet.converged == 1)
        #expect(await fleet.drained.isEmpty)
    }

    /// An idle instance past its grace period is drained; a busy or young one is not.
    @Test func anIdleInstancePastItsGraceIsDrained() async throws {
        let swarm = InMemorySwarm()
        let engine = swarm.managerEngine
        _ = try await engine.initSwarm(advertiseAddress: "10.0.0.2", listenAddress: "10.0.0.2:2377", defaultAddressPool: nil)
        let store = try Store.inMemory()
        let longAgo = Date(timeIntervalSinceNow: -3600)
        for (id, created) in [("i-old", longAgo), ("i-young", Date())] {
            var instance = InstanceRecord(
                id: InstanceID(id),
                hostname: id,
                cloud: "mem",
                location: "zone",
                role: .worker,
                state: .ready,
                address: "10.0.0.9",
                createdAt: created,
                updatedAt: created
            )
            instance.memoryMiB = 512
            instance.flavour = "small"
            instance.idleSince = created
            instance.nodeID = "node-\(id)"
            try await store.insertInstance(instance, event: EventRecord(time: created, kind: .instanceReady, subject: id, message: "test"))
        }
        let fleet = FakeFleet()
        try await Self.scaler(store: store, engine: engine, fleet: fleet).pass()
        #expect(await fleet.drained == [InstanceID("i-old")])
        #expect(await fleet.started.isEmpty)
    }

    /// Grace periods are read on the manager's clock: on a virtual one, an instance idle since
    /// it was made is kept until that clock has moved past the grace period, however fast the
    /// passes come.
    @Test func theGracePeriodRunsOnTheManagersClock() async throws {
        let swarm = InMemorySwarm()
        let engine = swarm.managerEngine
        _ = try await engine.initSwarm(advertiseAddress: "10.0.0.2", listenAddress: "10.0.0.2:2377", defaultAddressPool: nil)
        let store = try Store.inMemory()
        let clock = VirtualClock(start: Date(timeIntervalSince1970: 1_800_000_000))
        var instance = InstanceRecord(
            id: InstanceID("i-idle"),
            hostname: "i-idle",
            cloud: "mem",
            location: "zone",
            role: .worker,
            state: .ready,
            address: "10.0.0.9",
            createdAt: clock.now,
            updatedAt: clock.now
        )
        instance.memoryMiB = 512
        instance.flavour = "small"
        instance.idleSince = clock.now
        instance.nodeID = "node-i-idle"
        try await store.insertInstance(
            instance,
            event: EventRecord(time: clock.now, kind: .instanceReady, subject: "i-idle", message: "test")
        )
        let fleet = FakeFleet()
        let scaler = Self.scaler(store: store, engine: engine, fleet: fleet, clock: clock)
        try await scaler.pass()
        clock.advance(by: 59)
        try await scaler.pass()
        #expect(await fleet.drained.isEmpty, "drained before its 60 s of grace had passed on the manager's clock")
        clock.advance(by: 1)
        try await scaler.pass()
        #expect(await fleet.drained == [InstanceID("i-idle")])
    }
}
