import Yams

/// What `openapi.yaml` (embedded as `OpenAPIDocument`) says about the routes: which
/// methods each path has, so that a request with another method gets 405 with `Allow`
/// instead of a 404 (and the document stays the one list of routes).
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
}
