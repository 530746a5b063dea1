import MicadoCore

/// The `openstack` driver's settings: Keystone, and a network per location.
public struct OpenStackSettings: CloudDriverSettings, Equatable {
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
    public var flavourSources: [String: CloudConfiguration.FlavourSource]

    public init(
        authURL: String,
        region: String? = nil,
        networks: [String: String],
        zones: [String: String] = [:],
        securityGroups: [String] = [],
        keyName: String? = nil,
        profile: String? = nil,
        flavourSources: [String: CloudConfiguration.FlavourSource] = [:]
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
