import DockerEngine
import Foundation
import MicadoCore
import MicadoStore
import MicadoTestSupport
import Testing

@testable import MicadoManager

/// `Applications` and `ServiceAutoscaler` against the in-memory swarm.
@Suite struct ApplicationsTests {
    static func file(image: String = "busybox:local", api: Bool = true, scaling: String = "") -> String {
        var text = """
            name: shop
            services:
              web:
                image: \(image)
                command: [httpd, -f]
                environment: {MODE: fast}
                ports: ["8080:80"]
                deploy: {replicas: 2, resources: {reservations: {memory: 64M}, limits: {cpus: "0.5"}}}
                x-micado: {domain: shop.example\(scaling)}

            """
        if api { text += "  api:\n    image: busybox:local\n    command: sleep 3600\n" }
        return text
    }

    static func apply(_ w: ManagerPartsTests.World, _ text: String, dryRun: Bool = false) async throws -> ApplyPlanView {
        try await w.orchestrator.applications.apply(
            ApplyRequest(name: nil, folderName: "x", file: text, fileName: "compose.yaml", dryRun: dryRun)
        )
    }

    static func mutations(_ swarm: InMemorySwarm) async -> [String] {
        await swarm.calls.filter {
            ["createService", "updateService", "scaleService", "removeService", "createNetwork"].contains(
                String($0.split(separator: " ")[0])
            )
        }
    }

    @Test func applyCreatesReappliesNothingRollsAndRemoves() async throws {
        let swarm = InMemorySwarm(images: ["busybox:local", "busybox:v2"])
        let w = try await ManagerPartsTests.world(clouds: false, swarm: swarm)

        let dry = try await Self.apply(w, Self.file(), dryRun: true)
        #expect(dry.steps.map(\.action) == [.create, .create] && dry.dryRun)
        let stored = try await w.store.applications()
        #expect(await Self.mutations(swarm).isEmpty && stored.isEmpty, "a dry run changes nothing")

        let first = try await Self.apply(w, Self.file())
        #expect(
            first.steps == [.init(service: "shop_api", action: .create), .init(service: "shop_web", action: .create)] && first.revision == 1
        )
        let web = try #require(await swarm.serviceSpec("shop_web"))
        #expect(web.replicas == 2 && web.endpointSpec?.mode == "dnsrr")
        #expect(web.taskTemplate.networks?.first?.aliases == ["web"])
        #expect(web.taskTemplate.resources?.limits?.nanoCPUs == 500_000_000)
        #expect(web.taskTemplate.containerSpec.args == ["httpd", "-f"] && web.taskTemplate.containerSpec.env == ["MODE=fast"])
        #expect(web.updateConfig?.failureAction == "rollback")
        #expect(await swarm.runningTasks(of: "shop_web").count == 2)
        let apps = try await w.orchestrator.applications.list()
        #expect(apps.first?.services.map { "\($0.name) \($0.runningReplicas)/\($0.desiredReplicas)" } == ["shop_api 1/1", "shop_web 2/2"])
        let listed = try await w.orchestrator.containers.list(all: false).first { $0.name.rawValue == "shop_web" }
        #expect(listed?.state == .running && listed?.replicas == 2 && listed?.application?.rawValue == "shop")

        let before = await Self.mutations(swarm).count
        let again = try await Self.apply(w, Self.file())
        #expect(again.steps.allSatisfy { $0.action == .unchanged } && again.revision == 1)
        #expect(await Self.mutations(swarm).count == before, "an unchanged file touches nothing")

