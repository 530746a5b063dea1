import Hummingbird
import MicadoCore

/// `/v1/containers/{name}/exec`: a command's output collected; the attached stream's WebSocket
/// is in `HTTPAPI.webSocketRouter`, and its plain GET (no upgrade) answers why here.
enum ExecRoutes {
    static func add(to kit: RouteKit, orchestrator: Orchestrator) {
        let api = kit.api
        let containers = orchestrator.containers
        api.post("/containers/{name}/exec") { request, context in
            let exec = try await kit.decode(ExecRequest.self, request)
            return try HTTPAPI.json(try await containers.execute(try context.pathParameter("name"), command: exec.command))
        }
        // Reached when the WebSocket router declined the upgrade: answers why, as JSON.
        api.get("/containers/{name}\(ExecStream.path)") { request, context -> Response in
            try await HTTPAPI.checkExecStream(request, name: try context.pathParameter("name"), orchestrator)
            throw MicadoError.badRequest("\(request.uri.path) streams over a WebSocket: send an upgrade request, as 'micado execute' does")
        }
    }
}
