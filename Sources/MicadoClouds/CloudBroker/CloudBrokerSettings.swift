import MicadoCore

/// The `cloudbroker` driver's settings: the platform's endpoint, a deployment per location,
/// and what each instance is created with.
public struct CloudBrokerSettings: CloudDriverSettings, Equatable {
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
    public var flavourSources: [String: CloudConfiguration.FlavourSource]

    public init(
        endpoint: String,
        deployments: [String: String],
        keyPair: String? = nil,
        openedPorts: String = "2376,2377,7946,4789",
        address: EC2Settings.AddressKind = .private,
        profile: String? = nil,
        instanceTypes: [String: String] = [:],
        flavourSources: [String: CloudConfiguration.FlavourSource] = [:]
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
