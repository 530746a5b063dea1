import ArgumentParser
import DockerEngine
import Foundation
import MicadoClient
import MicadoCore
import NIOCore
import NIOHTTP1

extension MicadoBench {
    struct BenchAutoscale: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "autoscale",
            abstract:
                "A service's reaction to a load step (step → decision, step → new replica running, against a raw Swarm scale of the same service), and its replica changes per hour under steady load.",
            discussion: """
                Needs a running manager (scripts/bench.sh --no-clouds autoscale). Each trial applies an application whose one replica idles until a file appears in it, then burns its CPU limit; the step is that file, written with 'execute'. Applications are named b<TAG>-*, services of the raw baseline bench<TAG>-*; all removed at the end.
                """
        )

        @Option(help: "Load steps to time (each paired with a raw Swarm scale, interleaved).")
        var trials = 5

        @Option(help: "Seconds of steady load at the target, for the changes per hour.")
        var steadySeconds = 120

        func validate() throws {
            guard (1...50).contains(trials) else { throw ValidationError("--trials must be 1...50") }
            guard (30...3600).contains(steadySeconds) else { throw ValidationError("--steady-seconds must be 30...3600") }
        }

        func run() async throws {
            let target = try await BenchTarget.connect()
            let run = BenchRun()
            Console.err("bench run \(run.tag): applications b\(run.tag)-*, services \(run.servicePrefix)*; all removed at the end")
            let apps = AppsMade()
            do {
                try await measure(target, run, apps)
            } catch {
                await apps.removeAll(target.client)
                throw error
            }
            await apps.removeAll(target.client)
        }

        /// Applications this run made, removed at the end whatever happened.
        actor AppsMade {
            var names: [String] = []
            func add(_ name: String) { names.append(name) }
            func removeAll(_ client: ManagerClient) async {
                for name in names { _ = try? await client.send(.DELETE, "/v1/applications/\(name)") }
                names = []
            }
        }

        static func compose(_ name: String, script: String, replicas: Int, cpus: String, policy: String) -> String {
            """
            name: \(name)
            services:
              step:
                image: busybox:local
                entrypoint: /bin/sh
                command: [-c, "\(script)"]
                deploy: {replicas: \(replicas), resources: {reservations: {memory: 16M}, limits: {cpus: "\(cpus)"}}}
                x-micado: {scaling: {\(policy)}}
            """
        }

        func apply(_ client: ManagerClient, _ apps: AppsMade, _ name: String, _ file: String) async throws {
            await apps.add(name)
            _ = try await client.json(
                ApplyPlanView.self,
                .POST,
                "/v1/applications",
                body: ApplyRequest(name: nil, folderName: nil, file: file, fileName: "bench.yaml", dryRun: false),
                timeout: .seconds(120)
            )
        }

        func service(_ client: ManagerClient, _ name: String) async throws -> ApplicationView.Service? {
            try await client.json([ApplicationView].self, .GET, "/v1/applications").flatMap(\.services).first { $0.name == name }
        }

        func until(_ seconds: Int, _ what: String, _ condition: () async throws -> Bool) async throws {
            let deadline = ContinuousClock.now + .seconds(seconds)
            while try await !condition() {
                guard ContinuousClock.now < deadline else { throw MicadoError(.timeout, "not within \(seconds) s: \(what)") }
                try await Task.sleep(for: .milliseconds(50))
            }
        }

        func measure(_ target: BenchTarget, _ run: BenchRun, _ apps: AppsMade) async throws {
            let client = target.client
            var decisions: [Double] = []
            var running: [Double] = []
            var raw: [Double] = []
            for trial in 0..<trials {
                // micado: the load step, then the policy's decision and the second replica running.
                let app = "b\(run.tag)-\(trial)"
                let service = "\(app)_step"
                let script = "while [ ! -e /tmp/go ]; do sleep 0.1; done; while :; do :; done"
                try await apply(
                    client,
                    apps,
                    app,
                    Self.compose(
                        app,
                        script: script,
                        replicas: 1,
                        cpus: "0.1",
                        policy: "min: 1, max: 2, metric: cpu, target: 50, upCooldown: 1s"
                    )
                )
                try await until(60, "\(service) runs and its policy has samples") {
                    let s = try await self.service(client, service)
                    return s?.runningReplicas == 1 && s?.policy?.contains("(target 50%); 1 → 1") == true
                }
                // Both ends are read from the engine, polled every 25 ms as the raw baseline is (the
                // API's views may be half a second old; event times have whole seconds).
                let step = ContinuousClock.now
                _ = try await client.json(
                    ExecResult.self,
                    .POST,
                    "/v1/containers/\(service)/exec",
                    body: ExecRequest(command: "touch /tmp/go")
                )
                while try await target.engine.service(service).spec.replicas < 2 {
                    if ContinuousClock.now - step > .seconds(60) { throw MicadoError(.timeout, "\(service) did not scale in 60 s") }
                    try await Task.sleep(for: .milliseconds(25))
                }
                decisions.append((ContinuousClock.now - step).inSeconds)
                while try await target.engine.tasks(filters: ["service": [service]]).filter({
                    $0.status.state == .running && $0.desiredState == .running
                }).count < 2 {
                    if ContinuousClock.now - step > .seconds(60) {
                        throw MicadoError(.timeout, "\(service)'s second replica did not run in 60 s")
                    }
                    try await Task.sleep(for: .milliseconds(25))
                }
                running.append((ContinuousClock.now - step).inSeconds)
                let events = try await client.json([EventView].self, .GET, "/v1/events", query: [("subject", service), ("limit", "20")])
                guard events.contains(where: { $0.kind == .serviceScaled }) else {
                    throw MicadoError(.internal, "\(service) scaled without a service.scaled event")
                }
                await apps.removeAll(client)

                // Raw: the same one-replica service scaled to two through the Engine API.
                let name = run.service("raw-\(trial)")
                let launcher = try BenchLaunch.parse([])
                let id = try await target.engine.createService(
                    launcher.benchSpec(name: name, run: run, configuration: target.configuration)
                )
                try await BenchLaunch.waitForRunningTask(engine: target.engine, service: id, name: name, since: ContinuousClock.now)
                let rawStart = ContinuousClock.now
                try await target.engine.scaleService(id, replicas: 2)
                while try await target.engine.tasks(filters: ["service": [id]]).filter({ $0.status.state == .running }).count < 2 {
                    if ContinuousClock.now - rawStart > .seconds(60) {
                        throw MicadoError(.timeout, "raw service \(name) did not reach 2 replicas")
                    }
                    try await Task.sleep(for: .milliseconds(25))
                }
                raw.append((ContinuousClock.now - rawStart).inSeconds)
                try await target.engine.removeService(id)
            }
            let p = BenchLaunch.percentile
            print(
                "autoscale: \(trials) load steps on a 1-replica service (cpu target 50%, limit 0.1 CPU, up cooldown 1 s); \(BenchLaunch.buildDescription)"
            )
            print(
                String(
                    format: "  step → decision in the swarm (the service's replicas 1 → 2): median %.2f s, p95 %.2f s",
                    p(decisions, 0.5),
                    p(decisions, 0.95)
                )
            )
            print(String(format: "  step → new replica running: median %.2f s, p95 %.2f s", p(running, 0.5), p(running, 0.95)))
            print(
                String(
                    format: "  raw Swarm scale 1 → 2 → running (baseline, interleaved): median %.2f s, p95 %.2f s",
                    p(raw, 0.5),
                    p(raw, 0.95)
                )
            )
            let actuation = zip(running, decisions).map { $0 - $1 }
            print(String(format: "  decision → running vs. raw scale → running: %.2fx (medians)", p(actuation, 0.5) / p(raw, 0.5)))

            // Steady load at the target: how often the count changes.
            let app = "b\(run.tag)-steady"
            let service = "\(app)_step"
            try await apply(
                client,
                apps,
                app,
                Self.compose(
                    app,
                    script: "while :; do :; done",
                    replicas: 2,
                    cpus: "0.1",
                    policy: "min: 1, max: 4, metric: cpu, target: 100, tolerance: 0.2, upCooldown: 3s, downStabilization: 15s"
                )
            )
            try await until(60, "\(service) runs") { try await self.service(client, service)?.runningReplicas == 2 }
            try await Task.sleep(for: .seconds(steadySeconds))
            let changes = try await client.json([EventView].self, .GET, "/v1/events", query: [("subject", service), ("limit", "1000")])
                .filter { $0.kind == .serviceScaled }.count
            print(
                String(
                    format:
                        "  steady load at the target (2 replicas at their limit, target 100%%, tolerance 20%%) for %d s: %d change(s) = %.1f per hour",
                    steadySeconds,
                    changes,
                    Double(changes) * 3600 / Double(steadySeconds)
                )
            )
            print(
                "  Kubernetes HPA, for comparison (published defaults, not measured here): metrics sync period 15 s, scale-down stabilization 5 min, tolerance 10%"
            )
        }
    }
}
