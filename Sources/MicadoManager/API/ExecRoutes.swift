import Hummingbird
import HummingbirdWebSocket
import MicadoCore

/// `/v1/containers/{name}/exec`: a command's output collected; `exec/stream`, an attached
/// command over a WebSocket (`addStream`), whose plain GET (no upgrade) answers why not.
enum ExecRoutes {
    static func add(to kit: RouteKit, containers: Containers) {
        let api = kit.api
        api.post("/containers/{name}/exec") { request, context in
            let exec = try await kit.decode(ExecRequest.self, request)
            return try HTTPAPI.json(try await containers.execute(try context.pathParameter("name"), command: exec.command))
        }
        // Reached when the WebSocket router declined the upgrade: answers why, as JSON.
        api.get("/containers/{name}\(ExecStream.path)") { request, context -> Response in
            try await checkStream(request, name: try context.pathParameter("name"), containers)
            throw MicadoError.badRequest("\(request.uri.path) streams over a WebSocket: send an upgrade request, as 'micado execute' does")
        }
    }

    /// The attached stream's WebSocket: the command's terminal, relayed both ways.
    static func addStream(to kit: WebSocketRouteKit, containers: Containers, eventLog: EventLog) {
        let auth = kit.auth
        kit.router.ws("/v1/containers/{name}\(ExecStream.path)") { request, context in
            try auth.authenticate(request)
            try await checkStream(request, name: try context.pathParameter("name"), containers)
            return .upgrade(HTTPAPI.acceptedSubprotocol(request))
        } onUpgrade: { inbound, outbound, context in
            let name = try context.requestContext.parameters.require("name")
            let options = try ExecStreamOptions(context.request.uri.queryParameters)
            await ExecRelay(containers: containers, eventLog: eventLog, name: name, options: options).run(
                inbound: inbound,
                outbound: outbound
            )
        }
    }

    /// What an attached exec needs before the upgrade: a readable query and a running task.
    static func checkStream(_ request: Request, name: String, _ containers: Containers) async throws {
        _ = try ExecStreamOptions(request.uri.queryParameters)
        _ = try await containers.runningTask(of: name)
    }
}
