/// A size of instance a cloud offers, with what it costs.
public struct Flavour: Codable, Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public var cpus: Int
    public var memoryMiB: Int
    public var pricePerHour: Double

    public init(name: String, cpus: Int, memoryMiB: Int, pricePerHour: Double) {
        self.name = name
        self.cpus = cpus
        self.memoryMiB = memoryMiB
        self.pricePerHour = pricePerHour
    }

    public var description: String { "\(name) (\(memoryMiB) MiB, \(pricePerHour)/h)" }
}

/// How many instances a location may have, and spare memory to keep ready.
public struct LocationBounds: Codable, Sendable, Hashable {
    public var min: Int
    public var max: Int
    /// MiB of free reservable memory to keep in the location, so a launch need not wait for a boot.
    public var headroomMiB: Int

    public init(min: Int = 0, max: Int = 3, headroomMiB: Int = 0) {
        self.min = min
        self.max = max
        self.headroomMiB = headroomMiB
    }
}
