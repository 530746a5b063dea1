import Foundation
import HummingbirdWSClient
import MicadoCore
import NIOCore
import Synchronization

/// The CLI's end of an attached exec: a WebSocket to the manager (see `ExecStream`).
public struct AttachedExecSession: Sendable {
    public init(client: ManagerClient, name: String, command: String, tty: Bool) {
        self.client = client
        self.name = name
        self.command = command
        self.tty = tty
    }

    let client: ManagerClient
    let name: String
    let command: String
    let tty: Bool

    /// Runs the command attached and returns its exit code.
    public func run() async throws(MicadoError) -> Int {
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

    public static func control(_ message: ExecStreamControl) -> String {
        String(decoding: (try? WireFormat.encoder().encode(message)) ?? Data(), as: UTF8.self)
    }
}
