import DockerEngine
import Foundation
import Logging
import MicadoClouds
import MicadoCore
import MicadoStore
import MicadoTestSupport
import Testing

@testable import MicadoManager

/// The manager's parts (`Containers`, `Scaler`, `Reconciler`, `Instances`) against the in-memory swarm and cloud: the
/// manager's decisions, step by step, without a daemon (the integration tests cover the
/// same paths against real engines).
@Suite struct ManagerPartsTests {
    struct World {
        let swarm: InMemorySwarm
        let cloud: InMemoryCloud
        let store: Store
        let orchestrator: Orchestrator
        let home: String

        func events(_ subject: String? = nil) async throws -> [String] {
            try await store.events(subject: subject, limit: 500).map(\.kind.rawValue)
        }
        func instances() async throws -> [InstanceRecord] { try await store.instances().filter { !$0.isManager } }
    }

    static var logger: Logger {
        var logger = Logger(label: "micado.unit")
        logger.logLevel = .critical
        return logger
    }

    /// A bootstrapped manager on the in-memory swarm; with `clouds`, one cloud "mem" whose
    /// location "zone" takes up to `max` instances of 512 MiB.
    static func world(clouds: Bool, max: Int = 3, store: Store? = nil, swarm: InMemorySwarm? = nil) async throws -> World {
        let swarm = swarm ?? InMemorySwarm()
        let cloud = InMemoryCloud(swarm: swarm)
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("micado-unit-\(UUID().uuidString)").path
        let authority = CertificateAuthority(directory: home + "/tls")
        try FileManager.default.createDirectory(atPath: home + "/tls", withIntermediateDirectories: true)
        try authority.create()
        var configuration = ManagerConfiguration()
        configuration.docker.advertiseAddress = "10.0.0.2"
        configuration.defaults.launchTimeoutSeconds = 1
        let cloudSet =
            clouds
            ? CloudSet(
                configurations: [
                    CloudConfiguration(
                        name: "mem",
                        driver: "in-memory",
                        locations: ["zone": LocationBounds(min: 0, max: max)],
                        flavours: [Flavour(name: "small", cpus: 1, memoryMiB: 512, pricePerHour: 0.01)],
                        applications: ["node": "image-1"],
                        timings: .init(),
                        network: nil
                    )
                ],
                drivers: ["mem": cloud],
                authority: authority
            )
            : CloudSet(configurations: [], drivers: [:], authority: authority)
        let store = try store ?? Store.inMemory()
        let orchestrator = Orchestrator(
            configuration: configuration,
            store: store,
            engine: swarm.managerEngine,
            managerID: "munit",
            clouds: cloudSet,
            engines: swarm,
            logger: logger
        )
        try await orchestrator.instances.bootstrapSwarm()
        return World(swarm: swarm, cloud: cloud, store: store, orchestrator: orchestrator, home: home)
    }

    static func request(_ name: String, memory: Int = 100, location: String? = nil, detach: Bool = false) throws -> LaunchRequest {
        LaunchRequest(
            image: "busybox:local",
            client: "unit",
            location: location,
            arguments: ["sleep", "3600"],
            memoryMiB: memory,
            name: try ContainerName.parse(name),
            detach: detach
        )
    }

    // MARK: launch

    @Test func aLaunchStoresTheRecordFirstThenCreatesItsServiceAndAnswersOnceItRuns() async throws {
        let w = try await Self.world(clouds: false)
        let view = try await w.orchestrator.containers.launch(Self.request("container-web", memory: 128))
        #expect(view.state == .running)
        let spec = try #require(await w.swarm.serviceSpec("container-web"))
        #expect(spec.labels?["micado.manager"] == "munit" && spec.labels?["micado.container"] == "container-web")
        #expect(spec.taskTemplate.resources?.reservations?.genericResources?.first?.discrete?.value == 128)
        #expect(spec.taskTemplate.resources?.limits?.memoryBytes == 128 << 20)
        #expect(spec.taskTemplate.containerSpec.args == ["sleep", "3600"])
        let record = try #require(try await w.store.container("container-web"))
        #expect(record.serviceID != nil && record.desired == .running)
        // The launch event is written before the engine is asked.
        let kinds = try await w.events("container-web")
        #expect(kinds.contains("container.launch") && kinds.contains("container.created"))
        let calls = await w.swarm.calls
        #expect(calls.filter { $0.hasPrefix("createService") } == ["createService container-web"])
    }

