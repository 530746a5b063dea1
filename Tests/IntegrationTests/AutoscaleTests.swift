import DockerEngine
import Foundation
import MicadoCore
import MicadoStore
import Testing

/// Services that scale themselves on real CPU load, and applies cut by kill -9.
@Suite(.enabled(if: ManagerFixture.enginesAvailable || ManagerFixture.mustRun, ManagerFixture.skipNote))
struct AutoscaleTests {
    static func service(_ f: ManagerFixture, _ name: String) async throws -> ApplicationView.Service? {
        try await ApplicationTests.apps(f).flatMap(\.services).first { $0.name == name }
    }

    static func write(_ text: String, _ f: ManagerFixture) throws -> String {
        let file = f.state + "/compose-\(UUID().uuidString.prefix(8)).yaml"
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        return file
    }

    /// Every replica burns its CPU limit until 60 s after the apply, then idles: the service
    /// grows to max while they burn, and shrinks back to min after the stabilization window.
    @Test func aServiceGrowsUnderLoadAndShrinksBackAndItsInstancesFollow() async throws {
        try await ManagerFixture.with(clouds: true, quiet: true) { f in
            // Every replica burns until one deadline, 60 s from now: a replica the scaler moves
            // later (packing the fleet onto fewer instances restarts it) does not bring the load back.
            let end = Int(Date().timeIntervalSince1970) + 60
            let file = try Self.write(
                """
                name: load
                services:
                  burn:
                    image: busybox:local
                    entrypoint: /bin/sh
                    command: [-c, "while [ $$(date +%s) -lt \(end) ]; do :; done; exec sleep 3600"]
                    deploy: {replicas: 1, resources: {reservations: {memory: 100M}, limits: {cpus: "0.2"}}}
                    x-micado: {scaling: {min: 1, max: 3, metric: cpu, target: 50, upCooldown: 5s, downStabilization: 20s}}
                """,
                f
            )
            let applied = try await f.micado(["apply", "-f", file])
            #expect(applied.status == 0, "\(applied)")
            try await CloudTests.eventually(150, "the service grows to 3 running replicas") {
                let burn = try await Self.service(f, "load_burn")
                return burn?.desiredReplicas == 3 && burn?.runningReplicas == 3
            }
            // 3 × 100 MiB do not fit one 256 MiB instance: the scaler started more.
            #expect(try await CloudTests.instances(f).count >= 2)
            let events = try await f.micado(["events", "--limit", "1000"]).stdout
            #expect(events.contains("service.scaled") && events.contains("cpu ") && events.contains("(target 50%); 1 → "), "\(events)")
            let explain = try await f.micado(["explain", "load_burn"])
            #expect(explain.stdout.contains("scaling: 1-3 on cpu 50%"), "\(explain)")

            try await CloudTests.eventually(180, "the load stops and the service shrinks back to 1") {
                try await Self.service(f, "load_burn")?.desiredReplicas == 1
            }
            try await CloudTests.eventually(90, "the emptied instances drain") { try await CloudTests.instances(f).count == 1 }
            let decisions = try await ApplicationTests.kinds(f).filter { $0 == "service.scaled" }.count
            #expect((2...4).contains(decisions), "up (once or twice) and down once: \(decisions)")
        }
    }

    /// Load at the target, with the noise of a shared machine, for three minutes (twelve
    /// stabilization windows, sixty cooldowns): the count changes at most once.
    @Test func steadyLoadNearTheTargetDoesNotFlap() async throws {
        try await ManagerFixture.with { f in
            let file = try Self.write(
                """
                name: steady
                services:
                  spin:
                    image: busybox:local
                    entrypoint: /bin/sh
                    command: [-c, "while :; do :; done"]
                    deploy: {replicas: 2, resources: {reservations: {memory: 16M}, limits: {cpus: "0.1"}}}
                    x-micado: {scaling: {min: 1, max: 4, metric: cpu, target: 100, tolerance: 0.2, upCooldown: 3s, downStabilization: 15s}}
                """,
                f
            )
            #expect(try await f.micado(["apply", "-f", file]).status == 0)
            try await CloudTests.eventually(30, "both replicas run") { try await Self.service(f, "steady_spin")?.runningReplicas == 2 }
            var sampled = false
            let until = ContinuousClock.now + .seconds(180)
            while ContinuousClock.now < until {
                try await Task.sleep(for: .seconds(5))
                if let policy = try await Self.service(f, "steady_spin")?.policy, policy.contains("cpu ") && !policy.contains("no samples")
                {
                    sampled = true
                }
            }
            #expect(sampled, "the policy saw samples")
            let changes = try await ApplicationTests.kinds(f).filter { $0 == "service.scaled" }.count
            let events = try await f.micado(["events", "--limit", "100"]).stdout
            #expect(changes <= 1, "\(events)")
        }
    }

