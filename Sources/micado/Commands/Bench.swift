import ArgumentParser
import AsyncHTTPClient
import DockerEngine
import Foundation
import Logging
import MicadoCore
import NIOCore
import NIOHTTP1
import MicadoManager
import MicadoStore

extension Micado {
    struct Bench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Measure micado against a baseline in the same run (figures, not pass/fail).",
            subcommands: [BenchLaunch.self, BenchPack.self, BenchScale.self, BenchScaleOut.self, BenchProxy.self, BenchExec.self])
    }

    struct BenchLaunch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "launch",
            abstract: "Launch-to-running through micado vs. the same services created directly; manager RSS; list latency.",
            discussion: "Needs a running manager. Creates and removes services named container-bench-*.")

        @Option(help: "Launches per side.")
        var count = 20

        @Option(help: "Image to launch (present in the engine).")
        var image = "busybox:local"

        @Option(help: "Container records to add to the store for the RSS and list figures.")
        var records = 1000

        func validate() throws {
            guard (1...200).contains(count) else { throw ValidationError("--count must be 1...200") }
            guard (0...20_000).contains(records) else { throw ValidationError("--records must be 0...20000") }
        }

        func run() async throws {
            let (home, configuration, client, health, engine) = try await Self.target()
            let rssIdle = Self.rssMiB(pid: health.pid)

            var direct: [Double] = []
            var viaMicado: [Double] = []
            for i in 0..<count {
                direct.append(try await timeDirect(engine: engine, index: i, configuration: configuration))
                viaMicado.append(try await timeMicado(client: client, index: i))
                Console.err("launch \(i + 1)/\(count): direct \(Self.ms(direct.last!)) ms, micado \(Self.ms(viaMicado.last!)) ms")
            }

            let store = try Store.open(path: configuration.store.path ?? home.defaultStoreFile)
            let names = try await Self.fillStore(store, count: records)
            var listTimes: [Double] = []
            for _ in 0..<20 {
                let start = ContinuousClock.now
                _ = try await client.send(.GET, "/v1/containers", query: [("all", "true")])
                listTimes.append((ContinuousClock.now - start).inSeconds)
            }
            let rssLoaded = Self.rssMiB(pid: health.pid)
            for name in names { try await store.deleteContainer(name, event: EventRecord(time: Date(), kind: "bench.cleanup", subject: name, message: "bench record removed")) }

            let dm = Self.percentile(direct, 0.5), mm = Self.percentile(viaMicado, 0.5)
            let dp = Self.percentile(direct, 0.95), mp = Self.percentile(viaMicado, 0.95)
            print("launch-to-running, \(count) launches each (engine \(engine.engineVersion), API \(engine.apiVersion))")
            print("  direct Engine API : median \(Self.ms(dm)) ms, p95 \(Self.ms(dp)) ms")
            print("  micado launch     : median \(Self.ms(mm)) ms, p95 \(Self.ms(mp)) ms")
            print(String(format: "  ratio micado/direct: median %.2fx, p95 %.2fx", mm / dm, mp / dp))
            print("manager RSS: idle \(rssIdle.map { String(format: "%.1f", $0) } ?? "?") MiB, with \(records) containers in the store \(rssLoaded.map { String(format: "%.1f", $0) } ?? "?") MiB")
            print("list -c -a with \(records) containers: median \(Self.ms(Self.percentile(listTimes, 0.5))) ms, p95 \(Self.ms(Self.percentile(listTimes, 0.95))) ms")
        }

        /// What a bench against the running manager needs: its home and configuration, a
        /// client, its health (for its pid) and its engine, for the direct baseline.
        static func target() async throws -> (MicadoHome, ManagerConfiguration, ManagerClient, HealthView, EngineClient) {
            let environment = ProcessInfo.processInfo.environment
            let home = MicadoHome.resolve(environment: environment)
            let configuration = try ManagerConfiguration.load(home: home, environment: environment)
            let client = try ManagerClient.fromHome()
            let health = try await client.json(HealthView.self, .GET, "/v1/health")
            let engine = try await EngineClient.connect(
                to: try EngineEndpoint.parse(configuration.docker.host ?? EngineEndpoint.defaultSocket.description), http: sharedHTTPClient,
                logger: Logger(label: "bench"))
            return (home, configuration, client, health, engine)
        }

        func benchSpec(name: String, configuration: ManagerConfiguration) -> ServiceSpec {
            let reservations = configuration.docker.reserveGenericMemory
                ? ServiceSpec.Resources.Reservations(genericResources: [GenericResource(kind: SchedulerResource.memory, value: 16)])
                : ServiceSpec.Resources.Reservations(memoryBytes: 16 << 20)
            return ServiceSpec(
                name: name, labels: ["micado.bench": "direct"],
                taskTemplate: .init(
                    containerSpec: .init(image: ImageReference.normalized(image), args: ["sleep", "3600"]),
                    resources: .init(limits: .init(memoryBytes: 16 << 20), reservations: reservations)),
                mode: .init(replicas: 1), endpointSpec: nil)
        }

        func timeDirect(engine: EngineClient, index: Int, configuration: ManagerConfiguration) async throws -> Double {
            let name = "bench-direct-\(index)-\(UInt16.random(in: 0...UInt16.max))"
            let start = ContinuousClock.now
            let id = try await engine.createService(benchSpec(name: name, configuration: configuration))
            while try await !engine.tasks(filters: ["service": [id]]).contains(where: { $0.status.state == "running" }) {
                if ContinuousClock.now - start > .seconds(60) { throw MicadoError(.timeout, "direct service \(name) did not run in 60 s") }
                try await Task.sleep(for: .milliseconds(25))
            }
            let elapsed = (ContinuousClock.now - start).inSeconds
            try await engine.removeService(id)
            return elapsed
        }

        func timeMicado(client: ManagerClient, index: Int) async throws -> Double {
            let request = LaunchRequest(image: image, client: "bench", arguments: ["sleep", "3600"], memoryMiB: 16, detach: false)
            let start = ContinuousClock.now
            let view = try await client.json(ContainerView.self, .POST, "/v1/containers", body: request)
            let elapsed = (ContinuousClock.now - start).inSeconds
            try await client.send(.POST, "/v1/containers/\(view.name)/quit", json: QuitRequest(remove: true))
            return elapsed
        }

        /// Stopped containers whose services are gone: the reconciler leaves them be, `list -a` shows them.
        static func fillStore(_ store: Store, count: Int) async throws -> [String] {
            var names: [String] = []
            for i in 0..<count {
                let name = "container-benchfill-\(i)"
                let now = Date()
                try await store.insertContainer(
                    ContainerRecord(
                        name: name, client: "benchfill", image: "busybox:local", desired: .stopped, serviceID: "benchfill-\(i)", location: nil,
                        script: nil, domain: nil, arguments: [], environment: [], port: nil, memoryMiB: 16, lastState: .missing,
                        lastReason: "bench record", createdAt: now, updatedAt: now),
                    event: EventRecord(time: now, kind: "bench.fill", subject: name, message: "bench record"))
                names.append(name)
            }
            return names
        }

        static func rssMiB(pid: Int32) -> Double? {
            guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
                let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
                let kb = Double(line.split(separator: " ")[1])
            else { return nil }
            return kb / 1024
        }

        static func ms(_ s: Double) -> String { String(format: "%.0f", s * 1000) }
        static func percentile(_ values: [Double], _ p: Double) -> Double {
            let sorted = values.sorted()
            guard !sorted.isEmpty else { return .nan }
            return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))]
        }
    }
}
