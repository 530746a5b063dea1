/// A small seeded generator (SplitMix64), so random inputs of benchmarks and property
/// tests are reproducible from their seed.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension Duration {
    /// The duration in seconds, as a Double.
    public var inSeconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

/// `micado clouds`: one cloud as the API shows it.
public struct CloudView: Codable, Sendable {
    public struct Location: Codable, Sendable {
        public var name: String
        public var min: Int
        public var max: Int
        public var headroomMiB: Int
    }
    public var name: String
    public var driver: String
    public var locations: [Location]
    public var flavours: [Flavour]
    public var applications: [String: String]
    public var gracePeriodSeconds: Int

    public init(_ c: CloudConfiguration) {
        name = c.name
        driver = c.driver
        locations = c.locations.sorted { $0.key < $1.key }.map {
            Location(name: $0.key, min: $0.value.min, max: $0.value.max, headroomMiB: $0.value.headroomMiB)
        }
        flavours = c.flavours
        applications = c.applications
        gracePeriodSeconds = c.timings.gracePeriodSeconds
    }
}
