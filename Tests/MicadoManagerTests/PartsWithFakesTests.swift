import AsyncHTTPClient
import DockerEngine
import Foundation
import Logging
import MicadoClouds
import MicadoCore
import MicadoStore
import MicadoTestSupport
import Testing

@testable import MicadoManager

/// Parts built with fakes of only the store concerns they name: no SQLite, no whole manager.
@Suite struct PartsWithFakesTests {
    /// The event log as a list.
    actor FakeEvents: EventStore {
        var recorded: [EventRecord] = []
        func record(_ event: EventRecord) async throws(MicadoError) { recorded.append(event) }
        func events(subject: String?, after: Int64?, limit: Int) async throws(MicadoError) -> [EventRecord] {
            Array(recorded.filter { subject == nil || $0.subject == subject }.prefix(limit))
        }
    }

    /// Images, containers and settings in dictionaries: what `Images` names, and nothing more.
    actor FakeImageShelf: ImageStore, ContainerStore, SettingsStore {
        var images: [String: ImageRecord] = [:]
        var records: [String: ContainerRecord] = [:]
        var settings: [String: String] = [:]
        var inFlightWork: Set<String> = []
        var tombstones: Set<String> = []
        let events = FakeEvents()

        init(images: [ImageRecord], containers: [ContainerRecord]) {
            self.images = Dictionary(uniqueKeysWithValues: images.map { ($0.name, $0) })
            self.records = Dictionary(uniqueKeysWithValues: containers.map { ($0.name, $0) })
        }

        func upsertImage(_ record: ImageRecord) async throws(MicadoError) { images[record.name] = record }
        func image(_ name: String) async throws(MicadoError) -> ImageRecord? { images[name] }
        func updateImage(_ name: String, _ change: @escaping @Sendable (inout ImageRecord) -> Void) async throws(MicadoError) -> ImageRecord
        {
            var record = images[name] ?? ImageRecord(name: name, imageID: nil, sizeBytes: nil, criticalMemoryMiB: nil, createdAt: Date())
            change(&record)
            images[name] = record
            return record
        }
        func deleteImage(_ name: String, event: EventRecord) async throws(MicadoError) {
            images[name] = nil
            try await events.record(event)
        }
        func images() async throws(MicadoError) -> [ImageRecord] { images.values.sorted { $0.name < $1.name } }

        func insertContainer(_ record: ContainerRecord, event: EventRecord) async throws(MicadoError) { records[record.name] = record }
        func container(_ name: String) async throws(MicadoError) -> ContainerRecord? { records[name] }
        func containers() async throws(MicadoError) -> [ContainerRecord] { records.values.sorted { $0.name < $1.name } }
        func updateContainer(_ record: ContainerRecord, event: EventRecord?) async throws(MicadoError) { records[record.name] = record }
        func setReplicas(_ name: String, _ replicas: Int, event: EventRecord) async throws(MicadoError) -> Bool { false }
        func observe(container name: String, state: ObservedState, reason: String?) async throws(MicadoError) -> Bool { false }
        func deleteContainer(_ name: String, event: EventRecord) async throws(MicadoError) { records[name] = nil }

        func setting(_ key: String) async throws(MicadoError) -> String? { settings[key] }
        func setSetting(_ key: String, _ value: String) async throws(MicadoError) { settings[key] = value }
        func setting(_ key: String, orCreate make: @escaping @Sendable () -> String) async throws(MicadoError) -> String {
            if let value = settings[key] { return value }
            settings[key] = make()
            return settings[key]!
        }
        func markInFlight(_ kind: String, _ subject: String) async throws(MicadoError) { inFlightWork.insert(kind + " " + subject) }
        func clearInFlight(_ kind: String, _ subject: String) async throws(MicadoError) { inFlightWork.remove(kind + " " + subject) }
        func inFlight(_ kind: String) async throws(MicadoError) -> [String] {
            inFlightWork.filter { $0.hasPrefix(kind + " ") }.map { String($0.dropFirst(kind.count + 1)) }.sorted()
        }
        func removed(_ kind: String, _ id: String) async throws(MicadoError) -> Bool { tombstones.contains(kind + " " + id) }
        func bury(_ kind: String, _ id: String) async throws(MicadoError) { tombstones.insert(kind + " " + id) }
        func forget(_ kind: String, _ id: String) async throws(MicadoError) { tombstones.remove(kind + " " + id) }
    }