    @Test func aLaunchOfAnUnknownImageChangesNothing() async throws {
        let w = try await Self.world(clouds: false)
        var request = try Self.request("container-x")
        request.image = "nothing:here"
        await #expect(throws: MicadoError.self) { try await w.orchestrator.containers.launch(request) }
        #expect(try await w.store.containers().isEmpty)
        #expect(await w.swarm.serviceNames().isEmpty)
    }

    @Test func aLaunchTooBigForTheManagerWaitsAndSaysWhy() async throws {
        let w = try await Self.world(clouds: false)
        do {
            _ = try await w.orchestrator.containers.launch(Self.request("container-big", memory: 4096))
            Issue.record("a launch no node can hold answered as running")
        } catch let error as MicadoError {
            #expect(error.code == .timeout && error.message.contains("insufficient resources"), "\(error)")
        }
        // It stays launched: the record and the service are both there.
        #expect(try await w.store.container("container-big") != nil)
        #expect(await w.swarm.serviceNames() == ["container-big"])
    }

    @Test func aSecondLaunchOfAPublishedPortIsRefused() async throws {
        let w = try await Self.world(clouds: false)
        var first = try Self.request("container-a")
        first.port = PortMapping(published: 8080, target: 80)
        _ = try await w.orchestrator.containers.launch(first)
        var second = try Self.request("container-b")
        second.port = PortMapping(published: 8080, target: 80)
        await #expect(throws: MicadoError.self) { try await w.orchestrator.containers.launch(second) }
        #expect(await w.swarm.serviceNames() == ["container-a"])
    }

    /// A container whose command exits is not waiting for room: `explain` says it restarts,
    /// and promises no instance (it used to read as a capacity wait).
    @Test func explainTellsARestartLoopFromACapacityWait() async throws {
        let w = try await Self.world(clouds: false)
        _ = try await w.orchestrator.containers.launch(Self.request("container-exits"))
        await w.swarm.endTasks(of: "container-exits", state: "complete")
        let explained = try await w.orchestrator.scaler.explain("container-exits").explanation.joined(separator: "\n")
        #expect(explained.contains("exits; Swarm restarts it"), "\(explained)")
        #expect(!explained.contains("scaler starts an instance") && !explained.contains("reserves"), "\(explained)")
    }

    // MARK: the scaler's pass

    @Test func aPendingLaunchStartsOneInstanceWhichJoinsAndTakesIt() async throws {
        let w = try await Self.world(clouds: true)
        _ = try await w.orchestrator.containers.launch(Self.request("container-web", memory: 400, detach: true))
        // The manager's node is drained with clouds: the task waits for room.
        #expect(await w.swarm.runningTasks(of: "container-web").isEmpty)

        try await w.orchestrator.scaler.pass()
        var creates = await w.cloud.creates
        #expect(creates.count == 1)
        let create = try #require(creates.first)
        #expect(create.flavour.name == "small" && create.location == "zone" && create.machineImage == "image-1")
        #expect(create.tags[CloudTag.manager] == "munit" && create.tags[CloudTag.token] == create.idempotencyToken)
        #expect(create.userData.capacityMiB == 512 && create.userData.labels["micado.location"] == "zone")
        let record = try #require(try await w.instances().first)
        #expect(record.state == .booting && record.cloudID == "vm-10" && record.engineEndpoint == "tcp://10.0.0.10:2376")
        #expect(create.tags[CloudTag.instance] == record.id.rawValue)

        // A second pass while it boots starts nothing more.
        try await w.orchestrator.scaler.pass()
        creates = await w.cloud.creates
        #expect(creates.count == 1)

        // Booted: the next passes join its engine to the swarm, then admit the node.
        await w.cloud.finishBoots()
        for _ in 0..<4 { try await w.orchestrator.scaler.pass() }
        let ready = try #require(try await w.instances().first)
        #expect(ready.state == .ready, "\(ready)")
        let nodeID = try #require(ready.nodeID)
        #expect(await w.swarm.nodeLabels(nodeID)["micado.instance"] == ready.id.rawValue)
        #expect(await w.swarm.runningTasks(of: "container-web").map(\.node) == [nodeID])
        // The swarm token went from the manager to the instance's engine through its API.
        #expect(await w.swarm.calls.contains("joinSwarm tcp://10.0.0.10:2376"))
        #expect(try await w.events().contains("instance.ready"))
    }

