import DockerEngine
import Foundation
import Logging
import MicadoCore
import MicadoStore
import ServiceLifecycle

/// Converges the swarm to the store, at start-up and then periodically.
///
/// Every step is idempotent, so a manager killed at any moment finishes what it was doing
/// on its next pass: a record without a service gets one (or adopts the one it made), a
/// service of ours without a record is removed, replicas follow the desired state.
public struct Reconciler: Service, RecordsEvents, ReadsSwarm {
    let store: any ContainerStore & ApplicationStore & SettingsStore
    let engine: any EngineAPI
    let managerID: String
    let eventLog: EventLog
    let swarm: SwarmView
    /// Shared with `Applications`: a removed application's network is removed between applies.
    let applicationChanges: SerialQueue
    let containers: any ServiceKeeper
    let volumes: any VolumeHomes & VolumeUpkeep
    /// Without clouds the scaler does not run: volumes get their home (the manager's node) here.
    let placesHomes: Bool
    let interval: Duration

    init(
        store: any ContainerStore & ApplicationStore & SettingsStore,
        engine: any EngineAPI,
        managerID: String,
        eventLog: EventLog,
        swarm: SwarmView,
        applicationChanges: SerialQueue,
        containers: any ServiceKeeper,
        volumes: any VolumeHomes & VolumeUpkeep,
        placesHomes: Bool,
        interval: Duration = .seconds(10)
    ) {
        self.store = store
        self.engine = engine
        self.managerID = managerID
        self.eventLog = eventLog
        self.swarm = swarm
        self.applicationChanges = applicationChanges
        self.containers = containers
        self.volumes = volumes
        self.placesHomes = placesHomes
        self.interval = interval
    }

    public func run() async throws {
        await PassLoop.run(every: interval, wakeUps: WakeUps()) {
            do { try await pass() } catch {
                logger.warning("reconcile pass failed", metadata: ["error": "\(error)"])
            }
        }
    }
}

extension Reconciler {
    /// One reconcile pass. Returns what it changed, for tests and events.
    @discardableResult
    public func pass() async throws(MicadoError) -> [String] {
        var changes: [String] = []
        await step(.containerReconcileFailed, "volumes") { () throws(MicadoError) in
            if placesHomes { try await volumes.placeHomeless { _, _ throws(MicadoError) in try await volumes.managerNode() } }
            try await volumes.syncLabels()
        }
        // Records first, then services: a launch stores its record before it creates the
        // service, so every service a record names is in the list read after it (read the
        // other way round, a launch finishing in between looked like a service removed).
        let records = try await store.containers()
        let services = try await engine.services(label: "\(Label.manager)=\(managerID)")
        let byName = Dictionary(services.map { ($0.spec.name, $0) }, uniquingKeysWith: { a, _ in a })
        for record in records {
            await step(.containerReconcileFailed, record.name) { () throws(MicadoError) in
                changes += try await reconcile(record, service: byName[record.name])
            }
        }
        await step(.containerObserveFailed, "observe") { () throws(MicadoError) in try await observeAll() }
        let known = Set(records.map(\.name))
        for service in services where !known.contains(service.spec.name) {
            await step(.containerReconcileFailed, service.spec.name) { () throws(MicadoError) in
                // Launched since the records were read: not an orphan.
                guard try await store.container(service.spec.name) == nil else { return }
                // Only what this store removed is cleaned up; anything else is someone's container.
                guard try await store.removed(Store.Tombstone.container, service.spec.name) else {
                    throw .conflict(
                        "service \(service.spec.name) is labelled as this manager's but the store neither knows nor removed it; left as it is (restart with --adopt to take it over)"
                    )
                }
                do throws(MicadoError) { try await engine.removeService(service.id) } catch  where error.code == .notFound {}
                try await store.forget(Store.Tombstone.container, service.spec.name)
                await note(.containerOrphanRemoved, service.spec.name, "removed service \(service.spec.name): its container was removed")
                changes.append("removed orphan \(service.spec.name)")
            }
        }
        await removeLeftoverNetworks()
        await removeUnusedObjects()
        // Between applies: an apply of the same application calls a removal off.
        _ = try? await applicationChanges.run { () throws(MicadoError) in await volumes.removeRequested() }
        return changes
    }

