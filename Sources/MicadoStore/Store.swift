import Foundation
import GRDB
import MicadoCore
import Synchronization

/// The manager's persistent state: desired containers, known instances and images, and
/// the event log. SQLite in WAL mode: a committed write survives a kill -9.
public final class Store: Sendable {
    let writer: any DatabaseWriter
    /// Every view and loop reads all container and instance records, and decoding hundreds of
    /// them (a container's arguments and environment are JSON; an instance's dates are text)
    /// took tens of milliseconds each time, several times a pass. Each list is kept for a
    /// second; a write of this store patches it or drops it at once (see `write`).
    let containerCache = ListCache<ContainerRecord>()
    let instanceCache = ListCache<InstanceRecord>()

    final class ListCache<Record: Sendable>: Sendable {
        let state = Mutex(RecordCache<Record>())
    }

    struct RecordCache<Record: Sendable>: Sendable {
        var records: [Record]?
        var readAt = ContinuousClock.now
        var generation = 0

        /// The list while it is fresh, and the generation a new read must still see to be kept.
        var current: (records: [Record]?, generation: Int) {
            (records.flatMap { ContinuousClock.now - readAt < .seconds(1) ? $0 : nil }, generation)
        }

        mutating func keep(_ fresh: [Record], readAt started: ContinuousClock.Instant, ifStill generation: Int) {
            // Not if a write happened meanwhile: what was read may predate it.
            guard self.generation == generation else { return }
            records = fresh
            readAt = started
        }

        mutating func drop() {
            records = nil
            generation += 1
        }

        /// A committed write applied to the list in place (when one is kept), so a write of
        /// one record costs no read of them all; a read in flight is not kept (it may predate it).
        mutating func patch(_ change: (inout [Record]) -> Void) {
            if records != nil { change(&records!) }
            generation += 1
        }
    }

    /// After this write's transaction commits, on the writer's queue (so patches apply in the
    /// order the writes committed), the container list learns `record` (nil: `name` is gone).
    static func patchContainers(_ cache: ListCache<ContainerRecord>, _ db: Database, name: String, record: ContainerRecord?) {
        db.afterNextTransaction { _ in
            cache.state.withLock { state in
                state.patch { list in
                    list.removeAll { $0.name == name }
                    guard let record else { return }
                    let at = list.firstIndex { ($0.createdAt, $0.name) > (record.createdAt, record.name) } ?? list.count
                    list.insert(record, at: at)
                }
            }
        }
    }

    static func patchInstances(_ cache: ListCache<InstanceRecord>, _ db: Database, id: InstanceID, record: InstanceRecord?) {
        db.afterNextTransaction { _ in
            cache.state.withLock { state in
                state.patch { list in
                    if let i = list.firstIndex(where: { $0.id == id }) {
                        if let record { list[i] = record } else { list.remove(at: i) }
                    } else if let record {
                        let at = list.firstIndex { $0.createdAt > record.createdAt } ?? list.count
                        list.insert(record, at: at)
                    }
                }
            }
        }
    }

    /// A list read through its cache.
    func cached<Record: Sendable>(
        _ cache: ListCache<Record>,
        _ fetch: @escaping @Sendable (Database) throws -> [Record]
    ) async throws(MicadoError) -> [Record] {
        let (records, generation) = cache.state.withLock { $0.current }
        if let records { return records }
        let started = ContinuousClock.now
        let fresh = try await read(fetch)
        cache.state.withLock { $0.keep(fresh, readAt: started, ifStill: generation) }
        return fresh
    }