    @Test func theScalerStopsAtTheLocationsMax() async throws {
        let w = try await Self.world(clouds: true, max: 2)
        for i in 0..<4 { _ = try await w.orchestrator.containers.launch(Self.request("container-c\(i)", memory: 400, detach: true)) }
        for _ in 0..<3 { try await w.orchestrator.scaler.pass() }
        #expect(await w.cloud.creates.count == 2)
        #expect(try await w.instances().count == 2)
    }

    @Test func aCapacityErrorRemovesTheRecordAndSaysSo() async throws {
        let w = try await Self.world(clouds: true)
        _ = try await w.orchestrator.containers.launch(Self.request("container-web", memory: 400, detach: true))
        await w.cloud.failNextCreate(CloudError(.capacity, "InsufficientInstanceCapacity: no small in zone"))
        try await w.orchestrator.scaler.pass()
        #expect(try await w.instances().isEmpty)
        #expect(try await w.events().contains("instance.create-failed"))
    }

    @Test func anIdleInstanceIsDrainedAndDeletedAfterItsGracePeriod() async throws {
        let w = try await Self.world(clouds: true)
        _ = try await w.orchestrator.containers.launch(Self.request("container-web", memory: 400, detach: true))
        try await w.orchestrator.scaler.pass()
        await w.cloud.finishBoots()
        for _ in 0..<4 { try await w.orchestrator.scaler.pass() }
        #expect(try await w.instances().first?.state == .ready)
        _ = try await w.orchestrator.containers.quit("container-web", remove: true)
        // Made and idle long ago: its grace period is over at once.
        var record = try #require(try await w.instances().first)
        record.createdAt = Date(timeIntervalSinceNow: -3600)
        record.idleSince = Date(timeIntervalSinceNow: -3600)
        try await w.store.upsertInstance(record)
        for _ in 0..<4 { try await w.orchestrator.scaler.pass() }
        #expect(try await w.instances().isEmpty)
        #expect(await w.cloud.deletes == ["vm-10"])
        #expect(await w.cloud.instances.isEmpty)
        let kinds = try await w.events()
        #expect(kinds.contains("instance.draining") && kinds.contains("instance.deleted"))
    }

