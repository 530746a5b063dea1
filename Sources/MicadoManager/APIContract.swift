import Yams

/// What `openapi.yaml` (embedded as `OpenAPIDocument`) says about the routes: which
/// methods each path has, so that a request with another method gets 405 with `Allow`
/// instead of a 404 (and the document stays the one list of routes); and which statuses
/// and content types each operation answers with, which the tests hold every answer to.
enum APIContract {
    /// Path templates (`/v1/containers/{name}`) split into segments, with their methods.
    static let routes: [(segments: [Substring], methods: Set<String>)] = {
        guard let root = try? Yams.compose(yaml: OpenAPIDocument.yaml), let paths = root["paths"]?.mapping else { return [] }
        let verbs: Set<String> = ["get", "put", "post", "delete", "patch", "head", "options"]
        return paths.compactMap { key, value in
            guard let template = key.string, let operations = value.mapping else { return nil }
            let methods = Set(operations.keys.compactMap(\.string).filter(verbs.contains).map { $0.uppercased() })
            return (template.split(separator: "/", omittingEmptySubsequences: false), methods)
        }
    }()

    /// The methods the document gives `path`, nil when it has no such path.
    static func methods(of path: String) -> Set<String>? {
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        let matching = routes.filter { route in
            route.segments.count == segments.count
                && zip(route.segments, segments).allSatisfy { template, segment in
                    (template.hasPrefix("{") && template.hasSuffix("}") && !segment.isEmpty) || template == segment
                }
        }
        return matching.isEmpty ? nil : matching.reduce(into: Set<String>()) { $0.formUnion($1.methods) }
    }

    /// Each documented answer of `method` on the path template matching `path`: status
    /// (`"200"`, `"default"`…) → its content types (empty for a body-less answer).
    static func responses(of method: String, path: String) -> [String: Set<String>]? {
        guard let root = try? Yams.compose(yaml: OpenAPIDocument.yaml), let paths = root["paths"]?.mapping else { return nil }
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        let candidates = paths.compactMap { key, operations -> (Int, Node)? in
            guard let template = key.string?.split(separator: "/", omittingEmptySubsequences: false), template.count == segments.count else { return nil }
            var literal = 0
            for (part, segment) in zip(template, segments) {
                if part.hasPrefix("{") && part.hasSuffix("}") && !segment.isEmpty { continue }
                guard part == segment else { return nil }
                literal += 1
            }
            return (literal, operations)
        }
        // The most literal template wins (`/v1/events/live` over a template with a parameter there).
        guard let operations = candidates.max(by: { $0.0 < $1.0 })?.1, let responses = operations[method.lowercased()]?["responses"]?.mapping else { return nil }
        var answers: [String: Set<String>] = [:]
        for (status, response) in responses {
            guard let status = status.string else { continue }
            var response = response
            if let reference = response["$ref"]?.string, let name = reference.split(separator: "/").last {
                response = root["components"]?["responses"]?[String(name)] ?? response
            }
            answers[status] = Set(response["content"]?.mapping?.keys.compactMap(\.string) ?? [])
        }
        return answers
    }
}
