import AsyncHTTPClient
import Foundation
import Logging
import MicadoCore
import NIOCore
import NIOHTTP1
import NIOSSL

/// A typed client of one Docker engine, speaking the API version negotiated with it.
///
/// Create it with `connect`, which asks the engine for `/version` and picks the newest
/// version both sides know, so the same code drives Debian's 20.10 (API 1.41) and
/// current engines that refuse clients older than 1.44.
public final class EngineClient: Sendable {
    public let endpoint: EngineEndpoint
    public let apiVersion: APIVersion
    public let engineVersion: String
    public let http: HTTPClient
    let tls: TLSConfiguration?
    let logger: Logger

    init(endpoint: EngineEndpoint, http: HTTPClient, apiVersion: APIVersion, engineVersion: String, logger: Logger) {
        self.endpoint = endpoint
        self.http = http
        self.apiVersion = apiVersion
        self.engineVersion = engineVersion
        self.logger = logger
        self.tls = endpoint.tls.flatMap { try? Self.tlsConfiguration($0) }
    }

    /// Mutual TLS: the engine must present a certificate from micado's CA, and micado
    /// presents its client certificate.
    static func tlsConfiguration(_ files: EngineEndpoint.TLSFiles) throws -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.trustRoots = .file(files.caCertificate)
        configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(files.certificate).map { .certificate($0) }
        configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: files.key, format: .pem))
        configuration.minimumTLSVersion = .tlsv12
        return configuration
    }

    /// An HTTP client for engines: fails at once when nothing listens (instead of retrying
    /// until the request's deadline), so a stopped engine is reported in seconds.
    /// `endpoint`: an engine reached by a certificate name (`serverName`), which this client
    /// maps to the engine's address; every such engine needs a client of its own.
    public static func makeHTTPClient(for endpoint: EngineEndpoint? = nil) -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        if let endpoint, let name = endpoint.serverName, case .tcp(let host, _) = endpoint.transport {
            configuration.dnsOverride = [name: host]
        }
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = .seconds(5)
        // A request waits for a free connection no longer than the connect timeout: with
        // AsyncHTTPClient's default of 8 per host, 50 launches at once (each polling its task)
        // failed with getConnectionFromPoolTimeout. Engines and the manager take many more.
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 128
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// A client that assumes `apiVersion` instead of asking the engine (for engines whose
    /// version is already known, and for tests that never reach an engine).
    public convenience init(endpoint: EngineEndpoint, http: HTTPClient, assumingAPIVersion apiVersion: APIVersion, logger: Logger) {
        self.init(endpoint: endpoint, http: http, apiVersion: apiVersion, engineVersion: "unknown", logger: logger)
    }

    /// The same engine reached through another HTTP client (its own connection pool), so that
    /// a chatty loop (usage sampling) can never take the connections API calls need.
    public func using(_ http: HTTPClient) -> EngineClient {
        EngineClient(endpoint: endpoint, http: http, apiVersion: apiVersion, engineVersion: engineVersion, logger: logger)
    }

    /// Connects and negotiates. `http` stays owned by the caller, who shuts it down last.
    public static func connect(
        to endpoint: EngineEndpoint,
        http: HTTPClient,
        logger: Logger,
        timeout: TimeAmount = .seconds(10)
    ) async throws(MicadoError) -> EngineClient {
        if let files = endpoint.tls {
            do { _ = try tlsConfiguration(files) } catch {
                throw .init(
                    .configuration,
                    "cannot load the TLS files for \(endpoint) (\(files.certificate), \(files.key), \(files.caCertificate)): \(error)"
                )
            }
        }
        let probe = EngineClient(endpoint: endpoint, http: http, apiVersion: .oldestSupported, engineVersion: "", logger: logger)
        let version: EngineVersion = try await probe.get("/version", versioned: false, timeout: timeout)
        guard let server = APIVersion(version.apiVersion) else {
            throw .init(.engine, "the engine at \(endpoint) reports an unreadable API version '\(version.apiVersion)'")
        }
        guard let chosen = APIVersion.negotiate(server: server, serverMinimum: version.minAPIVersion.flatMap(APIVersion.init)) else {
            throw .init(
                .engine,
                "the engine at \(endpoint) speaks API \(server) (minimum \(version.minAPIVersion ?? "?")); micado speaks \(APIVersion.oldestSupported) to \(APIVersion.newestKnown)"
            )
        }
        logger.debug(
            "engine negotiated",
            metadata: ["engine.endpoint": "\(endpoint)", "engine.api": "\(chosen)", "engine.version": "\(version.version)"]
        )
        return EngineClient(endpoint: endpoint, http: http, apiVersion: chosen, engineVersion: version.version, logger: logger)
    }

    // MARK: transport

    public struct Response: Sendable {
        public var status: HTTPResponseStatus
        public var body: ByteBuffer
        public var headers: HTTPHeaders = [:]
    }

    func url(_ path: String, query: [(String, String)], versioned: Bool) throws(MicadoError) -> String {
        var uri = versioned ? "/v\(apiVersion)\(path)" : path
        if !query.isEmpty {
            uri += "?" + query.map { "\($0.0)=\(Self.percentEncode($0.1))" }.joined(separator: "&")
        }
        switch endpoint.transport {
        case .unix(let socket):
            guard let url = URL(httpURLWithSocketPath: socket, uri: uri) else {
                throw .init(.badRequest, "\(path) on the engine socket \(socket) does not make a valid URL")
            }
            return url.absoluteString
        case .tcp(let host, let port):
            // By the certificate's name when it has one: the HTTP client maps it to the address (see `makeHTTPClient`).
            let name = endpoint.tls != nil ? endpoint.serverName ?? host : host
            let h = name.contains(":") ? "[\(name)]" : name
            return "\(endpoint.tls == nil ? "http" : "https")://\(h):\(port)\(uri)"
        }
    }

    static func percentEncode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }

    /// Sends one request and collects the whole answer (bounded), mapping engine errors.
    public func send(
        _ method: HTTPMethod,
        _ path: String,
        query: [(String, String)] = [],
        body: [UInt8]? = nil,
        contentType: String = "application/json",
        headers extra: [(String, String)] = [],
        versioned: Bool = true,
        timeout: TimeAmount = .seconds(30),
        maxBytes: Int = 64 << 20
    ) async throws(MicadoError) -> Response {
        try await send(
            method,
            path,
            query: query,
            body: body.map(OutgoingBody.bytes),
            contentType: contentType,
            headers: extra,
            versioned: versioned,
            timeout: timeout,
            maxBytes: maxBytes
        )
    }

    /// A request to this engine: its URL, its transport's Host, its TLS.
    func request(_ method: HTTPMethod, _ path: String, query: [(String, String)], versioned: Bool) throws(MicadoError) -> HTTPClientRequest
    {
        var request = HTTPClientRequest(url: try url(path, query: query, versioned: versioned))
        request.method = method
        // The Engine refuses requests without a Host; over a unix socket there is none to derive.
        if case .unix = endpoint.transport { request.headers.replaceOrAdd(name: "Host", value: "docker") }
        request.tlsConfiguration = tls
        return request
    }

    public func send(
        _ method: HTTPMethod,
        _ path: String,
        query: [(String, String)] = [],
        body: OutgoingBody?,
        contentType: String = "application/json",
        headers extra: [(String, String)] = [],
        versioned: Bool = true,
        timeout: TimeAmount = .seconds(30),
        maxBytes: Int = 64 << 20
    ) async throws(MicadoError) -> Response {
        var request = try request(method, path, query: query, versioned: versioned)
        if let body {
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = body.httpBody
        }
        for (name, value) in extra { request.headers.add(name: name, value: value) }
        do {
            let response = try await http.execute(request, timeout: timeout)
            let collected = try await response.body.collect(upTo: maxBytes)
            guard (200..<300).contains(response.status.code) else {
                throw Self.engineError(status: response.status, body: collected, what: "\(method) \(path)")
            }
            return Response(status: response.status, body: collected, headers: response.headers)
        } catch let error as MicadoError {
            throw error
        } catch {
            throw Self.transportError(error, endpoint: endpoint)
        }
    }

    static func engineError(status: HTTPResponseStatus, body: ByteBuffer, what: String) -> MicadoError {
        let message =
            (try? JSONDecoder().decode(EngineErrorBody.self, from: Data(body.readableBytesView)).message)
            ?? String(buffer: body).trimmingCharacters(in: .whitespacesAndNewlines)
        switch status.code {
        case 404: return .init(.notFound, message)
        case 409: return .init(.conflict, message)
        case 400: return .init(.badRequest, message)
        default: return .init(.engine, "engine error \(status.code) on \(what): \(message)")
        }
    }

    /// The words of an engine that does not answer (`MicadoError.isUnreachableEngine`).
    public static let unreachablePrefix = "cannot reach the"

    static func transportError(_ error: any Error, endpoint: EngineEndpoint) -> MicadoError {
        if let e = error as? HTTPClientError, e == .deadlineExceeded || e == .readTimeout {
            return .init(.timeout, "the engine at \(endpoint) did not answer in time")
        }
        if let e = error as? NIOTooManyBytesError {
            return .init(
                .tooLarge,
                "the engine at \(endpoint) answered with more than \(e.maxBytes.map(String.init) ?? "the allowed") bytes"
            )
        }
        return .init(.engine, "cannot reach the Docker engine at \(endpoint): \(error). Is dockerd running there?")
    }

    func get<T: Decodable>(
        _ path: String,
        query: [(String, String)] = [],
        versioned: Bool = true,
        timeout: TimeAmount = .seconds(30)
    )
        async throws(MicadoError) -> T
    {
        let response = try await send(.GET, path, query: query, versioned: versioned, timeout: timeout)
        return try decode(T.self, response.body, what: path)
    }

    func post<T: Decodable, B: Encodable>(
        _ path: String,
        query: [(String, String)] = [],
        json: B,
        timeout: TimeAmount = .seconds(30)
    )
        async throws(MicadoError) -> T
    {
        let response = try await send(.POST, path, query: query, body: try encode(json), timeout: timeout)
        return try decode(T.self, response.body, what: path)
    }

    func encode<B: Encodable>(_ value: B) throws(MicadoError) -> [UInt8] {
        do { return Array(try JSONEncoder().encode(value)) } catch {
            throw .init(.internal, "cannot encode a request for the engine: \(error)")
        }
    }

    func decode<T: Decodable>(_ type: T.Type, _ body: ByteBuffer, what: String) throws(MicadoError) -> T {
        do { return try JSONDecoder().decode(T.self, from: Data(body.readableBytesView)) } catch {
            throw .init(.engine, "unexpected answer from the engine to \(what): \(error)")
        }
    }

    /// The `filters` query value: a JSON object of lists of strings, keys sorted.
    static func filters(_ filters: [String: [String]]) -> String {
        let members = filters.sorted { $0.key < $1.key }.map { key, values in
            jsonString(key) + ":[" + values.map(jsonString).joined(separator: ",") + "]"
        }
        return "{" + members.joined(separator: ",") + "}"
    }

    /// `text` as a JSON string literal. Written out rather than through JSONEncoder, which
    /// declares a throw that strings never cause: the callers stay total, with no error path
    /// that cannot happen.
    static func jsonString(_ text: String) -> String {
        var literal = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": literal += "\\\""
            case "\\": literal += "\\\\"
            case "\n": literal += "\\n"
            case "\r": literal += "\\r"
            case "\t": literal += "\\t"
            case "\u{00}"..."\u{1F}": literal += String(format: "\\u%04x", scalar.value)
            default: literal.unicodeScalars.append(scalar)
            }
        }
        return literal + "\""
    }
}