    /// The states a kill -9 leaves around the create call, injected: the record stored and
    /// the call never made, or made with its answer lost. The next pass resumes with the same
    /// token, and the cloud ends up with exactly one instance.
    @Test(arguments: [false, true])
    func aHalfMadeInstanceIsResumedWithItsToken(callWasMade: Bool) async throws {
        let w = try await Self.world(clouds: true)
        let request = StartInstanceRequest(cloud: "mem", application: "node", flavour: "small", tag: "t", role: .application, first: false)
        var record = try await w.orchestrator.instances.startInstance(request, reason: "test")
        if !callWasMade { try await w.cloud.delete(try #require(record.cloudID)) }
        record.state = .creating
        record.cloudID = nil
        record.engineEndpoint = nil
        record.address = nil
        try await w.store.upsertInstance(record)

        try await w.orchestrator.scaler.pass()
        let resumed = try #require(try await w.instances().first)
        #expect(resumed.id == record.id && resumed.state == .booting && resumed.cloudID != nil, "\(resumed)")
        #expect(await w.cloud.instances.count == 1)
        let tokens = await w.cloud.creates.map(\.idempotencyToken)
        #expect(tokens.count == 2 && Set(tokens) == [record.token])
    }

    /// A cloud that answers a create with an address micado must not connect to (this
    /// machine's, the manager's, not unicast, not one): the record goes, the instance is
    /// deleted, and the manager never connects there (an attack made it dial 127.0.0.1:2376
    /// twice a second).
    @Test(arguments: ["127.0.0.1", "10.0.0.2", "169.254.1.1", "224.0.0.1", "0.0.0.0", "not-an-address"])
    func aCreateAnsweredWithAnUnusableAddressIsRefused(address: String) async throws {
        let w = try await Self.world(clouds: true)
        await w.cloud.answerNextWith(address: address)
        let request = StartInstanceRequest(cloud: "mem", application: "node", flavour: "small", tag: "t", role: .application, first: false)
        do {
            _ = try await w.orchestrator.instances.startInstance(request, reason: "test")
            Issue.record("a create answered with \(address) was accepted")
        } catch { #expect(error.code == .cloudBadRequest, "\(error)") }
        #expect(try await w.instances().isEmpty)
        let left = await w.cloud.instances
        #expect(await w.cloud.deletes == ["vm-10"] && left.isEmpty)
        #expect(try await w.events().contains("instance.bad-address"))
        #expect(!(await w.swarm.calls).contains { $0.contains(":2376") })
    }

    /// A cloud that gives the address only once the instance runs (OpenStack, CloudSigma):
    /// the record boots without one, takes the one a description gives, and is then joined;
    /// a later address micado must not connect to is refused the same way as at the create.
    @Test(arguments: ["10.0.0.77", "127.0.0.1"])
    func anAddressGivenAfterTheCreateIsCheckedThenUsed(address: String) async throws {
        let w = try await Self.world(clouds: true)
        _ = try await w.orchestrator.containers.launch(Self.request("container-web", memory: 400, detach: true))
        await w.cloud.answerNextWith(address: "")
        try await w.orchestrator.scaler.pass()
        var record = try #require(try await w.instances().first)
        #expect(record.state == .booting && record.address == nil && record.engineEndpoint == nil, "\(record)")
        await w.cloud.finishBoots()
        try await w.orchestrator.scaler.pass()
        record = try #require(try await w.instances().first)
        #expect(record.state == .booting && record.address == nil, "running without an address: it waits")
        await w.cloud.setAddress("vm-10", address)
        for _ in 0..<4 { try await w.orchestrator.scaler.pass() }
        if address == "127.0.0.1" {
            #expect(try await w.events().contains("instance.bad-address"))
            #expect(!(await w.swarm.calls).contains { $0.contains("127.0.0.1:2376") })
        } else {
            #expect(try await w.events().contains("instance.addressed"))
            let addressed = try #require(try await w.instances().first { $0.id == record.id })
            #expect(addressed.address == address && addressed.engineEndpoint == "tcp://\(address):2376", "\(addressed)")
        }
    }

    /// Two instances a confused cloud gives the same address after their creates, seen in
    /// one pass (whose steps run concurrently): one keeps it, the other is refused and deleted.
    @Test func oneAddressGivenToTwoInstancesIsHeldByOne() async throws {
        let w = try await Self.world(clouds: true)
        let request = StartInstanceRequest(cloud: "mem", application: "node", flavour: "small", tag: "t", role: .application, first: false)
        await w.cloud.answerNextWith(address: "")
        _ = try await w.orchestrator.instances.startInstance(request, reason: "test")
        await w.cloud.answerNextWith(address: "")
        _ = try await w.orchestrator.instances.startInstance(request, reason: "test")
        await w.cloud.finishBoots()
        await w.cloud.setAddress("vm-10", "10.0.0.50")
        await w.cloud.setAddress("vm-11", "10.0.0.50")
        for _ in 0..<3 { try await w.orchestrator.scaler.pass() }
        let holding = try await w.instances().filter { $0.address == "10.0.0.50" }
        #expect(holding.count == 1, "\(holding)")
        let events = try await w.events()
        #expect(events.filter { $0 == "instance.addressed" }.count == 1 && events.contains("instance.bad-address"), "\(events)")
    }

    @Test func aCreateAnsweredWithAnotherInstancesAddressIsRefused() async throws {
        let w = try await Self.world(clouds: true)
        let request = StartInstanceRequest(cloud: "mem", application: "node", flavour: "small", tag: "t", role: .application, first: false)
        let first = try await w.orchestrator.instances.startInstance(request, reason: "test")
        await w.cloud.answerNextWith(address: try #require(first.address))
        await #expect(throws: MicadoError.self) { try await w.orchestrator.instances.startInstance(request, reason: "test") }
        #expect(try await w.instances().map(\.id) == [first.id])
        #expect(await w.cloud.deletes == ["vm-11"])
    }

    /// A create repeated on a cloud that ignores idempotency tokens left a twin carrying the
    /// record's tags: the sweep deletes the twin and keeps the record's own instance (it used
    /// to keep both for the record's whole life).
    @Test func aTwinOfARecordsInstanceIsDeletedByTheSweep() async throws {
        let w = try await Self.world(clouds: true)
        let request = StartInstanceRequest(cloud: "mem", application: "node", flavour: "small", tag: "t", role: .application, first: false)
        let record = try await w.orchestrator.instances.startInstance(request, reason: "test")
        let cloudID = try #require(record.cloudID)
        let made = await w.cloud.instances
        let own = try #require(made[cloudID])
        await w.cloud.add(
            CloudInstance(
                id: "vm-99",
                address: "10.0.0.99",
                state: .running,
                engineEndpoint: "tcp://10.0.0.99:2376",
                tags: own.instance.tags
            ),
            userData: own.request.userData
        )
        await w.orchestrator.instances.deleteOrphanInstances()
        #expect(await w.cloud.deletes == ["vm-99"])
        #expect(try await w.instances().first?.cloudID == record.cloudID)
    }

    /// A cloud listing thousands of instances tagged as ours that the store never knew costs a
    /// bounded number of events per sweep (an attack's 15,000 made 15,000 events in one).
    @Test func strangersInTheCloudCostABoundedNumberOfEvents() async throws {
        let w = try await Self.world(clouds: true)
        for i in 0..<300 {
            let tags = [
                CloudTag.manager: "munit", CloudTag.instance: String(format: "m%010x", i), CloudTag.token: "t\(i)", CloudTag.tag: "x",
            ]
            await w.cloud.add(
                CloudInstance(
                    id: "stranger-\(i)",
                    address: "10.9.\(i / 250).\(i % 250 + 1)",
                    state: .running,
                    engineEndpoint: "tcp://10.9.0.1:2376",
                    tags: tags
                ),
                userData: UserData(labels: [:], capacityMiB: 512, caCertificatePEM: "")
            )
        }
        await w.orchestrator.instances.deleteOrphanInstances()
        let unknown = try await w.store.events(limit: 10_000).filter { $0.kind == .instanceUnknown }
        #expect(unknown.count == Instances.straysPerSweep + 1, "\(unknown.count)")
        #expect(unknown.contains { $0.message.contains("300 instances are tagged") })
        // Never the store's to delete: the strangers stay.
        #expect(await w.cloud.deletes.isEmpty)
    }

    /// A replaced store (a new manager ID) refuses the old one's services and instances, and
    /// `--adopt` takes the services over and deletes the instances, as its message says (the
    /// instances, tagged with the old ID, used to stay running and unmanaged).
    @Test func adoptingAReplacedStoresServicesDeletesItsInstances() async throws {
        let w = try await Self.world(clouds: true)
        _ = try await w.orchestrator.containers.launch(Self.request("container-web", memory: 400, detach: true))
        try await w.orchestrator.scaler.pass()
        #expect(await w.cloud.instances.count == 1)
        let fresh = Orchestrator(
            configuration: w.orchestrator.configuration,
            store: try Store.inMemory(),
            engine: w.swarm.managerEngine,
            managerID: "mnew",
            clouds: w.orchestrator.clouds,
            engines: w.swarm,
            logger: Self.logger
        )
        do {
            try await fresh.checkForeignServices(adopt: false)
            Issue.record("a replaced store started beside the old one's services and instances")
        } catch { #expect(error.message.contains("1 instance(s)"), "\(error)") }
        try await fresh.checkForeignServices(adopt: true)
        #expect(try await fresh.store.container("container-web") != nil)
        await fresh.instances.deleteOrphanInstances()
        #expect(await w.cloud.deletes == ["vm-10"])
    }

    // MARK: reconcile

    @Test func reconcileFinishesALaunchWhoseServiceWasNeverMade() async throws {
        let w = try await Self.world(clouds: false)
        // The state a crash between the record and the service leaves.
        let now = Date()
        let record = ContainerRecord(
            name: "container-half",
            client: "unit",
            image: "busybox:local",
            desired: .running,
            serviceID: nil,
            location: nil,
            script: nil,
            domain: nil,
            arguments: ["sleep", "1"],
            environment: [],
            port: nil,
            memoryMiB: 64,
            lastState: .creating,
            lastReason: nil,
            createdAt: now,
            updatedAt: now
        )
        try await w.store.insertContainer(
            record,
            event: EventRecord(time: now, kind: .containerLaunch, subject: "container-half", message: "test")
        )
        let changes = try await w.orchestrator.reconciler.pass()
        #expect(changes == ["created service for container-half"])
        #expect(await w.swarm.serviceNames() == ["container-half"])
        #expect(try await w.store.container("container-half")?.serviceID != nil)
        // Idempotent: a second pass changes nothing.
        #expect(try await w.orchestrator.reconciler.pass().isEmpty)
    }

    @Test func reconcileRemovesOnlyTheServicesThisStoreRemoved() async throws {
        let w = try await Self.world(clouds: false)
        _ = try await w.orchestrator.containers.launch(Self.request("container-gone", detach: true))
        // A quit and remove whose service removal was cut short: the store removed it, the swarm still has it.
        _ = try await w.orchestrator.containers.quit("container-gone", remove: true)
        let spec = ServiceSpec(
            name: "container-gone",
            labels: ["micado.manager": "munit", "micado.container": "container-gone"],
            taskTemplate: .init(containerSpec: .init(image: "busybox:local")),
            mode: .init(replicas: 1),
            endpointSpec: nil
        )
        _ = await w.swarm.addService(spec)
        var stranger = spec
        stranger.name = "container-stranger"
        stranger.labels?["micado.container"] = "container-stranger"
        _ = await w.swarm.addService(stranger)

        let changes = try await w.orchestrator.reconciler.pass()
        #expect(changes == ["removed orphan container-gone"])
        // The one this store never knew stays, and the pass says why.
        #expect(await w.swarm.serviceNames() == ["container-stranger"])
        #expect(try await w.events("container-stranger").contains("container.reconcile-failed"))
    }

    @Test func reconcileBringsReplicasBackToTheDesiredState() async throws {
        let w = try await Self.world(clouds: false)
        _ = try await w.orchestrator.containers.launch(Self.request("container-web"))
        try await w.swarm.managerEngine.scaleService("container-web", replicas: 0)  // someone scaled it down
        #expect(try await w.orchestrator.reconciler.pass() == ["scaled container-web to 1"])
        #expect(await w.swarm.runningTasks(of: "container-web").count == 1)
    }

    @Test func oneFailingRecordDoesNotStopThePass() async throws {
        let w = try await Self.world(clouds: false)
        let now = Date()
        for name in ["container-a", "container-b"] {
            let record = ContainerRecord(
                name: name,
                client: "unit",
                image: "busybox:local",
                desired: .running,
                serviceID: nil,
                location: nil,
                script: nil,
                domain: nil,
                arguments: [],
                environment: [],
                port: nil,
                memoryMiB: 64,
                lastState: .creating,
                lastReason: nil,
                createdAt: now,
                updatedAt: now
            )
            try await w.store.insertContainer(
                record,
                event: EventRecord(time: now, kind: .containerLaunch, subject: name, message: "test")
            )
        }
        await w.swarm.failNext("createService", with: MicadoError(.engine, "raft message is too large"))
        let changes = try await w.orchestrator.reconciler.pass()
        #expect(changes == ["created service for container-b"])
        #expect(try await w.events("container-a").contains("container.reconcile-failed"))
        #expect(try await w.orchestrator.reconciler.pass() == ["created service for container-a"])
    }
}
