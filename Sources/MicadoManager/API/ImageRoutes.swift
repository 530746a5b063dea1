import Hummingbird
import MicadoCore

/// `/v1/images`: build from a tarball (spooled first, bounded by `limits.uploadBytes`), list, remove.
enum ImageRoutes {
    static func add(to kit: RouteKit, images: Images, spool: String, uploadBytes: Int) {
        let api = kit.api
        api.post("/images") { request, _ in
            let name = try HTTPAPI.requiredQuery(request, "name")
            let upload = try await SpooledUpload.receive(request, limit: uploadBytes, directory: spool)
            return try HTTPAPI.json(try await images.build(name: name, tarball: upload), status: .created)
        }
        api.get("/images") { _, _ in
            try HTTPAPI.json(try await images.list())
        }
        api.delete("/images/{name}") { _, context in
            try await images.remove(try context.pathParameter("name"))
            return Response(status: .noContent)
        }
    }
}