    /// Opens (creating if needed) the store at `path` and runs pending migrations.
    public static func open(path: String) throws(MicadoError) -> Store {
        do {
            var config = Configuration()
            config.busyMode = .timeout(5)
            let pool = try DatabasePool(path: path, configuration: config)
            // It holds every container's environment and arguments: private, whatever the umask.
            for file in [path, path + "-wal", path + "-shm"] where FileManager.default.fileExists(atPath: file) {
                try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file)
            }
            // A damaged store is refused before anything reads or writes it: starting on it
            // would answer 500s later, or act on half the records.
            let check = try pool.read { db in try String.fetchAll(db, sql: "PRAGMA quick_check") }
            guard check == ["ok"] else {
                throw MicadoError(
                    .configuration,
                    "the store at \(path) is damaged (\(check.prefix(3).joined(separator: "; "))); restore it from a backup ('micado backup', see the README)"
                )
            }
            return try Store(writer: pool)
        } catch let error as MicadoError {
            throw error
        } catch let error as DatabaseError where [.SQLITE_CORRUPT, .SQLITE_NOTADB].contains(error.resultCode.primaryResultCode) {
            throw .init(
                .configuration,
                "the store at \(path) is damaged (\(error.message ?? "\(error)")); restore it from a backup ('micado backup', see the README)"
            )
        } catch {
            throw .init(.configuration, "cannot open the store at \(path): \(error)")
        }
    }

    /// An online backup into a new SQLite file at `path`: a consistent copy taken while
    /// the manager keeps working (SQLite's backup API).
    public func backup(to path: String) async throws(MicadoError) {
        do {
            let destination = try DatabaseQueue(path: path)
            try writer.backup(to: destination)
            try destination.close()
        } catch {
            throw .init(.internal, "cannot back up the store: \(error)")
        }
    }

    /// One table's rows, column by column: a snapshot of another store being copied in.
    struct TableRows: Sendable {
        var table: String
        var rows: [[(String, DatabaseValue)]]
    }

    /// Fills this (new, empty) store with `tables`, in one transaction: a backup of a PostgreSQL store.
    func load(_ tables: [TableRows]) async throws(MicadoError) {
        try await write { db in
            for table in tables {
                guard Schema.primaryKeys[table.table] != nil else { throw MicadoError(.internal, "unknown table \(table.table)") }
                for row in table.rows {
                    let names = row.map(\.0)
                    try db.execute(
                        sql:
                            "INSERT INTO \(table.table) (\(names.joined(separator: ", "))) VALUES (\(names.map { _ in "?" }.joined(separator: ", ")))",
                        arguments: StatementArguments(row.map(\.1))
                    )
                }
            }
        }
    }

    public func checkpoint() async throws(MicadoError) {
        do { _ = try await writer.writeWithoutTransaction { db in try db.checkpoint(.truncate) } } catch {
            throw .init(.internal, "cannot checkpoint the store: \(error)")
        }
    }

    /// An in-memory store, for tests.
    public static func inMemory() throws(MicadoError) -> Store {
        do { return try Store(writer: DatabaseQueue()) } catch {
            throw .init(.internal, "cannot create an in-memory store: \(error)")
        }
    }

    init(writer: any DatabaseWriter) throws {
        self.writer = writer
        try Migrations.migrator.migrate(writer)
    }

    /// Every write drops the cached lists, before and after (a read that began before it is
    /// not kept), unless it keeps them right: it patches them itself (`patchContainers`,
    /// `patchInstances`) or touches neither table (events, usage, images, settings). A write
    /// that fails drops them either way.
    func write<T: Sendable>(keepsLists: Bool = false, _ body: @escaping @Sendable (Database) throws -> T) async throws(MicadoError) -> T {
        if !keepsLists { changedRecords() }
        defer { if !keepsLists { changedRecords() } }
        do { return try await writer.write(body) } catch let error as MicadoError {
            changedRecords()
            throw error
        } catch {
            changedRecords()
            throw Self.map(error)
        }
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws(MicadoError) -> T {
        do { return try await writer.read(body) } catch let error as MicadoError { throw error } catch {
            throw Self.map(error)
        }
    }

    static func map(_ error: any Error) -> MicadoError {
        if let db = error as? DatabaseError, db.resultCode == .SQLITE_CONSTRAINT {
            return .init(.alreadyExists, "already exists: \(db.message ?? "constraint violated")")
        }
        return .init(.internal, "store error: \(error)")
    }

    // MARK: containers

    /// Inserts a new container; fails with `already_exists` when the name is taken.
    public func insertContainer(_ record: ContainerRecord, event: EventRecord) async throws(MicadoError) {
        let cache = containerCache
        do {
            try await write(keepsLists: true) { db in
                if try ContainerRecord.fetchOne(db, key: record.name) != nil {
                    throw MicadoError(
                        .alreadyExists,
                        "a container named \(record.name) already exists; pick another name or remove it first"
                    )
                }
                try record.insert(db)
                try db.execute(sql: "DELETE FROM tombstones WHERE kind = ? AND id = ?", arguments: [Tombstone.container, record.name])
                var event = event
                try event.insert(db)
                Self.patchContainers(cache, db, name: record.name, record: try ContainerRecord.fetchOne(db, key: record.name))
            }
        }
    }

    public func container(_ name: String) async throws(MicadoError) -> ContainerRecord? {
        try await read { db in try ContainerRecord.fetchOne(db, key: name) }
    }

    public func containers() async throws(MicadoError) -> [ContainerRecord] {
        try await cached(containerCache) { db in try ContainerRecord.order(Column("createdAt"), Column("name")).fetchAll(db) }
    }

    /// Drops the cached lists (every write does).
    func changedRecords() {
        containerCache.state.withLock { $0.drop() }
        instanceCache.state.withLock { $0.drop() }
    }

    /// Saves a changed container together with the event that explains the change.
    public func updateContainer(_ record: ContainerRecord, event: EventRecord?) async throws(MicadoError) {
        let cache = containerCache
        try await write(keepsLists: true) { db in
            try record.update(db)
            if var event { try event.insert(db) }
            Self.patchContainers(cache, db, name: record.name, record: try ContainerRecord.fetchOne(db, key: record.name))
        }
    }

    /// Sets a service's replica count alone (the autoscaler): an apply that changed the rest of
    /// the record meanwhile is kept. Returns false when the record is gone.
    @discardableResult
    public func setReplicas(_ name: String, _ replicas: Int, event: EventRecord) async throws(MicadoError) -> Bool {
        try await write { db in
            try db.execute(
                sql: "UPDATE containers SET replicas = ?, updatedAt = ? WHERE name = ?",
                arguments: [replicas, StoredDate.now, name]
            )
            guard db.changesCount > 0 else { return false }
            var event = event
            try event.insert(db)
            return true
        }
    }

    /// Records the observed state; returns whether the state changed (a no-op otherwise).
    @discardableResult
    public func observe(container name: String, state: ObservedState, reason: String?) async throws(MicadoError) -> Bool {
        let cache = containerCache
        return try await write(keepsLists: true) { db in
            guard var record = try ContainerRecord.fetchOne(db, key: name) else { return false }
            guard record.lastState != state || record.lastReason != reason else { return false }
            let changed = record.lastState != state
            record.lastState = state
            record.lastReason = reason
            record.updatedAt = Date()
            try record.update(db)
            Self.patchContainers(cache, db, name: name, record: try ContainerRecord.fetchOne(db, key: name))
            return changed
        }
    }

    public func deleteContainer(_ name: String, event: EventRecord) async throws(MicadoError) {
        let cache = containerCache
        try await write(keepsLists: true) { db in
            Self.patchContainers(cache, db, name: name, record: nil)
            _ = try ContainerRecord.deleteOne(db, key: name)
            try db.execute(sql: "DELETE FROM usageLatest WHERE container = ?", arguments: [name])
            try Self.bury(Tombstone.container, name, db)
            var event = event
            try event.insert(db)
        }
    }

    // MARK: instances

    public func upsertInstance(_ record: InstanceRecord) async throws(MicadoError) {
        let cache = instanceCache
        try await write(keepsLists: true) { db in
            try record.save(db)
            Self.patchInstances(cache, db, id: record.id, record: try InstanceRecord.fetchOne(db, key: record.id.rawValue))
        }
    }

    public func instances() async throws(MicadoError) -> [InstanceRecord] {
        try await cached(instanceCache) { db in try InstanceRecord.order(Column("createdAt")).fetchAll(db) }
    }

    /// Inserts a new instance record with the event that explains it (before any cloud call).
    public func insertInstance(_ record: InstanceRecord, event: EventRecord) async throws(MicadoError) {
        let cache = instanceCache
        try await write(keepsLists: true) { db in
            try record.insert(db)
            var event = event
            try event.insert(db)
            Self.patchInstances(cache, db, id: record.id, record: try InstanceRecord.fetchOne(db, key: record.id.rawValue))
        }
    }

    public func updateInstance(_ record: InstanceRecord, event: EventRecord?) async throws(MicadoError) {
        let cache = instanceCache
        try await write(keepsLists: true) { db in
            try record.update(db)
            if var event { try event.insert(db) }
            Self.patchInstances(cache, db, id: record.id, record: try InstanceRecord.fetchOne(db, key: record.id.rawValue))
        }
    }

    public func deleteInstance(_ id: InstanceID, event: EventRecord) async throws(MicadoError) {
        let cache = instanceCache
        try await write(keepsLists: true) { db in
            Self.patchInstances(cache, db, id: id, record: nil)
            _ = try InstanceRecord.deleteOne(db, key: id.rawValue)
            try Self.bury(Tombstone.instance, id.rawValue, db)
            var event = event
            try event.insert(db)
        }
    }

    // MARK: applications

    public func applications() async throws(MicadoError) -> [ApplicationRecord] {
        try await read { db in try ApplicationRecord.order(Column("name")).fetchAll(db) }
    }

    public func application(_ name: String) async throws(MicadoError) -> ApplicationRecord? {
        try await read { db in try ApplicationRecord.fetchOne(db, key: name) }
    }

    /// One apply, all or nothing: the application's file and revision, its services'
    /// records (new, changed, removed; a removed one leaves a tombstone so its Swarm service
    /// is cleaned up), and the events that say so.
    public func apply(
        _ application: ApplicationRecord,
        saving services: [ContainerRecord],
        removing removed: [String],
        declaring volumes: [VolumeRecord] = [],
        events: [EventRecord]
    ) async throws(MicadoError) {
        try await write { db in
            try application.save(db)
            for volume in volumes {
                if var stored = try VolumeRecord.fetchOne(db, key: volume.name) {
                    // A removal asked for and not yet done is called off: the file wants it again.
                    if stored.removing || stored.labels != volume.labels {
                        stored.removing = false
                        stored.labels = volume.labels
                        try stored.update(db)
                    }
                } else {
                    try volume.insert(db)
                }
            }
            try db.execute(sql: "DELETE FROM tombstones WHERE kind = ? AND id = ?", arguments: [Tombstone.application, application.name])
            for record in services {
                if let existing = try ContainerRecord.fetchOne(db, key: record.name), existing.application != application.name {
                    throw MicadoError(
                        .alreadyExists,
                        "a container named \(record.name) already exists outside application \(application.name)"
                    )
                }
                try record.save(db)
                try db.execute(sql: "DELETE FROM tombstones WHERE kind = ? AND id = ?", arguments: [Tombstone.container, record.name])
            }
            for name in removed {
                _ = try ContainerRecord.deleteOne(db, key: name)
                try db.execute(sql: "DELETE FROM usageLatest WHERE container = ?", arguments: [name])
                try Self.bury(Tombstone.container, name, db)
            }
            for var event in events { try event.insert(db) }
        }
    }

    /// Forgets an application and every service of it (each leaves a tombstone).
    public func deleteApplication(_ name: String, removingVolumes: Bool, event: EventRecord) async throws(MicadoError) {
        try await write { db in
            // In the same transaction: a crash right after cannot keep volumes asked to go.
            if removingVolumes { try db.execute(sql: "UPDATE volumes SET removing = 1 WHERE application = ?", arguments: [name]) }
            let services = try String.fetchAll(db, sql: "SELECT name FROM containers WHERE application = ?", arguments: [name])
            for service in services {
                _ = try ContainerRecord.deleteOne(db, key: service)
                try db.execute(sql: "DELETE FROM usageLatest WHERE container = ?", arguments: [service])
                try Self.bury(Tombstone.container, service, db)
            }
            _ = try ApplicationRecord.deleteOne(db, key: name)
            try Self.bury(Tombstone.application, name, db)
            var event = event
            try event.insert(db)
        }
    }

    // MARK: volumes

    public func volumes() async throws(MicadoError) -> [VolumeRecord] {
        try await read { db in try VolumeRecord.order(Column("name")).fetchAll(db) }
    }

    public func updateVolume(_ record: VolumeRecord, event: EventRecord?) async throws(MicadoError) {
        try await write { db in
            try record.update(db)
            if var event { try event.insert(db) }
        }
    }

    public func deleteVolume(_ name: String, event: EventRecord) async throws(MicadoError) {
        try await write { db in
            _ = try VolumeRecord.deleteOne(db, key: name)
            var event = event
            try event.insert(db)
        }
    }

    // MARK: tombstones

    /// Kinds of what the store removes (see the `v7: tombstones` migration).
    public enum Tombstone {
        public static let container = "container"
        public static let instance = "instance"
        /// An application's network is removed once its application is.
        public static let application = "application"
    }

    static func bury(_ kind: String, _ id: String, _ db: Database) throws {
        try db.execute(
            sql: "INSERT OR REPLACE INTO tombstones (kind, id, removedAt) VALUES (?, ?, ?)",
            arguments: [kind, id, StoredDate.now]
        )
    }

    /// Whether this store removed `id` (and so may clean up what is left of it).
    public func removed(_ kind: String, _ id: String) async throws(MicadoError) -> Bool {
        try await read { db in
            try Bool.fetchOne(db, sql: "SELECT 1 FROM tombstones WHERE kind = ? AND id = ?", arguments: [kind, id]) ?? false
        }
    }

    /// Records that `id` is to be cleaned up as removed (`micado manager --adopt` of an instance).
    public func bury(_ kind: String, _ id: String) async throws(MicadoError) {
        try await write(keepsLists: true) { db in try Self.bury(kind, id, db) }
    }

    public func forget(_ kind: String, _ id: String) async throws(MicadoError) {
        try await write(keepsLists: true) { db in
            try db.execute(sql: "DELETE FROM tombstones WHERE kind = ? AND id = ?", arguments: [kind, id])
        }
    }

    // MARK: images

    public func upsertImage(_ record: ImageRecord) async throws(MicadoError) {
        try await write(keepsLists: true) { db in try record.save(db) }
    }

    @discardableResult
    public func updateImage(
        _ name: String,
        _ change: @escaping @Sendable (inout ImageRecord) -> Void
    ) async throws(MicadoError) -> ImageRecord {
        try await write(keepsLists: true) { db in
            var record =
                try ImageRecord.fetchOne(db, key: name)
                ?? ImageRecord(name: name, imageID: nil, sizeBytes: nil, criticalMemoryMiB: nil, createdAt: Date())
            let before = record
            change(&record)
            let exists = try record.exists(db)
            if record != before || !exists { try record.save(db) }
            return record
        }
    }

    public func image(_ name: String) async throws(MicadoError) -> ImageRecord? {
        try await read { db in try ImageRecord.fetchOne(db, key: name) }
    }

    public func deleteImage(_ name: String, event: EventRecord) async throws(MicadoError) {
        try await write(keepsLists: true) { db in
            _ = try ImageRecord.deleteOne(db, key: name)
            var event = event
            try event.insert(db)
        }
    }

    public func images() async throws(MicadoError) -> [ImageRecord] {
        try await read { db in try ImageRecord.order(Column("name")).fetchAll(db) }
    }

    // MARK: usage

    /// Appends samples and keeps at most `keep` per container (a bounded history).
    public func recordUsage(_ samples: [UsageRecord], keep: Int) async throws(MicadoError) {
        guard !samples.isEmpty else { return }
        try await write(keepsLists: true) { db in
            for var sample in samples {
                try sample.insert(db)
                try db.execute(
                    sql: "INSERT OR REPLACE INTO usageLatest (container, image, time, cpuPercent, memoryMiB) VALUES (?, ?, ?, ?, ?)",
                    arguments: [sample.container, sample.image, StoredDate.text(sample.time), sample.cpuPercent, sample.memoryMiB]
                )
                // Only this container's rows beyond `keep`, through the (container, id) index:
                // never a scan of every container's history while writers wait.
                try db.execute(
                    sql: """
                        DELETE FROM usage WHERE container = ? AND id <= (
                          SELECT id FROM usage WHERE container = ? ORDER BY id DESC LIMIT 1 OFFSET ?)
                        """,
                    arguments: [sample.container, sample.container, keep]
                )
            }
        }
    }

    /// The newest sample of each container.
    public func latestUsage() async throws(MicadoError) -> [String: UsageRecord] {
        try await read { db in
            let rows = try UsageRecord.fetchAll(
                db,
                sql: "SELECT NULL AS id, container, image, time, cpuPercent, memoryMiB FROM usageLatest"
            )
            return Dictionary(rows.map { ($0.container, $0) }, uniquingKeysWith: { a, _ in a })
        }
    }

    /// The newest sample of one container.
    public func latestUsage(container: String) async throws(MicadoError) -> UsageRecord? {
        try await read { db in try UsageRecord.filter(Column("container") == container).order(Column("id").desc).fetchOne(db) }
    }

    /// Memory samples (MiB) of every container of an image, newest `limit`.
    public func memorySamples(image: String, limit: Int) async throws(MicadoError) -> [Double] {
        try await read { db in
            try Double.fetchAll(db, sql: "SELECT memoryMiB FROM usage WHERE image = ? ORDER BY id DESC LIMIT ?", arguments: [image, limit])
        }
    }

    public func usageHistory(container: String, limit: Int) async throws(MicadoError) -> [UsageRecord] {
        try await read { db in
            try UsageRecord.filter(Column("container") == container).order(Column("id").desc).limit(limit).fetchAll(db).reversed()
        }
    }

    // MARK: attached exec sessions

    public func saveExecSession(_ record: ExecSessionRecord) async throws(MicadoError) {
        try await write(keepsLists: true) { db in try record.insert(db) }
    }

    public func deleteExecSession(_ session: String) async throws(MicadoError) {
        try await write(keepsLists: true) { db in _ = try ExecSessionRecord.deleteOne(db, key: session) }
    }

    public func execSessions() async throws(MicadoError) -> [ExecSessionRecord] {
        try await read { db in try ExecSessionRecord.order(Column("startedAt")).fetchAll(db) }
    }

    // MARK: settings

    /// A setting's value, if set.
    public func setting(_ key: String) async throws(MicadoError) -> String? {
        try await read { db in try String.fetchOne(db, sql: "SELECT value FROM settings WHERE key = ?", arguments: [key]) }
    }

    public func setSetting(_ key: String, _ value: String) async throws(MicadoError) {
        try await write(keepsLists: true) { db in
            try db.execute(sql: "INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", arguments: [key, value])
        }
    }

    /// Work under way that a crash would leave without an outcome (a build): marked before it
    /// starts, cleared after; what a restart finds marked was cut short. Kept in `settings`
    /// under `inflight.<kind>.<subject>`.
    public func markInFlight(_ kind: String, _ subject: String) async throws(MicadoError) {
        try await write(keepsLists: true) { db in
            try db.execute(
                sql: "INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)",
                arguments: ["inflight.\(kind).\(subject)", RFC3339.string(Date())]
            )
        }
    }

    public func clearInFlight(_ kind: String, _ subject: String) async throws(MicadoError) {
        try await write(keepsLists: true) { db in
            try db.execute(sql: "DELETE FROM settings WHERE key = ?", arguments: ["inflight.\(kind).\(subject)"])
        }
    }

    /// Subjects of `kind` marked in flight (by a manager that stopped before their outcome).
    public func inFlight(_ kind: String) async throws(MicadoError) -> [String] {
        let prefix = "inflight.\(kind)."
        return try await read { db in
            try String.fetchAll(
                db,
                sql: "SELECT key FROM settings WHERE substr(key, 1, ?) = ? ORDER BY key",
                arguments: [prefix.count, prefix]
            )
        }.map { String($0.dropFirst(prefix.count)) }
    }

    /// The value of `key`, created with `make()` on first use (e.g. the manager's identity).
    public func setting(_ key: String, orCreate make: @escaping @Sendable () -> String) async throws(MicadoError) -> String {
        try await write(keepsLists: true) { db in
            if let value = try String.fetchOne(db, sql: "SELECT value FROM settings WHERE key = ?", arguments: [key]) {
                return value
            }
            let value = make()
            try db.execute(sql: "INSERT INTO settings (key, value) VALUES (?, ?)", arguments: [key, value])
            return value
        }
    }

    // MARK: events

    public func record(_ event: EventRecord) async throws(MicadoError) {
        try await write(keepsLists: true) { db in
            var event = event
            try event.insert(db)
        }
    }

    /// The newest `limit` events (optionally about one subject), oldest first; with `after`,
    /// the oldest `limit` of those newer than that id (what a live view has not seen yet).
    public func events(subject: String?, after: Int64?, limit: Int) async throws(MicadoError) -> [EventRecord] {
        try await read { db in
            var request = EventRecord.all()
            if let subject { request = request.filter(Column("subject") == subject) }
            if let after { return try request.filter(Column("id") > after).order(Column("id")).limit(limit).fetchAll(db) }
            return try request.order(Column("id").desc).limit(limit).fetchAll(db).reversed()
        }
    }
}
