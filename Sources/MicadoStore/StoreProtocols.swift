import MicadoCore

// The store, split by concern. Each part of the manager names only the concerns it reads or
// writes (`any ContainerStore & EventStore`, …), so a reader sees what a part may touch and a
// test builds it with a fake of just those. `Store` (SQLite) implements them all; another
// database implements the same protocols.
//
// A write that changes a record and says so takes its event and stores both in one
// transaction: a crash never leaves a change without its event, or an event without its change.

/// Desired containers (one record per `micado launch` or application service).
public protocol ContainerStore: Sendable {
    func insertContainer(_ record: ContainerRecord, event: EventRecord) async throws(MicadoError)
    func container(_ name: String) async throws(MicadoError) -> ContainerRecord?
    func containers() async throws(MicadoError) -> [ContainerRecord]
    func updateContainer(_ record: ContainerRecord, event: EventRecord?) async throws(MicadoError)
    /// Whether the count changed.
    func setReplicas(_ name: String, _ replicas: Int, event: EventRecord) async throws(MicadoError) -> Bool
    /// Whether the observed state changed.
    func observe(container name: String, state: ObservedState, reason: String?) async throws(MicadoError) -> Bool
    func deleteContainer(_ name: String, event: EventRecord) async throws(MicadoError)
}

/// Instances: the manager's own node and every cloud instance.
public protocol InstanceStore: Sendable {
    func upsertInstance(_ record: InstanceRecord) async throws(MicadoError)
    func instances() async throws(MicadoError) -> [InstanceRecord]
    func insertInstance(_ record: InstanceRecord, event: EventRecord) async throws(MicadoError)
    func updateInstance(_ record: InstanceRecord, event: EventRecord?) async throws(MicadoError)
    func deleteInstance(_ id: InstanceID, event: EventRecord) async throws(MicadoError)
}

/// Applications (Compose files) with their services' records, applied all or nothing.
public protocol ApplicationStore: Sendable {
    func applications() async throws(MicadoError) -> [ApplicationRecord]
    func application(_ name: String) async throws(MicadoError) -> ApplicationRecord?
    /// `declaring`: its named volumes, stored unless already there (a stored one keeps its home).
    func apply(
        _ application: ApplicationRecord,
        saving services: [ContainerRecord],
        removing removed: [String],
        declaring volumes: [VolumeRecord],
        events: [EventRecord]
    ) async throws(MicadoError)
    /// Removes the application and its services' records; with `removingVolumes`, marks its
    /// volumes for removal in the same transaction.
    func deleteApplication(_ name: String, removingVolumes: Bool, event: EventRecord) async throws(MicadoError)
}

/// Applications' named volumes and where each lives.
public protocol VolumeStore: Sendable {
    func volumes() async throws(MicadoError) -> [VolumeRecord]
    func updateVolume(_ record: VolumeRecord, event: EventRecord?) async throws(MicadoError)
    func deleteVolume(_ name: String, event: EventRecord) async throws(MicadoError)
}

/// The event log.
public protocol EventStore: Sendable {
    func record(_ event: EventRecord) async throws(MicadoError)
    func events(subject: String?, after: Int64?, limit: Int) async throws(MicadoError) -> [EventRecord]
}

extension EventStore {
    public func events(subject: String? = nil, after: Int64? = nil, limit: Int = 100) async throws(MicadoError) -> [EventRecord] {
        try await events(subject: subject, after: after, limit: limit)
    }
}

/// Usage samples of containers.
public protocol UsageStore: Sendable {
    func recordUsage(_ samples: [UsageRecord], keep: Int) async throws(MicadoError)
    func latestUsage() async throws(MicadoError) -> [String: UsageRecord]
    func latestUsage(container: String) async throws(MicadoError) -> UsageRecord?
    func memorySamples(image: String, limit: Int) async throws(MicadoError) -> [Double]
    func usageHistory(container: String, limit: Int) async throws(MicadoError) -> [UsageRecord]
}

extension UsageStore {
    public func memorySamples(image: String) async throws(MicadoError) -> [Double] {
        try await memorySamples(image: image, limit: 2000)
    }
}

/// Images micado built or was given, with what it learnt of them.
public protocol ImageStore: Sendable {
    func upsertImage(_ record: ImageRecord) async throws(MicadoError)
    /// Reads, changes and writes one image's record in one transaction (made if missing):
    /// each writer changes only the fields it owns (a digest, a critical usage), so two
    /// writers at once never undo each other.
    @discardableResult
    func updateImage(_ name: String, _ change: @escaping @Sendable (inout ImageRecord) -> Void) async throws(MicadoError) -> ImageRecord
    func image(_ name: String) async throws(MicadoError) -> ImageRecord?
    func deleteImage(_ name: String, event: EventRecord) async throws(MicadoError)
    func images() async throws(MicadoError) -> [ImageRecord]
}

/// Small durable facts: settings, work in flight (finished after a crash), and tombstones of
/// what was removed (so that a late observer never brings it back).
public protocol SettingsStore: Sendable {
    func setting(_ key: String) async throws(MicadoError) -> String?
    func setSetting(_ key: String, _ value: String) async throws(MicadoError)
    /// The setting, created by `make` (once, even when two ask at once) when it is absent.
    func setting(_ key: String, orCreate make: @escaping @Sendable () -> String) async throws(MicadoError) -> String
    func markInFlight(_ kind: String, _ subject: String) async throws(MicadoError)
    func clearInFlight(_ kind: String, _ subject: String) async throws(MicadoError)
    func inFlight(_ kind: String) async throws(MicadoError) -> [String]
    func removed(_ kind: String, _ id: String) async throws(MicadoError) -> Bool
    func bury(_ kind: String, _ id: String) async throws(MicadoError)
    func forget(_ kind: String, _ id: String) async throws(MicadoError)
}

/// Exec sessions the dashboard may reattach to.
public protocol ExecSessionStore: Sendable {
    func saveExecSession(_ record: ExecSessionRecord) async throws(MicadoError)
    func deleteExecSession(_ session: String) async throws(MicadoError)
    func execSessions() async throws(MicadoError) -> [ExecSessionRecord]
}

/// A consistent copy of the whole store, taken while it runs.
public protocol BackupStore: Sendable {
    func backup(to path: String) async throws(MicadoError)
    /// Folds the write-ahead log into the main file, so that after a clean stop the main
    /// file alone is the whole store (what an administrator copies or inspects).
    func checkpoint() async throws(MicadoError)
}

/// Every concern at once: what the manager is assembled with.
public typealias ManagerStore = ContainerStore & InstanceStore & ApplicationStore & VolumeStore & EventStore & UsageStore
    & ImageStore & SettingsStore & ExecSessionStore & BackupStore

extension Store: ContainerStore, InstanceStore, ApplicationStore, VolumeStore, EventStore, UsageStore, ImageStore, SettingsStore,
    ExecSessionStore, BackupStore
{}
