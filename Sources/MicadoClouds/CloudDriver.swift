import Logging
import MicadoCore

public struct CreateInstanceRequest: Sendable {
    /// Recorded in the store before the call: a retried create with the same token finds
    /// the instance the first call made instead of making a second one.
    public var idempotencyToken: String
    /// The location (availability zone on EC2) it is for.
    public var location: String
    public var flavour: Flavour
    public var machineImage: String
    public var userData: UserData
    public var tags: [String: String]

    public init(
        idempotencyToken: String,
        location: String,
        flavour: Flavour,
        machineImage: String,
        userData: UserData,
        tags: [String: String]
    ) {
        self.idempotencyToken = idempotencyToken
        self.location = location
        self.flavour = flavour
        self.machineImage = machineImage
        self.userData = userData
        self.tags = tags
    }
}

/// An instance as its cloud describes it.
public struct CloudInstance: Sendable, Equatable {
    public enum State: String, Sendable { case booting, running, failed, terminated }
    public var id: String
    public var address: String
    public var state: State
    /// The engine's TLS endpoint (tcp://address:2376).
    public var engineEndpoint: String
    public var tags: [String: String]
    public var detail: String?

    public init(id: String, address: String, state: State, engineEndpoint: String, tags: [String: String], detail: String? = nil) {
        self.id = id
        self.address = address
        self.state = state
        self.engineEndpoint = engineEndpoint
        self.tags = tags
        self.detail = detail
    }
}

/// A cloud's errors, typed so the scaler knows what to do next.
public struct CloudError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// No capacity for this flavour now: try the next cheapest.
        case capacity
        /// An account limit: report, do not retry soon.
        case quota
        /// Credentials refused.
        case auth
        /// Worth retrying with backoff.
        case transient
        /// The request itself is wrong.
        case badRequest
    }
    public var kind: Kind
    public var message: String
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }
    public var description: String { "\(kind.rawValue): \(message)" }
    public var isRetryable: Bool { kind == .transient || kind == .capacity }
}

extension CloudError.Kind {
    /// The API's error code for this kind (and so its HTTP status).
    public var code: MicadoError.Code {
        switch self {
        case .capacity: .cloudCapacity
        case .quota: .cloudQuota
        case .auth: .cloudAuth
        case .transient: .cloudTransient
        case .badRequest: .cloudBadRequest
        }
    }
}

/// Tags micado puts on every instance it creates (drivers spell them as their cloud allows).
public enum CloudTag {
    /// The manager's ID: only its own instances are listed, adopted or deleted as orphans.
    public static let manager = "micado.manager"
    /// micado's instance ID: a cloud instance is matched to its record by it.
    public static let instance = "micado.instance"
    /// The create call's idempotency token: a resumed create finds what the first call made.
    public static let token = "micado.token"
    /// The user's tag (`start -t`).
    public static let tag = "micado.tag"
}

/// A cloud that starts, describes and deletes instances. Drivers hold no state of their
/// own: what they know, they ask the cloud; what micado knows is in its store.
public protocol CloudDriver: Sendable {
    func create(_ request: CreateInstanceRequest) async throws(CloudError) -> CloudInstance
    /// nil when the cloud has no such instance (any more).
    func describe(_ id: String) async throws(CloudError) -> CloudInstance?
    /// Every instance this driver's cloud holds for this manager.
    func list() async throws(CloudError) -> [CloudInstance]
    /// Deletes the instance and everything it holds; succeeds when it is already gone.
    func delete(_ id: String) async throws(CloudError)
    /// The instance a create call with this idempotency token made, if any.
    func find(token: String) async throws(CloudError) -> CloudInstance?
    /// How often a booting instance may be described: the manager polls faster while an
    /// instance starts, and a cloud's API has rate limits that a file read does not.
    var describeInterval: Duration { get }
}

/// A driver that completes its cloud's configuration from the cloud before the planner uses
/// it (a flavour's memory and CPUs), checking what the file names; errors name the line and
/// field of clouds.yaml.
public protocol ConfigurationResolving {
    func resolve(_ configuration: CloudConfiguration) async throws(MicadoError) -> CloudConfiguration
}

extension CloudDriver {
    public var describeInterval: Duration { .seconds(1) }

