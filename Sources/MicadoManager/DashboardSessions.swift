import Foundation
import HTTPTypes
import Hummingbird
import MicadoCore
import Synchronization

/// The dashboard's logins. The API token, typed once into the page, becomes a session
/// cookie (HttpOnly, SameSite=Strict), so the page's script never holds the token. Each
/// session has its own CSRF token, which the page sends as `X-CSRF-Token` with every state
/// change. Kept in memory only: a restarted manager asks for the token again.
public final class DashboardSessions: Sendable {
    struct Session: Sendable {
        var csrf: String
        var expires: Date
    }

    static let cookieName = "micado_session"
    static let csrfHeader = HTTPField.Name("X-CSRF-Token")!
    static let lifetime: TimeInterval = 12 * 3600
    /// Bounded: logging in again and again evicts the oldest sessions, never grows memory.
    static let limit = 256

    private let token: [UInt8]
    private let sessions = Mutex<[String: Session]>([:])

    public init(token: String) { self.token = Array(token.utf8) }

    /// A new session when `given` is the API token (compared in constant time).
    func open(token given: String, now: Date = Date()) throws(MicadoError) -> (id: String, csrf: String) {
        guard APIAuthMiddleware<BasicRequestContext>.constantTimeEqual(Array(given.utf8), token) else {
            throw MicadoError(.unauthorized, "wrong API token; it is in the micado home's token file")
        }
        let id = Self.randomHex(), csrf = Self.randomHex()
        sessions.withLock { sessions in
            sessions = sessions.filter { $0.value.expires > now }
            while sessions.count >= Self.limit, let oldest = sessions.min(by: { $0.value.expires < $1.value.expires }) {
                sessions[oldest.key] = nil
            }
            sessions[id] = Session(csrf: csrf, expires: now.addingTimeInterval(Self.lifetime))
        }
        return (id, csrf)
    }

    /// The CSRF token of a live session.
    func csrf(of id: String, now: Date = Date()) -> String? {
        sessions.withLock { sessions in
            guard let session = sessions[id] else { return nil }
            guard session.expires > now else {
                sessions[id] = nil
                return nil
            }
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
/// dashboard's session cookie. A cookie alone never changes state: that also needs the
/// session's CSRF token in `X-CSRF-Token`, and a request that names its origin must come
/// from this manager's own (no cross-site WebSocket either).
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
        if let header = request.headers[.authorization] {
            let given = header.hasPrefix("Bearer ") ? Array(header.utf8.dropFirst(7)) : []
            guard Self.constantTimeEqual(given, token) else { throw Self.refusal }
            return try await next(request, context)
        }
        guard let id = DashboardSessions.sessionID(of: request), let csrf = sessions.csrf(of: id) else { throw Self.refusal }
        if let origin = request.headers[.origin], !Self.isSameOrigin(origin, request) {
            throw MicadoError(.forbidden, "a request from \(Text.escaped(String(origin.prefix(100)))) may not use this manager's session")
        }
        if ![.get, .head, .options].contains(request.method) {
            let given = Array((request.headers[DashboardSessions.csrfHeader] ?? "").utf8)
            guard Self.constantTimeEqual(given, Array(csrf.utf8)) else {
                throw MicadoError(.forbidden, "a change from the dashboard needs its session's X-CSRF-Token header")
            }
        }
        return try await next(request, context)
    }

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
