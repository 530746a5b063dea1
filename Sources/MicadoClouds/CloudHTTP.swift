import AsyncHTTPClient
import Foundation
import MicadoCore
import NIOCore
import NIOHTTP1

/// What every cloud's API client shares: one HTTP client, endpoints that keep secrets off
/// the wire, an exchange bounded in time and size, and retries with backoff and jitter.
/// Each driver's API (EC2's Query API, OpenStack's, CloudSigma's, CloudBroker's) adds only
/// its own signing, encoding and error documents.
public enum CloudHTTP {
    /// An answer larger than this is refused unread: no page of ours comes near it.
    public static let maximumAnswerBytes = 8 << 20

    public struct RetryPolicy: Sendable {
        public var attempts: Int
        public var initialDelay: Duration
        public var maximumDelay: Duration
        public init(attempts: Int = 4, initialDelay: Duration = .milliseconds(250), maximumDelay: Duration = .seconds(5)) {
            self.attempts = attempts
            self.initialDelay = initialDelay
            self.maximumDelay = maximumDelay
        }

        /// Exponential, with the upper half jittered so that callers that failed together do not retry together.
        public func backoff(attempt: Int) -> Duration {
            let exponential = initialDelay * (1 << min(max(attempt, 1) - 1, 20))
            let ceiling = min(exponential, maximumDelay)
            return ceiling / 2 + ceiling / 2 * Double.random(in: 0...1)
        }
    }

    /// A whole answer.
    public struct Answer: Sendable {
        public var status: UInt
        public var headers: HTTPHeaders
        public var bytes: [UInt8]
    }

    /// micado's own client: no redirects (a request with credentials goes to its endpoint
    /// or nowhere), no decompression, and a failed connection fails the attempt at once (the
    /// caller's retries decide what comes next). It lives as long as the process.
    public static let sharedClient: HTTPClient = {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: .seconds(10), read: .seconds(15)),
            decompression: .disabled
        )
        configuration.httpVersion = .http1Only
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    /// 127.0.0.0/8, ::1 or localhost: where a request in clear text never leaves the machine.
    public static func isLoopback(_ host: String) -> Bool {
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if bare == "localhost" || bare == "::1" { return true }
        guard let address = IPv4(bare) else { return false }
        return address.value >> 24 == 127
    }

    /// An API's base address: `https://HOST[:PORT][/PATH]`, plain http only to this machine
    /// (credentials travel in its requests). No query, no user, no fragment; no trailing `/`.
    public static func endpoint(_ text: String, of what: String) throws(CloudError) -> String {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = url.host, !host.isEmpty,
            url.query == nil, url.user == nil, url.password == nil, url.fragment == nil, text.count <= 2048,
            text.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F })
        else {
            throw CloudError(
                .badRequest,
                "the \(what) endpoint \(Text.escaped(String(text.prefix(200)))) is not http(s)://HOST[:PORT][/PATH]"
            )
        }
        guard scheme == "https" || isLoopback(host) else {
            throw CloudError(.badRequest, "the \(what) endpoint \(Text.escaped(text)) must be https:// (plain http only to this machine)")
        }
        return text.hasSuffix("/") ? String(text.dropLast()) : text
    }

    /// `request` and its whole answer within `timeout`, the body bounded by `limit`. A cancel
    /// returns at once: the request in flight is abandoned, not awaited (`firstOf`).
    public static func exchange(
        _ request: HTTPClientRequest,
        client: HTTPClient = sharedClient,
        timeout: Duration,
        limit: Int = maximumAnswerBytes,
        label: String
    ) async throws(CloudError) -> Answer {
        do {
            let answer = try await firstOf(timeout: timeout) {
                let response = try await client.execute(request, timeout: .milliseconds(Int64(timeout / .milliseconds(1))))
                let buffer = try await response.body.collect(upTo: limit)
                return Answer(status: response.status.code, headers: response.headers, bytes: Array(buffer.readableBytesView))
            }
            guard let answer else { throw CloudError(.transient, "\(label): timed out (no whole answer within \(timeout))") }
            return answer
        } catch let error as CloudError {
            throw error
        } catch is NIOTooManyBytesError {
            throw CloudError(.badRequest, "\(label): the answer is larger than \(limit >> 20) MiB; refused")
        } catch is CancellationError {
            throw CloudError(.transient, "\(label): cancelled")
        } catch let error as HTTPClientError {
            throw CloudError(.transient, "\(label): \(describe(error))")
        } catch {
            // Connection refused, reset, TLS failures: worth another attempt.
            throw CloudError(.transient, "\(label): \(Text.escaped(String(describing: error)))")
        }
    }

    static func describe(_ error: HTTPClientError) -> String {
        switch error {
        case .deadlineExceeded, .readTimeout, .connectTimeout: "timed out"
        case .cancelled: "cancelled"
        case .remoteConnectionClosed: "the connection closed before the answer"
        default: Text.escaped(String(describing: error))
        }
    }

    /// The kind an answer without a document of the cloud's own is, by its status.
    public static func kind(status: UInt) -> CloudError.Kind {
        switch status {
        case 500...599, 429: .transient
        case 401, 403: .auth
        default: .badRequest
        }
    }

    /// `body` until it succeeds, is not transient, or the policy's attempts are spent;
    /// the last error says how many were made. A cancel during a backoff ends it at once.
    public static func retrying<Value: Sendable, Failure: Error>(
        _ policy: RetryPolicy,
        label: String,
        attempts: Int? = nil,
        transient: (Failure) -> Bool,
        cancelled: () -> Failure,
        counted: (Failure, Int) -> Failure,
        _ body: () async throws(Failure) -> Value
    ) async throws(Failure) -> Value {
        let attempts = attempts ?? policy.attempts
        var attempt = 1
        while true {
            if Task.isCancelled { throw cancelled() }
            do {
                return try await body()
            } catch {
                guard transient(error) else { throw error }
                guard attempt < attempts else { throw attempt > 1 ? counted(error, attempt) : error }
                do { try await Task.sleep(for: policy.backoff(attempt: attempt)) } catch { throw cancelled() }
                attempt += 1
            }
        }
    }

    /// A failed call: the HTTP status when there was an answer, the cloud's own error code
    /// (EC2's `InvalidInstanceID.NotFound`, CloudBroker's `wrong status`) when it sent one —
    /// drivers act on some — and the error as the manager sees it.
    public struct Failure: Error, Sendable {
        public var status: UInt?
        public var code: String?
        public var error: CloudError
        public init(status: UInt? = nil, code: String? = nil, error: CloudError) {
            self.status = status
            self.code = code
            self.error = error
        }
    }

    /// The same, for calls that fail with the cloud's status and code (`Failure`).
    public static func retrying<Value: Sendable>(
        _ policy: RetryPolicy,
        label: String,
        attempts: Int? = nil,
        _ body: () async throws(Failure) -> Value
    ) async throws(Failure) -> Value {
        try await retrying(
            policy,
            label: label,
            attempts: attempts,
            transient: { $0.error.kind == .transient },
            cancelled: { Failure(error: CloudError(.transient, "\(label): cancelled")) },
            counted: { error, count in
                var last = error
                last.error.message += " (\(count) attempts)"
                return last
            },
            body
        )
    }

    /// The same, for calls that throw `CloudError`.
    public static func retrying<Value: Sendable>(
        _ policy: RetryPolicy,
        label: String,
        attempts: Int? = nil,
        _ body: () async throws(CloudError) -> Value
    ) async throws(CloudError) -> Value {
        try await retrying(
            policy,
            label: label,
            attempts: attempts,
            transient: { $0.kind == .transient },
            cancelled: { CloudError(.transient, "\(label): cancelled") },
            counted: { error, count in CloudError(error.kind, error.message + " (\(count) attempts)") },
            body
        )
    }
}