    /// Networks of removed applications. One still in use (its tasks are shutting down) is
    /// tried again on the next pass.
    func removeLeftoverNetworks() async {
        guard let networks = try? await engine.networks(label: "\(Label.manager)=\(managerID)") else { return }
        // An application has a network per network its file declares (and its default one).
        var byApplication: [String: [NetworkSummary]] = [:]
        for network in networks {
            guard let application = network.labels?[Label.application], network.labels?[Label.manager] == managerID else { continue }
            byApplication[application, default: []].append(network)
        }
        for (application, networks) in byApplication.sorted(by: { $0.key < $1.key }) {
            // Between applies: one of the same name must not find the network and lose it to this.
            _ = try? await applicationChanges.run { () throws(MicadoError) in
                guard try await store.application(application) == nil, try await store.removed(Store.Tombstone.application, application)
                else { return }
                for network in networks.sorted(by: { $0.name < $1.name }) {
                    try await engine.removeNetwork(network.id)
                    await note(
                        .applicationNetworkRemoved,
                        application,
                        "removed network \(network.name) of removed application \(application)"
                    )
                }
                try await store.forget(Store.Tombstone.application, application)
            }
        }
    }

    /// Secrets and configs no record mounts any more (an earlier content, a removed
    /// application). One still in use by a task that is shutting down is tried again later.
    /// Under the applications' lock: an apply makes its objects before it stores its records.
    func removeUnusedObjects() async {
        _ = try? await applicationChanges.run { () throws(MicadoError) in
            let records = try await store.containers()
            let used = Set(
                records.flatMap { ($0.settings?.options?.secrets ?? []) + ($0.settings?.options?.configs ?? []) }.compactMap(\.object)
            )
            for kind in SwarmObject.Kind.allCases {
                for object in try await engine.swarmObjects(kind, label: "\(Label.manager)=\(managerID)")
                where object.spec.labels?[Label.manager] == managerID && !used.contains(object.spec.name) {
                    try? await engine.removeSwarmObject(kind, object.id)
                }
            }
        }
    }

    /// One container's reconcile step.
    func reconcile(_ record: ContainerRecord, service: SwarmService?) async throws(MicadoError) -> [String] {
        var record = record
        guard let service else {
            if record.serviceID == nil || record.lastState == .creating {
                // A service made only once what it depends on is there (an apply cut while it waited).
                guard try await containers.dependenciesMet(record) else { return [] }
                try await containers.ensureService(record)
                await note(.containerResumed, record.name, "finished the interrupted launch of \(record.name)")
                return ["created service for \(record.name)"]
            } else if record.lastState != .missing {
                record.lastState = .missing
                record.lastReason = "its service was removed outside micado; quit and remove it, or launch it again"
                record.updatedAt = now
                try await store.updateContainer(
                    record,
                    event: event(.containerMissing, record.name, "service of \(record.name) is gone from the swarm")
                )
                return ["marked \(record.name) missing"]
            }
            return []
        }
        var changes: [String] = []
        if record.serviceID != service.id {
            record.serviceID = service.id
            record.lastState = .pending
            record.updatedAt = now
            try await store.updateContainer(
                record,
                event: event(.containerAdopted, record.name, "adopted service \(service.id.prefix(12)) for \(record.name)")
            )
            changes.append("adopted \(record.name)")
        }
        let wanted = record.wantedReplicas
        if record.application != nil, service.spec.labels?[Label.specDigest] != Containers.digest(of: record),
            service.updateStatus?.rolledBack == true
        {
            // Swarm rolled the update back (its tasks failed): rolling it again would loop.
            // The record keeps asking for the file's spec; the next apply of a fixed file rolls.
            await step(.serviceUpdateFailed, record.name) { () throws(MicadoError) in
                throw .conflict(
                    "the update of \(record.name) failed and Swarm rolled it back (\(service.updateStatus?.message ?? service.updateStatus?.state?.rawValue ?? "")); it runs its previous spec until a fixed file is applied"
                )
            }
        } else if record.application != nil, service.spec.labels?[Label.specDigest] != Containers.digest(of: record) {
            try await containers.roll(record, service: service)
            await note(.containerRolled, record.name, "rolled \(record.name) to its application's file (its service differed)")
            return changes + ["rolled \(record.name)"]
        }
        if service.spec.replicas != wanted {
            try await engine.scaleService(service.id, replicas: wanted)
            await note(.containerRescaled, record.name, "set \(record.name) to \(wanted) replica(s) as desired")
            changes.append("scaled \(record.name) to \(wanted)")
        }
        return changes
    }

    /// Records each container's observed state, so transitions become events even when nobody is watching.
    func observeAll() async throws(MicadoError) {
        let records = try await store.containers()
        guard !records.isEmpty else { return }
        let snapshot = try await snapshot()
        for record in records where record.lastState != .missing {
            await step(.containerObserveFailed, record.name) { () throws(MicadoError) in
                try await containers.recordObservation(of: record, containers.view(of: record, in: snapshot))
            }
        }
    }
}
