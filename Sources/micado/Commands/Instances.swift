import ArgumentParser
import MicadoCore
import NIOCore
import NIOHTTP1

extension StartInstanceRequest.Role: ExpressibleByArgument {}

extension Micado {
    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Start a new instance on a cloud and add it to the infrastructure.",
            discussion: """
                -a names the machine software the instance boots (the clouds file maps each application,
                like MiCADO's "Node DSCR", to a machine image of that cloud). -n application instances run
                containers; database instances take only containers that ask for them (launch -l).
                -I marks the first instance, which the scaler never removes. Example:

                  micado start -c CloudSigma -a "Node DSCR" -f Small -t application01 -n application
                """)

        @Option(name: .shortAndLong, help: "The cloud to start the instance on.")
        var cloud: String

        @Option(name: .shortAndLong, help: "The machine software (application) the instance boots.")
        var application: String

        @Option(name: .shortAndLong, help: "The flavour (size) of the instance.")
        var flavour: String

        @Option(name: .shortAndLong, help: "A tag to find the instance by (micado stop -t).")
        var tag: String

        @Option(name: .shortAndLong, help: "What the instance serves: application or database.")
        var name: StartInstanceRequest.Role = .application

        @Flag(name: .customShort("I"), help: "This is the first instance of the infrastructure.")
        var first = false

        func validate() throws {
            for (flag, value) in [("-c", cloud), ("-a", application), ("-f", flavour), ("-t", tag)] where value.isEmpty {
                throw ValidationError("\(flag) must not be empty")
            }
            _ = try usage { () throws(MicadoError) in try LocationName.validate(tag) }
        }

        func run() async throws {
            let client = try ManagerClient.fromHome()
            let request = StartInstanceRequest(cloud: cloud, application: application, flavour: flavour, tag: tag, role: name, first: first)
            let instance = try await client.json(InstanceView.self, .POST, "/v1/instances", body: request)
            print("\(instance.id) \(instance.address ?? "-")")
        }
    }

    struct Stop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Drain and delete the instances with a tag.", discussion: "Example: micado stop -t application01")

        @Option(name: .shortAndLong, help: "The tag given to the instances at start.")
        var tag: String

        func validate() throws {
            _ = try usage { () throws(MicadoError) in try LocationName.validate(tag) }
        }

        func run() async throws {
            let client = try ManagerClient.fromHome()
            _ = try await client.send(.DELETE, "/v1/instances", query: [("tag", tag)])
            print("instances with tag \(tag) stopped")
        }
    }
}
