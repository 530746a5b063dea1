import Hummingbird
import HummingbirdWebSocket
import MicadoCore

/// `/v1/events`: the event log, and `/events/live` without an upgrade (its WebSocket is in
/// `HTTPAPI.webSocketRouter`); `/v1/backup`, the store itself.
enum EventRoutes {
    static func add(to kit: RouteKit, orchestrator: Orchestrator, spool: String) {
        let api = kit.api
        api.get("/events") { request, _ in
            let limit = try HTTPAPI.queryInt(request, "limit", 1...10_000) ?? 100
            let after = try HTTPAPI.queryInt(request, "after", 0...Int.max).map(Int64.init)
            let subject = try HTTPAPI.eventSubject(request)
            return try HTTPAPI.json(try await orchestrator.events(subject: subject, after: after, limit: limit))
        }
        // Without an upgrade: the first batch the WebSocket would send, once, as JSON (a poll
        // for clients without WebSockets).
        api.get("/events/live") { request, _ in
            let options = try EventsLive.Options(request)
            // An upgrade that got here passed the token and the query: all live sockets are taken.
            if request.isWebSocketUpgrade {
                throw MicadoError(.busy, "all \(LiveSockets.limit) live event streams are open; try again later")
            }
            return try HTTPAPI.json(try await EventsLive(orchestrator: orchestrator, options: options).firstBatch())
        }
        // An online backup of the store, streamed from a file that is unlinked once open.
        api.get("/backup") { _, _ in
            let backup = try await orchestrator.backup(spool: spool)
            return Response(
                status: .ok,
                headers: [.contentType: "application/vnd.sqlite3", .contentLength: String(backup.count)],
                body: HTTPAPI.streamed(backup, 0..<backup.count)
            )
        }
    }
}
