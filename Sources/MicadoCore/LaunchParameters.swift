/// `-e KEY=VALUE`: one environment variable for a container.
public struct EnvironmentVariable: Hashable, Sendable, Codable, CustomStringConvertible {
    public var key: String
    public var value: String

    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }

    /// Parses `KEY=VALUE`; the value may be empty and may contain `=`.
    public static func parse(_ text: String) throws(MicadoError) -> EnvironmentVariable {
        guard let eq = text.firstIndex(of: "=") else {
            throw .badRequest("invalid environment variable '\(text)': write it as KEY=VALUE")
        }
        let key = String(text[..<eq])
        try validateKey(key, in: text)
        return EnvironmentVariable(key: key, value: String(text[text.index(after: eq)...]))
    }

    public static func validateKey(_ key: String, in text: String) throws(MicadoError) {
        guard let first = key.utf8.first, !(first >= 0x30 && first <= 0x39),
            key.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5f })
        else {
            throw .badRequest(
                "invalid environment variable '\(text)': the name must be letters, digits and '_', not starting with a digit"
            )
        }
    }

    public var description: String { "\(key)=\(value)" }
}

/// `-p PORT` or `-p PUBLISHED:TARGET`: a port published on the node in host mode.
///
/// MiCADO's `-p` chose "a specific port of the instance"; the container listens on the
/// same port unless a target is given after a colon.
public struct PortMapping: Hashable, Sendable, Codable, CustomStringConvertible {
    public var published: Int
    public var target: Int

    public init(published: Int, target: Int) {
        self.published = published
        self.target = target
    }

    public static func parse(_ text: String) throws(MicadoError) -> PortMapping {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 1 || parts.count == 2 else {
            throw .badRequest("invalid port '\(text)': write PORT or PUBLISHED:TARGET, e.g. 8080 or 8080:80")
        }
        let published = try port(String(parts[0]), in: text)
        let target = parts.count == 2 ? try port(String(parts[1]), in: text) : published
        return PortMapping(published: published, target: target)
    }

    static func port(_ part: String, in text: String) throws(MicadoError) -> Int {
        guard let value = Int(part) else {
            throw .badRequest("invalid port '\(text)': '\(part)' is not a number")
        }
        guard (1...65535).contains(value) else {
            throw .badRequest("invalid port '\(text)': \(value) is out of range 1-65535")
        }
        return value
    }

    public func validate() throws(MicadoError) {
        _ = try Self.port(String(published), in: description)
        _ = try Self.port(String(target), in: description)
    }

    public var description: String { published == target ? "\(published)" : "\(published):\(target)" }
}

/// A memory size in MiB, from `-m 256`, `-m 256m`, `-m 1g` or `-m 1.5GiB`.
public enum MemorySize {
    public static func parseMiB(_ text: String) throws(MicadoError) -> Int {
        let lower = text.lowercased().trimmingSpaces()
        var digits = lower
        var factor = 1.0
        for (suffix, f) in [("gib", 1024.0), ("mib", 1.0), ("gb", 1024.0), ("mb", 1.0), ("g", 1024.0), ("m", 1.0)] {
            if lower.hasSuffix(suffix) {
                digits = String(lower.dropLast(suffix.count))
                factor = f
                break
            }
        }
        guard let value = Double(digits), value.isFinite, value > 0 else {
            throw .badRequest("invalid memory '\(Text.escaped(text))': write a size such as 256m or 1g")
        }
        // Compared as a Double, converted only once in range: 1e19 would trap in Int(_:).
        let mib = (value * factor).rounded(.up)
        guard mib >= 6 else {
            throw .badRequest("invalid memory '\(Text.escaped(text))': Docker needs at least 6 MiB per container")
        }
        guard mib <= 1_048_576 else {
            throw .badRequest("invalid memory '\(Text.escaped(text))': more than 1 TiB")
        }
        return Int(mib)
    }
}

