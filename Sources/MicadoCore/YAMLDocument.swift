import Yams

/// YAML read with Yams' parser and its basic resolver: every plain scalar keeps the `str` tag.
/// Yams' default resolver compiles its rules into `NSRegularExpression`s, i.e. ICU, whose data
/// then stays resident in the manager for good. What the tags were for is done here instead:
/// `Node.plainBool` and `Node.isPlainNull` read the few words by hand (an explicit `!!str` keeps
/// them text), and `decode` tags a document's booleans, nulls and merge keys before
/// `YAMLDecoder` reads it. (Use those, not Yams' `Node.bool`; numbers are read from the text
/// whatever the tag.)
public enum YAMLDocument {
    /// The document's root node; nil for an empty document. An alias inside a mapping key is
    /// refused first: Yams hashes every key to find duplicates, and hashing walks a key's tree
    /// once per path through its aliases (a few hundred bytes would hash for hours).
    public static func compose(_ text: String) throws -> Node? {
        try refuseAliasesInKeys(text)
        return try Yams.compose(yaml: text, .basic, .default)
    }

    public struct AliasInKey: Error, CustomStringConvertible {
        public var line: Int
        public var description: String { "line \(line): an alias inside a mapping key is refused" }
    }

    /// Composes a copy of the document in which every alias is a plain scalar of its own: cheap,
    /// and its keys show where the aliases were. Every `*` that starts a token is replaced, in
    /// quotes, comments and literal text too (never fooled by a quote it misreads); only a plain
    /// scalar, which an alias becomes, is counted.
    static func refuseAliasesInKeys(_ text: String) throws {
        let marker = Array("__micado_alias_".utf8)
        var copy: [UInt8] = []
        copy.reserveCapacity(text.utf8.count)
        var previous: UInt8 = 0x0A
        var replaced = 0
        var name = false
        for byte in text.utf8 {
            if name {
                if (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x5F
                    || byte == 0x2D
                {
                    continue
                }
                name = false
            }
            if byte == 0x2A, [0x0A, 0x0D, 0x20, 0x09, 0x5B, 0x7B, 0x2C].contains(previous) {
                replaced += 1
                copy += marker + Array(String(replaced).utf8)
                name = true
                previous = byte
                continue
            }
            copy.append(byte)
            previous = byte
        }
        guard replaced > 0, let root = try Yams.compose(yaml: String(decoding: copy, as: UTF8.self), .basic, .default) else { return }
        var stack: [(Node, Bool)] = [(root, false)]
        while let (node, inKey) = stack.popLast() {
            switch node {
            case .scalar(let scalar):
                if inKey, scalar.style == .plain, scalar.string.utf8.starts(with: marker) { throw AliasInKey(line: scalar.mark?.line ?? 0) }
            case .mapping(let mapping):
                for pair in mapping {
                    stack.append((pair.key, true))
                    stack.append((pair.value, inKey))
                }
            case .sequence(let sequence):
                for item in sequence { stack.append((item, inKey)) }
            case .alias:
                break
            }
        }
    }

    /// `T` decoded from a document (an empty one decodes as an empty mapping).
    public static func decode<T: Decodable>(_ type: T.Type, from text: String) throws -> T {
        try decode(type, from: compose(text) ?? .mapping(Node.Mapping([], tag(.implicit))))
    }

    /// `T` decoded from a composed document of at most `maximumNodes` nodes, counted through
    /// its aliases (a billion laughs is refused, not expanded).
    public static func decode<T: Decodable>(_ type: T.Type, from node: Node, maximumNodes: Int = 10_000) throws -> T {
        try requireExpansion(of: node, atMost: .init(nodes: maximumNodes, scalarBytes: 4 << 20))
        return try YAMLDecoder().decode(type, from: tagged(node, isKey: false))
    }

    /// How far a document may expand when read: nodes and bytes of text, aliases counted each
    /// time they are used.
    public struct Expansion: Sendable {
        public var nodes: Int
        public var scalarBytes: Int
        public init(nodes: Int, scalarBytes: Int) {
            self.nodes = nodes
            self.scalarBytes = scalarBytes
        }
    }

    public struct TooLarge: Error, CustomStringConvertible {
        public var line: Int
        public var limit: Expansion
        /// What was exceeded, without the line.
        public var reason: String {
            "the document expands past \(limit.nodes) nodes or \(limit.scalarBytes) bytes of text (aliases counted each time they are used)"
        }
        public var description: String { "line \(line): \(reason)" }
    }

    /// Refuses a composed document that, read through its aliases, has more than `limit`.
    /// Yams shares an anchor's node among its aliases, so composing costs what the text does;
    /// whatever reads the tree afterwards (a reader, a decoder, a validation of each value)
    /// walks an alias once per use. This walk builds nothing and stops at the first excess,
    /// so its cost is bounded by the limit, not by the expansion.
    public static func requireExpansion(of root: Node, atMost limit: Expansion) throws(TooLarge) {
        var nodes = limit.nodes
        var bytes = limit.scalarBytes
        var stack: [Node] = [root]
        while let node = stack.popLast() {
            nodes -= 1
            switch node {
            case .scalar(let scalar): bytes -= scalar.string.utf8.count
            case .mapping(let mapping):
                for pair in mapping {
                    stack.append(pair.key)
                    stack.append(pair.value)
                }
            case .sequence(let sequence): stack.append(contentsOf: sequence)
            case .alias: break
            }
            if nodes < 0 || bytes < 0 { throw TooLarge(line: node.mark?.line ?? 0, limit: limit) }
        }
    }

    /// A tag bound to the basic resolver: Yams' default arguments would build its regular expressions.
    static func tag(_ name: Tag.Name) -> Tag { Tag(name, .basic, .default) }

    static func tagged(_ node: Node, isKey: Bool) -> Node {
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
            for pair in mapping { pairs.append((tagged(pair.key, isKey: true), tagged(pair.value, isKey: false))) }
            // An implicit tag: `YAMLDecoder` builds Yams' regular expressions to report any other.
            return .mapping(Node.Mapping(pairs, tag(.implicit), mapping.style, mapping.mark, mapping.anchor))
        case .sequence(let sequence):
            var items: [Node] = []
            for item in sequence { items.append(tagged(item, isKey: false)) }
            return .sequence(Node.Sequence(items, sequence.tag, sequence.style, sequence.mark, sequence.anchor))
        case .alias:
            return node
        }
    }
}

extension Node {
    /// A plain scalar spelling a boolean as YAML 1.1 does (`true`, `yes`, `on`… in three cases).
    public var plainBool: Bool? {
        guard case .scalar(let scalar) = self, scalar.style == .plain || scalar.style == .any,
            scalar.tag.description != Tag.Name.str.rawValue
        else { return nil }
        switch scalar.string {
        case "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON": return true
        case "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF": return false
        default: return nil
        }
    }

    /// A plain `~`, `null` (in three cases) or nothing at all.
    public var isPlainNull: Bool {
        guard case .scalar(let scalar) = self, scalar.style == .plain || scalar.style == .any,
            scalar.tag.description != Tag.Name.str.rawValue
        else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }
}
