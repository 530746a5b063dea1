import DockerEngine
import Foundation
import MicadoCore
import MicadoStore
import MicadoTestSupport
import Testing

@testable import MicadoManager

/// Where named volumes live with clouds (the in-memory swarm and cloud): a home chosen once
/// an instance has room, the services held there, the instance protected from every drain
/// until `apps rm --volumes`.
@Suite struct VolumePlacementTests {
    static let file = """
        name: shop
        volumes:
          data: {}
        services:
          db:
            image: busybox:local
            volumes: [data:/data]
            deploy: {resources: {reservations: {memory: 100M}}}
        """

    @Test func aVolumeLivesOnOneInstanceWhichIsNeverDrainedUntilItIsRemoved() async throws {
        let swarm = InMemorySwarm(images: ["busybox:local"])
        let w = try await ManagerPartsTests.world(clouds: true, swarm: swarm)
        _ = try await ApplicationsTests.apply(w, Self.file)
        // No instance yet: the volume has no home, and its task makes the scaler start one.
        #expect(try await w.store.volumes().map(\.nodeID) == [nil])
        try await w.orchestrator.scaler.pass()
        #expect(await w.cloud.creates.count == 1)
        await w.cloud.finishBoots()
        for _ in 0..<4 { try await w.orchestrator.scaler.pass() }
        let instance = try #require(try await w.instances().first)
        let node = try #require(instance.nodeID)
        #expect(instance.state == .ready)
        // Its home is the new instance: recorded, labelled, and where the task runs.
        #expect(try await w.store.volumes().map(\.nodeID) == [node])
        #expect(await w.swarm.nodeLabels(node)["micado.volume.shop_data"] == "home")
        #expect(await w.swarm.runningTasks(of: "shop_db").map(\.node) == [node])
        #expect(try await w.events("shop_data").contains("volume.homed"))
        let explained = try await w.orchestrator.scaler.explain("shop_db").explanation
        #expect(explained.contains { $0.contains("its volume shop_data lives on instance \(instance.id)") }, "\(explained)")

        // Neither a drain nor micado stop takes the instance.
        let drain = await #expect(throws: MicadoError.self) { try await w.orchestrator.instances.drain(instance.id, reason: "test") }
        #expect(drain?.code == .conflict && drain?.message.contains("holds the volume(s) shop_data") == true)
        let stop = await #expect(throws: MicadoError.self) { try await w.orchestrator.instances.stopInstances(tag: "auto") }
        #expect(stop?.code == .conflict)

        // Without its application, idle for an hour: the scaler still keeps it, the volume's data on it.
        try await w.orchestrator.applications.remove("shop")
        var record = try #require(try await w.instances().first)
        record.createdAt = Date(timeIntervalSinceNow: -3600)
        record.idleSince = Date(timeIntervalSinceNow: -3600)
        try await w.store.upsertInstance(record)
        for _ in 0..<4 { try await w.orchestrator.scaler.pass() }
        #expect(try await w.instances().map(\.state) == [.ready])
        #expect(await w.cloud.deletes.isEmpty)

        // Applied again, its service goes back to the same instance.
        _ = try await ApplicationsTests.apply(w, Self.file)
        try await w.orchestrator.scaler.pass()
        #expect(await w.swarm.runningTasks(of: "shop_db").map(\.node) == [node])
        #expect(await w.cloud.creates.count == 1)

        // apps rm --volumes: the volume goes from its node's engine, then the instance may go.
        await w.swarm.makeVolume("shop_data")
        let removal = try await w.orchestrator.applications.remove("shop", withVolumes: true, volumeWait: .seconds(5))
        #expect(removal.removedVolumes == ["shop_data"] && removal.pendingVolumes.isEmpty, "\(removal)")
        #expect(await w.swarm.volumes["shop_data"] == nil)
        #expect(try await w.store.volumes().isEmpty)
        #expect(await w.swarm.nodeLabels(node)["micado.volume.shop_data"] == nil)
        record = try #require(try await w.instances().first)
        record.idleSince = Date(timeIntervalSinceNow: -3600)
        try await w.store.upsertInstance(record)
        for _ in 0..<4 { try await w.orchestrator.scaler.pass() }
        #expect(try await w.instances().isEmpty)
    }

