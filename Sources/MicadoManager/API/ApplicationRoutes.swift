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
        api.delete("/applications/{name}") { request, context in
            let withVolumes = try HTTPAPI.queryBool(request, "volumes") ?? false
            let removal = try await applications.remove(try context.pathParameter("name"), withVolumes: withVolumes)
            return withVolumes ? try HTTPAPI.json(removal) : Response(status: .noContent)
        }
        api.get("/routes") { _, _ in
            try HTTPAPI.json(await routes.list())
        }
    }
}
