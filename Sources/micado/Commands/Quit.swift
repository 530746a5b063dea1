import ArgumentParser
import Foundation
import MicadoClient
import MicadoCore
import NIOCore
import NIOHTTP1

extension Micado {
    struct Quit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stop a running container (scale it to zero); -rm removes it too.",
            discussion: "Example: micado quit -n container-abc -rm"
        )

        @Option(name: .shortAndLong, help: "Name of the container to stop.")
        var name: String

        @Flag(name: [.customLong("rm", withSingleDash: true), .customLong("rm")], help: "Remove the container after it has been stopped.")
        var remove = false

        @Flag(name: .long, help: "Return once the quit is recorded, without waiting for the task to stop.")
        var detach = false

        @Option(name: .long, help: "Seconds the task has to stop after the stop signal; then it is killed (SIGKILL).")
        var timeout = 60

        func validate() throws {
            guard (1...3600).contains(timeout) else { throw ValidationError("--timeout must be between 1 and 3600 seconds") }
        }

        /// After a kill, how long the engine has to report the task gone.
        static let killGrace: Duration = .seconds(15)

        func run() async throws {
            let client = try ManagerClient.fromHome()
            let path = "/v1/containers/\(ManagerClient.escape(name))"
            let answer = try await client.send(.POST, path + "/quit", json: QuitRequest(remove: remove))
            if remove { return print("\(name) removed") }
            var view = try WireFormat.decoder().decode(ContainerView.self, from: Data(answer.readableBytesView))
            if detach {
                return print(
                    view.state == .stopping
                        ? "\(name) stopping (its task is shutting down; not waited for)" : "\(name) \(view.state.rawValue)"
                )
            }
            // "stopped" only once the task is gone: a task that ignores the stop signal is killed
            // at the timeout, and one that outlives even that is a failure, not a success.
            func wait(until deadline: ContinuousClock.Instant) async throws {
                while view.state == .stopping && ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(200))
                    view = try await client.json(ContainerView.self, .GET, path)
                }
            }
            try await wait(until: .now + .seconds(timeout))
            if view.state == .stopping {
                Console.err("\(name): its task did not stop within \(timeout) s; killing it")
                view = try await client.json(ContainerView.self, .POST, path + "/quit", body: QuitRequest(remove: false, kill: true))
                try await wait(until: .now + Self.killGrace)
            }
            guard view.state != .stopping else {
                throw MicadoError(
                    .conflict,
                    "\(name) is still stopping: its task runs on after the stop signal and a kill (see 'micado info -s \(name)')"
                )
            }
            print("\(name) \(view.state.rawValue)")
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove a container that is not running.",
            discussion: "Example: micado remove -n container-x"
        )

        @Option(name: .shortAndLong, help: "Name of the container to remove; it must have been quit.")
        var name: String

        func run() async throws {
            let client = try ManagerClient.fromHome()
            _ = try await client.send(.DELETE, "/v1/containers/\(ManagerClient.escape(name))")
            print("\(name) removed")
        }
    }
}
