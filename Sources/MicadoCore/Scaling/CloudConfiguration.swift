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

    /// The `ec2` driver's settings: region, endpoint, a subnet per location, and the rest
    /// of what RunInstances needs besides the flavour and the image.
    public struct EC2Settings: Sendable, Equatable {
        /// Which of an instance's addresses the manager reaches its engine at.
        public enum AddressKind: String, Sendable, CaseIterable { case `private`, `public` }

        public typealias FlavourSource = CloudConfiguration.FlavourSource

        public var region: String
        /// An EC2-compatible API (`http://127.0.0.1:PORT` for moto); nil: `https://ec2.REGION.amazonaws.com`.
        public var endpoint: String?
        /// Location (availability zone) → the subnet its instances start in.
        public var subnets: [String: String]
        /// Security group IDs every instance gets.
        public var securityGroups: [String]
        public var keyName: String?
        public var address: AddressKind
        /// The profile of `~/.aws/credentials` (else `AWS_PROFILE`, else `default`).
        public var profile: String?
        /// Flavour name → where it was written.
        public var flavourSources: [String: FlavourSource]
        /// Location → where its subnet was written (`clouds.yaml:7`).
        public var subnetPositions: [String: String]

        public init(
            region: String,
            endpoint: String? = nil,
            subnets: [String: String],
            securityGroups: [String] = [],
            keyName: String? = nil,
            address: AddressKind = .private,
            profile: String? = nil,
            flavourSources: [String: FlavourSource] = [:],
            subnetPositions: [String: String] = [:]
        ) {
            self.region = region
            self.endpoint = endpoint
            self.subnets = subnets
            self.securityGroups = securityGroups
            self.keyName = keyName
            self.address = address
            self.profile = profile
            self.flavourSources = flavourSources
            self.subnetPositions = subnetPositions
        }
    }

    /// The `openstack` driver's settings: Keystone, and a network per location.
    public struct OpenStackSettings: Sendable, Equatable {
        /// Keystone v3, e.g. `https://keystone.example.org:5000/v3`.
        public var authURL: String
        /// The catalog's region for the compute endpoint (any when nil).
        public var region: String?
        /// Location → the network (UUID) its servers get an address on.
        public var networks: [String: String]
        /// Location → the availability zone its servers start in (Nova's default when absent).
        public var zones: [String: String]
        public var securityGroups: [String]
        public var keyName: String?
        /// The section of micado's credentials file (else `default`), when `OS_*` is not set.
        public var profile: String?
        /// Flavour name → where it was written.
        public var flavourSources: [String: FlavourSource]

        public init(
            authURL: String,
            region: String? = nil,
            networks: [String: String],
            zones: [String: String] = [:],
            securityGroups: [String] = [],
            keyName: String? = nil,
            profile: String? = nil,
            flavourSources: [String: FlavourSource] = [:]
        ) {
            self.authURL = authURL
            self.region = region
            self.networks = networks
            self.zones = zones
            self.securityGroups = securityGroups
            self.keyName = keyName
            self.profile = profile
            self.flavourSources = flavourSources
        }
    }

    /// The `cloudsigma` driver's settings: its API (one per location unless `endpoint` says),
    /// the currency its prices are read in, and each flavour's CPU in MHz.
    public struct CloudSigmaSettings: Sendable, Equatable {
        /// One API for every location (`https://zrh.cloudsigma.com/api/2.0`, or a test's);
        /// nil: `https://{location}.cloudsigma.com/api/2.0` per location.
        public var endpoint: String?
        public var currency: String
        /// The section of micado's credentials file (else `default`), when the environment has no login.
        public var profile: String?
        /// Flavour name → its CPU in MHz (CloudSigma sells CPU by the MHz).
        public var cpuMHz: [String: Int]
        public var flavourSources: [String: FlavourSource]

        public init(
            endpoint: String? = nil,
            currency: String = "USD",
            profile: String? = nil,
            cpuMHz: [String: Int],
            flavourSources: [String: FlavourSource] = [:]
        ) {
            self.endpoint = endpoint
            self.currency = currency
            self.profile = profile
            self.cpuMHz = cpuMHz
            self.flavourSources = flavourSources
        }

        /// The API of a location.
        public func endpoint(of location: String) -> String { endpoint ?? "https://\(location).cloudsigma.com/api/2.0" }
    }

    /// The `cloudbroker` driver's settings: the platform's endpoint, a deployment per location,
    /// and what each instance is created with.
    public struct CloudBrokerSettings: Sendable, Equatable {
        /// `https://cola-prototype.cloudbroker.com`.
        public var endpoint: String
        /// Location → the deployment (`deployment_id`) its instances start from.
        public var deployments: [String: String]
        public var keyPair: String?
        /// The platform's name of a flavour's instance type.
        public func instanceType(of flavour: String) -> String { instanceTypes[flavour] ?? flavour }
        /// `opened_port`: the ports the platform opens, comma-separated.
        public var openedPorts: String
        /// Which address the manager reaches the engine at: `internal-ip-address` or `external-ip-address`.
        public var address: EC2Settings.AddressKind
        public var profile: String?
        /// Flavour name → the platform's instance type name (`Micro - 64 bit`), when it differs.
        public var instanceTypes: [String: String]
        public var flavourSources: [String: FlavourSource]

        public init(
            endpoint: String,
            deployments: [String: String],
            keyPair: String? = nil,
            openedPorts: String = "2376,2377,7946,4789",
            address: EC2Settings.AddressKind = .private,
            profile: String? = nil,
            instanceTypes: [String: String] = [:],
            flavourSources: [String: FlavourSource] = [:]
        ) {
            self.instanceTypes = instanceTypes
            self.endpoint = endpoint
            self.deployments = deployments
            self.keyPair = keyPair
            self.openedPorts = openedPorts
            self.address = address
            self.profile = profile
            self.flavourSources = flavourSources
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
    public var ec2: EC2Settings?
    public var openstack: OpenStackSettings?
    public var cloudsigma: CloudSigmaSettings?
    public var cloudbroker: CloudBrokerSettings?

    public init(
        name: String,
        driver: String,
        locations: [String: LocationBounds],
        flavours: [Flavour],
        applications: [String: String],
        timings: Timings,
        network: LocalNetwork?,
        ec2: EC2Settings? = nil,
        openstack: OpenStackSettings? = nil,
        cloudsigma: CloudSigmaSettings? = nil,
        cloudbroker: CloudBrokerSettings? = nil
    ) {
        self.name = name
        self.driver = driver
        self.locations = locations
        self.flavours = flavours
        self.applications = applications
        self.timings = timings
        self.network = network
        self.ec2 = ec2
        self.openstack = openstack
        self.cloudsigma = cloudsigma
        self.cloudbroker = cloudbroker
    }

    /// The machine image of the first application by name: for records made before the
    /// record kept its own.
    public var defaultMachineImage: String { applications.keys.sorted().first.flatMap { applications[$0] } ?? "default" }

    public func flavour(named name: String) -> Flavour? { flavours.first { $0.name.lowercased() == name.lowercased() } }
}
