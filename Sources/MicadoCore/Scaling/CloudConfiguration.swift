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
        /// An instance whose tasks fit elsewhere is drained (its tasks move) only while it uses less
        /// than this share of its memory: 100 consolidates any such instance, 0 none.
        public var consolidateBelowPercent: Int = 100
        public init() {}
    }

    /// The `local` driver's network: a bridge micado owns and the addresses it hands out.
    public struct LocalNetwork: CloudDriverSettings, Equatable {
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

    /// Where a flavour was written and what it left for the cloud to say, so checks made
    /// against the cloud later (`DescribeInstanceTypes`) name the line and field too.
    public struct FlavourSource: Sendable, Equatable {
        /// `clouds.yaml:9`
        public var position: String
        /// `clouds.aws.flavours[0]`
        public var path: String
        public var memoryWritten: Bool
        public var cpusWritten: Bool
        /// CloudSigma's flavours are priced from its price list when the file names no price.
        public var priceWritten: Bool
        public init(position: String, path: String, memoryWritten: Bool, cpusWritten: Bool, priceWritten: Bool = true) {
            self.position = position
            self.path = path
            self.memoryWritten = memoryWritten
            self.cpusWritten = cpusWritten
            self.priceWritten = priceWritten
        }
    }

    public var name: String
    public var driver: String
    public var locations: [String: LocationBounds]
    public var flavours: [Flavour]
    /// Application name (`start -a`) → machine image of this cloud.
    public var applications: [String: String]
    public var timings: Timings
    /// What only its driver reads (a region, subnets, an endpoint), decoded and typed by the
    /// driver itself (`CloudDriverKind.read`): Core knows none of them but the local network.
    public var settings: (any CloudDriverSettings)?
    /// The local driver's settings: a bridge the manager reaches its instances on.
    public var network: LocalNetwork? { settings as? LocalNetwork }

    public init(
        name: String,
        driver: String,
        locations: [String: LocationBounds],
        flavours: [Flavour],
        applications: [String: String],
        timings: Timings,
        network: LocalNetwork? = nil,
        settings: (any CloudDriverSettings)? = nil
    ) {
        self.name = name
        self.driver = driver
        self.locations = locations
        self.flavours = flavours
        self.applications = applications
        self.timings = timings
        self.settings = settings ?? network
    }

    /// The machine image of the first application by name: for records made before the
    /// record kept its own.
    public var defaultMachineImage: String { applications.keys.sorted().first.flatMap { applications[$0] } ?? "default" }

    public func flavour(named name: String) -> Flavour? { flavours.first { $0.name.lowercased() == name.lowercased() } }

    /// The driver's settings as its own type, or nil.
    public func settings<Settings: CloudDriverSettings>(as type: Settings.Type) -> Settings? { settings as? Settings }

    public static func == (a: Self, b: Self) -> Bool {
        a.name == b.name && a.driver == b.driver && a.locations == b.locations && a.flavours == b.flavours
            && a.applications == b.applications && a.timings == b.timings
            && (a.settings.map { settings in b.settings.map { settings.isSame(as: $0) } ?? false } ?? (b.settings == nil))
    }
}

/// A driver's own part of a cloud's configuration. Each driver's module defines its type.
public protocol CloudDriverSettings: Sendable {
    func isSame(as other: any CloudDriverSettings) -> Bool
}

extension CloudDriverSettings where Self: Equatable {
    public func isSame(as other: any CloudDriverSettings) -> Bool { (other as? Self) == self }
}
