import Foundation
import HTTPTypes
import Hummingbird
import MicadoCore
import Synchronization

/// The dashboard's logins. The API token, typed once into the page, becomes a session:
/// a cookie (HttpOnly, SameSite=Strict) that the page's script cannot read, and a CSRF
/// token that the page keeps in its tab's `sessionStorage` and sends as `X-CSRF-Token` with
/// every request. Both are needed: browsers send a cookie for 127.0.0.1 to every port of
/// 127.0.0.1 (any local user's web server, any published container port), while storage is
/// per origin, port included. Kept in memory only: a restarted manager asks again.
public final class DashboardSessions: Sendable {
    struct Session: Sendable {
        var csrf: String
        var expires: Date
        var lastUsed: Date
    }

    static let cookieName = "micado_session"
    static let csrfHeader = HTTPField.Name("X-CSRF-Token")!
    static let lifetime: TimeInterval = 12 * 3600
    /// Bounded: logging in again and again evicts the least recently used sessions (never
    /// a dashboard that is open: it asks every few seconds), never grows memory.
    static let limit = 256
    private let token: [UInt8]
    private let sessions = Mutex<[String: Session]>([:])
    /// Wrong tokens, by peer and in all: they slow wrong tokens only, never the right one.
    let throttle = LoginThrottle()

    public init(token: String) { self.token = Array(token.utf8) }

    /// A new session when `given` is the API token (compared in constant time, always first:
    /// the right token gets in whatever others sent, so throttling cannot lock anyone out).
    /// A wrong one from a `peer` past its budget, or past the global one, is answered 429 with
    /// the wait (`LoginThrottle.Refusal`).
    func open(token given: String, peer: String = "unknown", now: Date = Date()) throws(MicadoError) -> (id: String, csrf: String) {
        guard APIAuthMiddleware<APIRequestContext>.constantTimeEqual(Array(given.utf8), token) else {
            if let wait = throttle.failed(peer: peer, now: now) {
                throw MicadoError(.tooManyRequests, "too many wrong tokens from \(peer); wait \(wait) s (the right token is always let in)")
            }
            throw MicadoError(.unauthorized, "wrong API token; it is in the micado home's token file")
        }
        throttle.succeeded(peer: peer)
        let id = Self.randomHex()
        let csrf = Self.randomHex()
        sessions.withLock { sessions in
            sessions = sessions.filter { $0.value.expires > now }
            while sessions.count >= Self.limit, let stalest = sessions.min(by: { $0.value.lastUsed < $1.value.lastUsed }) {
                sessions[stalest.key] = nil
            }
            sessions[id] = Session(csrf: csrf, expires: now.addingTimeInterval(Self.lifetime), lastUsed: now)
        }
        return (id, csrf)
    }

    /// The CSRF token of a live session (its use is noted).
    func csrf(of id: String, now: Date = Date()) -> String? {
        sessions.withLock { sessions in
            guard var session = sessions[id] else { return nil }
            guard session.expires > now else {
                sessions[id] = nil
                return nil
            }
            session.lastUsed = now
            sessions[id] = session
            return session.csrf
        }
    }

    func close(_ id: String) { sessions.withLock { _ = $0.removeValue(forKey: id) } }

    /// The session cookie as the browser sent it.
    static func sessionID(of request: Request) -> String? {
        for header in request.headers[values: .cookie] {
            for pair in header.split(separator: ";") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                if parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == cookieName {
                    return parts[1].trimmingCharacters(in: .whitespaces)
                }
            }
        }
        return nil
    }

    static let subprotocolPrefix = "micado.csrf."

    /// The CSRF token a browser's WebSocket offers as a subprotocol (`micado.csrf.<token>`).
    static func subprotocolToken(_ request: Request) -> String? {
        for header in request.headers[values: .secWebSocketProtocol] {
            for offered in header.split(separator: ",") {
                let name = offered.trimmingCharacters(in: .whitespaces)
                if name.hasPrefix(subprotocolPrefix) { return String(name.dropFirst(subprotocolPrefix.count)) }
            }
        }
        return nil
    }

    static func cookie(_ id: String) -> String {
        "\(cookieName)=\(id); Path=/; HttpOnly; SameSite=Strict; Max-Age=\(Int(lifetime))"
    }

    static let clearingCookie = "\(cookieName)=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"

    static func randomHex() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }
}

