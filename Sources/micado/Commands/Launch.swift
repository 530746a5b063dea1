import ArgumentParser
import Foundation
import MicadoClient
import MicadoCore
import NIOCore
import NIOHTTP1

extension Micado {
    struct Launch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Launch a container on the infrastructure.",
            discussion: """
                Creates a Swarm service with one task, waits until it runs (with progress), and prints the container's name and where it answers. Example, as in MiCADO:

                  micado launch -i busybox:local -n client -p 8080 -s /bin/httpd -a -f -p 8080 -h /www

                -a takes everything after it, dashes included, so put it last.
                """
        )

        @Option(name: .shortAndLong, help: "The image to run (built with 'micado build' or present in the engine).")
        var image: String

        @Option(name: .shortAndLong, help: "The client the container is launched for (part of its generated name).")
        var name: String

        @Option(name: .shortAndLong, help: "Where it must run: the value of the instances' micado.location label.")
        var location: String?

        @Option(name: .shortAndLong, help: "Absolute path of a script inside the image, run as the entrypoint.")
        var script: String?

        @Option(name: .shortAndLong, help: "The domain name of the application (routed by the proxy).")
        var domain: String?

        @Option(name: .shortAndLong, help: "Port to publish on the instance: PORT, or PUBLISHED:TARGET.")
        var port: String?

        @Option(name: .shortAndLong, help: "An environment variable KEY=VALUE (repeatable).")
        var environment: [String] = []

        @Option(
            name: .shortAndLong,
            help: "Memory to reserve and enforce as a limit, e.g. 128m or 1g (default: the image's recorded usage)."
        )
        var memory: String?

        @Option(name: .customLong("container"), help: "Name the container yourself (container-...) instead of a generated name.")
        var containerName: String?

        @Flag(help: "Return once the container is recorded and its service created; do not wait for it to run.")
        var detach = false

        @Flag(help: "Serve the domain (-d) over HTTPS too, with a certificate from the proxy's internal CA.")
        var tls = false

        @Option(help: "Seconds to wait for a running task before reporting why not.")
        var timeout: Int = 60

        @OptionGroup var output: OutputOptions

        @Option(name: .shortAndLong, parsing: .remaining, help: "Arguments for the container (or its script); everything after -a.")
        var arguments: [String] = []

        func request() throws -> LaunchRequest {
            let request = try usage { () throws(MicadoError) in
                LaunchRequest(
                    image: image,
                    client: name,
                    location: location,
                    script: script,
                    domain: domain,
                    arguments: arguments,
                    port: try port.map(PortMapping.parse),
                    environment: try environment.map(EnvironmentVariable.parse),
                    memoryMiB: try memory.map(MemorySize.parseMiB),
                    name: try containerName.map(ContainerName.parse),
                    detach: true,
                    tls: tls ? true : nil
                )
            }
            try usage { () throws(MicadoError) in try request.validate() }
            return request
        }

        func validate() throws {
            _ = try request()
            guard (1...3600).contains(timeout) else { throw ValidationError("--timeout must be between 1 and 3600 seconds") }
        }

        func run() async throws {
            let client = try ManagerClient.fromHome()
            var view = try await client.json(ContainerView.self, .POST, "/v1/containers", body: try request())
            if !detach {
                view = try await Progress.waitUntilRunning(view, client: client, timeout: .seconds(timeout))
            }
            if output.output == .json { return try Console.printJSON(view) }
            print(view.name)
            if let endpoint = view.endpoint {
                Console.err("\(view.name) runs on \(view.node ?? "?") and answers at \(endpoint)")
            } else if view.state == .running {
                Console.err("\(view.name) runs on \(view.node ?? "?")")
            } else {
                Console.err("\(view.name) is \(view.state.rawValue)")
            }
        }
    }
}
