import Hummingbird
import MicadoCore

/// `/v1/containers/{name}/files`: a file copied out (streamed, with its mode) or in (spooled
/// to disk first, bounded by `limits.uploadBytes`).
enum FileRoutes {
    static func add(to kit: RouteKit, containers: Containers, spool: String, uploadBytes: Int) {
        let api = kit.api
        api.get("/containers/{name}/files") { request, context in
            let path = try HTTPAPI.requiredQuery(request, "path")
            let file = try await containers.readFile(try context.pathParameter("name"), path: path, spool: spool)
            return Response(
                status: .ok,
                headers: [
                    .contentType: "application/octet-stream", .contentLength: String(file.range.count),
                    HTTPAPI.fileModeHeader: String(file.mode, radix: 8),
                ],
                body: HTTPAPI.streamed(file.archive, file.range)
            )
        }
        api.put("/containers/{name}/files") { request, context in
            let path = try HTTPAPI.requiredQuery(request, "path")
            let mode =
                try request.uri.queryParameters["mode"].map { text in
                    guard let mode = Int(String(text), radix: 8) else {
                        throw MicadoError.badRequest("invalid mode '\(Text.escaped(String(text)))': give it in octal, e.g. 644")
                    }
                    return mode
                } ?? 0o644
            let upload = try await SpooledUpload.receive(request, limit: uploadBytes, directory: spool)
            try await containers.writeFile(try context.pathParameter("name"), path: path, contents: upload, mode: mode)
            return Response(status: .noContent)
        }
    }
}
