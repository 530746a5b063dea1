import ArgumentParser
import Foundation
import MicadoClient
import MicadoCore

/// The entry point of `micado-bench`: parses, runs, and maps errors to exit codes as `micado` does.
@main
enum BenchMain {
    static func main() async {
        do {
            var command = try MicadoBench.parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as MicadoError {
            Console.err("error: \(error.message)")
            exit(ExitStatus.code(for: error))
        } catch {
            let message = MicadoBench.fullMessage(for: error)
            let code = MicadoBench.exitCode(for: error)
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
