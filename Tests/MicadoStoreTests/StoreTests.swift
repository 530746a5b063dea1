import Foundation
import MicadoCore
import MicadoStore
import MicadoTestSupport
import Testing

/// Each store test runs on every kind of store: the embedded SQLite and PostgreSQL.
@Suite struct StoreTests {
    static func record(_ name: String, desired: DesiredState = .running) -> ContainerRecord {
        ContainerRecord(
            name: name,
            client: "web",
            image: "busybox:local",
            desired: desired,
            serviceID: nil,
            location: "local",
            script: "/bin/httpd",
            domain: nil,
            arguments: ["-f", "-p", "80"],
            environment: [EnvironmentVariable(key: "A", value: "b=c")],
            port: PortMapping(published: 8080, target: 80),
            memoryMiB: 64,
            lastState: .creating,
            lastReason: nil,
            createdAt: Date(),
            updatedAt: Date()
        )
    }

    static func event(_ subject: String) -> EventRecord {
        EventRecord(time: Date(), kind: .containerCreated, subject: subject, message: "m")
    }

    @Test(arguments: StoreKind.enabled) func insertReadUpdateDelete(_ kind: StoreKind) async throws {
        let store = try await kind.make()
        try await store.insertContainer(Self.record("container-a"), event: Self.event("container-a"))
        var read = try #require(try await store.container("container-a"))
        #expect(read.arguments == ["-f", "-p", "80"])
        #expect(read.environment == [EnvironmentVariable(key: "A", value: "b=c")])
        #expect(read.port == PortMapping(published: 8080, target: 80))
        read.serviceID = "svc1"
        read.desired = .stopped
        try await store.updateContainer(read, event: nil)
        #expect(try await store.container("container-a")?.serviceID == "svc1")
        #expect(try await store.container("container-a")?.desired == .stopped)
        try await store.deleteContainer("container-a", event: Self.event("container-a"))
        #expect(try await store.container("container-a") == nil)
        #expect(try await store.events(subject: "container-a").count == 2)
    }

