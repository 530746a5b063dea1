/// One cloud of the clouds file: its driver, where it can start instances, what sizes
/// and what machine software it offers, and how fast micado may scale it.
public struct CloudConfiguration: Sendable, Equatable {
    public struct Timings: Sendable, Equatable {
        /// A new or idle instance is not removed before this.
        public var gracePeriodSeconds: Int = 60
        /// How long a boot may take before the instance is reported and replaced.
        public var bootTimeoutSeconds: Int = 120
        /// How long a drain may take before it is reported (and retried).
        public var drainTimeoutSeconds: Int = 60
        public init() {}
    }

    /// The `local` driver's network: a bridge micado owns and the addresses it hands out.
    public struct LocalNetwork: Sendable, Equatable {
        public var bridge: String
        /// The bridge's own address with prefix, e.g. 10.213.0.1/24.
        public var bridgeCIDR: String
        public var firstAddress: String
        public var lastAddress: String
        /// Where the swarm manager listens for joins (the manager engine's address on the bridge).
        public var managerAddress: String
        public init(bridge: String, bridgeCIDR: String, firstAddress: String, lastAddress: String, managerAddress: String) {
            self.bridge = bridge
            self.bridgeCIDR = bridgeCIDR
            self.firstAddress = firstAddress
            self.lastAddress = lastAddress
            self.managerAddress = managerAddress
        }
    }

    public var name: String
    public var driver: String
    public var locations: [String: LocationBounds]
    public var flavours: [Flavour]
    /// Application name (`start -a`) → machine image of this cloud.
    public var applications: [String: String]
    public var timings: Timings
    public var network: LocalNetwork?

    public init(
        name: String, driver: String, locations: [String: LocationBounds], flavours: [Flavour], applications: [String: String],
        timings: Timings, network: LocalNetwork?
    ) {
        self.name = name
        self.driver = driver
        self.locations = locations
        self.flavours = flavours
        self.applications = applications
        self.timings = timings
        self.network = network
    }

    /// The machine image of the first application by name: for records made before the
    /// record kept its own.
    public var defaultMachineImage: String { applications.keys.sorted().first.flatMap { applications[$0] } ?? "default" }

    public func flavour(named name: String) -> Flavour? { flavours.first { $0.name.lowercased() == name.lowercased() } }
}
