import Yams

/// YAML read with Yams' parser and its basic resolver: every plain scalar keeps the `str` tag.
/// Yams' default resolver compiles its rules into `NSRegularExpression`s, i.e. ICU, whose data
/// then stays resident in the manager for good. What the tags were for is done here instead:
/// `Node.plainBool` and `Node.isPlainNull` read the few words by hand, and `decode` tags a
/// document's booleans, nulls and merge keys before `YAMLDecoder` reads it. (Yams' `Node.bool`
/// is always nil on these nodes; numbers are read from the text whatever the tag.)
public enum YAMLDocument {
    /// The document's root node; nil for an empty document.
    public static func compose(_ text: String) throws -> Node? {
        try Yams.compose(yaml: text, .basic, .default)
    }

    /// `T` decoded from a document (an empty one decodes as an empty mapping).
    public static func decode<T: Decodable>(_ type: T.Type, from text: String) throws -> T {
        try decode(type, from: compose(text) ?? .mapping(Node.Mapping([], tag(.map))))
    }

    /// `T` decoded from a composed document of at most `maximumNodes` nodes, counted through
    /// its aliases (tagging walks each path: a billion laughs is refused, not expanded).
    public static func decode<T: Decodable>(_ type: T.Type, from node: Node, maximumNodes: Int = 10_000) throws -> T {
        var budget = maximumNodes
        return try YAMLDecoder().decode(type, from: tagged(node, isKey: false, budget: &budget))
    }

    public struct TooLarge: Error, CustomStringConvertible {
        public var description: String { "the document has more nodes than a configuration needs (aliases counted each time they are used)" }
    }

    /// A tag bound to the basic resolver: Yams' default arguments would build its regular expressions.
    static func tag(_ name: Tag.Name) -> Tag { Tag(name, .basic, .default) }

    static func tagged(_ node: Node, isKey: Bool, budget: inout Int) throws -> Node {
        budget -= 1
        guard budget >= 0 else { throw TooLarge() }
        switch node {
        case .scalar(var scalar):
            if isKey {
                if scalar.style == .plain && scalar.string == "<<" { scalar.tag = tag(.merge) }
            } else if node.plainBool != nil {
                scalar.tag = tag(.bool)
            } else if node.isPlainNull {
                scalar.tag = tag(.null)
            }
            return .scalar(scalar)
        case .mapping(let mapping):
            var pairs: [(Node, Node)] = []
            for pair in mapping { pairs.append((try tagged(pair.key, isKey: true, budget: &budget), try tagged(pair.value, isKey: false, budget: &budget))) }
            return .mapping(Node.Mapping(pairs, mapping.tag, mapping.style, mapping.mark, mapping.anchor))
        case .sequence(let sequence):
            var items: [Node] = []
            for item in sequence { items.append(try tagged(item, isKey: false, budget: &budget)) }
            return .sequence(Node.Sequence(items, sequence.tag, sequence.style, sequence.mark, sequence.anchor))
        case .alias:
            return node
        }
    }
}

extension Node {
    /// A plain scalar spelling a boolean as YAML 1.1 does (`true`, `yes`, `on`… in three cases).
    public var plainBool: Bool? {
        guard case .scalar(let scalar) = self, scalar.style == .plain || scalar.style == .any else { return nil }
        switch scalar.string {
        case "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON": return true
        case "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF": return false
        default: return nil
        }
    }

    /// A plain `~`, `null` (in three cases) or nothing at all.
    public var isPlainNull: Bool {
        guard case .scalar(let scalar) = self, scalar.style == .plain || scalar.style == .any else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }
}
