import AsyncHTTPClient
import MicadoCore
import NIOCore

/// What the manager asks of a Docker engine. `EngineClient` speaks it to a real engine; the
/// manager's unit tests use an in-memory swarm behind the same protocol, so launch, the
/// scaler's pass and reconcile are tested without a daemon.
///
/// Requirements carry no defaults; the extension below gives the usual ones, for every conformer.
public protocol EngineAPI: Sendable {
    var endpoint: EngineEndpoint { get }
    var apiVersion: APIVersion { get }
    var engineVersion: String { get }
    /// The same engine through another connection pool (a chatty loop never takes the API's connections).
    func using(_ http: HTTPClient) -> Self

    // MARK: swarm
    func info() async throws(MicadoError) -> SystemInfo
    func initSwarm(advertiseAddress: String, listenAddress: String, defaultAddressPool: String?) async throws(MicadoError) -> String
    func swarm() async throws(MicadoError) -> SwarmInspect
    func joinSwarm(remoteAddress: String, token: String, advertiseAddress: String, listenAddress: String) async throws(MicadoError)
    func leaveSwarm(force: Bool) async throws(MicadoError)
    func nodes() async throws(MicadoError) -> [Node]
    func node(_ id: String) async throws(MicadoError) -> Node
    func updateNode(_ id: String, version: ObjectVersion, spec: Node.Spec) async throws(MicadoError)
    func removeNode(_ id: String, force: Bool) async throws(MicadoError)

    // MARK: services and tasks
    func createService(_ spec: ServiceSpec, registryAuth: String?) async throws(MicadoError) -> String
    func services(label: String?) async throws(MicadoError) -> [SwarmService]
    func service(_ idOrName: String) async throws(MicadoError) -> SwarmService
    func scaleService(_ idOrName: String, replicas: Int) async throws(MicadoError)
    func labelService(_ idOrName: String, _ labels: [String: String]) async throws(MicadoError)
    func removeService(_ idOrName: String) async throws(MicadoError)
    /// Replaces the spec at `version` (Swarm rolls the tasks by the spec's update config).
    func updateService(_ id: String, version: ObjectVersion, spec: ServiceSpec, registryAuth: String?) async throws(MicadoError)
    func createNetwork(name: String, labels: [String: String]) async throws(MicadoError) -> String
    func networks(label: String?) async throws(MicadoError) -> [NetworkSummary]
    func removeNetwork(_ idOrName: String) async throws(MicadoError)
    /// The names of this engine's volumes (a node's own: volumes are not swarm objects).
    func volumes(label: String?) async throws(MicadoError) -> [String]
    func removeVolume(_ name: String) async throws(MicadoError)
    func tasks(filters: [String: [String]]) async throws(MicadoError) -> [SwarmTask]
    /// Swarm secrets and configs: made once with their data (never read back), listed by label, removed.
    func createSwarmObject(
        _ kind: SwarmObject.Kind,
        name: String,
        data: [UInt8],
        labels: [String: String]
    ) async throws(MicadoError)
        -> String
    func swarmObjects(_ kind: SwarmObject.Kind, label: String?) async throws(MicadoError) -> [SwarmObject]
    func removeSwarmObject(_ kind: SwarmObject.Kind, _ id: String) async throws(MicadoError)
    func serviceLogs(_ idOrName: String, tail: Int?, timestamps: Bool) async throws(MicadoError) -> [LogLine]

    // MARK: containers
    func usage(container: String, oneShot: Bool) async throws(MicadoError) -> EngineClient.Usage
    func killContainer(_ id: String) async throws(MicadoError)
    func archive(container: String, path: String, maxBytes: Int, into descriptor: Int32) async throws(MicadoError)
    func isFolder(container: String, path: String) async throws(MicadoError) -> Bool?
    func putArchive(container: String, path: String, tar: OutgoingBody) async throws(MicadoError)
    func exec(container: String, command: [String], timeout: TimeAmount) async throws(MicadoError) -> EngineClient.ExecOutput
    func createExec(container: String, command: [String], tty: Bool, stdin: Bool, environment: [String]) async throws(MicadoError) -> String
    func exitCode(ofExec id: String) async throws(MicadoError) -> Int
    func resizeExec(_ id: String, size: TerminalSize) async throws(MicadoError)
    func withAttachedExec<Result: Sendable>(
        _ id: String,
        tty: Bool,
        size: TerminalSize?,
        _ body: (AttachedExec) async throws -> Result
    ) async throws -> Result

