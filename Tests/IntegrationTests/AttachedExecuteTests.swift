import Foundation
import HTTPTypes
import HummingbirdWSClient
import Logging
import MicadoClouds
import MicadoCore
import NIOCore
import Testing

/// `micado execute` attached: a terminal of the command's own, or streamed stdin, relayed
/// from the CLI through the manager's WebSocket to the engine's hijacked connection.
@Suite(.enabled(if: ManagerFixture.enginesAvailable || ManagerFixture.mustRun, ManagerFixture.skipNote))
struct AttachedExecuteTests {
    static func launchSleeper(_ f: ManagerFixture, _ name: String) async throws {
        let launch = try await f.micado([
            "launch", "-i", "busybox:local", "-n", name, "--container", "container-\(name)", "-s", "/bin/sleep", "-a", "3600",
        ])
        #expect(launch.status == 0, "\(launch)")
    }

    @Test func terminalSessionsFollowTheCallersTerminal() async throws {
        try await ManagerFixture.with { f in
            try await Self.launchSleeper(f, "shell")
            // Typed at the terminal: the remote shell reads it line by line, as from a user.
            let session = try await f.micadoOnTerminal(
                ["execute", "-n", "container-shell", "-c", "sh"],
                size: TerminalSize(columns: 91, rows: 33),
                input: "tty; stty size; echo term-$TERM; echo sum-$((6*7))\nexit 3\n"
            )
            #expect(session.status == 3, "\(session)")
            #expect(session.stdout.contains("/dev/pts/"), "the command has no terminal:\n\(session)")
            #expect(session.stdout.contains("33 91"), "the window size did not follow:\n\(session)")
            #expect(session.stdout.contains("term-screen-256color"), "the terminal type did not follow:\n\(session)")
            // The echo of what was typed shows the expression; only the shell's answer has 42.
            #expect(session.stdout.contains("sum-42"), "\(session)")

            // --no-tty on a terminal: the collected path, the command sees no terminal.
            let plain = try await f.micadoOnTerminal(
                ["execute", "--no-tty", "-n", "container-shell", "-c", "tty"],
                size: TerminalSize(columns: 80, rows: 24),
                input: ""
            )
            #expect(plain.status == 1, "\(plain)")
            #expect(plain.stdout.contains("not a tty"), "\(plain)")

            // The protocol itself, as another client speaks it: a resize message reaches the
            // command's terminal before the input that follows it.
            let token = try String(contentsOfFile: f.home + "/token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            var headers = HTTPFields()
            headers[.authorization] = "Bearer \(token)"
            let url = "ws://127.0.0.1:\(f.port)/v1/containers/container-shell/exec/stream?command=sh&tty=true&columns=80&rows=24"
            let transcript = Transcript()
            try await WebSocketClient.connect(url: url, configuration: .init(additionalHeaders: headers), logger: Logger(label: "test")) {
                inbound,
                outbound,
                _ in
                try await outbound.write(.text(#"{"resize":{"columns":132,"rows":43}}"#))
                try await outbound.write(.binary(ByteBuffer(string: "stty size; exit 5\n")))
                for try await message in inbound.messages(maxSize: 1 << 20) {
                    switch message {
                    case .binary(var buffer):
                        transcript.streams.insert(buffer.readInteger(as: UInt8.self) ?? 0)
                        transcript.output += String(buffer: buffer)
                    case .text(let text):
                        transcript.end = text
                    }
                }
            }
            #expect(transcript.output.contains("43 132"), "\(transcript.output)")
            #expect(transcript.streams == [ExecStream.stdout], "a terminal has one stream")
            #expect(transcript.end == #"{"exitCode":5}"#)

            // A message outside the protocol ends the session with the reason.
            let broken = Transcript()
            try await WebSocketClient.connect(url: url, configuration: .init(additionalHeaders: headers), logger: Logger(label: "test")) {
                inbound,
                outbound,
                _ in
                try await outbound.write(.text(#"{"resize":{"columns":0,"rows":43}}"#))
                for try await message in inbound.messages(maxSize: 1 << 20) {
                    if case .text(let text) = message { broken.end = text }
                }
            }
            let end = try WireFormat.decoder().decode(ExecStreamEnd.self, from: Data((broken.end ?? "").utf8))
            #expect(end.error?.code == .badRequest)
            #expect(end.error?.message.contains("columns and rows from 1 to 10000, not 0x43") == true, "\(end.error?.message ?? "")")

            let events = try await f.micado(["events", "--subject", "container-shell"]).stdout
            #expect(events.contains("executed 'sh' in container-shell with a terminal (exit 3)"), "\(events)")
            #expect(events.contains("could not run 'sh' in container-shell with a terminal: a terminal size needs"), "\(events)")
        }
    }

    final class Transcript: @unchecked Sendable {
        var output = ""
        var streams: Set<UInt8> = []
        var end: String?
    }

    @Test func pipedStdinStreamsAndRefusalsAreSpecific() async throws {
        try await ManagerFixture.with { f in
            try await Self.launchSleeper(f, "pipe")
            let input = (1...2000).map { "line \($0)" }.joined(separator: "\n") + "\n"
            let streamed = try await f.micado(
                ["execute", "-n", "container-pipe", "-i", "-c", "tty; wc -l; echo done >&2; exit 4"],
                input: input
            )
            #expect(streamed.status == 4, "\(streamed)")
            #expect(streamed.stdout == "not a tty\n2000\n", "\(streamed)")
            #expect(streamed.stderr == "done\n", "\(streamed)")

            // Bytes pass unchanged, in both directions.
            let text = String((0..<3000).map { Character(UnicodeScalar(32 + $0 % 90)!) })
            let echoed = try await f.micado(["execute", "-n", "container-pipe", "-i", "-c", "cat"], input: text)
            #expect(echoed.status == 0)
            #expect(echoed.stdout == text)

            let unknown = try await f.micado(["execute", "-n", "container-nobody", "-i", "-c", "sh"])
            #expect(unknown.status == 1, "\(unknown)")
            #expect(unknown.stderr.contains("no container named container-nobody"), "\(unknown)")

            #expect(try await f.micado(["quit", "-n", "container-pipe"]).status == 0)
            let stopped = try await f.micado(["execute", "-n", "container-pipe", "-i", "-c", "sh"])
            #expect(stopped.status == 1, "\(stopped)")
            #expect(stopped.stderr.contains("has no running task"), "\(stopped)")

            let tokenFile = f.home + "/token"
            let token = try String(contentsOfFile: tokenFile, encoding: .utf8)
            try "wrong-token-0123456789\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
            let wrongToken = try await f.micado(["execute", "-n", "container-pipe", "-i", "-c", "sh"])
            try token.write(toFile: tokenFile, atomically: true, encoding: .utf8)
            #expect(wrongToken.status == 1, "\(wrongToken)")
            #expect(wrongToken.stderr.contains("missing or wrong API token"), "\(wrongToken)")

            _ = try await f.stopManager()
            let down = try await f.micado(["execute", "-n", "container-pipe", "-i", "-c", "sh"])
            #expect(down.status == 69, "\(down)")
            #expect(down.stderr.contains("micado manager"), "\(down)")
        }
    }

    /// The engine keeps an exec's terminal open when its client goes: micado hangs the
    /// command up when the client leaves, when the manager stops, and after a kill -9.
    @Test func nothingOutlivesItsClientOrItsManager() async throws {
        try await ManagerFixture.with { f in
            try await Self.launchSleeper(f, "hup")
            let left = try f.startOnTerminal(["execute", "-n", "container-hup", "-c", "sleep 4242"], log: f.state + "/left.log")
            defer {
                left.signal(SIGKILL)
                _ = left.wait()
            }
            #expect(
                try await becomesTrue(within: 10) { try await Self.processes(f).contains("sleep 4242") },
                "the attached command never ran"
            )
            // Closing the terminal ends micado (SIGHUP); the manager then hangs the command up.
            left.signal(SIGKILL)
            #expect(
                try await becomesTrue(within: 10) { try await !Self.processes(f).contains("sleep 4242") },
                "the command outlived its client"
            )
            #expect(
                try await f.micado(["events", "--subject", "container-hup"]).stdout.contains(
                    "the client of 'sleep 4242' in container-hup left; hung up 1 process(es) of it"
                )
            )

            // micado itself told to stop: the terminal is given back as it was, the command hung up.
            let stopped = try f.startOnTerminal(
                ["execute", "-n", "container-hup", "-c", "sleep 4141"],
                log: f.state + "/term.log",
                then: "echo status=$?; stty -a"
            )
            defer {
                stopped.signal(SIGKILL)
                _ = stopped.wait()
            }
            #expect(
                try await becomesTrue(within: 10) { try await Self.processes(f).contains("sleep 4141") },
                "the attached command never ran"
            )
            #expect(try await CommandResult.run("/usr/bin/pkill", ["-TERM", "-f", "execute -n container-hup -c sleep 4141"]).status == 0)
            #expect(try await becomesTrue(within: 10) { stopped.poll() != nil }, "the terminal session did not end")
            let shown = (try? String(contentsOfFile: f.state + "/term.log", encoding: .utf8)) ?? ""
            #expect(shown.contains("status=143"), "\(shown)")
            #expect(
                shown.contains(" icanon") && shown.contains(" echo ") && !shown.contains("-icanon"),
                "the terminal stayed raw:\n\(shown)"
            )
            #expect(
                try await becomesTrue(within: 10) { try await !Self.processes(f).contains("sleep 4141") },
                "the command outlived its client"
            )

            for (signal, command, expected) in [
                // SIGTERM: hung up at shutdown; SIGKILL: at the next start
                (SIGTERM, "sleep 4343", "the client of 'sleep 4343' in container-hup left; hung up 1 process(es) of it"),
                (SIGKILL, "sleep 4444", "hung up 1 process(es) of 'sleep 4444' in container-hup, left attached when the manager stopped"),
            ] {
                let log = f.state + "/stop-\(signal).log"
                let terminal = try f.startOnTerminal(["execute", "-n", "container-hup", "-c", command], log: log)
                defer {
                    terminal.signal(SIGKILL)
                    _ = terminal.wait()
                }
                #expect(
                    try await becomesTrue(within: 10) { try await Self.processes(f).contains(command) },
                    "the attached command never ran"
                )
                _ = try await f.stopManager(signal: signal)
                // The client is told, whichever way the manager went.
                #expect(try await becomesTrue(within: 10) { terminal.poll() != nil }, "micado execute outlived its manager")
                let shown = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
                #expect(shown.contains("the manager ended the session before the command did"), "\(shown)")
                try await f.startManager()
                #expect(
                    try await becomesTrue(within: 10) { try await !Self.processes(f).contains(command) },
                    "'\(command)' outlived its manager (\(signal))"
                )
                let events = try await f.micado(["events", "--subject", "container-hup"]).stdout
                #expect(events.contains(expected), "\(events)")
            }
        }
    }

    /// The commands running in container-hup, as ps shows them.
    static func processes(_ f: ManagerFixture) async throws -> String {
        try await f.micado(["execute", "-n", "container-hup", "-c", "ps -o args"]).stdout
    }
}
