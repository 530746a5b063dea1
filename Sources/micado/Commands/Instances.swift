import ArgumentParser
import Foundation
import MicadoClient
import MicadoCore
import NIOCore
import NIOHTTP1

extension StartInstanceRequest.Role: ExpressibleByArgument {}

extension Micado {
    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Start a new instance on a cloud and add it to the infrastructure.",
            discussion: """
                -a names the machine software the instance boots: clouds.yaml maps each application (like MiCADO's "Node DSCR") to a machine image of that cloud; the local cloud's is "node". -n application instances take containers; database instances take only containers launched with -l for their location. -I marks the first instance: the scaler never removes it (nor a database instance). Waits with progress until the instance has joined. Example:

                  micado start -c local -a node -f small -t application01 -n application
                """
        )

        @Option(name: .shortAndLong, help: "The cloud to start the instance on (see 'micado clouds').")
        var cloud: String

        @Option(name: .shortAndLong, help: "The machine software (application) the instance boots.")
        var application: String

        @Option(name: .shortAndLong, help: "The flavour (size) of the instance.")
        var flavour: String

        @Option(name: .shortAndLong, help: "A tag to find the instance by (micado stop -t).")
        var tag: String

        @Option(name: .shortAndLong, help: "What the instance serves: application or database.")
        var name: StartInstanceRequest.Role = .application

        @Flag(name: .customShort("I"), help: "This is the first instance of the infrastructure (never scaled down).")
        var first = false

        @Flag(help: "Return once the cloud accepted the request; do not wait for the instance to join.")
        var detach = false

        @OptionGroup var output: OutputOptions

        func validate() throws {
            for (flag, value) in [("-c", cloud), ("-a", application), ("-f", flavour), ("-t", tag)] where value.isEmpty {
                throw ValidationError("\(flag) must not be empty")
            }
            _ = try usage { () throws(MicadoError) in try LocationName.validate(tag) }
        }

        func run() async throws {
            let client = try ManagerClient.fromHome()
            let request = StartInstanceRequest(cloud: cloud, application: application, flavour: flavour, tag: tag, role: name, first: first)
            // The manager answers once the cloud has: its create call is bounded (about a minute on EC2).
            let created = try await client.json(InstanceView.self, .POST, "/v1/instances", body: request, timeout: .seconds(150))
            let instance = detach ? created : try await Self.waitUntilReady(created, client: client)
            if output.output == .json { return try Console.printJSON(instance) }
            print("\(instance.id) \(instance.address ?? "-") \(instance.flavour ?? "-")")
        }

        static func waitUntilReady(_ created: InstanceView, client: ManagerClient) async throws -> InstanceView {
            let start = ContinuousClock.now
            var current = created
            var last: InstanceState?
            while current.state != .ready {
                if current.state != last {
                    Console.err(
                        String(
                            format: "[%5.1fs] %@ %@",
                            (ContinuousClock.now - start).inSeconds,
                            current.id.rawValue,
                            current.state.rawValue
                        )
                    )
                    last = current.state
                }
                if ContinuousClock.now - start > .seconds(300) {
                    throw MicadoError(.timeout, "\(current.id) is not ready after 300 s; see 'micado events --subject \(current.id)'")
                }
                try await Task.sleep(for: .milliseconds(100))
                current = try await fetch(current.id.rawValue, client: client)
            }
            Console.err(String(format: "[%5.1fs] %@ ready", (ContinuousClock.now - start).inSeconds, current.id.rawValue))
            return current
        }

        static func fetch(_ id: String, client: ManagerClient) async throws -> InstanceView {
            let all = try await client.json([InstanceView].self, .GET, "/v1/instances")
            guard let found = all.first(where: { $0.id.rawValue == id }) else {
                throw MicadoError(.engine, "\(id) failed to start and was deleted; see 'micado events --subject \(id)'")
            }
            return found
        }
    }

    struct Stop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Drain and delete the instances with a tag; their containers move to other instances.",
            discussion: "Example: micado stop -t application01"
        )

        @Option(name: .shortAndLong, help: "The tag given to the instances at start.")
        var tag: String

        func validate() throws {
            _ = try usage { () throws(MicadoError) in try LocationName.validate(tag) }
        }

        func run() async throws {
            let client = try ManagerClient.fromHome()
            let ids = try await client.json([String].self, .DELETE, "/v1/instances", query: [("tag", tag)])
            let start = ContinuousClock.now
            var last = ""
            while true {
                let left = Self.states(of: Set(ids), in: try await client.json([InstanceView].self, .GET, "/v1/instances"))
                if left.isEmpty { break }
                if left != last { Console.err(String(format: "[%5.1fs] %@", (ContinuousClock.now - start).inSeconds, left)) }
                last = left
                if ContinuousClock.now - start > .seconds(300) { throw MicadoError(.timeout, "still stopping after 300 s: \(left)") }
                try await Task.sleep(for: .milliseconds(500))
            }
            print("stopped \(ids.joined(separator: " "))")
        }

        static func states(of ids: Set<String>, in instances: [InstanceView]) -> String {
            instances.filter { ids.contains($0.id.rawValue) }.map { "\($0.id) \($0.state)" }.joined(separator: ", ")
        }
    }

    struct Clouds: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the clouds, their locations with bounds, and their flavours with prices."
        )

        @OptionGroup var output: OutputOptions

        func run() async throws {
            let client = try ManagerClient.fromHome()
            let clouds = try await client.json([CloudView].self, .GET, "/v1/clouds")
            if output.output == .json { return try Console.printJSON(clouds) }
            if clouds.isEmpty { return print("no cloud configured (describe clouds in clouds.yaml in the micado home)") }
            for cloud in clouds {
                print(
                    "\(cloud.name) (driver \(cloud.driver), grace \(cloud.gracePeriodSeconds) s, applications: \(cloud.applications.keys.sorted().joined(separator: ", ")))"
                )
                Console.table(
                    ["  LOCATION", "MIN", "MAX", "HEADROOM(MiB)"],
                    cloud.locations.map { ["  " + $0.name, "\($0.min)", "\($0.max)", "\($0.headroomMiB)"] }
                )
                Console.table(
                    ["  FLAVOUR", "CPUS", "MEMORY(MiB)", "PRICE/H"],
                    cloud.flavours.map { ["  " + $0.name, "\($0.cpus)", "\($0.memoryMiB)", String(format: "%.4f", $0.pricePerHour)] }
                )
            }
        }
    }

    struct Explain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Say why a container is pending (or where it runs) and what the scaler is doing about it."
        )

        @Argument(help: "The container's name.")
        var name: String

        @OptionGroup var output: OutputOptions

        func run() async throws {
            let client = try ManagerClient.fromHome()
            let view = try await client.json(ExplainView.self, .GET, "/v1/containers/\(ManagerClient.escape(name))/explain")
            if output.output == .json { return try Console.printJSON(view) }
            for line in view.explanation { print(line) }
            if !view.recentEvents.isEmpty {
                print("recent events:")
                for e in view.recentEvents { print("  \(RFC3339.string(e.time))  \(e.kind)  \(e.message)") }
            }
        }
    }
}
