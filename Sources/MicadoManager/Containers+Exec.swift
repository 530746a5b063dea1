import DockerEngine
import Foundation
import Logging
import MicadoCore
import MicadoStore
import NIOCore

// `micado execute`: a command run to completion, or attached (see ExecRelay).
extension Containers {
    /// Runs `command` with `sh -c` in the container's running task and collects its output.
    public func execute(_ name: String, command: String) async throws(MicadoError) -> ExecResult {
        guard !command.isEmpty else { throw .badRequest("give a command to execute, e.g. -c 'ls /'") }
        let (engine, containerID) = try await runningTask(of: name)
        let output = try await engine.exec(container: containerID, command: ["sh", "-c", command])
        await note(.containerExecute, name, "executed '\(command)' in \(name) (exit \(output.exitCode))")
        return ExecResult(
            exitCode: output.exitCode,
            stdout: String(decoding: output.stdout, as: UTF8.self),
            stderr: String(decoding: output.stderr, as: UTF8.self)
        )
    }

    /// An attached command: `sh -c command` created (not started) in the container's running
    /// task with stdin open, for a relay to start. The session is stored first, so that
    /// after a crash what is left of it can be found and hung up.
    func createAttachedExec(
        _ name: String,
        command: String,
        tty: Bool,
        environment: [String] = []
    ) async throws(MicadoError) -> AttachedExecTarget {
        let (engine, containerID) = try await runningTask(of: name)
        let session = UUID().uuidString.lowercased()
        try await store.saveExecSession(
            ExecSessionRecord(session: session, container: name, containerID: containerID, command: command, startedAt: Date())
        )
        do {
            let id = try await engine.createExec(
                container: containerID,
                command: ["sh", "-c", command],
                tty: tty,
                stdin: true,
                environment: environment + ["\(AttachedExecTarget.sessionVariable)=\(session)"]
            )
            return AttachedExecTarget(engine: engine, containerID: containerID, execID: id, session: session)
        } catch {
            try? await store.deleteExecSession(session)
            throw error
        }
    }

    /// Forgets an attached command that has ended (or was hung up).
    func endAttachedExec(_ target: AttachedExecTarget) async {
        do { try await store.deleteExecSession(target.session) } catch {
            logger.warning("cannot forget an exec session", metadata: ["session": "\(target.session)", "error": "\(error)"])
        }
    }

    /// At start: hangs up what attached commands of a manager that died left running.
    public func hangUpLeftoverExecSessions() async throws(MicadoError) {
        for session in try await store.execSessions() {
            let message: String
            let task: (any EngineAPI, String)
            do { task = try await runningTask(of: session.container) } catch  where error.code == .notFound || error.code == .conflict {
                task = (engine, "")
            } catch {
                await note(
                    .containerExecute,
                    session.container,
                    "cannot hang up '\(session.command)' in \(session.container) yet: \(error.message)"
                )
                continue
            }
            if task.1 != session.containerID {
                message = "the task that ran '\(session.command)' in \(session.container) is gone, and the command with it"
            } else {
                let target = AttachedExecTarget(engine: task.0, containerID: task.1, execID: "", session: session.session)
                do {
                    let processes = try await target.hangUp()
                    message =
                        "hung up \(processes) process(es) of '\(session.command)' in \(session.container), left attached when the manager stopped"
                } catch  where error.code == .conflict {
                    message =
                        "'\(session.command)' in \(session.container) was left attached when the manager stopped and cannot be hung up (\(error.message)); it may still run"
                } catch {
                    await note(
                        .containerExecute,
                        session.container,
                        "cannot hang up '\(session.command)' in \(session.container) yet: \(error.message)"
                    )
                    continue
                }
            }
            await note(.containerExecute, session.container, message)
            try await store.deleteExecSession(session.session)
        }
    }
}

/// An exec that a client attaches to, and how to hang it up when the client leaves.
struct AttachedExecTarget: Sendable {
    /// Marks every process of one attached exec (children inherit it), so they can be found.
    static let sessionVariable = "MICADO_EXEC_SESSION"

    let engine: any EngineAPI
    let containerID: String
    let execID: String
    let session: String

    /// Sends SIGHUP to the exec's processes and returns how many there were.
    ///
    /// Closing the engine connection does not do it: the engine keeps the command's
    /// terminal open. The engine has no call to signal an exec either, so a second exec
    /// finds the processes by the session variable in their environment.
    func hangUp() async throws(MicadoError) -> Int {
        let script = """
            for tool in tr grep kill; do
              command -v $tool >/dev/null || { echo "the container has no $tool" >&2; exit 127; }
            done
            n=0
            for p in /proc/[0-9]*; do
              if tr '\\0' '\\n' < "$p/environ" 2>/dev/null | grep -qx "\(Self.sessionVariable)=\(session)"; then
                kill -HUP "${p#/proc/}" 2>/dev/null && n=$((n+1))
              fi
            done
            echo $n
            """
        let output = try await engine.exec(container: containerID, command: ["sh", "-c", script], timeout: .seconds(10))
        let stdout = String(decoding: output.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard output.exitCode == 0, let count = Int(stdout) else {
            let why = String(decoding: output.stderr, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw .conflict("cannot find the command's processes: \(why.isEmpty ? "exit \(output.exitCode)" : why)")
        }
        return count
    }
}
