import Hummingbird
import MicadoCore
import MicadoStore

/// `/v1/instances` and `/v1/clouds`: the fleet, `micado start` and `stop`, what is configured.
enum InstanceRoutes {
    static func add(to kit: RouteKit, instances: Instances, clouds: CloudSet) {
        let api = kit.api
        api.get("/instances") { _, _ in
            try HTTPAPI.json(try await instances.list())
        }
        api.post("/instances") { request, _ in
            let start = try await kit.decode(StartInstanceRequest.self, request)
            try start.validate()
            let record = try await instances.startInstance(start, reason: "micado start")
            return try HTTPAPI.json(try await instances.view(id: record.id.rawValue), status: .created)
        }
        api.get("/instances/{id}") { _, context in
            try HTTPAPI.json(try await instances.view(id: try context.pathParameter("id")))
        }
        api.delete("/instances") { request, _ in
            let tag = try HTTPAPI.requiredQuery(request, "tag")
            try Text.requireSafe(tag, field: "the tag")
            return try HTTPAPI.json(try await instances.stopInstances(tag: tag))
        }
        api.get("/clouds") { _, _ in
            try HTTPAPI.json(clouds.configurations.map(CloudView.init))
        }
    }
}
