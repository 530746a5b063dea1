import ArgumentParser
import Foundation
import MicadoClient
import MicadoCore
import NIOCore
import NIOHTTP1

extension Micado {
    struct Images: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the images micado built (and where they are in its registry), or remove one.",
            subcommands: [ImagesList.self, ImagesRemove.self],
            defaultSubcommand: ImagesList.self
        )
    }

    struct ImagesList: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List images.", aliases: ["ls"])

        @OptionGroup var output: OutputOptions

        func run() async throws {
            let client = try ManagerClient.fromHome()
            let images = try await client.json([ImageView].self, .GET, "/v1/images")
            if output.output == .json { return try Console.printJSON(images) }
            Console.table(
                ["NAME", "REGISTRY REFERENCE", "DIGEST", "SIZE(MiB)", "CRITICAL(MiB)", "AGE"],
                images.map {
                    [
                        $0.name.rawValue, $0.reference ?? "", $0.digest.map { String($0.prefix(19)) } ?? "",
                        $0.sizeBytes.map { String(format: "%.1f", Double($0) / 1_048_576) } ?? "",
                        $0.criticalMemoryMiB.map(String.init) ?? "", Console.age(since: $0.createdAt),
                    ]
                }
            )
        }
    }

    struct ImagesRemove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "delete",
            abstract: "Remove an image that no container uses (from the registry too).",
            aliases: ["rm"]
        )

        @Argument(help: "The image, e.g. container-app.")
        var name: String

        func run() async throws {
            let client = try ManagerClient.fromHome()
            try await client.send(.DELETE, "/v1/images/\(ManagerClient.escape(ImageReference.normalized(name)))")
            print("\(ImageReference.normalized(name)) removed")
        }
    }
}
