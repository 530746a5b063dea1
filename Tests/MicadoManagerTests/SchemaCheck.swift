import Foundation
import Yams

@testable import MicadoManager

/// A JSON answer checked against its schema in openapi.yaml: the OpenAPI 3.0 subset the
/// document uses ($ref, type, required, properties, items, enum, allOf/anyOf/oneOf/not,
/// bounds, lengths, patterns). What ContractCheckingResponder runs on every JSON body.
struct SchemaCheck {
    indirect enum JSON: Decodable {
        case null
        case bool(Bool)
        case int(Int64)
        case double(Double)
        case string(String)
        case array([JSON])
        case object([String: JSON])

        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if c.decodeNil() {
                self = .null
            } else if let v = try? c.decode(Bool.self) {
                self = .bool(v)
            } else if let v = try? c.decode(Int64.self) {
                self = .int(v)
            } else if let v = try? c.decode(Double.self) {
                self = .double(v)
            } else if let v = try? c.decode(String.self) {
                self = .string(v)
            } else if let v = try? c.decode([JSON].self) {
                self = .array(v)
            } else {
                self = .object(try c.decode([String: JSON].self))
            }
        }
    }

    /// The schema of `status`'s `application/json` answer to `method` on `path`, if any.
    static func responseSchema(method: String, path: String, status: String) -> Node? {
        guard let answers = APIContract.responses(of: method, path: path), let response = answers[status] ?? answers["default"] else {
            return nil
        }
        return response["content"]?["application/json"]?["schema"]
    }

    /// What is wrong with `value` against `schema` (empty: it conforms).
    static func problems(_ value: JSON, _ schema: Node, at path: String = "$") -> [String] {
        if schema["$ref"] != nil { return problems(value, APIContract.resolved(schema), at: path) }
        var found: [String] = []
        if let all = schema["allOf"]?.sequence { for s in all { found += problems(value, s, at: path) } }
        if let any = schema["anyOf"]?.sequence, !any.contains(where: { problems(value, $0, at: path).isEmpty }) {
            found.append("\(path) matches none of anyOf")
        }
        if let one = schema["oneOf"]?.sequence, one.filter({ problems(value, $0, at: path).isEmpty }).count != 1 {
            found.append("\(path) does not match exactly one of oneOf")
        }
        if let not = schema["not"], problems(value, not, at: path).isEmpty { found.append("\(path) matches a 'not' schema") }
        if let options = schema["enum"]?.sequence {
            let allowed = options.compactMap(\.string)
            if case .string(let s) = value, !allowed.contains(s) { found.append("\(path) '\(s)' is not one of \(allowed)") }
        }
        if case .null = value {
            if schema["nullable"]?.bool != true, schema["type"] != nil { found.append("\(path) is null") }
            return found
        }
        switch (schema["type"]?.string, value) {
        case (nil, _): break
        case ("object", .object(let fields)):
            for required in schema["required"]?.sequence?.compactMap(\.string) ?? [] where fields[required] == nil {
                found.append("\(path).\(required) is missing")
            }
            let properties = schema["properties"]?.mapping
            for (key, field) in fields {
                if let property = properties?[Node(key)] {
                    found += problems(field, property, at: "\(path).\(key)")
                } else if let additional = schema["additionalProperties"] {
                    if additional.bool == false {
                        found.append("\(path).\(key) is not in the schema")
                    } else if additional.mapping != nil {
                        found += problems(field, additional, at: "\(path).\(key)")
                    }
                }
            }
        case ("array", .array(let items)):
            if let item = schema["items"] {
                for (i, element) in items.enumerated() { found += problems(element, item, at: "\(path)[\(i)]") }
            }
        case ("string", .string(let text)):
            if let max = schema["maxLength"]?.int, text.count > max { found.append("\(path) is longer than \(max)") }
            if let min = schema["minLength"]?.int, text.count < min { found.append("\(path) is shorter than \(min)") }
            if let pattern = schema["pattern"]?.string, let regex = try? NSRegularExpression(pattern: pattern),
                regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) == nil
            {
                found.append("\(path) '\(text.prefix(60))' does not match \(pattern.prefix(60))")
            }
        case ("integer", .int(let n)):
            if let min = schema["minimum"]?.int, n < min { found.append("\(path) \(n) < \(min)") }
            if let max = schema["maximum"]?.int, n > max { found.append("\(path) \(n) > \(max)") }
        case ("number", .int), ("number", .double), ("boolean", .bool): break
        case (let type?, _): found.append("\(path) is not a\(type.first.map { "aeiou".contains($0) } == true ? "n" : "") \(type): \(value)")
        }
        return found
    }
}
