import MicadoCore

/// The `ec2` driver's settings: region, endpoint, a subnet per location, and the rest
/// of what RunInstances needs besides the flavour and the image.
public struct EC2Settings: CloudDriverSettings, Equatable {
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
