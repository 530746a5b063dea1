import Foundation
import MicadoCore

/// A build context's `.dockerignore`, read as Docker reads it: one pattern per line (`#`
/// comments, blank lines skipped), Go's `filepath.Match` syntax plus `**` for any number of
/// folders, a leading `/` ignored, `!` for an exception; the last pattern that matches a path
/// decides, and a pattern that matches a folder excludes what is inside it.
public struct DockerIgnore: Sendable {
    struct Pattern {
        let regex: NSRegularExpression
        let exception: Bool
    }
    let patterns: [Pattern]

    /// Whether any pattern is an exception (then an excluded folder is still walked).
    public var hasExceptions: Bool { patterns.contains(where: \.exception) }

    public init(_ text: String) throws(MicadoError) {
        var patterns: [Pattern] = []
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasSuffix("\r") { line.removeLast() }
            if line.isEmpty || line.hasPrefix("#") { continue }
            let exception = line.hasPrefix("!")
            if exception { line = String(line.dropFirst()).trimmingCharacters(in: .whitespaces) }
            let cleaned = Self.clean(line)
            if cleaned.isEmpty { continue }
            guard patterns.count < 1000 else { throw .badRequest(".dockerignore has more than 1000 patterns") }
            guard let regex = try? NSRegularExpression(pattern: Self.regex(cleaned)) else {
                throw .badRequest(".dockerignore:\(index + 1): not a pattern")
            }
            patterns.append(Pattern(regex: regex, exception: exception))
        }
        self.patterns = patterns
    }

    /// Whether `path` (relative to the context, `/`-separated) is left out of the context.
    public func excludes(_ path: String) -> Bool {
        var excluded = false
        // The path and each folder above it: a pattern that matches a folder covers its content.
        let parts = path.split(separator: "/").map(String.init)
        let candidates = parts.indices.map { parts[...$0].joined(separator: "/") }
        for pattern in patterns {
            let matches = candidates.contains { candidate in
                pattern.regex.firstMatch(in: candidate, range: NSRange(candidate.startIndex..., in: candidate)) != nil
            }
            if matches { excluded = !pattern.exception }
        }
        return excluded
    }

    /// `filepath.Clean` of a pattern, without its leading `/`.
    static func clean(_ pattern: String) -> String {
        var parts: [String] = []
        for part in pattern.split(separator: "/") {
            switch part {
            case ".": continue
            case "..": if !parts.isEmpty { parts.removeLast() }
            default: parts.append(String(part))
            }
        }
        return parts.joined(separator: "/")
    }

    /// The pattern as an anchored regular expression (as moby's patternmatcher makes it).
    static func regex(_ pattern: String) -> String {
        var out = "^"
        let chars = Array(pattern)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            switch c {
            case "*":
                if i + 1 < chars.count, chars[i + 1] == "*" {
                    i += 1
                    // `**/` is any number of folders, none included; `**` at the end, anything.
                    if i + 1 < chars.count, chars[i + 1] == "/" {
                        i += 1
                        out += "(.*/)?"
                    } else {
                        out += ".*"
                    }
                } else {
                    out += "[^/]*"
                }
            case "?":
                out += "[^/]"
            case "[":
                // A class, as written (negation `^` or `!`), closed by `]`; unclosed: a literal `[`.
                if let close = chars[(i + 1)...].firstIndex(of: "]") {
                    var body = String(chars[(i + 1)..<close])
                    if body.hasPrefix("!") { body = "^" + body.dropFirst() }
                    out += "[" + body.replacingOccurrences(of: "\\", with: "\\\\") + "]"
                    i = close
                } else {
                    out += "\\["
                }
            case "\\":
                if i + 1 < chars.count {
                    i += 1
                    out += NSRegularExpression.escapedPattern(for: String(chars[i]))
                }
            default:
                out += NSRegularExpression.escapedPattern(for: String(c))
            }
            i += 1
        }
        return out + "$"
    }
}