/// A DNS name for `launch -d`, checked by the rules of RFC 1123.
public enum DomainName {
    public static func validate(_ text: String) throws(MicadoError) {
        let labels = text.split(separator: ".", omittingEmptySubsequences: false)
        let ok =
            !text.isEmpty && text.count <= 253
            && labels.allSatisfy { label in
                !label.isEmpty && label.count <= 63 && !label.hasPrefix("-") && !label.hasSuffix("-")
                    && label.utf8.allSatisfy {
                        ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2d
                    }
            }
        guard ok else {
            throw .badRequest("invalid domain '\(text)': use DNS labels of letters, digits and inner dashes, e.g. app.example.org")
        }
    }
}

/// An image reference as the engine takes it: Docker's reference grammar (an optional
/// registry host, lowercase path components, a tag, a digest). Anything else the engine
/// would read differently (`x/../busybox` as `busybox`) or Swarm would refuse later.
public struct ImageReference: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String

    public init?(rawValue: String) {
        guard (try? Self.validate(rawValue)) != nil else { return nil }
        self.rawValue = rawValue
    }

    /// A reference read back from the store or an engine, where only checked ones are written.
    public init(stored rawValue: String) { self.rawValue = rawValue }

    public var description: String { rawValue }

    /// Read as written: views carry what an engine runs, and an adopted service may run an
    /// image by its ID; a listing is never refused over one. Requests are checked by `validate`.
    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }

    /// The grammar as a regular expression; openapi.yaml gives the same pattern.
    public static let pattern =
        #"^(?:(?:localhost(?::[0-9]+)?|[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+(?::[0-9]+)?|[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?:[0-9]+)/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64}|@sha384:[a-f0-9]{96}|@sha512:[a-f0-9]{128})?$"#

    public static func validate(_ text: String) throws(MicadoError) {
        let matches = text.count <= 255 && ((try? Regex(pattern).wholeMatch(in: text)) ?? nil) != nil
        guard matches else {
            throw .badRequest(
                "invalid image '\(Text.escaped(String(text.prefix(255))))': write an image name such as busybox:local or container-web"
            )
        }
    }

    /// `sha256:` and 64 hex digits (or sha384, sha512), as a registry names content.
    public static func isDigest(_ text: String) -> Bool {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let length = ["sha256": 64, "sha384": 96, "sha512": 128][String(parts[0])] else { return false }
        return parts[1].count == length && parts[1].allSatisfy { $0.isHexDigit && !$0.isUppercase }
    }

    /// The registry a reference names (`ghcr.io`, `10.213.0.1:5000`), or nil for Docker Hub.
    /// As Docker reads it: a first part with a dot or a colon, or `localhost`, is a registry.
    public static func registry(of reference: String) -> String? {
        guard let slash = reference.firstIndex(of: "/") else { return nil }
        let first = reference[..<slash]
        guard first.contains(".") || first.contains(":") || first == "localhost" else { return nil }
        // Hosts are case-insensitive; only these two are Docker Hub's names, as Docker reads them.
        return ["docker.io", "index.docker.io"].contains(first.lowercased()) ? nil : String(first)
    }

    /// A Docker Hub reference as its repository path with its tag or digest: `nginx:1.27` →
    /// `library/nginx:1.27`, `docker.io/bitnami/redis:7` → `bitnami/redis:7`; nil for another registry.
    public static func dockerHubPath(of reference: String) -> String? {
        guard registry(of: reference) == nil else { return nil }
        var path = Substring(reference)
        // One domain at most: `docker.io/index.docker.io/x` is the repository `index.docker.io/x`.
        if let slash = path.firstIndex(of: "/"), ["docker.io", "index.docker.io"].contains(path[..<slash].lowercased()) {
            path = path[path.index(after: slash)...]
        }
        let name = path.split(separator: "@")[0].split(separator: ":")[0]
        return name.contains("/") ? String(path) : "library/" + path
    }

    /// `name` → `name:latest`; a reference with a tag or digest is kept.
    public static func normalized(_ text: String) -> String {
        if text.contains("@") { return text }
        let lastSlash = text.lastIndex(of: "/").map { text.index(after: $0) } ?? text.startIndex
        return text[lastSlash...].contains(":") ? text : text + ":latest"
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}
