import ArgumentParser
import Foundation
import Logging
import MicadoClient
import MicadoCore
import MicadoManager
import NIOCore
import NIOHTTP1

extension Micado {
    struct Init: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create the micado home: config.yaml, an API token and a credentials file.",
            discussion: "The home is $MICADO_HOME (default ~/.micado). Existing files are kept unless --force."
        )

        @Flag(help: "Overwrite an existing home (a new token: running CLIs must re-read it).")
        var force = false

        @Option(help: "The manager's Docker engine, e.g. unix:///run/micado/docker.sock (default: $DOCKER_HOST).")
        var dockerHost: String?

        @Option(help: "The address the swarm advertises: one micado owns (loopback or its bridge).")
        var advertiseAddress = "127.0.0.1"

        @Option(help: "The port of the manager's API on 127.0.0.1.")
        var port = 7400

        @Option(help: "Where the domain proxy (Caddy) serves HTTP.")
        var proxyPort = 80

        @Option(help: "Where the domain proxy serves HTTPS for domains launched with --tls.")
        var proxyTlsPort = 443

        @Flag(help: "Do not run the domain proxy.")
        var noProxy = false

        func validate() throws {
            for (flag, value) in [("--port", port), ("--proxy-port", proxyPort), ("--proxy-tls-port", proxyTlsPort)]
            where !(1...65535).contains(value) {
                throw ValidationError("\(flag) \(value) is not a TCP port (1 to 65535)")
            }
            // An IPv4 address, four decimal octets: it goes into the swarm's and Caddy's configuration.
            guard HostAddress.isIPv4(advertiseAddress) else {
                throw ValidationError("--advertise-address '\(Text.escaped(String(advertiseAddress.prefix(64))))' is not an IPv4 address")
            }
        }

        func run() async throws {
            let home = MicadoHome.resolve(environment: ProcessInfo.processInfo.environment)
            var proxy = ManagerConfiguration.Proxy()
            proxy.enabled = !noProxy
            proxy.listenPort = proxyPort
            proxy.tlsPort = proxyTlsPort
            let files = try home.initialise(
                force: force,
                dockerHost: dockerHost,
                advertiseAddress: advertiseAddress,
                port: port,
                proxy: proxy
            )
            for file in files { print(file) }
            Console.err("micado home ready at \(home.path); start the manager with 'micado manager'")
        }
    }

    struct Manager: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the manager daemon (API, store, swarm) in the foreground.",
            discussion: "Stops gracefully on SIGTERM or SIGINT. Logs go to stderr."
        )

        @Option(
            help: "Log level: trace, debug, info, notice, warning, error.",
            transform: { text in
                guard let level = Logger.Level(rawValue: text) else { throw ValidationError("unknown log level '\(Text.escaped(text))'") }
                return level
            }
        )
        var logLevel: Logger.Level = .info

        @Flag(help: "Take over micado services in the swarm that the store does not know (after its loss; see the README).")
        var adopt = false

        func run() async throws {
            let environment = ProcessInfo.processInfo.environment
            let home = MicadoHome.resolve(environment: environment)
            let configuration = try ManagerConfiguration.load(home: home, environment: environment)
            LoggingSystem.bootstrap { [logLevel] label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = logLevel
                return EscapingLogHandler(handler)
            }
            let logger = Logger(label: "micado.manager")
            try await ManagerDaemon(home: home, configuration: configuration, adopt: adopt, logger: logger).run()
        }
    }

    struct Routes: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the domains the proxy routes, their containers, targets and whether each answers."
        )

        @OptionGroup var output: OutputOptions

        func run() async throws {
            let client = try ManagerClient.fromHome()
            let routes = try await client.json([RouteView].self, .GET, "/v1/routes")
            if output.output == .json { return try Console.printJSON(routes) }
            Console.table(
                ["DOMAIN", "CONTAINER", "TARGETS"],
                routes.map { route in
                    [
                        route.domain, route.container,
                        zip(
                            route.targets,
                            route.healthy + Array(repeating: false, count: max(0, route.targets.count - route.healthy.count))
                        )
                        .map { "\($0) (\($1 ? "healthy" : "unhealthy"))" }.joined(separator: ", ") + (route.tls ? "  [https]" : ""),
                    ]
                }
            )
        }
    }

    struct Events: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show what the manager did and why, oldest first.",
            discussion: "Example: micado events --subject container-x"
        )

        @Option(help: "Only events about this container, image or instance.")
        var subject: String?

        @Option(help: "How many of the newest events.")
        var limit = 50

        @OptionGroup var output: OutputOptions

        func run() async throws {
            let client = try ManagerClient.fromHome()
            var query = [("limit", String(limit))]
            if let subject { query.append(("subject", subject)) }
            let events = try await client.json([EventView].self, .GET, "/v1/events", query: query)
            if output.output == .json { return try Console.printJSON(events) }
            Console.table(
                ["TIME", "KIND", "SUBJECT", "MESSAGE"],
                events.map { [RFC3339.string($0.time), $0.kind.rawValue, $0.subject, $0.message] }
            )
        }
    }
}
