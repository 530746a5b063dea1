import AsyncHTTPClient
import Foundation
import Logging
import MicadoCore
import NIOCore
import NIOHTTP1

/// Keystone v3 and Nova's compute API: a password login gives a token and the catalog, in
/// which the compute endpoint is found; every call carries the token, and a call refused
/// with 401 logs in again once (tokens expire). Transient failures are retried with backoff
/// and jitter; the others are mapped to the `CloudError` kind the scaler acts on.
public struct OpenStackAPI: Sendable {
    /// Server tags (`POST /servers` with `tags`) need 2.52.
    public static let computeVersion = "2.52"
    /// Logins are renewed this long before the token's expiry.
    static let renewal: Duration = .seconds(300)

    public let authURL: String
    public let region: String?
    let credentials: OpenStackCredentials
    let session = OpenStackSession()
    let http: HTTPClient
    public var retry: CloudHTTP.RetryPolicy
    /// For one attempt, the answer's body included.
    public var timeout: Duration
    let logger: Logger

    public init(
        authURL: String,
        region: String?,
        credentials: OpenStackCredentials,
        http: HTTPClient? = nil,
        retry: CloudHTTP.RetryPolicy = .init(),
        timeout: Duration = .seconds(15),
        logger: Logger
    ) throws(CloudError) {
        self.authURL = try CloudHTTP.endpoint(authURL, of: "Keystone")
        self.region = region
        self.credentials = credentials
        self.http = http ?? CloudHTTP.sharedClient
        self.retry = retry
        self.timeout = timeout
        self.logger = logger
    }

    public typealias Failure = CloudHTTP.Failure

    // MARK: compute calls

    /// `method path` on the compute endpoint, its answer decoded as `Answer`; retried while
    /// transient. `attempts` overrides the policy's (1: the caller retries itself).
    public func compute<Answer: Decodable & Sendable>(
        _ method: HTTPMethod,
        _ path: String,
        query: [(String, String)] = [],
        body: [UInt8]? = nil,
        as answer: Answer.Type,
        attempts: Int? = nil
    ) async throws(Failure) -> Answer {
        let bytes = try await computeBytes(method, path, query: query, body: body, attempts: attempts)
        do { return try JSONDecoder().decode(answer, from: Data(bytes)) } catch {
            throw Failure(
                status: nil,
                error: CloudError(.badRequest, "OpenStack \(method) \(path): the answer is not Nova's JSON (\(Self.reason(error)))")
            )
        }
    }

    /// The same, for calls whose answer has no body of interest (DELETE).
    public func computeBytes(
        _ method: HTTPMethod,
        _ path: String,
        query: [(String, String)] = [],
        body: [UInt8]? = nil,
        attempts: Int? = nil
    ) async throws(Failure) -> [UInt8] {
        let label = "OpenStack \(method) \(path)"
        return try await CloudHTTP.retrying(retry, label: label, attempts: attempts) { () async throws(Failure) -> [UInt8] in
            try await once(method, path, query: query, body: body, label: label, loginAgain: true)
        }
    }

