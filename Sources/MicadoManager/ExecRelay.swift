import DockerEngine
import Foundation
import Hummingbird
import HummingbirdWebSocket
import MicadoCore
import NIOCore
import Synchronization

/// What an attached `micado execute` asks for, from its WebSocket URL's query.
struct ExecStreamOptions: Sendable, Equatable {
    var command: String
    var tty: Bool
    var size: TerminalSize?
    /// The client's TERM, so that full-screen programs draw for the terminal it really has.
    var term: String?

    init(_ query: Parameters) throws(MicadoError) {
        guard let command = query["command"].map(String.init), !command.isEmpty else {
            throw .badRequest("give a command to execute, e.g. ?command=sh")
        }
        self.command = command
        switch query["tty"] {
        case nil, "false": tty = false
        case "true": tty = true
        case let other?: throw .badRequest("tty must be true or false, not '\(other)'")
        }
        let columns = query["columns"].map { Int(String($0)) }
        let rows = query["rows"].map { Int(String($0)) }
        // One of the two alone takes a terminal's usual other dimension (80 columns, 24 rows).
        switch (columns, rows) {
        case (nil, nil): size = nil
        case (let c??, let r??) where (1...10_000).contains(c) && (1...10_000).contains(r): size = TerminalSize(columns: c, rows: r)
        case (let c??, nil) where (1...10_000).contains(c): size = TerminalSize(columns: c, rows: 24)
        case (nil, let r??) where (1...10_000).contains(r): size = TerminalSize(columns: 80, rows: r)
        default: throw .badRequest("columns and rows must each be a whole number from 1 to 10000")
        }
        if let term = query["term"].map(String.init) {
            let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.+-_")
            guard (1...64).contains(term.count), term.allSatisfy(allowed.contains) else {
                throw .badRequest("term must be a terminal type such as xterm-256color (letters, digits, . + - _; at most 64)")
            }
            self.term = term
        }
    }
}

/// Relays one attached exec between a client's WebSocket and the engine that runs the
/// container: stdin and resizes in, output out, then the exit code. A client that leaves
/// hangs the command up (SIGHUP to its processes), as a closed terminal would.
struct ExecRelay {
    let containers: any AttachedExecs
    let eventLog: EventLog
    let name: String
    let options: ExecStreamOptions

    enum Outcome {
        case exited(Int)
        /// How many processes were hung up, or why they could not be.
        case clientLeft(hungUp: Result<Int, MicadoError>)
    }

    func run(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async {
        let mode = options.tty ? "with a terminal" : "attached"
        let target: AttachedExecTarget
        do {
            target = try await containers.createAttachedExec(
                name,
                command: options.command,
                tty: options.tty,
                environment: options.tty ? options.term.map { ["TERM=\($0)"] } ?? [] : []
            )
        } catch {
            await fail(error, mode: mode, outbound: outbound)
            return
        }
        do {
            switch try await relay(target, inbound: inbound, outbound: outbound) {
            case .exited(let code):
                await eventLog.note(.containerExecute, name, "executed '\(options.command)' in \(name) \(mode) (exit \(code))")
            case .clientLeft(.success(let processes)):
                await eventLog.note(
                    .containerExecute,
                    name,
                    "the client of '\(options.command)' in \(name) left; hung up \(processes) process(es) of it"
                )
            case .clientLeft(.failure(let error)):
                await eventLog.note(
                    .containerExecute,
                    name,
                    "the client of '\(options.command)' in \(name) left, and the command could not be hung up (\(error.message)); it may still run"
                )
            }
        } catch {
            // The engine's side broke mid-way: whatever still runs of the command is hung up.
            _ = try? await target.hangUp()
            await fail(error, mode: mode, outbound: outbound)
        }
        await containers.endAttachedExec(target)
    }

    func fail(_ error: any Error, mode: String, outbound: WebSocketOutboundWriter) async {
        let failure = error as? MicadoError ?? MicadoError(.engine, "the attached command in \(name) failed: \(error)")
        await eventLog.note(.containerExecute, name, "could not run '\(options.command)' in \(name) \(mode): \(failure.message)")
        try? await outbound.write(.text(Self.encode(ExecStreamEnd(error: failure))))
    }

    func relay(_ target: AttachedExecTarget, inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async throws -> Outcome {
        let (engine, id) = (target.engine, target.execID)
        return try await engine.withAttachedExec(id, tty: options.tty, size: options.size) { attached in
            if options.tty, let size = options.size, engine.apiVersion < APIVersion(1, 42) {
                try? await engine.resizeExec(id, size: size)
            }
            let input = attached.input
            let disconnect = attached.disconnect
            let client = ClientState()
            return try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    do {
                        try await Self.forward(inbound, to: input, resize: { size in try? await engine.resizeExec(id, size: size) })
                        guard !Task.isCancelled else { return }
                        client.end(.left)
                    } catch {
                        guard !Task.isCancelled else { return }
                        client.end((error as? MicadoError).map(ClientState.End.failed) ?? .left)
                    }
                    // The client closed, vanished or broke the protocol while the command runs:
                    // stop relaying its output; the command itself is hung up below.
                    disconnect()
                }
                for try await frame in attached.output {
                    guard await Self.send(frame, to: outbound) else {
                        client.end(.left)
                        break
                    }
                }
                // The output ended: the command is done, or the client's side ended it.
                defer { group.cancelAll() }
                switch client.ended {
                case .left?:
                    return .clientLeft(hungUp: await Self.hangUp(target))
                case .failed(let error)?: throw error
                case nil:
                    let code = try await engine.exitCode(ofExec: id)
                    try? await outbound.write(.text(Self.encode(ExecStreamEnd(exitCode: code))))
                    return .exited(code)
                }
            }
        }
    }

