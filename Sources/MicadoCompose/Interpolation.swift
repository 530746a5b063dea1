import Foundation
import MicadoCore

/// Compose's interpolation of values, as the specification defines it: `$VAR`, `${VAR}`,
/// `${VAR:-default}` (unset or empty), `${VAR-default}` (unset), `${VAR:?error}`,
/// `${VAR?error}`, `${VAR:+replacement}`, `${VAR+replacement}`, and `$$` for a dollar sign.
/// A default, error or replacement may itself hold interpolations. An unset variable with no
/// default is an empty string and a warning, as `docker compose` says it.
public enum ComposeInterpolation {
    public struct Failure: Error, Equatable {
        public var message: String
        /// The values would make the text larger than the limit (rather than it being malformed).
        public var tooLarge = false
    }

    /// What `text` becomes, and the variables it used that are not set.
    /// `limit`: the most bytes the variables' values may add (a file of many `${BIG}` is refused,
    /// not expanded).
    public static func interpolate(
        _ text: String,
        limit: Int = 4 << 20,
        _ lookup: @escaping (String) -> String?
    ) throws(Failure) -> (value: String, unset: [String]) {
        guard text.contains("$") else { return (text, []) }
        var parser = Parser(scalars: Array(text.unicodeScalars), lookup: lookup)
        parser.budget = limit
        let value = try parser.expand(until: nil, depth: 0)
        return (value, parser.unset)
    }

    /// The names `text` refers to (its defaults' too), to send only those variables' values.
    public static func names(in text: String) -> Set<String> {
        guard text.contains("$") else { return [] }
        var seen = Set<String>()
        var parser = Parser(scalars: Array(text.unicodeScalars)) { name in
            seen.insert(name)
            return nil
        }
        parser.evaluateAll = true
        _ = try? parser.expand(until: nil, depth: 0)
        return seen
    }

    /// A variable's name: a letter or `_`, then letters, digits and `_`.
    public static func isName(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, isNameStart(first) else { return false }
        return text.unicodeScalars.allSatisfy(isNameCharacter)
    }

    static func isNameStart(_ c: Unicode.Scalar) -> Bool { c == "_" || (c.isASCII && c.properties.isAlphabetic) }
    static func isNameCharacter(_ c: Unicode.Scalar) -> Bool { isNameStart(c) || ("0"..."9").contains(c) }

    struct Parser {
        let scalars: [Unicode.Scalar]
        let lookup: (String) -> String?
        var position = 0
        var unset: [String] = []
        /// Walks every branch (defaults included) rather than only the taken one: for `names`.
        var evaluateAll = false
        /// Bytes the variables' values may still add.
        var budget = Int.max

        init(scalars: [Unicode.Scalar], lookup: @escaping (String) -> String?) {
            self.scalars = scalars
            self.lookup = lookup
        }

        /// Expands up to the `}` that closes the current braces (`until`), or the end.
        mutating func expand(until closing: Unicode.Scalar?, depth: Int) throws(Failure) -> String {
            guard depth <= 16 else { throw Failure(message: "interpolation nested more than 16 levels deep") }
            var out = String.UnicodeScalarView()
            while position < scalars.count {
                let c = scalars[position]
                if let closing, c == closing { return String(out) }
                guard c == "$" else {
                    out.append(c)
                    position += 1
                    continue
                }
                position += 1
                guard position < scalars.count else { throw Failure(message: "a lone '$' at the end (write $$ for a dollar sign)") }
                let next = scalars[position]
                if next == "$" {
                    out.append("$")
                    position += 1
                } else if next == "{" {
                    position += 1
                    try spend(try braced(depth: depth), into: &out)
                } else if isNameStart(next) {
                    let name = readName()
                    try spend(value(of: name), into: &out)
                } else {
                    throw Failure(message: "'$\(Text.escaped(String(next)))' is not an interpolation (write $$ for a dollar sign)")
                }
            }
            if closing != nil { throw Failure(message: "a '${' is never closed with '}'") }
            return String(out)
        }

        mutating func spend(_ value: String, into out: inout String.UnicodeScalarView) throws(Failure) {
            budget -= value.utf8.count
            guard budget >= 0 else { throw Failure(message: "the variables' values make the file too large", tooLarge: true) }
            out.append(contentsOf: value.unicodeScalars)
        }

        mutating func readName() -> String {
            var name = String.UnicodeScalarView()
            while position < scalars.count, isNameCharacter(scalars[position]) {
                name.append(scalars[position])
                position += 1
            }
            return String(name)
        }

        mutating func value(of name: String) -> String {
            if let value = lookup(name) { return value }
            if !unset.contains(name) { unset.append(name) }
            return ""
        }

