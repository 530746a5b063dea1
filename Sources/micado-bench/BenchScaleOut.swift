import ArgumentParser
import DockerEngine
import Foundation
import Logging
import MicadoClient
import MicadoCore
import MicadoManager
import NIOCore
import NIOHTTP1

extension MicadoBench {
    struct BenchScaleOut: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "scale-out",
            abstract:
                "Many running containers on the manager's engine: list latency while the monitor samples them, waiting launch vs. a raw service create, bursts of concurrent launches and removals.",
            discussion: """
                Needs a running manager without clouds, and an engine that advertises enough generic memory for --containers × 6 MiB (scripts/engine.sh up NAME IP MEM_MIB). Creates containers of client 'scaleout' named container-bench<TAG>-* (and services bench<TAG>-* for the raw baseline), and removes them at the end, also when a step fails or on Ctrl-C.
                """
        )

        @Option(help: "Running containers to hold while measuring.")
        var containers = 500

        @Option(help: "Launches (and removals) in flight at once while filling and in the burst.")
        var concurrency = 50

        @Option(help: "list -c calls to time.")
        var lists = 200

        @Option(help: "Pairs (micado launch, raw service create) to time, interleaved.")
        var pairs = 10

        func validate() throws {
            guard (1...1000).contains(containers) else { throw ValidationError("--containers must be 1...1000") }
            guard (1...100).contains(concurrency) else { throw ValidationError("--concurrency must be 1...100") }
            guard (10...2000).contains(lists) else { throw ValidationError("--lists must be 10...2000") }
            guard (1...50).contains(pairs) else { throw ValidationError("--pairs must be 1...50") }
        }

        func run() async throws {
            let target = try await BenchTarget.connect()
            let run = BenchRun()
            Console.err("bench run \(run.tag): containers \(run.containerPrefix)*, services \(run.servicePrefix)*; all removed at the end")
            try await run.withCleanup(client: target.client, engine: target.engine, concurrency: concurrency) {
                try await measure(target, run)
            }
        }

        func measure(_ target: BenchTarget, _ run: BenchRun) async throws {
            let (configuration, client, health, engine) = (target.configuration, target.client, target.health, target.engine)
            let launcher = try BenchLaunch.parse([])
            let (containers, concurrency) = (self.containers, self.concurrency)

            // Fill: `containers` launches, `concurrency` at a time, each waiting for its running task.
            let fillStart = ContinuousClock.now
            let filled = try await Self.inParallel(0..<containers, concurrency) { i in
                _ = try await client.json(
                    ContainerView.self,
                    .POST,
                    "/v1/containers",
                    body: try Self.request(run, i),
                    timeout: .seconds(300)
                )
            }
            Console.err(
                "filled: \(filled.ok) running, \(filled.failed.count) failed in \(Int((ContinuousClock.now - fillStart).inSeconds)) s"
            )
            for failure in Set(filled.failed).prefix(5) { Console.err("  fill failure: \(failure)") }
            // Let the monitor sample them all once before measuring.
            try await Task.sleep(for: .seconds(Double(configuration.monitor.intervalSeconds) + Double(containers) / 32))

            var listTimes: [Double] = []
            for _ in 0..<lists {
                let start = ContinuousClock.now
                _ = try await client.send(.GET, "/v1/containers")
                listTimes.append((ContinuousClock.now - start).inSeconds)
            }

            var direct: [Double] = []
            var viaMicado: [Double] = []
            for i in 0..<pairs {
                direct.append(
                    try await launcher.timeDirect(engine: engine, name: run.service("direct-\(i)"), run: run, configuration: configuration)
                )
                viaMicado.append(try await launcher.timeMicado(client: client, name: run.container("pair-\(i)")))
            }

            let burstLaunch = try await Self.inParallel(containers..<(containers + concurrency), concurrency) { i in
                _ = try await client.json(
                    ContainerView.self,
                    .POST,
                    "/v1/containers",
                    body: try Self.request(run, i),
                    timeout: .seconds(300)
                )
            }
            let burstRemove = try await Self.inParallel(containers..<(containers + concurrency), concurrency) { i in
                try await client.send(.POST, "/v1/containers/\(Self.name(run, i))/quit", json: QuitRequest(remove: true))
            }
            let rss = BenchLaunch.rssMiB(pid: health.pid)

            let cleanup = try await Self.inParallel(0..<containers, concurrency) { i in
                try await client.send(.POST, "/v1/containers/\(Self.name(run, i))/quit", json: QuitRequest(remove: true))
            }

            let p = BenchLaunch.percentile
            print(
                "scale-out on the manager's engine (engine \(engine.engineVersion), API \(engine.apiVersion); \(BenchLaunch.buildDescription)), \(containers) running containers sampled every \(configuration.monitor.intervalSeconds) s:"
            )
            print("  fill: \(filled.ok) launched and running, \(filled.failed.count) failed, \(concurrency) at a time")
            print(
                String(
                    format: "  list -c, %d calls: p50 %.1f ms, p99 %.1f ms, max %.1f ms",
                    lists,
                    p(listTimes, 0.5) * 1000,
                    p(listTimes, 0.99) * 1000,
                    (listTimes.max() ?? 0) * 1000
                )
            )
            print(
                String(
                    format: "  waiting launch, %d interleaved pairs: raw service create median %.0f ms, micado median %.0f ms = %.2fx",
                    pairs,
                    p(direct, 0.5) * 1000,
                    p(viaMicado, 0.5) * 1000,
                    p(viaMicado, 0.5) / p(direct, 0.5)
                )
            )
            print(
                "  burst of \(concurrency) concurrent launches: \(burstLaunch.ok) ok, \(burstLaunch.failed.count) failed; \(concurrency) concurrent quit -rm: \(burstRemove.ok) ok, \(burstRemove.failed.count) failed"
            )
            print(
                "  manager RSS with \(containers) running: \(rss.map { String(format: "%.1f", $0) } ?? "?") MiB; cleanup: \(cleanup.failed.count) failed"
            )
            for failure in Set(filled.failed + burstLaunch.failed + burstRemove.failed).prefix(5) { Console.err("  failure: \(failure)") }
        }

        static func name(_ run: BenchRun, _ i: Int) -> String { run.container("so-\(i)") }

        static func request(_ run: BenchRun, _ i: Int) throws -> LaunchRequest {
            LaunchRequest(
                image: "busybox:local",
                client: "scaleout",
                arguments: ["sleep", "86400"],
                memoryMiB: 6,
                name: try ContainerName.parse(name(run, i))
            )
        }

        /// Runs `body` for each index, at most `width` at once; counts successes and keeps failures' messages.
        static func inParallel(
            _ indices: Range<Int>,
            _ width: Int,
            _ body: @escaping @Sendable (Int) async throws -> Void
        ) async throws -> (ok: Int, failed: [String]) {
            try await withThrowingTaskGroup(of: String?.self) { group in
                var next = indices.lowerBound
                func add() {
                    guard next < indices.upperBound else { return }
                    let i = next
                    next += 1
                    group.addTask {
                        do {
                            try await body(i)
                            return nil
                        } catch { return "\(error)" }
                    }
                }
                for _ in 0..<width { add() }
                var ok = 0
                var failed: [String] = []
                while let result = try await group.next() {
                    if let result { failed.append(result) } else { ok += 1 }
                    add()
                }
                return (ok, failed)
            }
        }
    }
}