    func once(
        _ method: HTTPMethod,
        _ path: String,
        query: [(String, String)],
        body: [UInt8]?,
        label: String,
        loginAgain: Bool
    ) async throws(Failure) -> [UInt8] {
        let login: OpenStackSession.Login
        do { login = try await session.login(self) } catch { throw Failure(status: nil, error: error) }
        var request = HTTPClientRequest(url: login.compute + path + CloudHTTP.queryString(query))
        request.method = method
        request.headers.add(name: "X-Auth-Token", value: login.token)
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "OpenStack-API-Version", value: "compute \(Self.computeVersion)")
        request.headers.add(name: "X-OpenStack-Nova-API-Version", value: Self.computeVersion)
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let answer: CloudHTTP.Answer
        do { answer = try await CloudHTTP.exchange(request, client: http, timeout: timeout, label: label) } catch {
            throw Failure(status: nil, error: error)
        }
        if answer.status == 401 && loginAgain {
            // The token expired or was revoked: one new login, then the call once more.
            await session.forget(login.token)
            return try await once(method, path, query: query, body: body, label: label, loginAgain: false)
        }
        guard (200..<300).contains(answer.status) else {
            throw Failure(status: answer.status, error: failure(status: answer.status, bytes: answer.bytes, label: label))
        }
        return answer.bytes
    }

    // MARK: login

    struct LoginRequest: Encodable {
        struct Auth: Encodable {
            var identity: Identity
            var scope: Scope
        }
        struct Identity: Encodable {
            var methods = ["password"]
            var password: Password
        }
        struct Password: Encodable { var user: User }
        struct User: Encodable {
            var name: String
            var domain: Named
            var password: String
        }
        struct Named: Encodable { var name: String }
        struct Scope: Encodable { var project: Project }
        struct Project: Encodable {
            var id: String?
            var name: String?
            var domain: Named?
        }
        var auth: Auth
    }

    /// One password login: the token and the catalog's compute endpoint.
    func logIn() async throws(CloudError) -> OpenStackSession.Login {
        let project =
            credentials.projectID.map { LoginRequest.Project(id: $0) }
            ?? LoginRequest.Project(name: credentials.projectName, domain: .init(name: credentials.projectDomain))
        let body = LoginRequest(
            auth: .init(
                identity: .init(
                    password: .init(
                        user: .init(name: credentials.username, domain: .init(name: credentials.userDomain), password: credentials.password)
                    )
                ),
                scope: .init(project: project)
            )
        )
        var request = HTTPClientRequest(url: authURL + "/auth/tokens")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: "application/json")
        do { request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(body))) } catch {
            throw CloudError(.badRequest, "cannot encode the Keystone login")
        }
        let label = "Keystone login"
        // Two attempts: a compute call that logs in retries itself, and retries inside retries multiply.
        let answer = try await CloudHTTP.retrying(retry, label: label, attempts: min(retry.attempts, 2)) {
            () async throws(CloudError) -> CloudHTTP.Answer in
            let answer = try await CloudHTTP.exchange(request, client: http, timeout: timeout, label: label)
            guard (200..<300).contains(answer.status) else { throw failure(status: answer.status, bytes: answer.bytes, label: label) }
            return answer
        }
        guard let token = answer.headers.first(name: "X-Subject-Token"), !token.isEmpty, token.count <= 16 << 10,
            token.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F })
        else {
            throw CloudError(.auth, "\(label): the answer has no usable X-Subject-Token")
        }
        let decoded: KeystoneTokenAnswer
        do { decoded = try JSONDecoder().decode(KeystoneTokenAnswer.self, from: Data(answer.bytes)) } catch {
            throw CloudError(.badRequest, "\(label): the answer is not Keystone's JSON (\(Self.reason(error)))")
        }
        let compute = try Self.computeEndpoint(decoded.token.catalog ?? [], region: region, authURL: authURL)
        let expires = decoded.token.expiresAt.flatMap(RFC3339.date) ?? Date().addingTimeInterval(600)
        logger.debug("Keystone login", metadata: ["openstack.compute": "\(compute)"])
        // Renewed 5 minutes before expiry, or halfway through a short life (and not at once
        // for one already past: a 401 renews that), so that no call logs in again each time.
        let life = expires.timeIntervalSinceNow
        let renew = Date().addingTimeInterval(life > 2 * Self.renewal.inSeconds ? life - Self.renewal.inSeconds : max(life / 2, 30))
        return .init(token: token, compute: compute, renewAt: renew)
    }

    /// The catalog's public compute endpoint (of `region`, when given); it carries the
    /// token, so https, or plain http only to this machine.
    /// Plain http only when Keystone itself is on this machine: a Keystone elsewhere must not
    /// send micado's token to a port of this machine.
    public static func computeEndpoint(
        _ catalog: [KeystoneTokenAnswer.Service],
        region: String?,
        authURL: String
    ) throws(CloudError) -> String {
        let endpoints = catalog.filter { $0.type == "compute" }.flatMap { $0.endpoints ?? [] }.filter { $0.interface == "public" }
        let chosen = endpoints.first { region == nil || $0.region == region || $0.regionID == region }
        guard let url = chosen?.url else {
            let regions = Set(endpoints.compactMap { $0.region ?? $0.regionID }).sorted().map { Text.escaped($0) }.joined(separator: ", ")
            throw CloudError(
                .badRequest,
                "the Keystone catalog has no public compute endpoint\(region.map { " in region \(Text.escaped($0))" } ?? "") (regions: \(regions.isEmpty ? "none" : regions))"
            )
        }
        let endpoint: String
        do { endpoint = try CloudHTTP.endpoint(url, of: "catalog's compute") } catch { throw CloudError(.auth, error.message) }
        if endpoint.lowercased().hasPrefix("http://") && !authURL.lowercased().hasPrefix("http://") {
            throw CloudError(
                .auth,
                "the catalog's compute endpoint \(Text.escaped(endpoint)) is plain http while Keystone is https: refused (the token would go in clear)"
            )
        }
        return endpoint
    }

    // MARK: errors

    /// Nova's or Keystone's error document as a `CloudError`, its message escaped and our
    /// password blotted out.
    func failure(status: UInt, bytes: [UInt8], label: String) -> CloudError {
        let document = try? JSONDecoder().decode(OpenStackErrorDocument.self, from: Data(bytes))
        guard let document else {
            return CloudError(CloudHTTP.kind(status: status), "\(label): HTTP \(status) without an OpenStack error document")
        }
        var message = document.body.message ?? ""
        if credentials.password.count >= 4 { message = message.replacingOccurrences(of: credentials.password, with: "<redacted>") }
        let text = "\(label): \(Text.escaped(String(document.kind.prefix(100)))): \(Text.escaped(String(message.prefix(1000))))"
        return CloudError(Self.kind(status: status, message: message), text)
    }

    public static func kind(status: UInt, message: String) -> CloudError.Kind {
        let quota = message.localizedCaseInsensitiveContains("quota exceeded") || message.localizedCaseInsensitiveContains("exceeds quota")
        switch status {
        case 401: return .auth
        case 403: return quota ? .quota : .auth
        case 413, 429: return quota ? .quota : .transient
        // A server in a task state (deleting, building) refuses another action for a moment.
        case 409: return .transient
        case 500...599: return message.localizedCaseInsensitiveContains("no valid host") ? .capacity : .transient
        default: return .badRequest
        }
    }

    static func reason(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, let context):
            "\(Text.escaped((context.codingPath.map(\.stringValue) + [key.stringValue]).joined(separator: "."))) is missing"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            "\(Text.escaped(context.codingPath.map(\.stringValue).joined(separator: "."))) is not what OpenStack sends"
        default: "malformed JSON"
        }
    }
}

/// The current login, shared by every call of one API: one login at a time, renewed
/// before it expires and when a call is refused with 401.
actor OpenStackSession {
    struct Login: Sendable {
        var token: String
        var compute: String
        var renewAt: Date
    }
    var current: Login?
    var pending: Task<Login, any Error>?

    func login(_ api: OpenStackAPI) async throws(CloudError) -> Login {
        if let current, current.renewAt > Date() { return current }
        let task: Task<Login, any Error>
        if let pending {
            task = pending
        } else {
            task = Task { try await api.logIn() }
            pending = task
        }
        do {
            let login = try await task.value
            if pending == task { pending = nil }
            current = login
            return login
        } catch {
            if pending == task { pending = nil }
            throw (error as? CloudError) ?? CloudError(.transient, "Keystone login: \(Text.escaped(String(describing: error)))")
        }
    }

    func forget(_ token: String) {
        if current?.token == token { current = nil }
    }
}
