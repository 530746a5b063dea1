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

/// What every driver is made from besides its cloud's configuration.
public struct CloudDriverContext: Sendable {
    /// micado's home: drivers read `credentials/<cloud>` there when neither the environment
    /// nor the cloud's own credentials file has credentials for it.
    public var home: MicadoHome
    /// The driver's own folder (the local driver's instances).
    public var stateDirectory: String
    public var authority: CertificateAuthority
    public var logger: Logger
    /// Where credentials are looked up first.
    public var environment: [String: String]
}

/// A kind of cloud: its name in clouds.yaml (`driver:`), the keys of the file only it reads
/// and how it reads them into its own settings type, and how a driver of it is made from the
/// cloud's configuration. Adding a driver is one type conforming here and one line in
/// `CloudDrivers.kinds`.
public protocol CloudDriverKind {
    static var kindName: String { get }
    /// The driver's own keys of a cloud, of each of its locations and of each flavour,
    /// besides the common ones (`driver`, `locations`, `flavours`, `applications`, `timings`;
    /// `min`, `max`, `headroomMiB`; `name`, `cpus`, `memoryMiB`, `pricePerHour`).
    static var cloudKeys: Set<String> { get }
    static var locationKeys: Set<String> { get }
    static var flavourKeys: Set<String> { get }
    /// Whether the cloud says a flavour's memory and CPUs when the file does not (instance types).
    static var flavoursFromCloud: Bool { get }
    /// Whether the cloud prices a flavour when the file does not (a price list).
    static var pricesFromCloud: Bool { get }
    /// When `applications:` must name the cloud's machine images: an example of one, for the error.
    static var machineImageExample: String? { get }
    /// Reads the driver's own keys of its section of the clouds file into its settings type;
    /// every error names the line and the field.
    static func read(_ section: CloudSection) throws(MicadoError) -> any CloudDriverSettings
    static func make(_ cloud: CloudConfiguration, context: CloudDriverContext) throws(CloudError) -> any CloudDriver
}

extension CloudDriverKind {
    /// The cloud's settings as `Settings`, or the error that says what the driver needs.
    static func settings<Settings: CloudDriverSettings>(
        _ type: Settings.Type,
        of cloud: CloudConfiguration,
        needs: String
    ) throws(CloudError) -> Settings {
        guard let settings = cloud.settings(as: type) else { throw CloudError(.badRequest, "the \(kindName) driver needs \(needs)") }
        return settings
    }
}

/// The one place that knows which drivers exist: the manager asks it for a driver by the
/// clouds file's `driver:` and from then on knows only `CloudDriver`.
public enum CloudDrivers {
    public static let kinds: [any CloudDriverKind.Type] = [
        LocalDriver.self, EC2Driver.self, OpenStackDriver.self, CloudSigmaDriver.self, CloudBrokerDriver.self,
    ]
    public static var names: [String] { kinds.map { $0.kindName } }

    public static func kind(named name: String) -> (any CloudDriverKind.Type)? { kinds.first { $0.kindName == name } }

    public static func make(
        _ cloud: CloudConfiguration,
        home: MicadoHome,
        stateDirectory: String,
        authority: CertificateAuthority,
        logger: Logger,
        environment: [String: String]? = nil
    ) throws(CloudError) -> any CloudDriver {
        guard let kind = kind(named: cloud.driver) else {
            throw CloudError(.badRequest, "driver \(cloud.driver) is not available (drivers: \(names.joined(separator: ", ")))")
        }
        let context = CloudDriverContext(
            home: home,
            stateDirectory: stateDirectory,
            authority: authority,
            logger: logger,
            environment: environment ?? EC2Credentials.processEnvironment
        )
        return try kind.make(cloud, context: context)
    }

    /// What a cloud's configuration leaves to the cloud itself, asked once before the
    /// planner uses it: an ec2 or openstack flavour's memory and CPUs, its instance types
    /// (flavours) and subnets checked. Errors name the line and field of clouds.yaml.
    public static func resolve(_ cloud: CloudConfiguration, driver: any CloudDriver) async throws(MicadoError) -> CloudConfiguration {
        guard let resolving = driver as? any ConfigurationResolving else { return cloud }
        return try await resolving.resolve(cloud)
    }
}