/// Lets a request in with `Authorization: Bearer <token>` (the CLI, scripts), or with the
/// dashboard's session: its cookie *and* its CSRF token, in `X-CSRF-Token` or, for a
/// WebSocket (whose browser API sets no headers), as the offered subprotocol
/// `micado.csrf.<token>`. A request that names its origin must come from this manager's
/// own; a WebSocket on a session must name it.
struct APIAuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: [UInt8]
    let sessions: DashboardSessions

    init(token: String, sessions: DashboardSessions) {
        self.token = Array(token.utf8)
        self.sessions = sessions
    }

    static var refusal: MicadoError {
        MicadoError(.unauthorized, "missing or wrong API token; the CLI reads it from the micado home's token file")
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        try authenticate(request)
        return try await next(request, context)
    }

    /// The bearer token when the request has an Authorization header, else the session.
    func authenticate(_ request: Request) throws(MicadoError) {
        if let header = request.headers[.authorization] {
            let given = header.hasPrefix("Bearer ") ? Array(header.utf8.dropFirst(7)) : []
            guard Self.constantTimeEqual(given, token) else { throw Self.refusal }
            return
        }
        try check(sessionOf: request)
    }

    /// Throws unless `request` carries a live session's cookie and CSRF token, from this origin.
    func check(sessionOf request: Request) throws(MicadoError) {
        guard let id = DashboardSessions.sessionID(of: request), let csrf = sessions.csrf(of: id) else { throw Self.refusal }
        let origin = request.headers[.origin]
        if let origin, !Self.isSameOrigin(origin, request) {
            throw MicadoError(.forbidden, "a request from \(Text.escaped(String(origin.prefix(100)))) may not use this manager's session")
        }
        let upgrade = request.isWebSocketUpgrade
        if upgrade, origin == nil { throw MicadoError(.forbidden, "a WebSocket on the dashboard's session must name its origin") }
        let given = request.headers[DashboardSessions.csrfHeader] ?? (upgrade ? DashboardSessions.subprotocolToken(request) : nil) ?? ""
        guard Self.constantTimeEqual(Array(given.utf8), Array(csrf.utf8)) else {
            throw MicadoError(
                .forbidden,
                "a request on the dashboard's session needs its CSRF token (X-CSRF-Token); log in again if the page lost it"
            )
        }
    }

    /// Whether the request is allowed, as the middleware would decide (for WebSocket routes,
    /// which decline a refused upgrade so that the HTTP route answers with the reason).
    func allows(_ request: Request) -> Bool { (try? authenticate(request)) != nil }

    static func isSameOrigin(_ origin: String, _ request: Request) -> Bool {
        guard let authority = request.head.authority else { return false }
        return origin == "http://" + authority || origin == "https://" + authority
    }

    /// Compares without an early exit, so timing does not reveal how much of a guess matched.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference: UInt8 = a.count == b.count ? 0 : 1
        for i in 0..<max(a.count, b.count) {
            difference |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0)
        }
        return difference == 0 && !b.isEmpty
    }
}

/// Wrong dashboard tokens, counted by peer and in all. A peer's first `freeFailures` in a
/// minute are answered 401; past them each wrong token doubles its wait (up to `maximumWait`),
/// and is answered 429 with the wait while it lasts. Past `globalFailuresPerMinute` from
/// everyone, wrong tokens are answered 429 for the rest of the minute. The right token is
/// compared first and never waits. Bounded: at most `peerLimit` peers are remembered (the
/// oldest forgotten first).
final class LoginThrottle: Sendable {
    static let freeFailures = 5
    static let maximumWait = 60
    static let globalFailuresPerMinute = 600
    static let peerLimit = 4096

    struct Peer {
        var failures: Int
        var lastFailure: Date
        var waitUntil: Date
    }

    private let state = Mutex<(peers: [String: Peer], minute: Int, global: Int)>(([:], 0, 0))

    /// Notes a wrong token; the seconds to wait if it is over a budget, else nil.
    func failed(peer: String, now: Date) -> Int? {
        state.withLock { state in
            let minute = Int(now.timeIntervalSince1970 / 60)
            if state.minute != minute { state = (state.peers, minute, 0) }
            state.global += 1
            // A peer quiet for a minute past its wait starts afresh.
            var record = state.peers[peer] ?? Peer(failures: 0, lastFailure: now, waitUntil: now)
            if now.timeIntervalSince(max(record.lastFailure, record.waitUntil)) > 60 {
                record = Peer(failures: 0, lastFailure: now, waitUntil: now)
            }
            record.failures += 1
            record.lastFailure = now
            var wait: Int?
            if record.waitUntil > now {
                wait = Int(record.waitUntil.timeIntervalSince(now).rounded(.up))
            } else if record.failures > Self.freeFailures {
                let seconds = min(1 << min(record.failures - Self.freeFailures - 1, 6), Self.maximumWait)
                record.waitUntil = now.addingTimeInterval(TimeInterval(seconds))
                wait = seconds
            }
            if state.peers[peer] == nil, state.peers.count >= Self.peerLimit,
                let oldest = state.peers.min(by: { $0.value.lastFailure < $1.value.lastFailure })
            {
                state.peers[oldest.key] = nil
            }
            state.peers[peer] = record
            if wait == nil, state.global > Self.globalFailuresPerMinute { wait = 60 - Int(now.timeIntervalSince1970) % 60 }
            return wait
        }
    }

    /// The seconds a peer's next wrong token would wait now (at least 1): for Retry-After.
    func retryAfter(peer: String, now: Date) -> Int {
        state.withLock { state in
            let own = state.peers[peer].map { Int($0.waitUntil.timeIntervalSince(now).rounded(.up)) } ?? 0
            let global = state.global > Self.globalFailuresPerMinute ? 60 - Int(now.timeIntervalSince1970) % 60 : 0
            return max(own, global, 1)
        }
    }

    /// The right token: the peer starts afresh.
    func succeeded(peer: String) { state.withLock { _ = $0.peers.removeValue(forKey: peer) } }

    var peerCount: Int { state.withLock { $0.peers.count } }
}
