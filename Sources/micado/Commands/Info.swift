import ArgumentParser
import Foundation
import MicadoClient
import MicadoCore
import NIOCore
import NIOHTTP1

extension Micado {
    struct Info: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show services, their tasks, nodes and states (for developers).",
            discussion: "Examples: micado info -a; micado info -s container-x --output json"
        )

        @Option(name: .shortAndLong, help: "Name of the service (container) to show.")
        var service: String?

        @Flag(name: .shortAndLong, help: "Show every service of this manager.")
        var all = false

        @OptionGroup var output: OutputOptions

        func validate() throws {
            guard (service != nil) != all else { throw ValidationError("give exactly one of -s SERVICE or -a") }
        }

        func run() async throws {
            let client = try ManagerClient.fromHome()
            let services = try await client.json([ServiceInfo].self, .GET, "/v1/services", query: service.map { [("name", $0)] } ?? [])
            if output.output == .json { return try Console.printJSON(services) }
            for (i, s) in services.enumerated() {
                if i > 0 { print("") }
                print(Text.escaped("\(s.name)  service \(s.serviceID.prefix(12))  image \(s.image)  replicas \(s.running)/\(s.replicas)"))
                if let cpu = s.cpuPercent, let memory = s.memoryUsedMiB {
                    print(String(format: "  usage: CPU %.1f%%, memory %.1f MiB", cpu, memory))
                }
                if !s.ports.isEmpty { print("  ports: \(s.ports.map(\.description).joined(separator: ", ")) (host mode)") }
                if !s.constraints.isEmpty { print(Text.escaped("  constraints: \(s.constraints.joined(separator: ", "))")) }
                Console.table(
                    ["  TASK", "NODE", "STATE", "DESIRED", "MESSAGE"],
                    s.tasks.map {
                        [
                            "  " + String($0.id.prefix(12)), $0.node ?? "", $0.state.rawValue, $0.desiredState.rawValue,
                            ($0.error ?? $0.message) ?? "",
                        ]
                    }
                )
            }
            if services.isEmpty { print("no services") }
        }
    }
}
