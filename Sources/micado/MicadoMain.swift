import ArgumentParser
import Foundation
import MicadoCore

/// The entry point: parses, runs, and maps errors to exit codes in one place.
@main
enum MicadoMain {
    static func main() async {
        do {
            var command = try Micado.parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as MicadoError {
            Console.err("error: \(error.message)")
            exit(ExitStatus.code(for: error))
        } catch {
            Micado.exit(withError: error)
        }
    }
}

/// Exit codes: 0 ok, 1 a failed operation, 64 usage (ArgumentParser's), 69 manager unreachable.
enum ExitStatus {
    static let failure: Int32 = 1
    static let usage: Int32 = 64
    static let unavailable: Int32 = 69

    static func code(for error: MicadoError) -> Int32 {
        switch error.code {
        case .unreachable: unavailable
        default: failure
        }
    }
}

struct Micado: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "micado",
        abstract: "A cloud application-level dynamic orchestrator: containers on instances that come and go with the load.",
        discussion: """
            Run 'micado init' once, then 'micado manager' (the daemon). Every other command talks to
            the manager's HTTP API on loopback, authenticated with the token in the micado home
            ($MICADO_HOME, default ~/.micado).
            """,
        version: MicadoVersion.current,
        groupedSubcommands: [
            CommandGroup(name: "Containers (MiCADO's commands)", subcommands: [
                Launch.self, Quit.self, ListCommand.self, Build.self, Info.self, Logs.self, Remove.self, Execute.self, Copy.self, Images.self,
            ]),
            CommandGroup(name: "Instances", subcommands: [Start.self, Stop.self, Clouds.self]),
            CommandGroup(name: "Proxy", subcommands: [Routes.self]),
            CommandGroup(name: "Manager", subcommands: [Init.self, Manager.self, Events.self, Explain.self, Backup.self, Bench.self]),
        ]
    )
}
