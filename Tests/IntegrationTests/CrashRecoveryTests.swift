import DockerEngine
import Foundation
import MicadoClouds
import MicadoCore
import MicadoStore
import Testing

/// kill -9 of the manager at any moment loses no record and leaves no orphan service.
@Suite(.enabled(if: ManagerFixture.enginesAvailable || ManagerFixture.mustRun, ManagerFixture.skipNote))
struct CrashRecoveryTests {
    /// The invariant after a restart: services of ours and container records match one to one,
    /// and each service runs as many replicas as its record wants.
    static func expectStoreAndSwarmAgree(_ f: ManagerFixture) async throws {
        let listed = try await f.micado(["list", "-c", "-a", "--output", "json"])
        let records = try WireFormat.decoder().decode([ContainerView].self, from: Data(listed.stdout.utf8))
        let services = try await f.engine().services(label: "micado.manager")
        #expect(
            Set(services.map(\.spec.name)) == Set(records.map(\.name.rawValue)),
            "records \(records.map(\.name)) vs services \(services.map(\.spec.name))"
        )
        for record in records {
            let service = services.first { $0.spec.name == record.name.rawValue }
            #expect(service?.spec.replicas == (record.desired == .running ? 1 : 0), "\(record.name)")
        }
    }

    /// kill -9 inside a launch, after its record is stored and after its service is created
    /// (named points, no sleep): after a restart the store and the swarm agree, with one
    /// service, and the container runs.
    @Test(arguments: ["container.after-store", "container.after-service"])
    func killedDuringALaunchConvergesOnRestart(crashAt point: String) async throws {
        try await ManagerFixture.with { f in
            try await f.stopManager()
            f.managerEnvironment["MICADO_CRASH_AT"] = point
            try await f.startManager()
            let launch = try await f.micado([
                "launch", "-i", "busybox:local", "-n", "crash", "--container", "container-crash", "-a", "sleep", "3600",
            ])
            #expect(launch.status != 0, "the manager died inside the launch: \(launch)")
            #expect(try await f.managerExit(within: 30) == 128 + SIGKILL, "the manager died at \(point)")
            f.managerEnvironment["MICADO_CRASH_AT"] = nil
            try await f.startManager()
            try await CloudTests.eventually(30, "the container runs") {
                try await ContainerLifecycleTests.containers(f, all: true).first { $0.name.rawValue == "container-crash" }?.state
                    == .running
            }
            try await Self.expectStoreAndSwarmAgree(f)
            let services = try await f.engine().services(label: "micado.container=container-crash")
            #expect(services.count == 1, "\(services.map(\.spec.name))")
        }
    }

    @Test func restartFinishesInterruptedWorkBothWays() async throws {
        try await ManagerFixture.with { f in
            #expect(
                try await f.micado(["launch", "-i", "busybox:local", "-n", "keep", "--container", "container-keep", "-a", "sleep", "3600"])
                    .status == 0
            )
            try await f.stopManager(signal: SIGKILL)
            let store = try Store.open(path: f.home + "/micado.sqlite")
            let managerID = try await store.setting("manager.id") { "unused" }

            // A crash after the record was written but before the service was created.
            let now = Date()
            try await store.insertContainer(
                ContainerRecord(
                    name: "container-half",
                    client: "half",
                    image: "busybox:local",
                    desired: .running,
                    serviceID: nil,
                    location: nil,
                    script: nil,
                    domain: nil,
                    arguments: ["sleep", "3600"],
                    environment: [],
                    port: nil,
                    memoryMiB: 16,
                    lastState: .creating,
                    lastReason: nil,
                    createdAt: now,
                    updatedAt: now
                ),
                event: EventRecord(time: now, kind: .containerLaunch, subject: "container-half", message: "test")
            )
            // A crash after `remove` deleted the record (leaving its tombstone) but before the service was gone.
            try await store.bury(Store.Tombstone.container, "container-gone")
            let engine = try await f.engine()
            _ = try await engine.createService(
                ServiceSpec(
                    name: "container-gone",
                    labels: ["micado.manager": managerID, "micado.container": "container-gone"],
                    taskTemplate: .init(containerSpec: .init(image: "busybox:local", args: ["sleep", "3600"])),
                    mode: .init(replicas: 1),
                    endpointSpec: nil
                )
            )
            // A crash during quit: the record says stopped, the service still runs.
            var keep = try #require(try await store.container("container-keep"))
            keep.desired = .stopped
            try await store.updateContainer(keep, event: nil)

            try await f.startManager()
            try await Self.expectStoreAndSwarmAgree(f)
            let services = try await engine.services(label: "micado.manager")
            #expect(!services.contains { $0.spec.name == "container-gone" })
            #expect(services.first { $0.spec.name == "container-keep" }?.spec.replicas == 0)
            let events = try await f.micado(["events", "--limit", "200"]).stdout
            #expect(events.contains("container.resumed"))
            #expect(events.contains("container.orphan-removed"))
            #expect(events.contains("container.rescaled"))
            let half = try await f.micado(["list", "-c", "--output", "json"])
            #expect(half.stdout.contains("container-half"))
        }
    }
}