    static func hangUp(_ target: AttachedExecTarget) async -> Result<Int, MicadoError> {
        do { return .success(try await target.hangUp()) } catch { return .failure(error) }
    }

    /// Sends output in messages small enough for any peer's frame limit; false when the client is gone.
    static func send(_ frame: StreamFrameDecoder.Frame, to outbound: WebSocketOutboundWriter) async -> Bool {
        for start in stride(from: 0, to: max(frame.bytes.count, 1), by: 16_000) {
            var buffer = ByteBuffer()
            buffer.writeInteger(frame.stream == .stderr ? ExecStream.stderr : ExecStream.stdout)
            buffer.writeBytes(frame.bytes[start..<min(start + 16_000, frame.bytes.count)])
            guard (try? await outbound.write(.binary(buffer))) != nil else { return false }
        }
        return true
    }

    static func forward(
        _ inbound: WebSocketInboundStream,
        to input: NIOAsyncChannelOutboundWriter<ByteBuffer>,
        resize: @Sendable (TerminalSize) async -> Void
    ) async throws {
        var stdinOpen = true
        for try await message in inbound.messages(maxSize: 1 << 20) {
            switch message {
            case .binary(let bytes):
                // A write fails only once the command's side is closed; its output says how it ended.
                if stdinOpen, (try? await input.write(bytes)) == nil { stdinOpen = false }
            case .text(let text):
                let control = try Self.control(text)
                if let size = control.resize { await resize(size) }
                if control.closeStdin == true, stdinOpen {
                    stdinOpen = false
                    input.finish()
                }
            }
        }
    }

    static func control(_ text: String) throws(MicadoError) -> ExecStreamControl {
        guard let control = try? JSONDecoder().decode(ExecStreamControl.self, from: Data(text.utf8)) else {
            throw .badRequest(
                #"unreadable control message (send {"resize":{"columns":C,"rows":R}} or {"closeStdin":true}): "# + text.prefix(80)
            )
        }
        if let size = control.resize, !(1...10_000).contains(size.columns) || !(1...10_000).contains(size.rows) {
            throw .badRequest("a terminal size needs columns and rows from 1 to 10000, not \(size.columns)x\(size.rows)")
        }
        return control
    }

    static func encode(_ end: ExecStreamEnd) -> String {
        String(decoding: (try? WireFormat.encoder().encode(end)) ?? Data(), as: UTF8.self)
    }

    /// How the client's side ended, if it did first: set by the task that reads the client.
    final class ClientState: Sendable {
        enum End: Sendable {
            case left
            case failed(MicadoError)
        }
        private let state = Mutex<End?>(nil)
        func end(_ end: End) { state.withLock { if $0 == nil { $0 = end } } }
        var ended: End? { state.withLock { $0 } }
    }
}
