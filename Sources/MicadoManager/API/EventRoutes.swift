import Hummingbird
import HummingbirdWebSocket
import MicadoCore
import MicadoStore

/// `/v1/events`: the event log, and `/v1/events/live`, its WebSocket (`addLive`) and the same
/// route without an upgrade.
enum EventRoutes {
    static func add(to kit: RouteKit, store: any EventStore) {
        let api = kit.api
        api.get("/events") { request, _ in
            let limit = try HTTPAPI.queryInt(request, "limit", 1...10_000) ?? 100
            let after = try HTTPAPI.queryInt(request, "after", 0...Int.max).map(Int64.init)
            let subject = try HTTPAPI.eventSubject(request)
            return try HTTPAPI.json(try await store.eventViews(subject: subject, after: after, limit: limit))
        }
        // Without an upgrade: the first batch the WebSocket would send, once, as JSON (a poll
        // for clients without WebSockets).
        api.get("/events/live") { request, _ in
            let options = try EventsLive.Options(request)
            // An upgrade that got here passed the token and the query: all live sockets are taken.
            if request.isWebSocketUpgrade {
                throw MicadoError(.busy, "all \(LiveSockets.limit) live event streams are open; try again later")
            }
            return try HTTPAPI.json(try await EventsLive(store: store, options: options).firstBatch())
        }
    }

    /// The live stream's WebSocket: new events as they are recorded, at most `LiveSockets.limit` at once.
    static func addLive(to kit: WebSocketRouteKit, store: any EventStore) {
        let live = LiveSockets()
        let auth = kit.auth
        kit.router.ws("/v1/events/live") { request, _ in
            try auth.authenticate(request)
            _ = try EventsLive.Options(request)
            guard live.open() else { throw MicadoError(.busy, "all \(LiveSockets.limit) live event streams are open; try again later") }
            return .upgrade(HTTPAPI.acceptedSubprotocol(request))
        } onUpgrade: { inbound, outbound, context in
            defer { live.close() }
            let options = try EventsLive.Options(context.request)
            await EventsLive(store: store, options: options).run(inbound: inbound, outbound: outbound)
        }
    }
}