        let rolled = try await Self.apply(w, Self.file(image: "busybox:v2"))
        #expect(
            rolled.steps.first { $0.service == "shop_web" } == .init(service: "shop_web", action: .update, fields: ["image"])
                && rolled.revision == 2
        )
        #expect(await swarm.serviceSpec("shop_web")?.taskTemplate.containerSpec.image == "busybox:v2")
        #expect(await swarm.calls.contains { $0.hasPrefix("updateService") })

        let removed = try await Self.apply(w, Self.file(image: "busybox:v2", api: false))
        #expect(removed.steps.first { $0.service == "shop_api" }?.action == .remove)
        #expect(await swarm.serviceNames().sorted() == ["shop_web"])
        #expect(try await w.store.removed(Store.Tombstone.container, "shop_api"))

        // Its services are the file's: quit is refused, apps rm removes everything.
        await #expect { try await w.orchestrator.containers.quit("shop_web", remove: false) } throws: {
            ($0 as? MicadoError)?.code == .conflict
        }
        try await w.orchestrator.applications.remove("shop")
        #expect(await swarm.serviceNames().isEmpty)
        // Applied again before the reconciler ran: its network is not the removed one's to lose.
        _ = try await Self.apply(w, Self.file(api: false))
        try await w.orchestrator.reconciler.pass()
        #expect(try await swarm.managerEngine.networks(label: nil).map(\.name) == ["micado-shop"])
        #expect(await swarm.serviceNames() == ["shop_web"])
        try await w.orchestrator.applications.remove("shop")
        #expect(try await w.orchestrator.applications.list().isEmpty)
        try await w.orchestrator.reconciler.pass()
        #expect(try await swarm.managerEngine.networks(label: nil).isEmpty, "the application's network goes with it")
    }

    @Test func badFilesAndConflictsChangeNothing() async throws {
        let swarm = InMemorySwarm()
        let w = try await ManagerPartsTests.world(clouds: false, swarm: swarm)
        _ = try await w.orchestrator.containers.launch(ManagerPartsTests.request("container-port"))
        let before = await Self.mutations(swarm).count
        for (text, code) in [
            (Self.file().replacingOccurrences(of: "command: [httpd, -f]", with: "volumes: [a:/b]"), MicadoError.Code.badRequest),
            (Self.file(image: "nosuch:image"), .notFound),
        ] {
            await #expect { try await Self.apply(w, text) } throws: { ($0 as? MicadoError)?.code == code }
        }
        // A port another container publishes.
        var holder = try #require(try await w.store.container("container-port"))
        holder.portPublished = 8080
        holder.portTarget = 80
        try await w.store.updateContainer(holder, event: nil)
        await #expect { try await Self.apply(w, Self.file()) } throws: {
            ($0 as? MicadoError)?.message.contains("port 8080 is already published by container-port") == true
        }
        #expect(await Self.mutations(swarm).count == before)
        #expect(try await w.store.applications().isEmpty)
        #expect(try await w.store.containers().map(\.name) == ["container-port"])
    }

    @Test func aPolicyScalesOnTheMonitorsAveragesAndTheReconcilerRollsAnInterruptedApply() async throws {
        let swarm = InMemorySwarm(images: ["busybox:local", "busybox:v2"])
        let w = try await ManagerPartsTests.world(clouds: false, swarm: swarm)
        let policy = ", scaling: {min: 1, max: 4, metric: cpu, target: 50, upCooldown: 30s, downStabilization: 1m}"
        _ = try await Self.apply(w, Self.file(api: false, scaling: policy).replacingOccurrences(of: "replicas: 2", with: "replicas: 1"))
        let autoscaler = w.orchestrator.autoscaler
        try await autoscaler.pass()
        #expect(try await w.store.container("shop_web")?.replicas == 1, "no samples, no change")
        // 60% of one core per replica with a limit of half a core: 120% of target 50 → ⌈1 × 2.4⌉ = 3.
        await w.orchestrator.serviceLoads.set(.init(time: Date(), cpuPercent: 60, memoryMiB: 10, replicas: 1), of: "shop_web")
        try await autoscaler.pass()
        #expect(try await w.store.container("shop_web")?.replicas == 3)
        #expect(await swarm.serviceSpec("shop_web")?.replicas == 3)
        let scaled = try await w.store.events(subject: "shop_web", limit: 10).first { $0.kind == .serviceScaled }
        #expect(scaled?.message.contains("cpu 120% (target 50%); 1 → 3") == true, "\(String(describing: scaled))")
        // Replicas still waiting: no growth on the load of the one that runs.
        await w.orchestrator.serviceLoads.set(.init(time: Date(), cpuPercent: 90, memoryMiB: 10, replicas: 1), of: "shop_web")
        try await autoscaler.pass()
        #expect(try await w.store.container("shop_web")?.replicas == 3)
        let held = try await w.store.events(subject: "shop_web", limit: 10).first { $0.kind == .serviceScaleHeld }
        #expect(held?.message.contains("2 of 3 replicas not running yet") == true, "\(String(describing: held))")
        // A first sample has no CPU figure: it is not read as 0 % (no shrink).
        await w.orchestrator.serviceLoads.set(.init(time: Date(), cpuPercent: nil, memoryMiB: 10, replicas: 3), of: "shop_web")
        try await autoscaler.pass()
        #expect(try await w.store.container("shop_web")?.replicas == 3)
        // Re-applying the file keeps the policy's count.
        _ = try await Self.apply(w, Self.file(api: false, scaling: policy).replacingOccurrences(of: "replicas: 2", with: "replicas: 1"))
        #expect(try await w.store.container("shop_web")?.replicas == 3)
        #expect(try await w.orchestrator.scaler.explain("shop_web").explanation.contains { $0.hasPrefix("scaling: 1-4 on cpu 50%") })

        // An apply cut after the store: the record asks for v2, the service still runs the old image.
        var record = try #require(try await w.store.container("shop_web"))
        record.image = "busybox:v2"
        try await w.store.updateContainer(record, event: nil)
        let changes = try await w.orchestrator.reconciler.pass()
        #expect(changes.contains("rolled shop_web"))
        #expect(await swarm.serviceSpec("shop_web")?.taskTemplate.containerSpec.image == "busybox:v2")
        #expect(try await w.orchestrator.reconciler.pass().isEmpty, "converged")
    }

    /// An image the manager's engine does not hold is pulled by the nodes, as `docker stack
    /// deploy` would: a dry run says so without asking any registry; the apply pins the digest
    /// the registry gives, so every node runs the same bytes; an image no registry has is
    /// refused by service and changes nothing.
    @Test func publicImagesArePulledByDigest() async throws {
        let swarm = InMemorySwarm()
        let w = try await ManagerPartsTests.world(clouds: false, swarm: swarm)
        let digest = "sha256:" + String(repeating: "c", count: 64)
        let file = "services:\n  web:\n    image: nginx:1.27\n  tool:\n    image: busybox:local\n"

        let dry = try await Self.apply(w, file, dryRun: true)
        #expect(dry.pulls == [.init(service: "web", image: "nginx:1.27", reference: "nginx:1.27")])
        #expect(await swarm.calls.filter { $0.hasPrefix("distributionDigest") }.isEmpty)

        let refused = await #expect(throws: MicadoError.self) { try await Self.apply(w, file) }
        #expect(
            refused?.code == .notFound && refused?.message.hasPrefix("services.web: unknown image 'nginx:1.27'") == true,
            "\(String(describing: refused))"
        )
        #expect(await Self.mutations(swarm).isEmpty)
        let applications = try await w.store.applications()
        let images = try await w.store.images()
        #expect(applications.isEmpty && images.isEmpty)

        await swarm.setRegistryImage("nginx:1.27", digest: digest)
        let plan = try await Self.apply(w, file)
        #expect(plan.pulls.map(\.image) == ["nginx:1.27"])
        #expect(await swarm.serviceSpec("x_web")?.taskTemplate.containerSpec.image == "nginx:1.27@" + digest)
        #expect(await swarm.serviceSpec("x_tool")?.taskTemplate.containerSpec.image == "busybox:local")
        let image = try #require(try await w.store.image("nginx:1.27"))
        #expect(image.reference == "nginx:1.27" && image.digest == digest && image.imageID == nil)
    }

    /// What the attack review found: a pull record never hides an image loaded into the
    /// manager's engine later; a local image gone from the engine is never looked for in a
    /// public registry under its name; a pinned image survives its registry being down; an
    /// image on a registry at loopback is refused (each node would ask its own).
    @Test func pulledImagesYieldToLocalOnesAndLocalOnesAreNeverLookedUp() async throws {
        let swarm = InMemorySwarm()
        let w = try await ManagerPartsTests.world(clouds: false, swarm: swarm)
        let digest = "sha256:" + String(repeating: "e", count: 64)
        await swarm.setRegistryImage("acme/app:1", digest: digest)
        func file(_ command: String) -> String { "services:\n  app:\n    image: acme/app:1\n    command: \(command)\n" }
        _ = try await Self.apply(w, file("sleep 1"))
        #expect(await swarm.serviceSpec("x_app")?.taskTemplate.containerSpec.image == "acme/app:1@" + digest)

        // The registry is down: the pinned digest still serves a changed file.
        await swarm.setRegistryImage("acme/app:1", digest: nil)
        _ = try await Self.apply(w, file("sleep 2"))
        #expect(await swarm.serviceSpec("x_app")?.taskTemplate.containerSpec.image == "acme/app:1@" + digest)

        // Loaded into the manager's engine: that one runs from now on, not the registry's.
        await swarm.loadIntoManager("acme/app:1")
        let plan = try await Self.apply(w, file("sleep 3"))
        #expect(plan.pulls.isEmpty)
        #expect(await swarm.serviceSpec("x_app")?.taskTemplate.containerSpec.image == "acme/app:1")
        #expect(try await w.store.image("acme/app:1")?.reference == nil)

        // A local image, recorded as such, gone from the engine: refused, no registry asked.
        try await w.store.upsertImage(
            ImageRecord(
                name: "acme/gone:1",
                imageID: "sha256:" + String(repeating: "f", count: 64),
                sizeBytes: 1,
                criticalMemoryMiB: nil,
                createdAt: Date()
            )
        )
        await swarm.setRegistryImage("acme/gone:1", digest: digest)
        let gone = await #expect(throws: MicadoError.self) {
            try await Self.apply(w, "services:\n  gone:\n    image: acme/gone:1\n")
        }
        #expect(gone?.message.contains("is gone from it") == true, "\(String(describing: gone))")
        #expect(!(await swarm.calls.contains("distributionDigest acme/gone:1")))

        let loopback = await #expect(throws: MicadoError.self) {
            try await Self.apply(w, "services:\n  l:\n    image: localhost:5000/x:1\n")
        }
        #expect(loopback?.code == .notFound && loopback?.message.contains("its own localhost") == true)
    }

    /// With a pull-through cache, Docker Hub images go through it with its credentials;
    /// images of other registries and micado's own keep theirs.
    @Test func theCacheTakesDockerHubImagesOnly() {
        var registry = Registry(address: "10.213.0.1:5000", username: "micado", password: "pw", directory: "/nonexistent")
        #expect(registry.pullReference(of: "nginx:1.27") == "nginx:1.27")
        registry.pullThrough = .init(address: "10.213.0.1:5001", upstream: "https://registry-1.docker.io")
        #expect(registry.pullReference(of: "nginx:1.27") == "10.213.0.1:5001/library/nginx:1.27")
        #expect(registry.pullReference(of: "bitnami/redis:7") == "10.213.0.1:5001/bitnami/redis:7")
        #expect(registry.pullReference(of: "ghcr.io/o/app:1") == "ghcr.io/o/app:1")
        #expect(registry.auth(for: "10.213.0.1:5001/library/nginx:1.27") != nil)
        #expect(registry.auth(for: "10.213.0.1:5001/library/nginx:1.27") != registry.auth)
        #expect(registry.auth(for: "10.213.0.1:5000/mirror/busybox:local") == registry.auth)
        #expect(registry.auth(for: "ghcr.io/o/app:1") == nil)
    }
}
