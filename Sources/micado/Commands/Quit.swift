import ArgumentParser
import MicadoCore
import NIOCore
import NIOHTTP1

extension Micado {
    struct Quit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stop a running container (scale it to zero); -rm removes it too.",
            discussion: "Example: micado quit -n container-abc -rm")

        @Option(name: .shortAndLong, help: "Name of the container to stop.")
        var name: String

        @Flag(name: [.customLong("rm", withSingleDash: true), .customLong("rm")], help: "Remove the container after it has been stopped.")
        var remove = false

        func run() async throws {
            let client = try ManagerClient.fromHome()
            try await client.send(.POST, "/v1/containers/\(ManagerClient.escape(name))/quit", json: QuitRequest(remove: remove))
            print(remove ? "\(name) stopped and removed" : "\(name) stopped")
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove a container that is not running.", discussion: "Example: micado remove -n container-x")

        @Option(name: .shortAndLong, help: "Name of the container to remove; it must have been quit.")
        var name: String

        func run() async throws {
            let client = try ManagerClient.fromHome()
            _ = try await client.send(.DELETE, "/v1/containers/\(ManagerClient.escape(name))")
            print("\(name) removed")
        }
    }
}