    /// Instances only, for `NodeEngines`.
    actor FakeInstances: InstanceStore {
        var records: [InstanceRecord]
        init(_ records: [InstanceRecord]) { self.records = records }
        func upsertInstance(_ record: InstanceRecord) async throws(MicadoError) { records.append(record) }
        func instances() async throws(MicadoError) -> [InstanceRecord] { records }
        func insertInstance(_ record: InstanceRecord, event: EventRecord) async throws(MicadoError) { records.append(record) }
        func updateInstance(_ record: InstanceRecord, event: EventRecord?) async throws(MicadoError) {}
        func deleteInstance(_ id: InstanceID, event: EventRecord) async throws(MicadoError) { records.removeAll { $0.id == id } }
    }

    static func container(_ name: String, image: String) -> ContainerRecord {
        ContainerRecord(
            name: name,
            client: "test",
            image: image,
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
            createdAt: Date(),
            updatedAt: Date()
        )
    }

    static let noClouds = CloudSet(configurations: [], drivers: [:], authority: .init(directory: "/nonexistent"))

    static func images(_ shelf: FakeImageShelf) -> Images {
        Images(
            store: shelf,
            engine: InMemorySwarm().managerEngine,
            clouds: noClouds,
            http: .shared,
            registry: nil,
            eventLog: EventLog(store: shelf.events, logger: ManagerPartsTests.logger)
        )
    }

    @Test func anImageInUseIsNotRemovedAndNothingIsSaid() async throws {
        let shelf = FakeImageShelf(
            images: [ImageRecord(name: "web:latest", imageID: "sha256:1", sizeBytes: 10, criticalMemoryMiB: nil, createdAt: Date())],
            containers: [Self.container("container-web", image: "web:latest")]
        )
        let error = await #expect(throws: MicadoError.self) { try await Self.images(shelf).remove("web") }
        #expect(error?.code == .conflict)
        #expect(error?.message.contains("container-web") == true)
        #expect(try await shelf.image("web:latest") != nil)
        #expect(await shelf.events.recorded.isEmpty)
    }

    @Test func anUnknownImageIsNotFound() async throws {
        let shelf = FakeImageShelf(images: [], containers: [])
        let error = await #expect(throws: MicadoError.self) { try await Self.images(shelf).remove("nothing") }
        #expect(error?.code == .notFound)
    }

    @Test func aLoopStepSaysAFailureOnceAndItsEnd() async throws {
        let events = FakeEvents()
        let log = EventLog(store: events, logger: ManagerPartsTests.logger)
        for _ in 0..<3 {
            await log.step(.containerReconcileFailed, "container-a") { () throws(MicadoError) in throw .init(.engine, "engine gone") }
        }
        await log.step(.containerReconcileFailed, "container-a") { () throws(MicadoError) in throw .init(.engine, "engine still gone") }
        await log.step(.containerReconcileFailed, "container-a") { () throws(MicadoError) in }
        await log.step(.containerReconcileFailed, "container-a") { () throws(MicadoError) in }
        let messages = await events.recorded.map(\.message)
        #expect(
            messages == [
                "container-a: engine gone", "container-a: engine still gone", "container-a: the earlier failure is resolved",
            ]
        )
    }

    @Test func aNodeOfNoInstanceHasNoEngine() async throws {
        let swarm = InMemorySwarm()
        let manager = InstanceRecord(
            id: InstanceID("node-manager"),
            hostname: "manager",
            cloud: "local",
            location: nil,
            role: .manager,
            state: .ready,
            address: nil,
            createdAt: Date(),
            updatedAt: Date()
        )
        let engines = NodeEngines(
            own: swarm.managerEngine,
            monitorHTTP: nil,
            connector: swarm,
            clouds: Self.noClouds,
            instances: FakeInstances([manager])
        )
        #expect(try await engines.engine(forNode: nil).engineVersion == "in-memory")
        #expect(try await engines.engine(forNode: "node-manager").engineVersion == "in-memory")
        let error = await #expect(throws: MicadoError.self) { try await engines.engine(forNode: "node-elsewhere") }
        #expect(error?.code == .engine)
        #expect(error?.message.contains("not an instance of this manager") == true)
    }
}