/// One element of a cloud's list, decoded on its own: an object micado cannot read (another
/// user's odd server in the same account) is skipped, never the whole list (which would
/// stop every listing, lookup and create).
public struct Lenient<Value: Decodable & Sendable>: Decodable, Sendable {
    public var value: Value?
    public init(from decoder: any Decoder) throws { value = try? Value(from: decoder) }
}

/// One cloud API's address and manners: its base URL (checked by `CloudHTTP.endpoint`), the
/// HTTP client, the retry policy and each attempt's time. Drivers' APIs add their
/// authentication, encoding and error documents around `send`.
public struct CloudAPIClient: Sendable {
    public let base: String
    /// The cloud's name in messages (`CloudSigma`).
    public let cloud: String
    let http: HTTPClient
    public var retry: CloudHTTP.RetryPolicy
    /// For one attempt, the answer's body included.
    public var timeout: Duration

    public init(base: String, cloud: String, http: HTTPClient? = nil, retry: CloudHTTP.RetryPolicy, timeout: Duration) throws(CloudError) {
        self.base = try CloudHTTP.endpoint(base, of: cloud)
        self.cloud = cloud
        self.http = http ?? CloudHTTP.sharedClient
        self.retry = retry
        self.timeout = timeout
    }

    /// `method path?query` with `headers` (and `body` as `contentType`), sent again while
    /// transient (`attempts` overrides the policy's: 1 when the caller looks for what a lost
    /// answer made); `failure` says which answers are the cloud's errors.
    public func send(
        _ method: HTTPMethod,
        _ path: String,
        query: [(String, String)] = [],
        headers: [(String, String)],
        body: [UInt8]? = nil,
        contentType: String? = nil,
        attempts: Int? = nil,
        failure: (CloudHTTP.Answer, String) -> CloudHTTP.Failure?
    ) async throws(CloudHTTP.Failure) -> [UInt8] {
        let label = "\(cloud) \(method) \(path)"
        var request = HTTPClientRequest(url: base + path + CloudHTTP.queryString(query))
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: contentType ?? "application/octet-stream")
            request.body = .bytes(ByteBuffer(bytes: body))
        } else if method == .PUT || method == .POST {
            request.headers.add(name: "Content-Length", value: "0")
        }
        let http = self.http
        let timeout = self.timeout
        return try await CloudHTTP.retrying(retry, label: label, attempts: attempts) { () async throws(CloudHTTP.Failure) -> [UInt8] in
            let answer: CloudHTTP.Answer
            do throws(CloudError) { answer = try await CloudHTTP.exchange(request, client: http, timeout: timeout, label: label) } catch {
                throw CloudHTTP.Failure(error: error)
            }
            if let failed = failure(answer, label) { throw failed }
            return answer.bytes
        }
    }

    /// `Authorization: Basic …` for a user and password.
    public static func basic(_ user: String, _ password: String) -> (String, String) {
        ("Authorization", "Basic " + Data("\(user):\(password)".utf8).base64EncodedString())
    }
}

extension CloudHTTP {
    /// `?name=value&…`, each part percent-encoded.
    public static func queryString(_ query: [(String, String)]) -> String {
        guard !query.isEmpty else { return "" }
        return "?" + query.map { SignatureV4.encode($0.0) + "=" + SignatureV4.encode($0.1) }.joined(separator: "&")
    }
}