    @Test func aVolumesServiceWaitsForRoomOnItsHomeWithoutANewInstance() async throws {
        let swarm = InMemorySwarm(images: ["busybox:local"])
        let w = try await ManagerPartsTests.world(clouds: true, swarm: swarm)
        _ = try await ApplicationsTests.apply(w, Self.file)
        try await w.orchestrator.scaler.pass()
        await w.cloud.finishBoots()
        for _ in 0..<4 { try await w.orchestrator.scaler.pass() }
        // More replicas than the home holds (512 MiB): they wait there; no instance is started for them.
        _ = try await ApplicationsTests.apply(w, Self.file.replacingOccurrences(of: "deploy: {", with: "deploy: {replicas: 6, "))
        for _ in 0..<3 { try await w.orchestrator.scaler.pass() }
        #expect(await w.cloud.creates.count == 1)
        // Five run (5 × 100 of 512 MiB), the sixth waits; the scaler says where.
        #expect(await w.swarm.runningTasks(of: "shop_db").count == 5)
        let note = await w.orchestrator.containers.scalerNotes.note("shop_db")
        #expect(note?.contains("which holds its volume shop_data") == true, "\(note ?? "")")
    }

    /// Found by the attack review: two volumes homed in one pass both went to the one instance
    /// with room for either, and the second service waited forever.
    @Test func twoVolumesHomedInOnePassDoNotOverbookAnInstance() async throws {
        let swarm = InMemorySwarm(images: ["busybox:local"])
        let w = try await ManagerPartsTests.world(clouds: true, swarm: swarm)
        _ = try await ApplicationsTests.apply(
            w,
            "name: warm\nservices:\n  s:\n    image: busybox:local\n    deploy: {resources: {reservations: {memory: 10M}}}\n"
        )
        try await w.orchestrator.scaler.pass()
        await w.cloud.finishBoots()
        for _ in 0..<4 { try await w.orchestrator.scaler.pass() }
        #expect(try await w.instances().count == 1)
        let two = """
            name: two
            volumes: {va: {}, vb: {}}
            services:
              a: {image: busybox:local, volumes: [va:/d], deploy: {resources: {reservations: {memory: 300M}}}}
              b: {image: busybox:local, volumes: [vb:/d], deploy: {resources: {reservations: {memory: 300M}}}}
            """
        _ = try await ApplicationsTests.apply(w, two)
        for _ in 0..<2 { try await w.orchestrator.scaler.pass() }
        await w.cloud.finishBoots()
        for _ in 0..<5 { try await w.orchestrator.scaler.pass() }
        let homes = try await w.store.volumes().map(\.nodeID)
        #expect(homes.allSatisfy { $0 != nil } && Set(homes).count == 2, "\(homes)")
        #expect(await w.swarm.runningTasks(of: "two_a").count == 1)
        #expect(await w.swarm.runningTasks(of: "two_b").count == 1)
    }

    /// Found by the attack review: after `apps rm APP`, `apps rm APP --volumes` said there was
    /// no such application and its volumes could never be removed.
    @Test func volumesKeptByAnEarlierRemovalCanStillBeRemoved() async throws {
        let swarm = InMemorySwarm(images: ["busybox:local"])
        let w = try await ManagerPartsTests.world(clouds: false, swarm: swarm)
        _ = try await ApplicationsTests.apply(w, Self.file)
        #expect(try await w.store.volumes().count == 1)
        try await w.orchestrator.applications.remove("shop")
        #expect(try await w.store.volumes().count == 1)
        let removal = try await w.orchestrator.applications.remove("shop", withVolumes: true, volumeWait: .seconds(5))
        #expect(removal.removedVolumes == ["shop_data"], "\(removal)")
        #expect(try await w.store.volumes().isEmpty)
        let again = await #expect(throws: MicadoError.self) { try await w.orchestrator.applications.remove("shop", withVolumes: true) }
        #expect(again?.code == .notFound)
    }

    /// Services sharing a volume run together on one instance: replicas that no flavour can
    /// hold are refused at apply with the figures, never left to wait in silence.
    @Test func aVolumeGroupLargerThanAnyFlavourIsRefused() async throws {
        let w = try await ManagerPartsTests.world(clouds: true)
        let file = """
            name: big
            volumes:
              data: {}
            services:
              db:
                image: busybox:local
                volumes: [data:/data]
                deploy: {resources: {reservations: {memory: 300M}}}
              backup:
                image: busybox:local
                volumes: [data:/backup]
                deploy: {resources: {reservations: {memory: 300M}}}
            """
        let refused = await #expect(throws: MicadoError.self) { try await ApplicationsTests.apply(w, file) }
        #expect(refused?.code == .badRequest)
        #expect(
            refused?.message.hasPrefix("services.backup, services.db: they share volumes") == true
                && refused?.message.contains("reserve 600 MiB; the largest flavour of location zone (small) has 512 MiB") == true,
            "\(String(describing: refused))"
        )
        let applications = try await w.store.applications()
        let volumes = try await w.store.volumes()
        #expect(applications.isEmpty && volumes.isEmpty)
        // Each alone fits.
        _ = try await ApplicationsTests.apply(w, file.replacingOccurrences(of: "[data:/backup]", with: "[]"))
    }
}
