import Foundation
import Hummingbird
import MicadoCore

/// `/v1/session`: the dashboard's login (the token, once, for a session cookie and a CSRF
/// token; wrong tokens throttled per peer), who is asking, and logout.
enum SessionRoutes {
    /// The login, outside the token check.
    static func addLogin(to router: Router<APIRequestContext>, sessions: DashboardSessions, jsonBodyBytes: Int) {
        router.post("/v1/session") { request, context in
            let login = try await HTTPAPI.decode(LoginRequest.self, request, limit: jsonBodyBytes)
            let session: (id: String, csrf: String)
            do { session = try sessions.open(token: login.token, peer: context.peer) } catch let error as MicadoError
                where error.code == .tooManyRequests
            {
                // The wait, as a number too: the message says it in words.
                var refused = ErrorMiddleware<APIRequestContext>.response(error)
                refused.headers[.retryAfter] = String(sessions.throttle.retryAfter(peer: context.peer, now: Date()))
                return refused
            }
            var response = try HTTPAPI.json(SessionView(authenticatedBy: "session", csrf: session.csrf), status: .created)
            response.headers[.setCookie] = DashboardSessions.cookie(session.id)
            return response
        }
    }

    static func add(to kit: RouteKit, sessions: DashboardSessions) {
        kit.api.get("/session") { request, _ in
            // The CSRF token is never handed out here: whoever asks on a session already sent it.
            try HTTPAPI.json(SessionView(authenticatedBy: request.headers[.authorization] == nil ? "session" : "token", csrf: nil))
        }
        kit.api.delete("/session") { request, _ in
            if let id = DashboardSessions.sessionID(of: request) { sessions.close(id) }
            var response = Response(status: .noContent)
            response.headers[.setCookie] = DashboardSessions.clearingCookie
            return response
        }
    }

    struct LoginRequest: Codable {
        var token: String
    }

    struct SessionView: Codable {
        /// `session` (the dashboard's cookie) or `token` (a bearer token).
        var authenticatedBy: String
        /// What the page sends as `X-CSRF-Token` with each change; none for a bearer token.
        var csrf: String?
    }
}