    /// The container and instance lists are kept and patched by each write of one record: after
    /// any mix of writes, concurrent ones among them, they equal what a second store on the same
    /// file reads from disk (same records, same order).
    @Test func theKeptListsEqualTheFileAfterEveryWrite() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("micado-store-\(UUID().uuidString).sqlite").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let store = try Store.open(path: path)
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        func instance(_ n: Int) -> InstanceRecord {
            InstanceRecord(
                id: InstanceID("i\(n)"),
                hostname: "h\(n)",
                cloud: "c",
                location: "eu",
                role: .worker,
                state: .booting,
                address: nil,
                // Some share a creation time: ties keep the order the file gives.
                createdAt: start.addingTimeInterval(Double(n / 2)),
                updatedAt: start
            )
        }
        var random = SeededGenerator(seed: 11)
        for round in 0..<6 {
            // Warm the kept lists, then write: every write below must patch them, not drop them.
            _ = try await store.containers()
            _ = try await store.instances()
            await withTaskGroup(of: Void.self) { group in
                for n in 0..<8 {
                    let which = Int.random(in: 0..<12, using: &random)
                    let name = "container-\(which)"
                    // setReplicas (4) drops the lists instead: only in the last round.
                    let choice = Int.random(in: 0..<(round == 5 ? 5 : 4), using: &random)
                    group.addTask {
                        switch choice {
                        case 0:
                            var record = Self.record(name)
                            record.createdAt = start.addingTimeInterval(Double(which % 4))
                            try? await store.insertContainer(record, event: Self.event(name))
                        case 1:
                            if var record = try? await store.container(name) {
                                record.memoryMiB = 100 + round * 10 + n
                                try? await store.updateContainer(record, event: nil)
                            }
                        case 2: _ = try? await store.observe(container: name, state: .running, reason: "r\(round)")
                        case 3: try? await store.deleteContainer(name, event: Self.event(name))
                        default: _ = try? await store.setReplicas(name, n, event: Self.event(name))
                        }
                        let i = which
                        switch choice {
                        case 0, 1: try? await store.upsertInstance(instance(i))
                        case 2:
                            var record = instance(i)
                            record.state = .ready
                            try? await store.updateInstance(record, event: nil)
                        case 3: try? await store.deleteInstance(InstanceID("i\(i)"), event: Self.event("i\(i)"))
                        case 4: try? await store.insertInstance(instance(i + 12), event: Self.event("i"))
                        default: break
                        }
                    }
                }
            }
            // A store opened now has nothing kept: it reads the file.
            let disk = try Store.open(path: path)
            #expect(try await store.containers() == disk.containers(), "round \(round)")
            #expect(try await store.instances() == disk.instances(), "round \(round)")
        }
        #expect(try await !store.containers().isEmpty)
    }

    @Test(arguments: StoreKind.enabled) func duplicateNameIsRefusedAndChangesNothing(_ kind: StoreKind) async throws {
        let store = try await kind.make()
        try await store.insertContainer(Self.record("container-a"), event: Self.event("container-a"))
        await #expect(throws: MicadoError.self) {
            try await store.insertContainer(Self.record("container-a", desired: .stopped), event: Self.event("container-a"))
        }
        #expect(try await store.container("container-a")?.desired == .running)
        #expect(try await store.events().count == 1)
    }

    @Test(arguments: StoreKind.enabled) func eventsAreNewestLimitedOldestFirst(_ kind: StoreKind) async throws {
        let store = try await kind.make()
        for i in 0..<10 {
            try await store.record(EventRecord(time: Date(), kind: .containerRemoved, subject: "s\(i % 2)", message: "\(i)"))
        }
        let last3 = try await store.events(limit: 3)
        #expect(last3.map(\.message) == ["7", "8", "9"])
        #expect(try await store.events(subject: "s0").map(\.message) == ["0", "2", "4", "6", "8"])
    }

    /// Writers of an image's record change only their fields, in one transaction each: a
    /// digest and a critical usage written at once are both kept.
    @Test(arguments: StoreKind.enabled) func imageWritersKeepEachOthersFields(_ kind: StoreKind) async throws {
        let store = try await kind.make()
        await withTaskGroup(of: Void.self) { group in
            for round in 0..<20 {
                group.addTask { _ = try? await store.updateImage("nginx:1.27") { $0.digest = "sha256:\(round)" } }
                group.addTask { _ = try? await store.updateImage("nginx:1.27") { $0.criticalMemoryMiB = 10 + round } }
            }
        }
        let record = try #require(try await store.image("nginx:1.27"))
        #expect(record.digest?.hasPrefix("sha256:") == true && record.criticalMemoryMiB != nil)
        #expect(try await store.updateImage("nginx:1.27") { $0.reference = "nginx:1.27" }.digest == record.digest)
    }

    @Test(arguments: StoreKind.enabled) func settingIsCreatedOnce(_ kind: StoreKind) async throws {
        let store = try await kind.make()
        let first = try await store.setting("manager.id") { "one" }
        let second = try await store.setting("manager.id") { "two" }
        #expect(first == "one")
        #expect(second == "one")
    }

    @Test func fileStoreSurvivesReopen() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("micado-store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("s.sqlite").path
        do {
            let store = try Store.open(path: path)
            try await store.insertContainer(Self.record("container-a"), event: Self.event("container-a"))
            try await store.upsertImage(
                ImageRecord(name: "container-app:latest", imageID: "sha256:1", sizeBytes: 10, criticalMemoryMiB: 32, createdAt: Date())
            )
        }
        let reopened = try Store.open(path: path)
        #expect(try await reopened.container("container-a")?.client == "web")
        #expect(try await reopened.image("container-app:latest")?.criticalMemoryMiB == 32)
    }

    /// Each container keeps its newest `keep` samples; the newest of each is one read away.
    @Test(arguments: StoreKind.enabled) func usageHistoryIsBoundedPerContainerAndTheNewestIsKept(_ kind: StoreKind) async throws {
        let store = try await kind.make()
        let start = Date()
        for round in 0..<15 {
            let samples = ["container-a", "container-b"].map { name in
                UsageRecord(
                    container: name,
                    image: "img",
                    time: start.addingTimeInterval(Double(round)),
                    cpuPercent: Double(round),
                    memoryMiB: Double(round)
                )
            }
            try await store.recordUsage(samples, keep: 10)
        }
        #expect(try await store.usageHistory(container: "container-a", limit: 100).count == 10)
        #expect(try await store.usageHistory(container: "container-b", limit: 100).count == 10)
        let latest = try await store.latestUsage()
        #expect(latest["container-a"]?.memoryMiB == 14)
        #expect(latest["container-b"]?.cpuPercent == 14)
        try await store.deleteContainer(
            "container-a",
            event: EventRecord(time: start, kind: .containerRemoved, subject: "container-a", message: "gone")
        )
        #expect(try await store.latestUsage()["container-a"] == nil)
        #expect(try await store.removed(Store.Tombstone.container, "container-a"))
    }

    @Test(arguments: StoreKind.enabled) func workInFlightIsMarkedListedAndCleared(_ kind: StoreKind) async throws {
        let store = try await kind.make()
        try await store.markInFlight("build", "web:latest")
        try await store.markInFlight("build", "api:latest")
        try await store.markInFlight("push", "web:latest")
        #expect(try await store.inFlight("build") == ["api:latest", "web:latest"])
        try await store.clearInFlight("build", "web:latest")
        #expect(try await store.inFlight("build") == ["api:latest"])
        #expect(try await store.inFlight("push") == ["web:latest"])
    }
}
