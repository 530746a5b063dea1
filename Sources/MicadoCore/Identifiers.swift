/// The name of a micado container, which is also the name of its Swarm service.
///
/// MiCADO named containers `container-...`; micado keeps that pattern so that names
/// stay recognisable in `docker service ls` next to services of other owners. A service of
/// an application is `APP_SERVICE`, as `docker stack deploy` names them.
public struct ContainerName: RawRepresentable, Hashable, Sendable, Codable, Comparable, CustomStringConvertible {
    public let rawValue: String

    public init?(rawValue: String) {
        guard Self.isValid(rawValue) else { return nil }
        self.rawValue = rawValue
    }

    /// A name read back from the store, where only checked names are written (launch and
    /// adoption parse them): shown as stored, never a crash over a record.
    public init(stored rawValue: String) { self.rawValue = rawValue }

    /// Parses a user-supplied name, explaining what is wrong with a bad one.
    public static func parse(_ text: String) throws(MicadoError) -> ContainerName {
        guard let name = ContainerName(rawValue: text) else {
            throw .badRequest(
                "invalid container name '\(Text.escaped(String(text.prefix(80))))': use 'container-' followed by lowercase letters, digits and dashes (at most 63 characters), or an application's APP_SERVICE"
            )
        }
        return name
    }

    /// Whether this is an application's service (`APP_SERVICE`) rather than a launched container.
    public var isApplicationService: Bool { rawValue.contains("_") }

    static func isValid(_ text: String) -> Bool {
        let parts = text.split(separator: "_", omittingEmptySubsequences: false)
        if parts.count == 2 {
            return text.count <= 63 && (try? ApplicationName.validate(String(parts[0]))) != nil
                && (try? ApplicationName.validate(String(parts[1]))) != nil
        }
        guard text.hasPrefix("container-"), text.count > "container-".count, text.count <= 63 else { return false }
        guard !text.hasSuffix("-") else { return false }
        return text.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2d }
    }

    public var description: String { rawValue }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let name = ContainerName(rawValue: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "invalid container name '\(text)'"))
        }
        self = name
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
}

/// A client name (`launch -n`): who the container runs for. Part of generated names.
public enum ClientName {
    public static func validate(_ text: String) throws(MicadoError) {
        let ok =
            !text.isEmpty && text.count <= 40
            && text.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2d }
            && !text.hasPrefix("-") && !text.hasSuffix("-")
        guard ok else {
            throw .badRequest("invalid client name '\(text)': use 1 to 40 lowercase letters, digits and inner dashes")
        }
    }
}

/// Where a container may run: the value of the node label `micado.location`.
public enum LocationName {
    public static func validate(_ text: String) throws(MicadoError) {
        let ok =
            !text.isEmpty && text.count <= 63
            && text.utf8.allSatisfy {
                ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2d || $0 == 0x5f
                    || $0 == 0x2e
            }
        guard ok else {
            throw .badRequest("invalid location '\(text)': use letters, digits, '.', '_' and '-'")
        }
    }
}

/// Addresses as users write them.
public enum HostAddress {
    /// Four decimal octets (`10.0.0.2`), nothing else.
    public static func isIPv4(_ text: String) -> Bool {
        let octets = text.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets.allSatisfy { !$0.isEmpty && $0.count <= 3 && $0.allSatisfy(\.isASCII) && UInt8($0) != nil }
    }
}
