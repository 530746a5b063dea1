import AsyncHTTPClient
import DockerEngine
import Foundation
import HTTPTypes
import HummingbirdWSClient
import Logging
import MicadoCore
import MicadoManager
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// One client for the process's life, never shut down: the CLI exits instead.
public let sharedHTTPClient: HTTPClient = {
    var configuration = HTTPClient.Configuration()
    // It fails at once when the manager does not listen, rather than retrying until the deadline.
    configuration.connectionPool.retryConnectionEstablishment = false
    configuration.timeout.connect = .seconds(5)
    // Benches and waits run many requests at once; a request never queues behind them.
    configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 128
    return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
}()

/// The CLI's way to the manager: its HTTP API on the configured address, with the token.
/// Several managers (on one PostgreSQL store) are several addresses: a request that cannot
/// reach one goes to the next, and the one that answered is used from then on.
public struct ManagerClient: Sendable {
    public let addresses: [String]
    public let token: String
    public let http: HTTPClient
    let current: Current

    final class Current: Sendable {
        let index = Mutex(0)
    }

    /// The address in use now.
    public var baseURL: String { addresses[current.index.withLock { $0 } % addresses.count] }

    public init(baseURL: String, token: String, http: HTTPClient) {
        self.init(addresses: [baseURL], token: token, http: http)
    }

    public init(addresses: [String], token: String, http: HTTPClient) {
        precondition(!addresses.isEmpty)
        self.addresses = addresses
        self.token = token
        self.http = http
        self.current = Current()
    }

    /// Reads the micado home ($MICADO_HOME) for the address and token; MICADO_MANAGERS, if set,
    /// lists the managers' addresses instead (`http://HOST:PORT`, comma-separated, tried in order).
    public static func fromHome() throws(MicadoError) -> ManagerClient {
        let environment = ProcessInfo.processInfo.environment
        let home = MicadoHome.resolve(environment: environment)
        let configuration = try ManagerConfiguration.load(home: home, environment: environment)
        let host = configuration.manager.address.contains(":") ? "[\(configuration.manager.address)]" : configuration.manager.address
        let addresses = try environment["MICADO_MANAGERS"].map(managerAddresses) ?? ["http://\(host):\(configuration.manager.port)"]
        return ManagerClient(addresses: addresses, token: try home.readToken(), http: sharedHTTPClient)
    }

    /// MICADO_MANAGERS, read as hostile input: at most 16 `http(s)://HOST[:PORT]` addresses.
    public static func managerAddresses(_ list: String) throws(MicadoError) -> [String] {
        let addresses = list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !addresses.isEmpty, addresses.count <= 16 else {
            throw MicadoError(.usage, "MICADO_MANAGERS: expected 1 to 16 comma-separated addresses (http://HOST:PORT)")
        }
        for (number, address) in addresses.enumerated() {
            guard address.utf8.count <= 256, let url = URL(string: address), ["http", "https"].contains(url.scheme ?? ""),
                url.host?.isEmpty == false, url.path.isEmpty || url.path == "/", url.query == nil, url.user == nil
            else {
                // Not echoed: it may hold a password.
                throw MicadoError(.usage, "MICADO_MANAGERS: address \(number + 1) is not http(s)://HOST[:PORT] (no user, path or query)")
            }
        }
        return addresses.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
    }

    /// `attempt` on the address in use; when it could not connect to that manager (nothing was
    /// sent, so nothing is done twice), on each of the others in turn.
    func onReachable<T>(_ attempt: () async throws(MicadoError) -> T) async throws(MicadoError) -> T {
        var tried = 0
        while true {
            do {
                return try await attempt()
            } catch  where error.code == .unreachable && error.message.hasPrefix(Self.notConnected) && tried + 1 < addresses.count {
                tried += 1
                current.index.withLock { $0 = ($0 + 1) % addresses.count }
            }
        }
    }

    /// How `unreachable` begins when no connection was made.
    static let notConnected = "cannot connect to the micado manager"

    /// No connection was made: refused, timed out connecting, no route.
    static func isConnectFailure(_ error: any Error) -> Bool {
        if error is NIOConnectionError { return true }
        if let error = error as? HTTPClientError, error == .connectTimeout { return true }
        if let error = error as? ChannelError, case .connectTimeout = error { return true }
        if let error = error as? IOError { return [ECONNREFUSED, EHOSTUNREACH, ENETUNREACH, ENOENT].contains(error.errnoCode) }
        return false
    }

