import Hummingbird
import HummingbirdWebSocket
import MicadoCore

/// What the resource route files share: the API's group (behind the token or session) and how
/// a JSON body is read (bounded by `limits.jsonBodyBytes`). Each resource's routes take the
/// parts they call and nothing else.
struct RouteKit: Sendable {
    let api: RouterGroup<APIRequestContext>
    let jsonBodyBytes: Int

    func decode<T: Decodable & Sendable>(_ type: T.Type, _ request: Request) async throws -> T {
        try await HTTPAPI.decode(type, request, limit: jsonBodyBytes)
    }
}

/// What the routes that upgrade to a WebSocket share: their router, and the check of the
/// token or session each makes before the upgrade.
struct WebSocketRouteKit {
    let router: Router<APIWebSocketContext>
    let auth: APIAuthMiddleware<APIWebSocketContext>
}
