import DockerEngine
import Foundation
import Logging
import MicadoClouds
import MicadoCore
import MicadoStore

/// Instances: the manager's own node, and cloud instances started by `micado start` or
/// the scaler, driven through creating → booting → joining → ready and draining →
/// deleting (the steps come from `InstanceLifecycle`, a pure function). It owns what only
/// it needs: the creates in flight in this process and the boot backoff per location.
public final class Instances: RecordsEvents, ReadsSwarm {
    let configuration: ManagerConfiguration
    let store: any InstanceStore & ContainerStore & ImageStore & SettingsStore & VolumeStore
    /// The manager's engine.
    let engine: any EngineAPI
    let engines: NodeEngines
    let managerID: String
    let clouds: CloudSet
    /// Where instances pull images from, when there is one.
    let registry: Registry?
    let eventLog: EventLog
    let swarm: SwarmView
    /// Wakes the scaler when an instance changes.
    let scalerWakeUp: WakeUps
    /// Instance IDs whose create call is under way in this process.
    let creating = InFlight()
    /// Locations whose instances failed to come up, and until when the next waits.
    let bootBackoff = BootBackoff()
    /// When each booting instance was last described (see `CloudDriver.describeInterval`).
    let described = LastDescribed()
    /// Which images (by the manager's image ID) each instance was given.
    let copiedImages = CopiedImages()
    /// Addresses given after the create, claimed one at a time (see `AddressClaims`).
    let addressClaims = AddressClaims()
    /// Where images loaded into instances wait on disk between the two engines.
    let spool: String

    init(
        configuration: ManagerConfiguration,
        store: any InstanceStore & ContainerStore & ImageStore & SettingsStore & VolumeStore,
        engines: NodeEngines,
        managerID: String,
        clouds: CloudSet,
        registry: Registry?,
        eventLog: EventLog,
        swarm: SwarmView,
        scalerWakeUp: WakeUps,
        spool: String
    ) {
        self.spool = spool
        self.configuration = configuration
        self.store = store
        self.engine = engines.own
        self.engines = engines
        self.managerID = managerID
        self.clouds = clouds
        self.registry = registry
        self.eventLog = eventLog
        self.swarm = swarm
        self.scalerWakeUp = scalerWakeUp
    }

    /// Makes the engine a swarm manager (advertising only on the configured address) and
    /// labels its node with the default location, so that launches have somewhere to go.
    /// Waits (at most `limit`) until an engine that is a swarm manager answers swarm calls.
    /// Right after a restart, or on a saturated machine, its raft may have no leader for a
    /// moment ("This node is not a swarm manager", "does not have a leader"): a start must not
    /// fail on that. Returns at once for an engine outside a swarm (bootstrap makes one).
    public func waitForSwarm(limit: Duration = .seconds(30)) async throws(MicadoError) {
        let deadline = ContinuousClock.now + limit
        var logged = false
        while true {
            let info = try await engine.info()
            guard info.swarm.localNodeState == .active || info.swarm.localNodeState == .pending else { return }
            do throws(MicadoError) {
                _ = try await engine.nodes()
                return
            } catch  where error.code == .engine && ContinuousClock.now < deadline {
                if !logged {
                    logger.info("waiting for the swarm to answer", metadata: ["error": "\(error.message)"])
                    logged = true
                }
                try? await Task.sleep(for: .milliseconds(500))
            }
        }
    }

