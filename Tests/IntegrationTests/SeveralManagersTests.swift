import DockerEngine
import Foundation
import MicadoClouds
import MicadoCore
import MicadoStore
import MicadoTestSupport
import Testing

/// Two `micado manager` processes on one PostgreSQL database (started by the test) and one
/// engine: one leads, the other stands by, and takes over when the leader is killed.
@Suite(.serialized, .enabled(if: ManagerFixture.enginesAvailable || ManagerFixture.mustRun, ManagerFixture.skipNote))
struct SeveralManagersTests {
    /// Both homes' config.yaml name the database; the password is in a 0600 file, never an argument.
    static func useStore(_ database: PostgresLocation, server: PostgresServer, home: String) throws {
        let passwordFile = home + "/pg-password"
        guard
            FileManager.default.createFile(
                atPath: passwordFile,
                contents: Data(server.password.utf8),
                attributes: [.posixPermissions: 0o600]
            )
        else { throw TestFailure("cannot write \(passwordFile)") }
        let config = try String(contentsOfFile: home + "/config.yaml", encoding: .utf8)
        // In place of the SQLite file `init` named.
        let lines = config.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let at = lines.firstIndex(of: "store:") else { throw TestFailure("no store section in \(home)/config.yaml") }
        let store = [
            "store:", "  postgres: postgres://\(server.user)@/\(database.database)?host=\(server.socketFolder)",
            "  passwordFile: \(passwordFile)",
        ]
        let rest = lines[(at + 1)...].drop { $0.hasPrefix("  ") }
        try (lines[..<at] + store + rest).joined(separator: "\n").write(toFile: home + "/config.yaml", atomically: true, encoding: .utf8)
    }

    /// The fixture's manager and a second home's on one database: the first leads, the second
    /// (its log at `log`) stands by. `second` is the second home.
    func withTwoManagers(
        _ body: (ManagerFixture, PostgresServer, String, ChildProcess, String, _ managers: String) async throws -> Void
    ) async throws {
        try await ManagerFixture.with { f in
            let server = try await PostgresServer.running()
            let database = try await server.database("m")
            try await f.stopManager()
            try Self.useStore(database, server: server, home: f.home)
            // A second home beside the fixture's: the same engine, its own port, the same token.
            let second = f.state + "/home2"
            let port2 = ManagerFixture.freePorts(1, in: 20000..<26000)
            let proxy2 = ManagerFixture.freePorts(3, in: 26000..<32000)
            let initialised = try await CommandResult.run(
                ManagerFixture.micadoBinary,
                [
                    "init", "--docker-host", f.dockerHost, "--advertise-address", f.engineIP, "--port", String(port2),
                    "--proxy-port", String(proxy2), "--proxy-tls-port", String(proxy2 + 2),
                ],
                environment: ["MICADO_HOME": second]
            )
            #expect(initialised.status == 0, "\(initialised)")
            try FileManager.default.removeItem(atPath: second + "/token")
            try FileManager.default.copyItem(atPath: f.home + "/token", toPath: second + "/token")
            try Self.useStore(database, server: server, home: second)

            try await f.startManager()
            #expect(
                try await f.micado(["launch", "-i", "busybox:local", "-n", "web", "--container", "container-kept", "-a", "sleep", "3600"])
                    .status == 0
            )
            let log = f.state + "/manager2.log"
            let standby = try ChildProcess.start(
                ManagerFixture.micadoBinary,
                ["manager"],
                environment: ProcessInfo.processInfo.environment.merging(["MICADO_HOME": second]) { _, b in b },
                output: log
            )
            defer {
                standby.signal(SIGKILL)
                _ = standby.wait()
            }
            try #require(
                try await becomesTrue(within: 30) {
                    ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("standing by")
                }
            )
            // Standing by: it serves nothing and acts on nothing.
            #expect(try await f.micado(["events", "--limit", "1"], environment: ["MICADO_HOME": second]).status != 0)
            // The CLI given both addresses, the standby's first, reaches the leader.
            let managers = "http://127.0.0.1:\(port2),http://127.0.0.1:\(f.port)"
            let listed = try await f.micado(["list", "-c"], environment: ["MICADO_MANAGERS": managers])
            #expect(listed.status == 0 && listed.stdout.contains("container-kept"), "\(listed)")
            try await body(f, server, second, standby, log, managers)
            standby.signal(SIGTERM)
            _ = standby.wait()
        }
    }

    @Test func whenTheLeaderIsKilledTheStandbyLeadsWithinTheLeaseAndKeepsEveryRecord() async throws {
        try await withTwoManagers { f, server, second, _, log2, managers in
            let killed = ContinuousClock.now
            #expect(try await f.stopManager(signal: SIGKILL) == 128 + SIGKILL)
            try #require(
                try await becomesTrue(within: 60) {
                    (try? await f.micado(["events", "--limit", "1"], environment: ["MICADO_HOME": second]).status) == 0
                }
            )
            let failover = ContinuousClock.now - killed
            let log = (try? String(contentsOfFile: log2, encoding: .utf8)) ?? ""
            #expect(log.contains("leading: manager") && log.contains("epoch 2"), "\(log.suffix(2000))")
            // What the first one was told is the second one's, and still runs; the CLI given
            // both addresses goes on to the one that answers.
            let list = try await f.micado(["list", "-c"], environment: ["MICADO_MANAGERS": managers])
            #expect(list.status == 0 && list.stdout.contains("container-kept"), "\(list)")
            try #require(
                try await becomesTrue(within: 60) {
                    let shown = try? await f.micado(["list", "-c"], environment: ["MICADO_HOME": second])
                    return shown?.stdout.contains("running") == true
                }
            )
            // The password is on no command line (ps) and in no log.
            #expect(!log.contains(server.password))
            #expect(!(try String(contentsOfFile: f.state + "/manager.log", encoding: .utf8)).contains(server.password))
            print("failover (kill -9 to the standby answering): \(failover)")
        }
    }

    /// A leader stopped (SIGSTOP) past its lease and then continued: the standby has led
    /// meanwhile; the old one learns it is deposed at once and exits 75, and the container
    /// still has one service.
    @Test func aLeaderPausedPastItsLeaseStepsDownWhenItWakes() async throws {
        try await withTwoManagers { f, _, second, _, log2, _ in
            let leader = try #require(f.manager)
            leader.signal(SIGSTOP)
            try #require(
                try await becomesTrue(within: 60) {
                    (try? await f.micado(["events", "--limit", "1"], environment: ["MICADO_HOME": second]).status) == 0
                }
            )
            #expect(((try? String(contentsOfFile: log2, encoding: .utf8)) ?? "").contains("epoch 2"))
            leader.signal(SIGCONT)
            #expect(try await f.managerExit(within: 30) == 75)
            let log = try String(contentsOfFile: f.state + "/manager.log", encoding: .utf8)
            #expect(
                log.contains("stopping before it ends") || log.contains("no longer leads") || log.contains("taken the lease"),
                "\(log.suffix(1500))"
            )
            let services = try await f.engine().services()
            #expect(services.filter { $0.spec.name.contains("container-kept") }.count == 1)
            let list = try await f.micado(["list", "-c"], environment: ["MICADO_HOME": second])
            #expect(list.status == 0 && list.stdout.contains("container-kept"), "\(list)")
        }
    }
}
