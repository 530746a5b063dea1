import Foundation
import MicadoCore
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

// Exec: a command in a running container, either run to completion with its output
// collected, or attached: a hijacked connection carries stdin in and output out while it runs.
extension EngineClient {
    public struct ExecOutput: Sendable {
        public var exitCode: Int
        public var stdout: [UInt8]
        public var stderr: [UInt8]
    }

    /// Runs `command` in a container and waits for it to finish.
    public func exec(container: String, command: [String], timeout: TimeAmount) async throws(MicadoError) -> ExecOutput {
        let id = try await createExec(container: container, command: command, tty: false, stdin: false)
        // The engine hijacks the connection and streams raw output until the command ends.
        let response = try await send(.POST, "/exec/\(id)/start", body: try encode(ExecStart(tty: false)), timeout: timeout)
        let (out, err) = LogDemultiplexer.split(Array(buffer: response.body))
        return ExecOutput(exitCode: try await exitCode(ofExec: id), stdout: out, stderr: err)
    }

    /// Creates (does not start) an exec instance; its id is what the other calls take.
    /// `environment` entries (`KEY=value`) are added to the container's for this command.
    public func createExec(
        container: String,
        command: [String],
        tty: Bool,
        stdin: Bool,
        environment: [String]
    ) async throws(MicadoError) -> String {
        struct Create: Encodable {
            var attachStdin: Bool
            var attachStdout = true
            var attachStderr = true
            var tty: Bool
            var env: [String]
            var cmd: [String]
            enum CodingKeys: String, CodingKey {
                case attachStdin = "AttachStdin"
                case attachStdout = "AttachStdout"
                case attachStderr = "AttachStderr"
                case tty = "Tty"
                case env = "Env"
                case cmd = "Cmd"
            }
        }
        let created: IDResponse = try await post(
            "/containers/\(container)/exec",
            json: Create(attachStdin: stdin, tty: tty, env: environment, cmd: command)
        )
        return created.id
    }

    /// The exit code of a finished exec, waiting up to a second for the engine to record it.
    public func exitCode(ofExec id: String) async throws(MicadoError) -> Int {
        var inspect: ExecInspect = try await get("/exec/\(id)/json")
        var tries = 0
        while inspect.running, tries < 50 {
            try? await Task.sleep(for: .milliseconds(20))
            inspect = try await get("/exec/\(id)/json")
            tries += 1
        }
        return inspect.exitCode ?? -1
    }

    /// Sets the size of an attached exec's terminal (the command sees SIGWINCH).
    public func resizeExec(_ id: String, size: TerminalSize) async throws(MicadoError) {
        _ = try await send(.POST, "/exec/\(id)/resize", query: [("h", String(size.rows)), ("w", String(size.columns))])
    }

    /// Starts exec `id` on a connection of its own and hands `body` its streams; the
    /// connection closes when `body` returns. The command may outlive it: the engine keeps
    /// it running (a TTY's terminal open too) and has no call to signal it.
    ///
    /// AsyncHTTPClient cannot carry a hijacked connection, so this speaks HTTP/1.1 itself
    /// for the one request, then moves raw bytes (or the multiplexed frames without a TTY).
    public func withAttachedExec<Result: Sendable>(
        _ id: String,
        tty: Bool,
        size: TerminalSize?,
        _ body: (AttachedExec) async throws -> Result
    ) async throws -> Result {
        var start = ExecStart(tty: tty)
        // Before 1.42 the size can only be set once the command runs (resizeExec).
        if apiVersion >= APIVersion(1, 42), let size { start.consoleSize = [size.rows, size.columns] }
        let payload = try encode(start)
        let channel = try await openRawConnection()
        return try await channel.executeThenClose { inbound, outbound in
            let what = "POST /exec/\(id)/start"
            var request = "POST /v\(apiVersion)/exec/\(id)/start HTTP/1.1\r\nHost: docker\r\n"
            request += "Content-Type: application/json\r\nContent-Length: \(payload.count)\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
            var iterator = inbound.makeAsyncIterator()
            // A head that never comes must not hold the caller forever: closing ends the read.
            let deadline = channel.channel.eventLoop.scheduleTask(in: .seconds(30)) { channel.channel.close(promise: nil) }
            let (head, rest) = try await Self.readResponseHead(
                &iterator,
                what: what,
                endpoint: endpoint,
                afterWriting: {
                    try await outbound.write(ByteBuffer(string: request))
                    try await outbound.write(ByteBuffer(bytes: payload))
                }
            )
            guard head.status == 101 || head.status == 200 else {
                // The deadline still stands: an error body without a length ends when the engine closes.
                var errorBody = rest
                let expected = head.contentLength ?? 64 << 10
                while errorBody.count < expected, let more = try? await iterator.next() { errorBody += more.readableBytesView }
                throw Self.engineError(status: HTTPResponseStatus(statusCode: head.status), body: ByteBuffer(bytes: errorBody), what: what)
            }
            deadline.cancel()
            let output = ExecOutputStream(first: rest, inbound: iterator, multiplexed: !tty)
            return try await body(AttachedExec(id: id, output: output, input: outbound, connection: channel.channel))
        }
    }

    struct ExecStart: Encodable {
        var detach = false
        var tty: Bool
        var consoleSize: [Int]?
        enum CodingKeys: String, CodingKey {
            case detach = "Detach"
            case tty = "Tty"
            case consoleSize = "ConsoleSize"
        }
    }