    /// By the token tag, for clouds that cannot look one up directly.
    public func find(token: String) async throws(CloudError) -> CloudInstance? {
        try await list().first { $0.tags[CloudTag.token] == token }
    }
}

/// The one place that knows which drivers exist: the manager asks it for a driver by the
/// clouds file's `driver:` and from then on knows only `CloudDriver`.
public enum CloudDrivers {
    public static let names = ["local", "ec2", "openstack", "cloudsigma", "cloudbroker"]

    /// `home` is micado's home: the ec2 driver reads `credentials/<cloud>` there when neither
    /// the environment nor `~/.aws/credentials` has credentials for it.
    public static func make(
        _ cloud: CloudConfiguration,
        home: MicadoHome,
        stateDirectory: String,
        authority: CertificateAuthority,
        logger: Logger,
        environment: [String: String]? = nil
    ) throws(CloudError) -> any CloudDriver {
        switch cloud.driver {
        case "local":
            guard let network = cloud.network else { throw CloudError(.badRequest, "the local driver needs a network") }
            return LocalDriver(cloud: cloud.name, network: network, stateDirectory: stateDirectory, authority: authority, logger: logger)
        case "ec2":
            guard let settings = cloud.ec2 else { throw CloudError(.badRequest, "the ec2 driver needs a region and a subnet per location") }
            let credentials = try EC2Credentials.resolve(
                cloud: cloud.name,
                profile: settings.profile,
                micadoHome: home.path,
                environment: environment ?? EC2Credentials.processEnvironment
            )
            let api = try EC2API(region: settings.region, endpoint: settings.endpoint, credentials: credentials, logger: logger)
            return EC2Driver(cloud: cloud.name, settings: settings, api: api, authority: authority, logger: logger)
        case "openstack":
            guard let settings = cloud.openstack else {
                throw CloudError(.badRequest, "the openstack driver needs authURL and a network per location")
            }
            let credentials = try OpenStackCredentials.resolve(
                cloud: cloud.name,
                profile: settings.profile,
                micadoHome: home.path,
                environment: environment ?? EC2Credentials.processEnvironment
            )
            let api = try OpenStackAPI(authURL: settings.authURL, region: settings.region, credentials: credentials, logger: logger)
            return OpenStackDriver(cloud: cloud.name, settings: settings, api: api, authority: authority, logger: logger)
        case "cloudsigma":
            guard let settings = cloud.cloudsigma else { throw CloudError(.badRequest, "the cloudsigma driver needs its settings") }
            let credentials = try CloudSigmaCredentials.resolve(
                cloud: cloud.name,
                profile: settings.profile,
                micadoHome: home.path,
                environment: environment ?? EC2Credentials.processEnvironment
            )
            var apis: [String: CloudSigmaAPI] = [:]
            for location in cloud.locations.keys {
                apis[location] = try CloudSigmaAPI(endpoint: settings.endpoint(of: location), credentials: credentials, logger: logger)
            }
            return CloudSigmaDriver(cloud: cloud.name, settings: settings, apis: apis, authority: authority, logger: logger)
        case "cloudbroker":
            guard let settings = cloud.cloudbroker else {
                throw CloudError(.badRequest, "the cloudbroker driver needs an endpoint and a deployment per location")
            }
            let credentials = try CloudBrokerCredentials.resolve(
                cloud: cloud.name,
                profile: settings.profile,
                micadoHome: home.path,
                environment: environment ?? EC2Credentials.processEnvironment
            )
            let api = try CloudBrokerAPI(endpoint: settings.endpoint, credentials: credentials, logger: logger)
            return CloudBrokerDriver(cloud: cloud.name, settings: settings, api: api, authority: authority, logger: logger)
        default:
            throw CloudError(.badRequest, "driver \(cloud.driver) is not available (drivers: \(names.joined(separator: ", ")))")
        }
    }

    /// What a cloud's configuration leaves to the cloud itself, asked once before the
    /// planner uses it: an ec2 or openstack flavour's memory and CPUs, its instance types
    /// (flavours) and subnets checked. Errors name the line and field of clouds.yaml.
    public static func resolve(_ cloud: CloudConfiguration, driver: any CloudDriver) async throws(MicadoError) -> CloudConfiguration {
        guard let resolving = driver as? any ConfigurationResolving else { return cloud }
        return try await resolving.resolve(cloud)
    }
}
