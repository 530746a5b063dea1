import DockerEngine
import Foundation
import HTTPTypes
import Hummingbird
import MicadoCore

/// `/v1/images`: build from a tarball (spooled first, bounded by `limits.uploadBytes`), list, remove.
enum ImageRoutes {
    static func add(to kit: RouteKit, images: Images, spool: String, uploadBytes: Int) {
        let api = kit.api
        api.post("/images") { request, _ in
            let name = try HTTPAPI.requiredQuery(request, "name")
            let version = try HTTPAPI.query(request, "tag") ?? "latest"
            var options = BuildOptions(dockerfile: try HTTPAPI.query(request, "dockerfile"), target: try HTTPAPI.query(request, "target"))
            // Build arguments in a header, not the query: a query is what access logs keep.
            if let header = request.headers[values: HTTPField.Name("X-Micado-Build-Args")!].first {
                guard header.utf8.count <= 512 << 10, let data = Data(base64Encoded: header),
                    let arguments = try? JSONDecoder().decode([String: String].self, from: data)
                else {
                    throw MicadoError.badRequest("X-Micado-Build-Args must be base64 of a JSON object of text values")
                }
                options.arguments = arguments
            }
            // Checked before the upload is read: a bad name or option spools nothing.
            try Images.validate(version: version, options: options)
            let upload = try await SpooledUpload.receive(request, limit: uploadBytes, directory: spool)
            return try HTTPAPI.json(
                try await images.build(name: name, version: version, options: options, tarball: upload),
                status: .created
            )
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
