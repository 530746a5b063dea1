import Hummingbird
import MicadoCore

/// `/v1/applications` (Compose files applied with their plan) and `/v1/routes` (the domains
/// the proxy serves for them and for `launch -d`).
enum ApplicationRoutes {
    static func add(to kit: RouteKit, applications: Applications, routes: Routes) {
        let api = kit.api
        api.get("/applications") { _, _ in
            try HTTPAPI.json(try await applications.list())
        }
        api.post("/applications") { request, _ in
            try HTTPAPI.json(try await applications.apply(try await kit.decode(ApplyRequest.self, request)))
        }
        api.delete("/applications/{name}") { _, context in
            try await applications.remove(try context.pathParameter("name"))
            return Response(status: .noContent)
        }
        api.get("/routes") { _, _ in
            try HTTPAPI.json(await routes.list())
        }
    }
}
