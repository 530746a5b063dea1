import ArgumentParser
import Foundation
import HummingbirdWSClient
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
                """)

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
                ExecResult.self, .POST, "/v1/containers/\(ManagerClient.escape(name))/exec", body: ExecRequest(command: command))
            // On a terminal, what the command printed is shown, not obeyed (as for logs); piped, it is passed as it is.
            FileHandle.standardOutput.write(Data((isatty(1) == 1 ? Text.escaped(result.stdout, multiline: true) : result.stdout).utf8))
            FileHandle.standardError.write(Data((isatty(2) == 1 ? Text.escaped(result.stderr, multiline: true) : result.stderr).utf8))
            if result.exitCode != 0 { throw ExitCode(Int32(clamping: result.exitCode)) }
        }
    }
}

/// The CLI's end of an attached exec: a WebSocket to the manager (see `ExecStream`).
struct AttachedExecSession {
    let client: ManagerClient
    let name: String
    let command: String
    let tty: Bool

    /// Runs the command attached and returns its exit code.
    func run() async throws(MicadoError) -> Int {
        let size = tty ? Terminal.size() : nil
        var query = [("command", command), ("tty", tty ? "true" : "false")]
        if let size { query += [("columns", String(size.columns)), ("rows", String(size.rows))] }
        if tty, let term = ProcessInfo.processInfo.environment["TERM"], !term.isEmpty { query.append(("term", term)) }
        let end = Mutex<ExecStreamEnd?>(nil)
        let restore = tty ? Terminal.makeRaw() : {}
        defer { restore() }
        try await client.webSocket("/v1/containers/\(ManagerClient.escape(name))\(ExecStream.path)", query: query) { inbound, outbound in
            let last = await Self.relay(inbound: inbound, outbound: outbound, tty: tty)
            end.withLock { $0 = last }
        }
        switch end.withLock({ $0 }) {
        case let last? where last.error != nil: throw MicadoError(last.error!.code, last.error!.message)
        case let last?: return last.exitCode ?? -1
        case nil: throw .init(.engine, "the manager ended the session before the command did; see 'micado events'")
        }
    }

    /// Stdin and window sizes out, output in, until the manager's last message.
    static func relay(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, tty: Bool) async -> ExecStreamEnd? {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await bytes in Terminal.standardInput() {
                    guard (try? await outbound.write(.binary(ByteBuffer(bytes: bytes)))) != nil else { return }
                }
                guard !Task.isCancelled else { return }
                try? await outbound.write(.text(control(ExecStreamControl(closeStdin: true))))
            }
            if tty {
                group.addTask {
                    for await size in Terminal.resizes() {
                        try? await outbound.write(.text(control(ExecStreamControl(resize: size))))
                    }
                }
            }
            defer { group.cancelAll() }
            do {
                for try await message in inbound.messages(maxSize: 16 << 20) {
                    switch message {
                    case .binary(var buffer):
                        guard let stream = buffer.readInteger(as: UInt8.self) else { continue }
                        Terminal.write(buffer.readableBytesView, to: stream == ExecStream.stderr ? 2 : 1)
                    case .text(let text):
                        return try? WireFormat.decoder().decode(ExecStreamEnd.self, from: Data(text.utf8))
                    }
                }
            } catch {}
            return nil
        }
    }

    static func control(_ message: ExecStreamControl) -> String {
        String(decoding: (try? WireFormat.encoder().encode(message)) ?? Data(), as: UTF8.self)
    }
}
