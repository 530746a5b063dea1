import MicadoCore
import Yams

/// What `openapi.yaml` (embedded as `OpenAPIDocument`) says about the routes: which
/// methods each path has, so that a request with another method gets 405 with `Allow`
/// instead of a 404 (and the document stays the one list of routes); and which statuses
/// and content types each operation answers with, which the tests hold every answer to.
enum APIContract {
    /// Path templates (`/v1/containers/{name}`) split into segments, with their methods.
    static let routes: [(segments: [Substring], methods: Set<String>)] = {
        guard let paths = document?["paths"]?.mapping else { return [] }
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

    /// The document, parsed once (read only).
    nonisolated(unsafe) static let document: Node? = try? YAMLDocument.compose(OpenAPIDocument.yaml)

    /// The document's operation for `method` on the path template matching `path` (the most
    /// literal one: `/v1/events/live` over a template with a parameter there).
    static func operation(_ method: String, path: String) -> Node? {
        guard let paths = document?["paths"]?.mapping else { return nil }
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        var best: (literal: Int, operations: Node)?
        for (key, operations) in paths {
            guard let template = key.string?.split(separator: "/", omittingEmptySubsequences: false), template.count == segments.count
            else { continue }
            var literal = 0
            var matches = true
            for (part, segment) in zip(template, segments) {
                if part.hasPrefix("{") && part.hasSuffix("}") && !segment.isEmpty { continue }
                if part != segment {
                    matches = false
                    break
                }
                literal += 1
            }
            if matches, literal > (best?.literal ?? -1) { best = (literal, operations) }
        }
        return best?.operations[method.lowercased()]
    }

    /// `#/components/…` references resolved, anything else as it is.
    static func resolved(_ node: Node) -> Node {
        guard let reference = node["$ref"]?.string else { return node }
        var current = document
        for part in reference.dropFirst(2).split(separator: "/") { current = current?[String(part)] }
        return current ?? node
    }

    /// Each documented answer of `method` on `path`: status (`"200"`, `"default"`…, by text:
    /// a quoted key '200' is not the Node a "200" makes) → the answer (references resolved).
    static func responses(of method: String, path: String) -> [String: Node]? {
        guard let responses = operation(method, path: path)?["responses"]?.mapping else { return nil }
        var answers: [String: Node] = [:]
        for (status, response) in responses {
            if let status = status.string { answers[status] = resolved(response) }
        }
        return answers
    }

    /// The content types of each documented answer (empty for a body-less one).
    static func contentTypes(of method: String, path: String) -> [String: Set<String>]? {
        responses(of: method, path: path)?.mapValues { Set($0["content"]?.mapping?.keys.compactMap(\.string) ?? []) }
    }
}