    public func bootstrapSwarm() async throws(MicadoError) {
        var info = try await engine.info()
        switch info.swarm.localNodeState {
        case .active:
            guard info.swarm.controlAvailable == true else {
                throw .init(
                    .configuration,
                    "the engine at \(engine.endpoint) is a worker of another swarm; micado needs a swarm manager (docker swarm leave, then restart micado)"
                )
            }
        case .inactive:
            let advertise = configuration.docker.advertiseAddress
            _ = try await engine.initSwarm(advertiseAddress: advertise, listenAddress: "\(advertise):2377")
            info = try await engine.info()
            await note(.swarmInit, info.swarm.nodeID, "initialised a swarm on \(engine.endpoint), advertising on \(advertise)")
        default:
            throw .init(
                .engine,
                "the engine's swarm is '\(info.swarm.localNodeState)'; wait for it to settle or run docker swarm leave --force"
            )
        }
        let node = try await engine.node(info.swarm.nodeID)
        var spec = node.spec
        var labels = spec.labels ?? [:]
        if labels[Label.location] == nil {
            labels[Label.location] = configuration.defaults.location
            spec.labels = labels
            try await engine.updateNode(node.id, version: node.version, spec: spec)
            await note(.nodeLabelled, node.id, "labelled the manager's node micado.location=\(configuration.defaults.location)")
        }
        // With clouds, application containers run on instances, as in MiCADO: the manager's node takes none.
        let wanted: NodeAvailability = clouds.isEmpty ? .active : .drain
        if spec.availability != wanted {
            let fresh = try await engine.node(node.id)
            var update = fresh.spec
            update.availability = wanted
            try await engine.updateNode(fresh.id, version: fresh.version, spec: update)
            await note(
                .nodeAvailability,
                node.id,
                "the manager's node is now \(wanted)\(clouds.isEmpty ? "" : ": containers run on cloud instances")"
            )
        }
        for cloud in clouds.configurations {
            if let network = cloud.network, network.managerAddress != configuration.docker.advertiseAddress {
                throw .init(
                    .configuration,
                    "cloud \(cloud.name): network.manager is \(network.managerAddress) but the swarm advertises on \(configuration.docker.advertiseAddress); they must be the same address"
                )
            }
        }
        let now = self.now
        let existing = try await store.instances().first { $0.id.rawValue == node.id }
        try await store.upsertInstance(
            InstanceRecord(
                id: InstanceID(node.id),
                hostname: node.description?.hostname ?? info.name,
                cloud: "manager",
                location: labels[Label.location],
                role: .manager,
                state: .ready,
                address: configuration.publishAddress(for: node),
                createdAt: existing?.createdAt ?? now,
                updatedAt: now
            )
        )
    }

    /// Holds new instances back in `location` after a failure, and says for how long.
    func backOff(_ location: String, reason: String) async {
        let failures = await bootBackoff.failed(location, reason: reason, now: now)
        let wait = Int(failures.until.timeIntervalSince(now).rounded(.up))
        await note(
            .scalerBackoff,
            location,
            "\(failures.count) instance(s) in a row failed to come up in \(location); the next one waits \(wait) s (last: \(reason))"
        )
    }
}

/// When each instance was last described, so that fast passes do not become fast cloud calls
/// (on the manager's clock, as its other timings: a simulated day describes as a real one).
actor LastDescribed {
    var times: [InstanceID: Date] = [:]

    /// True (and noted) when `id` was not described within `interval` before `now`.
    func due(_ id: InstanceID, every interval: Duration, now: Date) -> Bool {
        // A clock that went back makes it due at once (it never stalls describes).
        if let last = times[id], (0..<interval.inSeconds).contains(now.timeIntervalSince(last)) { return false }
        times[id] = now
        return true
    }

    func forget(_ id: InstanceID) { times[id] = nil }
}

/// The images each instance was given, so that a launch copies an image only to instances
/// that lack it: asking every instance of a large fleet on every launch was one engine call
/// per instance per launch.
actor CopiedImages {
    var held: [InstanceID: Set<String>] = [:]

    func holds(_ id: InstanceID, _ image: String) -> Bool { held[id]?.contains(image) == true }
    func insert(_ id: InstanceID, _ image: String) { held[id, default: []].insert(image) }
    func forget(_ id: InstanceID) { held[id] = nil }
}

/// Addresses the cloud gave instances after their create, claimed one at a time: the
/// instances of one pass are stepped concurrently, and two that a confused cloud gave the
/// same address would each find the store without the other's (an attack saw both recorded).
actor AddressClaims {
    var holders: [String: InstanceID] = [:]

    /// nil when `id` may have `address`; else the live instance that holds it.
    func claim(_ address: String, for id: InstanceID, live: Set<InstanceID>) -> InstanceID? {
        holders = holders.filter { live.contains($0.value) }
        if let holder = holders[address], holder != id { return holder }
        holders[address] = id
        return nil
    }
}