    /// kill -9 inside an apply (after the store, and between two services) and inside a
    /// scale-up: after a restart the swarm matches the stored application, with no duplicate.
    @Test func killedDuringAnApplyOrAScaleUpConvergesOnRestart() async throws {
        try await ManagerFixture.with { f in
            func crashing(at point: String?) async throws {
                try await f.stopManager(signal: SIGKILL)
                f.managerEnvironment["MICADO_CRASH_AT"] = point
                try await f.startManager()
            }
            func services() async throws -> [SwarmService] {
                try await f.engine().services(label: "micado.application=crash")
            }
            let two = """
                name: crash
                services:
                  a: {image: busybox:local, command: sleep 3600, environment: [V=1], deploy: {resources: {reservations: {memory: 16M}}}}
                  b: {image: busybox:local, command: sleep 3600, deploy: {resources: {reservations: {memory: 16M}}}}
                """
            try await crashing(at: "application.mid-swarm")
            _ = try await f.micado(["apply", "-f", try Self.write(two, f)])
            #expect(try await f.managerExit(within: 30) == 128 + SIGKILL)
            #expect(try await services().map(\.spec.name) == ["crash_a"], "cut between the two services")
            try await crashing(at: nil)
            try await CloudTests.eventually(30, "both services run") {
                try await ApplicationTests.apps(f).first?.services.map { "\($0.name) \($0.runningReplicas)" } == ["crash_a 1", "crash_b 1"]
            }
            #expect(try await services().map(\.spec.name).sorted() == ["crash_a", "crash_b"])

            try await crashing(at: "application.after-store")
            _ = try await f.micado(["apply", "-f", try Self.write(two.replacingOccurrences(of: "V=1", with: "V=2"), f)])
            #expect(try await f.managerExit(within: 30) == 128 + SIGKILL)
            #expect(try await f.engine().service("crash_a").spec.taskTemplate.containerSpec.env == ["V=1"], "stored, not yet rolled")
            try await crashing(at: nil)
            try await CloudTests.eventually(30, "the reconciler rolls crash_a to the stored file") {
                try await f.engine().service("crash_a").spec.taskTemplate.containerSpec.env == ["V=2"]
            }

            try await crashing(at: "service.after-scale-store")
            let scaling = """
                name: crash
                services:
                  a: {image: busybox:local, command: sleep 3600, environment: [V=2], deploy: {resources: {reservations: {memory: 16M}}}}
                  b:
                    image: busybox:local
                    entrypoint: /bin/sh
                    command: [-c, "while :; do :; done"]
                    deploy: {resources: {reservations: {memory: 16M}, limits: {cpus: "0.05"}}}
                    x-micado: {scaling: {min: 1, max: 3, metric: cpu, target: 20, upCooldown: 1s}}
                """
            _ = try await f.micado(["apply", "-f", try Self.write(scaling, f)])
            #expect(try await f.managerExit(within: 60) == 128 + SIGKILL, "died when the autoscaler stored its decision")
            let stored = try await Store.open(path: f.home + "/micado.sqlite").container("crash_b")
            let wanted = try #require(stored?.replicas)
            #expect(wanted > 1)
            try await crashing(at: nil)
            try await CloudTests.eventually(30, "the swarm takes the stored count") {
                try await f.engine().service("crash_b").spec.replicas >= wanted
            }
            #expect(try await services().count == 2, "no duplicate service")
        }
    }
}
