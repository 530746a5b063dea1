import Foundation
import MicadoClouds
import MicadoCore
import Testing

/// `micado execute` attached: a terminal of the command's own, or streamed stdin, relayed
/// from the CLI through the manager's WebSocket to the engine's hijacked connection.
@Suite(.enabled(if: ManagerFixture.enginesAvailable || ManagerFixture.mustRun, ManagerFixture.skipNote))
struct AttachedExecuteTests {
    static func launchSleeper(_ f: ManagerFixture, _ name: String) throws {
        let launch = try f.micado(["launch", "-i", "busybox:local", "-n", name, "--container", "container-\(name)", "-s", "/bin/sleep", "-a", "3600"])
        #expect(launch.status == 0, "\(launch)")
    }

    @Test func terminalSessionIsInteractiveWithTheCallersWindowSize() async throws {
        try await ManagerFixture.with { f in
            try Self.launchSleeper(f, "shell")
            // Typed at the terminal: the remote shell reads it line by line, as from a user.
            let session = try f.micadoOnTerminal(
                ["execute", "-n", "container-shell", "-c", "sh"], size: TerminalSize(columns: 91, rows: 33),
                input: "tty; stty size; echo sum-$((6*7))\nexit 3\n")
            #expect(session.status == 3, "\(session)")
            #expect(session.stdout.contains("/dev/pts/"), "the command has no terminal:\n\(session)")
            #expect(session.stdout.contains("33 91"), "the window size did not follow:\n\(session)")
            // The echo of what was typed shows the expression; only the shell's answer has 42.
            #expect(session.stdout.contains("sum-42"), "\(session)")

            // --no-tty on a terminal: the collected path, the command sees no terminal.
            let plain = try f.micadoOnTerminal(["execute", "--no-tty", "-n", "container-shell", "-c", "tty"], size: TerminalSize(columns: 80, rows: 24), input: "")
            #expect(plain.status == 1, "\(plain)")
            #expect(plain.stdout.contains("not a tty"), "\(plain)")

            let events = try f.micado(["events", "--subject", "container-shell"]).stdout
            #expect(events.contains("executed 'sh' in container-shell with a terminal (exit 3)"), "\(events)")
        }
    }

    @Test func aClientThatLeavesHangsTheCommandUp() async throws {
        try await ManagerFixture.with { f in
            try Self.launchSleeper(f, "hup")
            let terminal = try f.startOnTerminal(["execute", "-n", "container-hup", "-c", "sleep 4242"], log: f.state + "/hup.log")
            defer { terminal.signal(SIGKILL); _ = terminal.wait() }
            #expect(try await Self.eventually { try Self.processes(f, "container-hup").contains("sleep 4242") }, "the attached command never ran")
            // Closing the terminal ends micado (SIGHUP); the manager then hangs the command up.
            terminal.signal(SIGKILL)
            #expect(try await Self.eventually { try !Self.processes(f, "container-hup").contains("sleep 4242") }, "the command outlived its client")
            let events = try f.micado(["events", "--subject", "container-hup"]).stdout
            #expect(events.contains("the client of 'sleep 4242' in container-hup left; hung up 1 process(es) of it"), "\(events)")
        }
    }

    @Test(arguments: [SIGTERM, SIGKILL])
    func aManagerThatStopsLeavesNoCommandRunning(signal: Int32) async throws {
        try await ManagerFixture.with { f in
            try Self.launchSleeper(f, "stop")
            let terminal = try f.startOnTerminal(["execute", "-n", "container-stop", "-c", "sleep 4343"], log: f.state + "/stop.log")
            defer { terminal.signal(SIGKILL); _ = terminal.wait() }
            #expect(try await Self.eventually { try Self.processes(f, "container-stop").contains("sleep 4343") }, "the attached command never ran")
            _ = try await f.stopManager(signal: signal)
            // The client is told, whichever way the manager went.
            #expect(try await Self.eventually { terminal.poll() != nil }, "micado execute outlived its manager")
            let log = (try? String(contentsOfFile: f.state + "/stop.log", encoding: .utf8)) ?? ""
            #expect(log.contains("the manager ended the session before the command did"), "\(log)")
            try await f.startManager()
            #expect(try await Self.eventually { try !Self.processes(f, "container-stop").contains("sleep 4343") }, "the command outlived its manager")
            let events = try f.micado(["events", "--subject", "container-stop"]).stdout
            let expected = signal == SIGTERM
                ? "the client of 'sleep 4343' in container-stop left; hung up 1 process(es) of it"  // at shutdown
                : "hung up 1 process(es) of 'sleep 4343' in container-stop, left attached when the manager stopped"  // at the next start
            #expect(events.contains(expected), "\(events)")
        }
    }

    /// The commands running in a container, as ps shows them.
    static func processes(_ f: ManagerFixture, _ container: String) throws -> String {
        try f.micado(["execute", "-n", container, "-c", "ps -o args"]).stdout
    }

    static func eventually(_ condition: () throws -> Bool) async throws -> Bool {
        for _ in 0..<100 {
            if try condition() { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    @Test func pipedStdinStreamsBothWaysWithoutATerminal() async throws {
        try await ManagerFixture.with { f in
            try Self.launchSleeper(f, "pipe")
            let input = (1...2000).map { "line \($0)" }.joined(separator: "\n") + "\n"
            let streamed = try f.micado(["execute", "-n", "container-pipe", "-i", "-c", "tty; wc -l; echo done >&2; exit 4"], input: input)
            #expect(streamed.status == 4, "\(streamed)")
            #expect(streamed.stdout == "not a tty\n2000\n", "\(streamed)")
            #expect(streamed.stderr == "done\n", "\(streamed)")

            // Bytes pass unchanged, in both directions.
            let binary = String((0..<3000).map { Character(UnicodeScalar(32 + $0 % 90)!) })
            let echoed = try f.micado(["execute", "-n", "container-pipe", "-i", "-c", "cat"], input: binary)
            #expect(echoed.status == 0)
            #expect(echoed.stdout == binary)
        }
    }

    @Test func refusalsAreSpecific() async throws {
        try await ManagerFixture.with { f in
            let unknown = try f.micado(["execute", "-n", "container-nobody", "-i", "-c", "sh"])
            #expect(unknown.status == 1, "\(unknown)")
            #expect(unknown.stderr.contains("container-nobody"), "\(unknown)")

            try Self.launchSleeper(f, "gone")
            #expect(try f.micado(["quit", "-n", "container-gone"]).status == 0)
            let stopped = try f.micado(["execute", "-n", "container-gone", "-i", "-c", "sh"])
            #expect(stopped.status == 1, "\(stopped)")
            #expect(stopped.stderr.contains("has no running task"), "\(stopped)")

            let tokenFile = f.home + "/token"
            let token = try String(contentsOfFile: tokenFile, encoding: .utf8)
            try "wrong-token-0123456789\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
            let wrongToken = try f.micado(["execute", "-n", "container-gone", "-i", "-c", "sh"])
            try token.write(toFile: tokenFile, atomically: true, encoding: .utf8)
            #expect(wrongToken.status == 1, "\(wrongToken)")
            #expect(wrongToken.stderr.contains("missing or wrong API token"), "\(wrongToken)")

            _ = try await f.stopManager()
            let down = try f.micado(["execute", "-n", "container-gone", "-i", "-c", "sh"])
            #expect(down.status == 69, "\(down)")
            #expect(down.stderr.contains("micado manager"), "\(down)")
        }
    }
}
