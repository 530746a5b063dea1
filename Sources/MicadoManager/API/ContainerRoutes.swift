import DockerEngine
import Hummingbird
import MicadoCore

/// `/v1/containers` and `/v1/services`: launch, view, quit, remove, usage, logs, explain.
/// (Files and exec have their own files.)
enum ContainerRoutes {
    static func add(to kit: RouteKit, containers: Containers, scaler: Scaler) {
        let api = kit.api
        api.get("/containers") { request, _ in
            try HTTPAPI.json(try await containers.list(all: try HTTPAPI.queryBool(request, "all") ?? false))
        }
        api.post("/containers") { request, _ in
            let launch = try await kit.decode(LaunchRequest.self, request)
            return try HTTPAPI.json(try await containers.launch(launch), status: .created)
        }
        api.get("/containers/{name}") { _, context in
            try HTTPAPI.json(try await containers.view(named: try context.pathParameter("name")))
        }
        api.post("/containers/{name}/quit") { request, context in
            let quit = try await kit.decode(QuitRequest.self, request)
            let name = try context.pathParameter("name")
            guard let view = try await containers.quit(name, remove: quit.remove, kill: quit.kill ?? false) else {
                return Response(status: .noContent)
            }
            return try HTTPAPI.json(view)
        }
        api.delete("/containers/{name}") { _, context in
            try await containers.remove(try context.pathParameter("name"))
            return Response(status: .noContent)
        }
        api.get("/containers/{name}/usage") { request, context in
            let limit = try HTTPAPI.queryInt(request, "limit", 1...10_000) ?? 120
            return try HTTPAPI.json(try await containers.usage(named: try context.pathParameter("name"), limit: limit))
        }
        api.get("/containers/{name}/logs") { request, context in
            let tail = try HTTPAPI.queryInt(request, "tail", 0...1_000_000)
            let lines = try await containers.logs(try context.pathParameter("name"), tail: tail)
            return try HTTPAPI.json(lines.map { LogLineView(stream: $0.stream.rawValue, text: $0.text) })
        }
        api.get("/containers/{name}/explain") { _, context in
            try HTTPAPI.json(try await scaler.explain(try context.pathParameter("name")))
        }
        api.get("/services") { request, _ in
            try HTTPAPI.json(try await containers.services(name: try HTTPAPI.query(request, "name")))
        }
    }

    struct LogLineView: Codable {
        var stream: String
        var text: String
    }
}
