import ArgumentParser
import Foundation
import MicadoClient
import MicadoCore
import NIOCore
import NIOHTTP1

extension Micado {
    struct ListCommand: AsyncParsableCommand {
        /// "running", "running 2/3" for an application's service, with the reason when there is one.
        static func state(of view: ContainerView) -> String {
            var text = view.state.rawValue
            if let replicas = view.replicas { text += " \(view.runningReplicas ?? 0)/\(replicas)" }
            if let reason = view.reason { text += " (\(reason.prefix(40)))" }
            return text
        }

        static let configuration = CommandConfiguration(
            commandName: "list",
            abstract: "List the containers (-c) or the instances (-i) of the infrastructure.",
            usage: "micado list (-c [-a] | -i) [--output <output>]",
            discussion: "Examples: micado list -c -a; micado list -i --output json",
            aliases: ["ls"]
        )

        /// One of the two, shown as a choice in the usage line.
        enum What: EnumerableFlag {
            case containers, instances

            static func name(for value: Self) -> NameSpecification {
                switch value {
                case .containers: [.customShort("c"), .customLong("containers")]
                case .instances: [.customShort("i"), .customLong("instance")]
                }
            }

            static func help(for value: Self) -> ArgumentHelp? {
                switch value {
                case .containers: "List the running containers."
                case .instances: "List the instances."
                }
            }
        }

        @Flag var what: What

        @Flag(name: .shortAndLong, help: "With -c: list stopped containers too.")
        var all = false

        @OptionGroup var output: OutputOptions

        func validate() throws {
            if all && what == .instances { throw ValidationError("-a lists stopped containers; use it with -c") }
        }

        func run() async throws {
            let client = try ManagerClient.fromHome()
            if what == .instances {
                let instances = try await client.json([InstanceView].self, .GET, "/v1/instances")
                if output.output == .json { return try Console.printJSON(instances) }
                Console.table(
                    [
                        "ID", "CLOUD", "CLOUD ID", "LOCATION", "FLAVOUR", "TAG", "STATE", "ADDRESS", "CONTAINERS", "MEMORY(MiB)", "AGE",
                        "PRICE/H",
                    ],
                    instances.map {
                        [
                            String($0.id.rawValue.prefix(12)), $0.cloud, $0.cloudID.map { String($0.prefix(20)) } ?? "", $0.location ?? "",
                            $0.flavour ?? "", $0.tag ?? "",
                            $0.state.rawValue + ($0.availability == .drain && $0.state == .ready ? "/drain" : ""), $0.address ?? "",
                            "\($0.containers)",
                            "\($0.memoryReservedMiB)/\($0.memoryTotalMiB.map(String.init) ?? "?")",
                            $0.createdAt.map { Console.age(since: $0) } ?? "",
                            $0.pricePerHour.map { String(format: "%.4f", $0) } ?? "",
                        ]
                    }
                )
                return
            }
            let views = try await client.json([ContainerView].self, .GET, "/v1/containers", query: all ? [("all", "true")] : [])
            if output.output == .json { return try Console.printJSON(views) }
            Console.table(
                ["NAME", "CLIENT", "IMAGE", "STATE", "NODE", "ENDPOINT", "CPU", "MEMORY(used/res)", "DOMAIN", "AGE"],
                views.map {
                    [
                        $0.name.rawValue, $0.client, $0.image.rawValue, Self.state(of: $0), $0.node ?? "",
                        $0.endpoint ?? "", $0.cpuPercent.map { String(format: "%.1f%%", $0) } ?? "",
                        ($0.memoryUsedMiB.map { String(format: "%.1f", $0) } ?? "-") + "/\($0.memoryMiB)Mi", $0.domain ?? "",
                        Console.age(since: $0.createdAt),
                    ]
                }
            )
        }
    }
}
