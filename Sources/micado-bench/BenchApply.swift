import ArgumentParser
import DockerEngine
import Foundation
import MicadoClient
import MicadoCore
import NIOHTTP1

extension MicadoBench {
    struct BenchApply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "apply",
            abstract:
                "A ten-service Compose file: micado's plan time, and apply until every service is healthy vs. docker stack deploy of the same file.",
            discussion: """
                Needs a running manager without clouds: both sides run on the manager's own engine. Each pair deploys the file once through 'micado apply' (application benchapply<TAG>m<N>) and once through 'docker stack deploy' (stack benchapply<TAG>d<N>), interleaved, micado first; each is timed from the command's start until every service has a running task (Swarm says running only once its health check passes), by the Engine API polled every 25 ms, then removed (and waited out) before the next. Everything a run made is removed at the end, also when a step fails.
                """
        )

        @Option(help: "Interleaved pairs (micado apply vs. docker stack deploy).")
        var pairs = 5

        @Option(help: "Plans (--dry-run applies) timed.")
        var plans = 50

        @Option(help: "Services in the file.")
        var services = 10

        @Option(help: "Image of every service (present in the engine).")
        var image = "busybox:local"

        @Option(help: "The docker CLI of the baseline.")
        var dockerCli = "/usr/bin/docker"

        func validate() throws {
            guard (1...50).contains(pairs) else { throw ValidationError("--pairs must be 1...50") }
            guard (0...1000).contains(plans) else { throw ValidationError("--plans must be 0...1000") }
            guard (1...50).contains(services) else { throw ValidationError("--services must be 1...50") }
        }

        /// The file: `services` web servers, each with a health check and a memory reservation.
        func file() -> String {
            var text = "version: \"3.8\"\nservices:\n"
            for index in 0..<services {
                text += """
                      s\(index):
                        image: \(image)
                        entrypoint: [/bin/httpd, -f, -p, "80", -h, /www]
                        healthcheck: {test: [CMD-SHELL, "wget -q -O /dev/null http://127.0.0.1/ || exit 1"], interval: 1s, timeout: 2s, retries: 30}
                        deploy: {resources: {reservations: {memory: 8M}}}

                    """
            }
            return text
        }

        func run() async throws {
            let target = try await BenchTarget.connect()
            guard try await target.client.json([CloudView].self, .GET, "/v1/clouds").isEmpty else {
                throw MicadoError(
                    .conflict,
                    "bench apply compares against the manager's own engine; run it against a manager without clouds"
                )
            }
            guard FileManager.default.isExecutableFile(atPath: dockerCli) else {
                throw MicadoError(.configuration, "the baseline needs the docker CLI at \(dockerCli); give --docker-cli PATH")
            }
            let tag = String(UInt32.random(in: 0...UInt32.max), radix: 36)
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("micado-bench-apply-\(tag)").path
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: folder) }
            let path = folder + "/compose.yaml"
            try file().write(toFile: path, atomically: true, encoding: .utf8)
            Console.err("bench apply run \(tag): applications benchapply\(tag)m*, stacks benchapply\(tag)d*; all removed at the end")

            var made: [(micado: Bool, name: String)] = []
            var planTimes: [Double] = []
            var ours: [Double] = []
            var theirs: [Double] = []
            do {
                let request = ApplyRequest(name: "benchapply\(tag)p", folderName: nil, file: file(), fileName: "compose.yaml", dryRun: true)
                for _ in 0..<plans {
                    let start = ContinuousClock.now
                    _ = try await target.client.json(ApplyPlanView.self, .POST, "/v1/applications", body: request)
                    planTimes.append((ContinuousClock.now - start).inSeconds)
                }
                for pair in 0..<pairs {
                    let app = "benchapply\(tag)m\(pair)"
                    made.append((true, app))
                    let start = ContinuousClock.now
                    let applied = try await BenchProcess.run(
                        BenchLaunch.micadoExecutable,
                        ["apply", "-f", path, "-n", app],
                        timeout: .seconds(300)
                    )
                    guard applied.status == 0 else { throw MicadoError(.internal, "micado apply failed: \(applied.output.suffix(600))") }
                    try await waitHealthy(target.engine, prefix: app + "_", since: start, into: &ours)
                    try await remove(micado: true, app, target)

                    let stack = "benchapply\(tag)d\(pair)"
                    made.append((false, stack))
                    let started = ContinuousClock.now
                    let deployed = try await BenchProcess.run(
                        dockerCli,
                        ["-H", target.engineHost, "stack", "deploy", "--resolve-image", "never", "-c", path, stack],
                        environment: BenchLaunch.dockerEnvironment(),
                        timeout: .seconds(300)
                    )
                    guard deployed.status == 0 else {
                        throw MicadoError(.internal, "docker stack deploy failed: \(deployed.output.suffix(600))")
                    }
                    try await waitHealthy(target.engine, prefix: stack + "_", since: started, into: &theirs)
                    try await remove(micado: false, stack, target)
                }
            } catch {
                for (micado, name) in made { try? await remove(micado: micado, name, target) }
                throw error
            }
            typealias B = BenchLaunch
            let p = B.percentile
            print("bench apply, run \(tag): \(B.buildDescription); manager \(target.health.version), engine \(target.engine.engineVersion)")
            if plans > 0 {
                print(
                    "plan of a \(services)-service file (POST /v1/applications with dryRun), \(plans) times: median \(String(format: "%.1f", p(planTimes, 0.5) * 1000)) ms, p95 \(String(format: "%.1f", p(planTimes, 0.95) * 1000)) ms"
                )
            }
            print("deploy until every service is healthy, \(pairs) interleaved pairs:")
            print("  docker stack deploy: median \(B.ms(p(theirs, 0.5))) ms, p95 \(B.ms(p(theirs, 0.95))) ms")
            print("  micado apply: median \(B.ms(p(ours, 0.5))) ms, p95 \(B.ms(p(ours, 0.95))) ms")
            print(
                String(
                    format: "  ratio micado/docker: median %.2fx, p95 %.2fx",
                    p(ours, 0.5) / p(theirs, 0.5),
                    p(ours, 0.95) / p(theirs, 0.95)
                )
            )
        }

        /// Until every service named `prefix*` has a running task (healthy: Swarm says running only then).
        func waitHealthy(
            _ engine: EngineClient,
            prefix: String,
            since start: ContinuousClock.Instant,
            into times: inout [Double]
        ) async throws {
            let deadline = start + .seconds(180)
            while ContinuousClock.now < deadline {
                let ours = try await engine.services().filter { $0.spec.name.hasPrefix(prefix) }
                if ours.count == services {
                    let tasks = try await engine.tasks(filters: ["desired-state": ["running"]])
                    let healthy = Set(tasks.filter { $0.status.state == .running }.map(\.serviceID))
                    if ours.allSatisfy({ healthy.contains($0.id) }) {
                        times.append((ContinuousClock.now - start).inSeconds)
                        return
                    }
                }
                try await Task.sleep(for: .milliseconds(25))
            }
            throw MicadoError(.timeout, "the services \(prefix)* were not all healthy within 180 s")
        }

        /// Removes one side's deployment and waits until its services and tasks are gone.
        func remove(micado: Bool, _ name: String, _ target: BenchTarget) async throws {
            if micado {
                _ = try? await target.client.send(.DELETE, "/v1/applications/\(name)")
            } else {
                _ = try await BenchProcess.run(
                    dockerCli,
                    ["-H", target.engineHost, "stack", "rm", name],
                    environment: BenchLaunch.dockerEnvironment(),
                    timeout: .seconds(120)
                )
            }
            let deadline = ContinuousClock.now + .seconds(120)
            while ContinuousClock.now < deadline {
                if try await !target.engine.services().contains(where: { $0.spec.name.hasPrefix(name + "_") }) { return }
                try await Task.sleep(for: .milliseconds(100))
            }
            throw MicadoError(.timeout, "\(name) was not removed within 120 s")
        }
    }
}
