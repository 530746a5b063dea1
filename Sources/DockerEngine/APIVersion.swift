/// A Docker Engine API version such as `1.41`, compared numerically.
public struct APIVersion: Comparable, Sendable, Hashable, CustomStringConvertible {
    public var major: Int
    public var minor: Int

    public init(_ major: Int, _ minor: Int) {
        self.major = major
        self.minor = minor
    }

    public init?(_ text: String) {
        let parts = text.split(separator: ".")
        guard parts.count == 2, let major = Int(parts[0]), let minor = Int(parts[1]) else { return nil }
        self.init(major, minor)
    }

    public static func < (a: Self, b: Self) -> Bool { (a.major, a.minor) < (b.major, b.minor) }
    public var description: String { "\(major).\(minor)" }

    /// Debian's docker.io 20.10 speaks 1.41: the oldest engine micado supports.
    public static let oldestSupported = APIVersion(1, 41)
    /// The newest API whose fields micado knows; newer engines are spoken to in this version.
    public static let newestKnown = APIVersion(1, 47)

    /// The version to speak with an engine that reports `server` (its newest) and `serverMinimum`.
    public static func negotiate(server: APIVersion, serverMinimum: APIVersion?) -> APIVersion? {
        let chosen = min(server, newestKnown)
        guard chosen >= oldestSupported else { return nil }
        if let serverMinimum, chosen < serverMinimum { return nil }
        return chosen
    }
}