    // MARK: images
    func inspectImage(_ name: String) async throws(MicadoError) -> ImageInspect
    func removeImage(_ name: String, force: Bool) async throws(MicadoError)
    func saveImages(_ names: [String], into descriptor: Int32) async throws(MicadoError)
    func loadImages(_ tarball: OutgoingBody) async throws(MicadoError)
    func distributionDigest(of reference: String, auth: String?) async throws(MicadoError) -> String
    func tagImage(_ name: String, repository: String, tag: String) async throws(MicadoError)
    func pushImage(repository: String, tag: String, auth: String) async throws(MicadoError) -> EngineClient.PushResult
    func build(
        context: OutgoingBody,
        tag: String,
        options: BuildOptions,
        timeout: TimeAmount
    ) async throws(MicadoError) -> EngineClient.BuildResult
}

/// What a build takes beyond its context (Compose's `build:`): the Dockerfile's path in the
/// context, the stage to stop at, and `ARG` values.
public struct BuildOptions: Sendable, Equatable, Codable {
    public var dockerfile: String?
    public var target: String?
    public var arguments: [String: String]
    public init(dockerfile: String? = nil, target: String? = nil, arguments: [String: String] = [:]) {
        self.dockerfile = dockerfile
        self.target = target
        self.arguments = arguments
    }
}

extension EngineAPI {
    public func initSwarm(advertiseAddress: String, listenAddress: String) async throws(MicadoError) -> String {
        try await initSwarm(advertiseAddress: advertiseAddress, listenAddress: listenAddress, defaultAddressPool: nil)
    }
    public func createService(_ spec: ServiceSpec) async throws(MicadoError) -> String { try await createService(spec, registryAuth: nil) }
    public func services() async throws(MicadoError) -> [SwarmService] { try await services(label: nil) }
    public func tasks() async throws(MicadoError) -> [SwarmTask] { try await tasks(filters: [:]) }
    public func serviceLogs(_ idOrName: String, tail: Int? = nil) async throws(MicadoError) -> [LogLine] {
        try await serviceLogs(idOrName, tail: tail, timestamps: false)
    }
    public func usage(container: String) async throws(MicadoError) -> EngineClient.Usage {
        try await usage(container: container, oneShot: false)
    }
    public func exec(container: String, command: [String]) async throws(MicadoError) -> EngineClient.ExecOutput {
        try await exec(container: container, command: command, timeout: .seconds(120))
    }
    public func createExec(container: String, command: [String], tty: Bool, stdin: Bool) async throws(MicadoError) -> String {
        try await createExec(container: container, command: command, tty: tty, stdin: stdin, environment: [])
    }
    public func withAttachedExec<Result: Sendable>(
        _ id: String,
        tty: Bool,
        _ body: (AttachedExec) async throws -> Result
    ) async throws -> Result {
        try await withAttachedExec(id, tty: tty, size: nil, body)
    }
    public func removeImage(_ name: String) async throws(MicadoError) { try await removeImage(name, force: false) }
    public func build(context: OutgoingBody, tag: String) async throws(MicadoError) -> EngineClient.BuildResult {
        try await build(context: context, tag: tag, options: BuildOptions(), timeout: .seconds(600))
    }
}

extension EngineClient: EngineAPI {}

/// How the manager reaches an instance's engine, by the endpoint its cloud reported. The
/// daemon's connects over mutual TLS; the unit tests hand out engines of an in-memory swarm.
public protocol EngineConnector: Sendable {
    /// `monitoring`: for the usage monitor, on connections of its own.
    func engine(at endpoint: EngineEndpoint, monitoring: Bool) async throws(MicadoError) -> any EngineAPI
    /// Drops what is known of an endpoint (its instance is gone; the address may be reused).
    func forget(_ endpoint: EngineEndpoint) async
}

extension EngineConnector {
    public func engine(at endpoint: EngineEndpoint) async throws(MicadoError) -> any EngineAPI {
        try await engine(at: endpoint, monitoring: false)
    }
}

extension MicadoError {
    /// An engine that did not answer at all (refused, unreachable, timed out), as opposed to one
    /// that answered with an error (a full disk, a bad request).
    public var isUnreachableEngine: Bool {
        code == .timeout || (code == .engine && message.hasPrefix(EngineClient.unreachablePrefix))
    }
}
