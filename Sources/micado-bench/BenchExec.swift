import ArgumentParser
import DockerEngine
import Foundation
import HummingbirdWSClient
import Logging
import MicadoClient
import MicadoCore
import MicadoManager
import NIOCore
import NIOHTTP1
import Synchronization

extension MicadoBench {
    struct BenchExec: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "exec",
            abstract: "Attached execute through micado vs. the engine's own hijacked exec: session start and keystroke round trip.",
            discussion: "Needs a running manager whose engine runs the container. Launches and removes container-benchexec-*."
        )

        @Option(help: "Keystroke round trips per side.")
        var count = 500

        @Option(help: "Sessions started per side.")
        var sessions = 20

        @Option(help: "Image to launch (present in the engine).")
        var image = "busybox:local"

        func validate() throws {
            guard (1...100_000).contains(count) else { throw ValidationError("--count must be 1...100000") }
            guard (1...500).contains(sessions) else { throw ValidationError("--sessions must be 1...500") }
        }

        func run() async throws {
            let environment = ProcessInfo.processInfo.environment
            let configuration = try ManagerConfiguration.load(home: MicadoHome.resolve(environment: environment), environment: environment)
            let client = try ManagerClient.fromHome()
            let engine = try await EngineClient.connect(
                to: try EngineEndpoint.parse(configuration.docker.host ?? EngineEndpoint.defaultSocket.description),
                http: sharedHTTPClient,
                logger: Logger(label: "bench")
            )
            let launch = LaunchRequest(image: image, client: "benchexec", arguments: ["sleep", "3600"], memoryMiB: 16, detach: false)
            let view = try await client.json(ContainerView.self, .POST, "/v1/containers", body: launch)
            do {
                try await measure(client: client, engine: engine, name: view.name.rawValue)
            } catch {
                _ = try? await client.send(.POST, "/v1/containers/\(view.name)/quit", json: QuitRequest(remove: true))
                throw error
            }
            try await client.send(.POST, "/v1/containers/\(view.name)/quit", json: QuitRequest(remove: true))
        }

        func measure(client: ManagerClient, engine: EngineClient, name: String) async throws {
            guard let task = try await engine.tasks(filters: ["name": [name]]).first(where: { $0.status.state == .running }),
                let containerID = task.status.containerStatus?.containerID
            else { throw MicadoError(.conflict, "\(name) does not run on the manager's engine; bench exec compares against that engine") }

            var directStart: [Double] = []
            var micadoStart: [Double] = []
            for _ in 0..<sessions {
                directStart.append(try await Self.timeDirectSession(engine, containerID))
                micadoStart.append(try await Self.timeMicadoSession(client, name))
            }
            let direct = try await Self.directRoundTrips(engine, containerID, count: count)
            let micado = try await Self.micadoRoundTrips(client, name, count: count)

            typealias B = BenchLaunch
            print("attached execute (engine \(engine.engineVersion), API \(engine.apiVersion); \(BenchLaunch.buildDescription))")
            print(
                "  session start to first output, \(sessions) each: direct median \(B.ms(B.percentile(directStart, 0.5))) ms, micado median \(B.ms(B.percentile(micadoStart, 0.5))) ms (\(String(format: "%.2fx", B.percentile(micadoStart, 0.5) / B.percentile(directStart, 0.5))))"
            )
            let dm = B.percentile(direct, 0.5)
            let mm = B.percentile(micado, 0.5)
            let dp = B.percentile(direct, 0.99)
            let mp = B.percentile(micado, 0.99)
            print(
                String(
                    format:
                        "  keystroke round trip, %d each: direct median %.3f ms p99 %.3f ms, micado median %.3f ms p99 %.3f ms (median %.2fx, p99 %.2fx)",
                    count,
                    dm * 1000,
                    dp * 1000,
                    mm * 1000,
                    mp * 1000,
                    mm / dm,
                    mp / dp
                )
            )
        }

        /// Exec create and hijacked start on the engine, until the command's first output.
        static func timeDirectSession(_ engine: EngineClient, _ containerID: String) async throws -> Double {
            let start = ContinuousClock.now
            let id = try await engine.createExec(container: containerID, command: ["echo", "ready"], tty: false, stdin: false)
            return try await engine.withAttachedExec(id, tty: false) { attached in
                var output = attached.output.makeAsyncIterator()
                _ = try await output.next()
                return (ContinuousClock.now - start).inSeconds
            }
        }

        /// The same through the manager: WebSocket upgrade, then exec create and start.
        static func timeMicadoSession(_ client: ManagerClient, _ name: String) async throws -> Double {
            let start = ContinuousClock.now
            let elapsed = Mutex(0.0)
            try await connect(client, name, command: "echo ready") { inbound, _ in
                var messages = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
                _ = try await messages.next()
                elapsed.withLock { $0 = (ContinuousClock.now - start).inSeconds }
            }
            return elapsed.withLock { $0 }
        }

        static func directRoundTrips(_ engine: EngineClient, _ containerID: String, count: Int) async throws -> [Double] {
            let id = try await engine.createExec(container: containerID, command: ["cat"], tty: false, stdin: true)
            return try await engine.withAttachedExec(id, tty: false) { attached in
                var output = attached.output.makeAsyncIterator()
                var times: [Double] = []
                for _ in 0..<count {
                    let start = ContinuousClock.now
                    try await attached.input.write(ByteBuffer(string: "x"))
                    _ = try await output.next()
                    times.append((ContinuousClock.now - start).inSeconds)
                }
                attached.input.finish()
                return times
            }
        }

        static func micadoRoundTrips(_ client: ManagerClient, _ name: String, count: Int) async throws -> [Double] {
            let times = Mutex<[Double]>([])
            try await connect(client, name, command: "cat") { inbound, outbound in
                var messages = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
                var collected: [Double] = []
                for _ in 0..<count {
                    let start = ContinuousClock.now
                    try await outbound.write(.binary(ByteBuffer(string: "x")))
                    _ = try await messages.next()
                    collected.append((ContinuousClock.now - start).inSeconds)
                }
                times.withLock { $0 = collected }
                try await outbound.write(.text(AttachedExecSession.control(ExecStreamControl(closeStdin: true))))
            }
            return times.withLock { $0 }
        }

        static func connect(
            _ client: ManagerClient,
            _ name: String,
            command: String,
            _ body: @escaping @Sendable (WebSocketInboundStream, WebSocketOutboundWriter) async throws -> Void
        ) async throws {
            try await client.webSocket("/v1/containers/\(name)\(ExecStream.path)", query: [("command", command)], body)
        }
    }
}