    @discardableResult
    public func send(
        _ method: HTTPMethod,
        _ path: String,
        query: [(String, String)] = [],
        body: [UInt8]? = nil,
        contentType: String = "application/json",
        timeout: TimeAmount = .seconds(60)
    ) async throws(MicadoError) -> ByteBuffer {
        try await send(
            method,
            path,
            query: query,
            body: body.map { .bytes(ByteBuffer(bytes: $0)) },
            contentType: contentType,
            timeout: timeout,
            replayable: true
        )
    }

    @discardableResult
    public func send(
        _ method: HTTPMethod,
        _ path: String,
        query: [(String, String)] = [],
        body: HTTPClientRequest.Body?,
        contentType: String = "application/json",
        headers: [(String, String)] = [],
        timeout: TimeAmount = .seconds(60),
        replayable: Bool = false
    ) async throws(MicadoError) -> ByteBuffer {
        // A streamed body is read once: only a request without one, or with bytes, goes on to another manager.
        let once = { () async throws(MicadoError) -> ByteBuffer in
            var request = try authorized(method, path, query: query)
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            if let body {
                request.headers.add(name: "Content-Type", value: contentType)
                request.body = body
            }
            let response: HTTPClientResponse
            let collected: ByteBuffer
            do {
                response = try await http.execute(request, timeout: timeout)
                collected = try await response.body.collect(upTo: 1 << 30)
            } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
                throw timedOut(timeout)
            } catch is NIOTooManyBytesError {
                throw .init(.tooLarge, "the manager's answer to \(method) \(path) is larger than the CLI takes (1 GiB)")
            } catch {
                throw unreachable(error)
            }
            guard (200..<300).contains(response.status.code) else { throw refusal(response.status, collected, "\(method) \(path)") }
            return collected
        }
        return body == nil || replayable ? try await onReachable(once) : try await once()
    }

    /// GET `path` into the open file `descriptor` as it comes (a copied file, a backup: never
    /// held in memory); returns the bytes written.
    /// Streams a GET's body into `descriptor`: the bytes written, and the file mode the manager
    /// reported (`X-Micado-File-Mode`, octal), if it did.
    public func download(
        _ path: String,
        query: [(String, String)] = [],
        into descriptor: Int32,
        timeout: TimeAmount = .seconds(900)
    ) async throws(MicadoError) -> (bytes: Int, mode: Int?) {
        try await onReachable { () async throws(MicadoError) -> (bytes: Int, mode: Int?) in
            try await downloadOnce(path, query: query, into: descriptor, timeout: timeout)
        }
    }

    func downloadOnce(
        _ path: String,
        query: [(String, String)],
        into descriptor: Int32,
        timeout: TimeAmount
    ) async throws(MicadoError) -> (bytes: Int, mode: Int?) {
        do {
            let response = try await http.execute(try authorized(.GET, path, query: query), timeout: timeout)
            guard (200..<300).contains(response.status.code) else {
                throw refusal(response.status, try await response.body.collect(upTo: 1 << 20), "GET \(path)")
            }
            var written = 0
            for try await piece in response.body {
                try piece.writeAll(to: descriptor)
                written += piece.readableBytes
            }
            let mode = response.headers.first(name: "X-Micado-File-Mode").flatMap { $0.count <= 6 ? Int($0, radix: 8) : nil }
            return (written, mode.flatMap { (0...0o7777).contains($0) ? $0 : nil })
        } catch let error as MicadoError {
            throw error
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
            throw timedOut(timeout)
        } catch {
            throw unreachable(error)
        }
    }

    /// A request to the manager's API with the token.
    public func authorized(_ method: HTTPMethod, _ path: String, query: [(String, String)]) throws(MicadoError) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: try checkedURL(path, query: query))
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        return request
    }

    /// The manager's error answer as the error it names (else what it was).
    public func refusal(_ status: HTTPResponseStatus, _ body: ByteBuffer, _ what: String) -> MicadoError {
        (try? WireFormat.decoder().decode(ErrorBody.self, from: Data(body.readableBytesView)))?.micadoError
            ?? MicadoError(.internal, "the manager answered \(status) to \(what)")
    }

    public func timedOut(_ timeout: TimeAmount) -> MicadoError {
        .init(.timeout, "the manager at \(baseURL) did not answer within \(timeout.nanoseconds / 1_000_000_000) s")
    }

    /// Sends `body` as JSON and returns the raw answer (for routes that answer 204).
    @discardableResult
    public func send(_ method: HTTPMethod, _ path: String, json body: some Encodable) async throws(MicadoError) -> ByteBuffer {
        let bytes: [UInt8]
        do { bytes = Array(try WireFormat.encoder().encode(body)) } catch { throw .init(.internal, "cannot encode request: \(error)") }
        return try await send(method, path, body: bytes)
    }

    public func json<T: Decodable>(
        _ type: T.Type,
        _ method: HTTPMethod,
        _ path: String,
        query: [(String, String)] = [],
        body: (some Encodable)? = Optional<Int>.none,
        timeout: TimeAmount = .seconds(60)
    ) async throws(MicadoError) -> T {
        var bytes: [UInt8]?
        if let body {
            do { bytes = Array(try WireFormat.encoder().encode(body)) } catch { throw .init(.internal, "cannot encode request: \(error)") }
        }
        let buffer = try await send(method, path, query: query, body: bytes, timeout: timeout)
        do { return try WireFormat.decoder().decode(T.self, from: Data(buffer.readableBytesView)) } catch {
            throw .init(.internal, "unexpected answer from the manager to \(method) \(path): \(error)")
        }
    }

    /// Opens a WebSocket on `path` (bearer token as for every route) and runs `handler` on
    /// it. A declined upgrade is reported with the manager's reason: the same route without
    /// an upgrade answers it. Errors of `handler` come out as they are.
    public func webSocket(
        _ path: String,
        query: [(String, String)] = [],
        _ handler: @escaping @Sendable (WebSocketInboundStream, WebSocketOutboundWriter) async throws -> Void
    ) async throws(MicadoError) {
        var headers = HTTPFields()
        headers[.authorization] = "Bearer \(token)"
        var logger = Logger(label: "micado.websocket")
        logger.logLevel = .critical
        let failure = Mutex<(any Error)?>(nil)
        let address = try checkedURL(path, query: query)
        do {
            try await WebSocketClient.connect(
                url: "ws" + address.dropFirst("http".count),
                configuration: .init(maxFrameSize: 1 << 20, additionalHeaders: headers),
                logger: logger
            ) { inbound, outbound, _ in
                do { try await handler(inbound, outbound) } catch { failure.withLock { $0 = error } }
            }
        } catch let error as WebSocketClientError where error == .webSocketUpgradeFailed {
            _ = try await send(.GET, path, query: query)
            throw .init(.internal, "the manager declined the WebSocket upgrade of \(path)")
        } catch {
            throw unreachable(error)
        }
        if let error = failure.withLock({ $0 }) { throw error as? MicadoError ?? MicadoError(.internal, "\(error)") }
    }

    /// One sentence that says why in words ("connection refused"), not as a type dump.
    public func unreachable(_ error: any Error) -> MicadoError {
        .init(
            .unreachable,
            "\(Self.isConnectFailure(error) ? Self.notConnected : "cannot reach the micado manager") at \(baseURL): \(Self.reason(error)); start it with 'micado manager' (see the README) or check MICADO_HOME"
        )
    }

    public static func reason(_ error: any Error) -> String {
        if let error = error as? NIOConnectionError, let first = error.connectionErrors.first { return reason(first.error) }
        if let error = error as? IOError { return String(cString: strerror(error.errnoCode)).lowercased() }
        if let error = error as? HTTPClientError {
            switch error {
            case .connectTimeout: return "connection timed out"
            case .remoteConnectionClosed: return "the manager closed the connection"
            default: break
            }
        }
        if let error = error as? ChannelError, case .connectTimeout = error { return "connection timed out" }
        return "\(error)"
    }

    /// The manager reads a request head of at most 80 KiB (address and headers); an address
    /// longer than this is refused here, before anything is sent, as the usage error it is
    /// (a pasted file as a name, say): sent, it would be cut off with the connection.
    public static let longestAddress = 64 * 1024

    /// `url(path, query:)`, refused when longer than `longestAddress`.
    public func checkedURL(_ path: String, query: [(String, String)] = []) throws(MicadoError) -> String {
        let address = url(path, query: query)
        guard address.utf8.count <= Self.longestAddress else {
            throw .init(
                .usage,
                "an argument is too long: the request for \(path.prefix(40))… would be \(address.utf8.count / 1024) KiB, over the \(Self.longestAddress / 1024) KiB the manager reads"
            )
        }
        return address
    }

    public func url(_ path: String, query: [(String, String)] = []) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~/")
        let q =
            query.isEmpty
            ? ""
            : "?" + query.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? $0.1)" }.joined(separator: "&")
        return baseURL + path + q
    }

    public static func escape(_ segment: String) -> String {
        segment.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? segment
    }
}
