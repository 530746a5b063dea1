import AsyncHTTPClient
import DockerEngine
import Foundation
import Logging
import MicadoClouds
import MicadoCore
import MicadoStore
import NIOCore

/// The clouds of `clouds.yaml` with their drivers. Empty when the file is absent: then
/// the manager's own engine is the only instance, as before clouds existed.
public struct CloudSet: Sendable {
    public var configurations: [CloudConfiguration]
    public var drivers: [String: any CloudDriver]
    public var authority: CertificateAuthority

    public init(configurations: [CloudConfiguration], drivers: [String: any CloudDriver], authority: CertificateAuthority) {
        self.configurations = configurations
        self.drivers = drivers
        self.authority = authority
    }

    public static func none(home: MicadoHome) -> CloudSet {
        CloudSet(configurations: [], drivers: [:], authority: CertificateAuthority(directory: home.tlsDirectory))
    }

    public var isEmpty: Bool { configurations.isEmpty }

    /// Reads `clouds.yaml` from the home, builds a driver per cloud, and completes each
    /// cloud with what its driver asks the cloud (flavour sizes an EC2 file leaves out;
    /// unknown instance types and subnets are errors naming the line).
    public static func load(home: MicadoHome, logger: Logger) async throws(MicadoError) -> CloudSet {
        let configurations = try CloudsFile.load(path: home.cloudsFile)
        let authority = CertificateAuthority(directory: home.tlsDirectory)
        guard !configurations.isEmpty else { return CloudSet(configurations: [], drivers: [:], authority: authority) }
        guard authority.exists else {
            throw .init(.configuration, "clouds need micado's CA in \(home.tlsDirectory): run 'micado init --force' to create it")
        }
        var drivers: [String: any CloudDriver] = [:]
        var resolved: [CloudConfiguration] = []
        for cloud in configurations {
            let driver: any CloudDriver
            do {
                driver = try CloudDrivers.make(
                    cloud,
                    home: home,
                    stateDirectory: home.path + "/instances/" + cloud.name,
                    authority: authority,
                    logger: logger
                )
            } catch {
                throw .init(.configuration, "cloud \(cloud.name): \(error.message)")
            }
            drivers[cloud.name] = driver
            // May ask the cloud (EC2's instance types): say so, since a stalled cloud takes a minute to give up.
            logger.info("cloud \(cloud.name): completing its flavours", metadata: ["cloud": "\(cloud.name)"])
            resolved.append(try await CloudDrivers.resolve(cloud, driver: driver))
        }
        return CloudSet(configurations: resolved, drivers: drivers, authority: authority)
    }

    public func cloud(named name: String) -> CloudConfiguration? {
        configurations.first { $0.name.lowercased() == name.lowercased() }
    }

    /// The cloud that serves a location (the first that lists it).
    public func cloud(forLocation location: String) -> CloudConfiguration? {
        configurations.first { $0.locations[location] != nil }
    }

    public var locations: Set<String> { Set(configurations.flatMap(\.locations.keys)) }

    /// The planner for the current clouds: flavours and bounds by location.
    public func planner() -> ScalingPlanner {
        var flavours: [String: [Flavour]] = [:]
        var bounds: [String: LocationBounds] = [:]
        var grace = 60
        var consolidateBelow = 100
        for cloud in configurations {
            for (location, bound) in cloud.locations where bounds[location] == nil {
                flavours[location] = cloud.flavours
                bounds[location] = bound
            }
            grace = min(grace, cloud.timings.gracePeriodSeconds)
            consolidateBelow = min(consolidateBelow, cloud.timings.consolidateBelowPercent)
        }
        return ScalingPlanner(
            flavours: flavours,
            bounds: bounds,
            gracePeriod: TimeInterval(grace),
            consolidateBelow: Double(consolidateBelow) / 100
        )
    }

    /// How micado reaches an instance's engine: where its cloud said it answers, always
    /// TCP with mutual TLS (a cloud that reports anything else is refused).
    public func endpoint(of record: InstanceRecord) throws(MicadoError) -> EngineEndpoint {
        guard let text = record.engineEndpoint else { throw .init(.engine, "\(record.id) has no engine endpoint yet") }
        let tls = EngineEndpoint.TLSFiles(
            caCertificate: authority.caCertificate,
            certificate: authority.clientCertificate,
            key: authority.clientKey
        )
        var endpoint = try EngineEndpoint.parse(text, tls: tls)
        endpoint.serverName = BootDocument.engineServerName(instance: record.id.rawValue)
        guard case .tcp = endpoint.transport else {
            throw .init(.engine, "\(record.id): cloud \(record.cloud) reported engine endpoint \(text), not tcp://")
        }
        return endpoint
    }
}

/// Instance IDs whose create call is under way in this process: the scaler's pass must
/// not resume them as if a crash had interrupted them.
actor InFlight {
    var ids: Set<InstanceID> = []
    func begin(_ id: InstanceID) { ids.insert(id) }
    func end(_ id: InstanceID) { ids.remove(id) }
    func contains(_ id: InstanceID) -> Bool { ids.contains(id) }
}

/// What the scaler last said about each pending container ("waiting for a new small
/// instance", "location eu at its max of 3 instances"), shown with the task's own state.
actor ScalerNotes {
    var notes: [String: String] = [:]
    func set(_ name: String, _ note: String?) { notes[name] = note }
    func note(_ name: String) -> String? { notes[name] }
    func all() -> [String: String] { notes }
    func keep(only names: Set<String>) { notes = notes.filter { names.contains($0.key) } }
}

/// Engine clients for instances, negotiated once per endpoint. Each instance engine is
/// reached by its certificate's name, which its own HTTP clients map to its address: one for
/// the API's calls and one for the usage monitor's, so sampling never takes the API's
/// connections. `shutdown` (the daemon's, at exit) and `forget` close them.
public actor EngineDirectory: EngineConnector {
    let logger: Logger
    var clients: [String: (api: EngineClient, monitor: EngineClient)] = [:]

    public init(logger: Logger) { self.logger = logger }

    public func engine(at endpoint: EngineEndpoint, monitoring: Bool) async throws(MicadoError) -> any EngineAPI {
        let key = Self.key(endpoint)
        if let known = clients[key] { return monitoring ? known.monitor : known.api }
        let http = EngineClient.makeHTTPClient(for: endpoint)
        let client: EngineClient
        do { client = try await EngineClient.connect(to: endpoint, http: http, logger: logger, timeout: .seconds(5)) } catch {
            try? await http.shutdown()
            throw error
        }
        // Another call may have connected meanwhile: keep the first, close this one.
        if let known = clients[key] {
            try? await http.shutdown()
            return monitoring ? known.monitor : known.api
        }
        let pair = (api: client, monitor: client.using(EngineClient.makeHTTPClient(for: endpoint)))
        clients[key] = pair
        return monitoring ? pair.monitor : pair.api
    }

    public func forget(_ endpoint: EngineEndpoint) async {
        guard let pair = clients.removeValue(forKey: Self.key(endpoint)) else { return }
        try? await pair.api.http.shutdown()
        try? await pair.monitor.http.shutdown()
    }

    /// Closes every client (the daemon's exit).
    public func shutdown() async {
        for pair in clients.values {
            try? await pair.api.http.shutdown()
            try? await pair.monitor.http.shutdown()
        }
        clients = [:]
    }

    static func key(_ endpoint: EngineEndpoint) -> String { endpoint.description + " " + (endpoint.serverName ?? "") }
}
