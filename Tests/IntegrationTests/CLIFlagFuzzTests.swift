import Foundation
import Testing

/// Every option of every command (the CLI's own description of itself, so a new flag is
/// fuzzed the day it lands) given extreme numbers, empty, huge and non-UTF-8 values: the CLI
/// refuses with an exit code, never a trap. Numeric flags refuse with a usage error (64).
/// The home cannot exist (under /dev/null), so nothing is written and no manager is reached.
/// `bench` is left out: its commands start engines and clouds of their own.
@Suite struct CLIFlagFuzzTests {
    static let numeric: Set<String> = [
        "launch --memory", "launch --timeout", "launch --port", "quit --timeout", "build --max-context-bytes", "logs --tail", "init --port",
        "init --proxy-port", "init --proxy-tls-port", "events --limit",
    ]
    static let values = [
        "99999999999999999999", "-99999999999999999999", "1e19", "9.3e18m", "99999999999999999999m", "-1", "nan", "inf",
        "0x7fffffffffffffff",
        "", String(repeating: "9", count: 100_000),
    ]

    /// (command path, option name) for every option the CLI describes, bench's aside.
    static func options() async throws -> [(command: [String], option: String)] {
        let help = try await CommandResult.run(ManagerFixture.micadoBinary, ["--experimental-dump-help"])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(help.stdout.utf8)) as? [String: Any])
        var found: [([String], String)] = []
        func walk(_ command: [String: Any], _ path: [String]) {
            for argument in command["arguments"] as? [[String: Any]] ?? [] where argument["kind"] as? String == "option" {
                guard let names = argument["names"] as? [[String: Any]],
                    let long = names.first(where: { $0["kind"] as? String == "long" })?["name"] as? String ?? names.first?["name"]
                        as? String
                else { continue }
                if long == "arguments" { continue }  // launch -a takes everything after it, for the container
                found.append((path, (long.count == 1 ? "-" : "--") + long))
            }
            for sub in command["subcommands"] as? [[String: Any]] ?? [] {
                guard let name = sub["commandName"] as? String, name != "bench", name != "help" else { continue }
                walk(sub, path + [name])
            }
        }
        walk(try #require(json["command"] as? [String: Any]), [])
        return found
    }

    @Test func noFlagValueTrapsTheCLI() async throws {
        let options = try await Self.options()
        #expect(options.count > 30, "the CLI describes \(options.count) options")
        let environment = ["MICADO_HOME": "/dev/null/home", "OS_PASSWORD": "", "MICADO_MANAGER": ""]
        var cases: [[String]] = []
        for (command, option) in options { for value in Self.values { cases.append(command + [option, value]) } }
        // Several at a time: each run is a process start.
        try await withThrowingTaskGroup(of: (arguments: [String], result: CommandResult).self) { group in
            var next = 0
            func add() {
                guard next < cases.count else { return }
                let arguments = cases[next]
                next += 1
                group.addTask { (arguments, try await CommandResult.run(ManagerFixture.micadoBinary, arguments, environment: environment)) }
            }
            for _ in 0..<4 { add() }
            while let (arguments, result) = try await group.next() {
                add()
                let shown = arguments.map { $0.count > 40 ? String($0.prefix(12)) + "…(\($0.count))" : $0 }.joined(separator: " ")
                #expect(result.status > 0 && result.status < 128, "micado \(shown): \(result.status)")
                #expect(
                    !result.stderr.contains("Fatal error") && !result.stderr.contains("Stack dump"),
                    "micado \(shown): \(result.stderr.prefix(300))"
                )
                let key = "\(arguments.dropLast(2).joined(separator: " ")) \(arguments[arguments.count - 2])"
                if Self.numeric.contains(key) {
                    #expect(result.status == 64, "micado \(shown): exit \(result.status), \(result.stderr.prefix(200))")
                }
            }
        }
    }

    /// `init` writes ports and the advertised address into config.yaml: out-of-range ports and
    /// anything but an IPv4 address are usage errors, and no home is made.
    @Test func initRefusesWhatIsNotAPortOrAnAddress() async throws {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("micado-init-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: home) }
        let refused: [[String]] = [
            ["--port", "0"], ["--port", "65536"], ["--proxy-port", "0"], ["--proxy-tls-port", "70000"],
            ["--advertise-address", String(repeating: "A", count: 120_000)], ["--advertise-address", "300.1.1.1"],
            ["--advertise-address", "10.0.0"], ["--advertise-address", "::1"],
        ]
        for arguments in refused {
            let result = try await CommandResult.run(ManagerFixture.micadoBinary, ["init"] + arguments, environment: ["MICADO_HOME": home])
            #expect(
                result.status == 64,
                "micado init \(arguments.map { String($0.prefix(20)) }): \(result.status) \(result.stderr.prefix(200))"
            )
            #expect(!FileManager.default.fileExists(atPath: home + "/config.yaml"))
        }
        let accepted = try await CommandResult.run(
            ManagerFixture.micadoBinary,
            ["init", "--advertise-address", "10.0.0.2", "--port", "65535"],
            environment: ["MICADO_HOME": home]
        )
        #expect(accepted.status == 0, "\(accepted)")
    }

    /// Bytes that are not UTF-8 reach the CLI as they are (through the shell): refused, never a trap.
    @Test func nonUTF8ValuesAreRefused() async throws {
        for (command, option) in try await Self.options() {
            let script = "exec \"$0\" \(command.joined(separator: " ")) \(option) \"$(printf '\\377\\376\\200')\" 2>&1"
            let result = try await CommandResult.run(
                "/bin/sh",
                ["-c", script, ManagerFixture.micadoBinary],
                environment: ["MICADO_HOME": "/dev/null/home"]
            )
            #expect(result.status > 0 && result.status < 128, "micado \(command) \(option) <non-UTF-8>: \(result)")
            #expect(!result.stdout.contains("Fatal error"), "micado \(command) \(option): \(result.stdout.prefix(300))")
        }
    }
}