        /// After `${`: NAME, then `}` or an operator and its word, then `}`.
        mutating func braced(depth: Int) throws(Failure) -> String {
            let name = readName()
            guard !name.isEmpty else { throw Failure(message: "'${' must be followed by a variable's name and '}'") }
            guard position < scalars.count else { throw Failure(message: "a '${' is never closed with '}'") }
            let set = lookup(name)
            if scalars[position] == "}" {
                position += 1
                return value(of: name)
            }
            var colon = false
            if scalars[position] == ":" {
                colon = true
                position += 1
            }
            guard position < scalars.count, ["-", "?", "+"].contains(scalars[position]) else {
                throw Failure(message: "'${\(Text.escaped(name))' must be followed by '}', ':-', '-', ':?', '?', ':+' or '+'")
            }
            let operation = scalars[position]
            position += 1
            let present = colon ? !(set ?? "").isEmpty : set != nil
            let taken: Bool
            switch operation {
            case "-": taken = !present
            case "+": taken = present
            default: taken = !present
            }
            // A branch not taken is still parsed (it must be well formed) but has no effect.
            let savedUnset = unset
            let word = try expand(until: "}", depth: depth + 1)
            position += 1
            if !taken && !evaluateAll { unset = savedUnset }
            switch operation {
            case "-": return taken ? word : set ?? ""
            case "+": return taken ? word : ""
            default:
                if taken && !evaluateAll {
                    let reason = word.isEmpty ? "it is required" : word
                    throw Failure(message: "\(name) is not set\(colon ? " or empty" : ""): \(Text.escaped(reason))")
                }
                return set ?? ""
            }
        }
    }
}

/// A `.env` file as Compose reads it: `KEY=VALUE` lines; `#` comments and blank lines;
/// an optional `export `; values bare (trimmed, ` #` starts a comment), in single quotes
/// (as written) or in double quotes (`\n`, `\t`, `\"`, `\\` escaped).
public enum EnvironmentFile {
    public static let maximumBytes = 256 << 10

    public static func parse(_ text: String, file: String) throws(MicadoError) -> [String: String] {
        Dictionary(try parsePairs(text, file: file), uniquingKeysWith: { _, later in later })
    }

    /// `KEY=VALUE` lines as written, `#` comments and blank lines aside: `env_file`'s `format: raw`.
    public static func parseRaw(_ text: String, file: String) throws(MicadoError) -> [(String, String)] {
        guard text.utf8.count <= maximumBytes else {
            throw .init(.tooLarge, "\(file) has \(text.utf8.count) bytes; an environment file may have at most \(maximumBytes)")
        }
        var pairs: [(String, String)] = []
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.hasSuffix("\r") ? raw.dropLast() : raw
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let eq = line.firstIndex(of: "="), ComposeInterpolation.isName(String(line[..<eq])) else {
                throw .badRequest("\(file):\(index + 1): must be KEY=VALUE")
            }
            pairs.append((String(line[..<eq]), String(line[line.index(after: eq)...])))
        }
        return pairs
    }

    /// The file's variables in the order written (a later one of the same name wins).
    public static func parsePairs(_ text: String, file: String) throws(MicadoError) -> [(String, String)] {
        guard text.utf8.count <= maximumBytes else {
            throw .init(.tooLarge, "\(file) has \(text.utf8.count) bytes; an environment file may have at most \(maximumBytes)")
        }
        var values: [(String, String)] = []
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = Substring(raw.hasSuffix("\r") ? raw.dropLast() : raw)
            line = line.drop { $0 == " " || $0 == "\t" }
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("export ") { line = line.dropFirst("export ".count).drop { $0 == " " } }
            guard let eq = line.firstIndex(of: "=") else {
                throw .badRequest("\(file):\(index + 1): must be KEY=VALUE")
            }
            let key = line[..<eq].trimmingCharacters(in: [" ", "\t"])
            guard ComposeInterpolation.isName(key) else {
                throw .badRequest("\(file):\(index + 1): '\(Text.escaped(String(key.prefix(64))))' is not a variable name")
            }
            let rest = line[line.index(after: eq)...].drop { $0 == " " || $0 == "\t" }
            let value: String
            if rest.hasPrefix("'") {
                guard let end = rest.dropFirst().firstIndex(of: "'") else { throw .badRequest("\(file):\(index + 1): an unclosed quote") }
                value = String(rest[rest.index(after: rest.startIndex)..<end])
            } else if rest.hasPrefix("\"") {
                var out = ""
                var escaped = false
                var closed = false
                for c in rest.dropFirst() {
                    if escaped {
                        switch c {
                        case "n": out.append("\n")
                        case "t": out.append("\t")
                        case "r": out.append("\r")
                        default: out.append(c)
                        }
                        escaped = false
                    } else if c == "\\" {
                        escaped = true
                    } else if c == "\"" {
                        closed = true
                        break
                    } else {
                        out.append(c)
                    }
                }
                guard closed else { throw .badRequest("\(file):\(index + 1): an unclosed quote") }
                value = out
            } else {
                let bare = rest.range(of: " #").map { rest[..<$0.lowerBound] } ?? rest
                value = bare.trimmingCharacters(in: [" ", "\t"])
            }
            values.append((key, value))
        }
        return values
    }
}