    /// A plain connection to the engine (TLS when the endpoint has it), for hijacked streams.
    func openRawConnection() async throws(MicadoError) -> NIOAsyncChannel<ByteBuffer, ByteBuffer> {
        do {
            let sslContext = try tls.map { try NIOSSLContext(configuration: $0) }
            // SNI and name checks take host names only; an address is checked against the certificate's IP entries.
            let serverName: String? =
                if let name = endpoint.serverName {
                    name
                } else if case .tcp(let host, _) = endpoint.transport,
                    (try? SocketAddress(ipAddress: host, port: 0)) == nil
                { host } else { nil }
            let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connectTimeout(.seconds(5))
            let initializer: @Sendable (any Channel) -> EventLoopFuture<NIOAsyncChannel<ByteBuffer, ByteBuffer>> = { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let sslContext {
                        try channel.pipeline.syncOperations.addHandler(
                            try NIOSSLClientHandler(context: sslContext, serverHostname: serverName)
                        )
                    }
                    // Half closure lets `input.finish()` end the command's stdin while its output still flows.
                    return try NIOAsyncChannel(
                        wrappingChannelSynchronously: channel,
                        configuration: .init(isOutboundHalfClosureEnabled: true)
                    )
                }
            }
            switch endpoint.transport {
            case .unix(let path): return try await bootstrap.connect(unixDomainSocketPath: path, channelInitializer: initializer)
            case .tcp(let host, let port): return try await bootstrap.connect(host: host, port: port, channelInitializer: initializer)
            }
        } catch {
            throw Self.transportError(error, endpoint: endpoint)
        }
    }

    /// Writes the request, then reads until the response head is complete; returns the head
    /// and the bytes that came after it.
    static func readResponseHead(
        _ iterator: inout NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator,
        what: String,
        endpoint: EngineEndpoint,
        afterWriting write: () async throws -> Void
    ) async throws(MicadoError) -> (RawResponseHead, [UInt8]) {
        var received: [UInt8] = []
        do {
            try await write()
            while true {
                if let (head, bodyStart) = try RawResponseHead.parse(received) { return (head, Array(received[bodyStart...])) }
                guard received.count < 64 << 10, let more = try await iterator.next() else { break }
                received += more.readableBytesView
            }
        } catch let error as MicadoError {
            throw error
        } catch {
            throw transportError(error, endpoint: endpoint)
        }
        throw .init(.engine, "the engine at \(endpoint) closed the connection without answering \(what)")
    }
}

/// The status line and headers of an HTTP/1.1 answer read off a raw connection.
struct RawResponseHead: Sendable, Equatable {
    var status: Int
    var headers: [String: String]

    var contentLength: Int? { headers["content-length"].flatMap { Int($0) } }

    /// The head and the index where the body starts, or nil while the head is incomplete.
    static func parse(_ bytes: [UInt8]) throws(MicadoError) -> (RawResponseHead, Int)? {
        let end: [UInt8] = [13, 10, 13, 10]
        guard bytes.count >= 4, let at = (0...(bytes.count - 4)).first(where: { bytes[$0..<($0 + 4)].elementsEqual(end) }) else {
            return nil
        }
        let lines = String(decoding: bytes[..<at], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ", maxSplits: 2)
        guard statusParts.count >= 2, statusParts[0].hasPrefix("HTTP/1."), let status = Int(statusParts[1]) else {
            throw .init(.engine, "the engine answered with an unreadable status line: \(lines[0].prefix(80))")
        }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return (RawResponseHead(status: status, headers: headers), at + 4)
    }
}

/// The streams of an attached exec. Its output is read by one task; input and `disconnect`
/// may be used from others.
public struct AttachedExec {
    public let id: String
    /// The command's output as it comes; it ends when the command ends.
    public let output: ExecOutputStream
    /// The command's stdin; `finish()` closes it (the command reads end of file).
    public let input: NIOAsyncChannelOutboundWriter<ByteBuffer>
    let connection: any Channel

    /// Closes the connection: the output ends (the command itself is not stopped by it).
    public var disconnect: @Sendable () -> Void { { [connection] in connection.close(promise: nil) } }
}

/// Output of an attached exec as frames: a TTY's bytes all count as stdout; without a
/// TTY the engine multiplexes stdout and stderr.
public struct ExecOutputStream: AsyncSequence {
    public typealias Element = StreamFrameDecoder.Frame
    let first: [UInt8]
    let inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    let multiplexed: Bool

    /// Iterate once: the connection's bytes are read as they come.
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(first: first, inbound: inbound, multiplexed: multiplexed)
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var first: [UInt8]?
        var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
        /// Without a TTY the bytes are frames for `decoder`; with one they are stdout as they come.
        let multiplexed: Bool
        var decoder = StreamFrameDecoder()
        var ready: [Element] = []
        var ended = false

        public mutating func next() async throws -> Element? {
            while ready.isEmpty {
                if ended { return nil }
                var bytes: [UInt8]
                if let pending = first {
                    first = nil
                    bytes = pending
                } else if let buffer = try await inbound.next() {
                    bytes = Array(buffer.readableBytesView)
                } else {
                    ended = true
                    ready = multiplexed ? decoder.finish() : []
                    continue
                }
                guard !bytes.isEmpty else { continue }
                guard multiplexed else { return Element(stream: .stdout, bytes: bytes) }
                ready = decoder.feed(bytes)
                bytes = []
            }
            return ready.removeFirst()
        }
    }
}
