import ArgumentParser
import Foundation
import MicadoClient
import MicadoCore

/// The entry point: parses, runs, and maps errors to exit codes in one place.
@main
enum MicadoMain {
    static func main() async {
        if let verb = CommandLine.arguments.dropFirst().first, let suggestion = Self.unknownVerb(verb) {
            let shown = verb.count > 64 ? String(verb.prefix(64)) + "…" : verb
            Console.err(
                "error: \(Text.escaped(shown)) is not a micado command.\(suggestion.map { " Did you mean \($0)?" } ?? "") See 'micado --help'."
            )
            exit(ExitStatus.usage)
        }
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
            // ArgumentParser quotes what was typed: escaped, so a crafted argument cannot drive the terminal.
            let message = Micado.fullMessage(for: error)
            let code = Micado.exitCode(for: error)
            if !message.isEmpty {
                let escaped = message.split(separator: "\n", omittingEmptySubsequences: false).map { Text.escaped(String($0)) }.joined(
                    separator: "\n"
                )
                if code == .success { print(escaped) } else { Console.err(escaped) }
            }
            exit(code.rawValue)
        }
    }
}

extension MicadoMain {
    /// nil when `verb` is a command (or an option); else the nearest command, if one is near.
    static func unknownVerb(_ verb: String) -> String?? {
        guard !verb.hasPrefix("-") else { return nil }
        let commands =
            (Micado.configuration.subcommands + Micado.configuration.groupedSubcommands.flatMap(\.subcommands))
            .flatMap { [$0._commandName] + $0.configuration.aliases } + ["help"]
        guard !commands.contains(verb) else { return nil }
        let nearest = commands.map { ($0, editDistance(verb.lowercased(), $0)) }.min { $0.1 < $1.1 }
        guard let nearest, nearest.1 <= max(1, nearest.0.count / 3) else { return .some(nil) }
        return .some(nearest.0)
    }

    /// Levenshtein distance, for suggestions.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.utf8.prefix(64))
        let b = Array(b.utf8)
        var previous = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...max(b.count, 1) where !b.isEmpty {
                current[j] = Swift.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}

struct Micado: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "micado",
        abstract: "A cloud application-level dynamic orchestrator: containers on instances that come and go with the load.",
        discussion: """
            Run 'micado init' once, then 'micado manager' (the daemon). Every other command talks to the manager's HTTP API on loopback, authenticated with the token in the micado home ($MICADO_HOME, default ~/.micado). Several managers on one PostgreSQL store: set MICADO_MANAGERS=http://HOST:PORT,… and each is tried in turn.
            """,
        version: MicadoVersion.current,
        groupedSubcommands: [
            CommandGroup(
                name: "Containers (MiCADO's commands)",
                subcommands: [
                    Launch.self, Quit.self, ListCommand.self, Build.self, Info.self, Logs.self, Remove.self, Execute.self, Copy.self,
                    Images.self,
                ]
            ),
            CommandGroup(name: "Applications", subcommands: [Apply.self, Apps.self]),
            CommandGroup(name: "Instances", subcommands: [Start.self, Stop.self, Clouds.self]),
            CommandGroup(name: "Proxy", subcommands: [Routes.self]),
            CommandGroup(name: "Manager", subcommands: [Init.self, Manager.self, Events.self, Explain.self, Backup.self, Bench.self]),
        ]
    )
}
