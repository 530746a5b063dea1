import Foundation
import MicadoClouds

/// The outcome of running a program: its exit status and everything it printed.
struct CommandResult: CustomStringConvertible {
    var status: Int32
    var stdout: String
    var stderr: String

    var description: String { "exit \(status)\n--- stdout\n\(stdout)--- stderr\n\(stderr)" }

    /// Runs `executable` with `arguments` and waits; output goes through files, so a
    /// chatty program can never block on a full pipe.
    /// `input`, when given, is the program's stdin (read from a file).
    static func run(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String] = [:],
        input: String? = nil
    ) async throws -> CommandResult {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("micado-cmd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out").path
        let err = dir.appendingPathComponent("err").path
        let inputFile = dir.appendingPathComponent("in").path
        try (input ?? "").write(toFile: inputFile, atomically: true, encoding: .utf8)
        let env = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        // stdout and stderr apart: run through sh so that each goes to its own file.
        let child = try ChildProcess.start(
            "/bin/sh",
            ["-c", "exec \"$0\" \"$@\" <\"$MICADO_CMD_IN\" >\"$MICADO_CMD_OUT\" 2>\"$MICADO_CMD_ERR\"", executable] + arguments,
            environment: env.merging([
                "MICADO_CMD_IN": input == nil ? "/dev/null" : inputFile, "MICADO_CMD_OUT": out, "MICADO_CMD_ERR": err,
            ]) { _, new in new },
            output: "/dev/null"
        )
        // Waited for off the concurrency pool: a test's servers (fault proxy, stand-in
        // hypervisor) run on it, and two blocked waits would hold both of CI's threads.
        let status = await child.exit()
        return CommandResult(
            status: status,
            stdout: (try? String(contentsOfFile: out, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: err, encoding: .utf8)) ?? ""
        )
    }
}
