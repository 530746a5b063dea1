import MicadoCore
import Yams

/// One mapping of the clouds file (a cloud, a location or a flavour) with where it was
/// written, so that a driver reading its own keys names the line and the field in every
/// error, as the common keys do.
public struct CloudKeys {
    let reader: CloudsFile.Reader
    let map: [String: Node]
    /// `clouds.aws.locations.eu-west-1a`
    let path: String
    let node: Node

    func has(_ key: String) -> Bool { map[key] != nil }

    /// An error at the key's line (the mapping's when the key is not written).
    func fail(_ key: String, _ message: String) -> MicadoError { reader.fail(map[key] ?? node, message) }

    /// `clouds.yaml:12`: where the key was written.
    func position(_ key: String) -> String { reader.position(map[key]) }

    /// A key the driver cannot do without, with what it is for in the error.
    func require(_ key: String, _ why: String) throws(MicadoError) {
        guard has(key) else { throw reader.fail(node, "\(path).\(key) is missing (\(why))") }
    }

    func text(_ key: String, default value: String? = nil) throws(MicadoError) -> String {
        try reader.string(map, key, path, parent: node, default: value)
    }

    /// A cloud ID or name: printable, no spaces.
    func identifier(_ key: String, default value: String? = nil) throws(MicadoError) -> String {
        try reader.identifier(map, key, path, parent: node, default: value)
    }

    /// An identifier that may be left out.
    func optionalIdentifier(_ key: String) throws(MicadoError) -> String? { has(key) ? try identifier(key) : nil }

    func int(_ key: String, default value: Int? = nil, range: ClosedRange<Int>) throws(MicadoError) -> Int {
        try reader.int(map, key, path, parent: node, default: value, range: range)
    }

    /// A list of names (security groups): printable, no spaces.
    func names(_ key: String, what: String) throws(MicadoError) -> [String] { try reader.names(map, key, path, what: what) }

    /// An API's base URL, checked as every cloud API's is (`CloudHTTP.endpoint`).
    func endpoint(_ key: String, of what: String) throws(MicadoError) -> String {
        let text = try text(key)
        do { return try CloudHTTP.endpoint(text, of: what) } catch { throw fail(key, "\(path).\(key): \(error.message)") }
    }
}

/// A cloud's section of the clouds file as its driver reads it: the common keys (locations'
/// bounds, flavours' sizes and prices, applications, timings) are read, checked and typed;
/// the driver's own keys, at each level, are left for the driver (`CloudDriverKind.read`).
public struct CloudSection {
    let name: String
    let cloud: CloudKeys
    /// In the file's order of names.
    let locations: [(name: String, keys: CloudKeys)]
    let flavours: [(flavour: Flavour, keys: CloudKeys)]
    let flavourSources: [String: CloudConfiguration.FlavourSource]
}

/// What a driver may say of the common keys, for the clouds file to check them; every
/// default is that of a driver that reads nothing of its own.
extension CloudDriverKind {
    public static var cloudKeys: Set<String> { [] }
    public static var locationKeys: Set<String> { [] }
    public static var flavourKeys: Set<String> { [] }
    public static var flavoursFromCloud: Bool { false }
    public static var pricesFromCloud: Bool { false }
    public static var machineImageExample: String? { nil }
}
