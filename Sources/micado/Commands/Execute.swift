import ArgumentParser
import Foundation
import HummingbirdWSClient
import MicadoClient
import MicadoCore
import NIOCore
import NIOHTTP1
import Synchronization

extension Micado {
    struct Execute: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Execute a command inside a running container.",
            discussion: """
                The command runs with sh -c, and its exit code becomes micado's.

                When stdin and stdout are a terminal, the command gets a terminal of its own: keys go to it as typed (Ctrl-C included), the window size and TERM follow yours, and 'exit' or the command's end returns. With -i and no terminal, stdin (a pipe or a file) streams to it while its output streams back. Otherwise its output is printed when it ends.

                Examples:
                  micado execute -n container-x -c sh
                  micado execute -n container-x -c 'ls /www'
                  tar c site | micado execute -n container-x -i -c 'tar x -C /www'
                """
        )

        @Option(name: .shortAndLong, help: "Name of the container to execute the command in.")
        var name: String

        @Option(name: .shortAndLong, help: "Command to execute inside the container.")
        var command: String

        @Flag(name: .shortAndLong, help: "Stream stdin to the command and its output back as it comes, even without a terminal.")
        var interactive = false

        @Flag(name: .customLong("no-tty"), help: "No terminal for the command, even when stdin is one.")
        var noTTY = false

        func run() async throws {
            let client = try ManagerClient.fromHome()
            let tty = !noTTY && Terminal.stdinIsTerminal && Terminal.stdoutIsTerminal
            if tty || interactive {
                let code = try await AttachedExecSession(client: client, name: name, command: command, tty: tty).run()
                if code != 0 { throw ExitCode(Int32(clamping: code)) }
                return
            }
            let result = try await client.json(
                ExecResult.self,
                .POST,
                "/v1/containers/\(ManagerClient.escape(name))/exec",
                body: ExecRequest(command: command)
            )
            // On a terminal, what the command printed is shown, not obeyed (as for logs); piped, it is passed as it is.
            FileHandle.standardOutput.write(Data((isatty(1) == 1 ? Text.escaped(result.stdout, multiline: true) : result.stdout).utf8))
            FileHandle.standardError.write(Data((isatty(2) == 1 ? Text.escaped(result.stderr, multiline: true) : result.stderr).utf8))
            if result.exitCode != 0 { throw ExitCode(Int32(clamping: result.exitCode)) }
        }
    }
}
