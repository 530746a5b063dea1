import Foundation
import GRDB
import Logging
import MicadoCore
import NIOCore
import NIOSSL
import PostgresNIO
import Synchronization

/// The store on PostgreSQL (15 or later), for managers that outlive their machine: the same
/// concerns as `Store` (SQLite), the same schema (`Schema`), the same records. Records go in
/// and out through GRDB's own encoding, so a record reads the same from either database.
///
/// Every write is one transaction; nothing is cached, because another manager may write.
/// Each call is bounded in time: a database that does not answer is an error after
/// `callTimeout`, never a manager that hangs.
public final class PostgresStore: Sendable {
    let client: PostgresClient
    /// The lease's own connection: its renewals never queue behind the pool's writes.
    let leaseClient: PostgresClient
    let running: Task<Void, Never>
    let logger: Logger
    public let location: PostgresLocation
    let callTimeout: Duration
    public let timings: LeaseTimings
    /// Set once this store's manager leads: every write then checks, in its own transaction,
    /// that the lease it acts under is still current (see `PostgresStore+Leadership`).
    let fence = Mutex<Fence?>(nil)
    let renewer = Mutex<Task<Void, Never>?>(nil)

    init(
        client: PostgresClient,
        leaseClient: PostgresClient,
        running: Task<Void, Never>,
        logger: Logger,
        location: PostgresLocation,
        callTimeout: Duration,
        timings: LeaseTimings
    ) {
        self.client = client
        self.leaseClient = leaseClient
        self.running = running
        self.logger = logger
        self.location = location
        self.callTimeout = callTimeout
        self.timings = timings
    }

    /// Connects, and brings the schema up to date (one manager at a time: the others wait).
    /// `timings` are the lease's, if this store's manager is to lead (`lead`).
    public static func open(
        _ location: PostgresLocation,
        logger: Logger,
        timings: LeaseTimings = LeaseTimings(),
        callTimeout: Duration = .seconds(30)
    ) async throws(MicadoError) -> PostgresStore {
        let parameters = sessionParameters(timings: timings, callTimeout: callTimeout)
        let tls: TLSConfiguration?
        do { tls = try tlsConfiguration(location) } catch { throw map(error, location: location) }
        // One connection first, alone: a wrong password or a missing database is said at once
        // (the pool would keep trying until the call's deadline).
        try await within(.seconds(15), location: location) {
            let connection = try await PostgresConnection.connect(
                configuration: probeConfiguration(location, tls: tls, parameters: parameters),
                id: 0,
                logger: logger
            )
            try await connection.close()
        }
        func client(connections: Int) -> PostgresClient {
            var configuration: PostgresClient.Configuration
            switch location.endpoint {
            case .socket(let path):
                configuration = .init(
                    unixSocketPath: path,
                    username: location.user,
                    password: location.password,
                    database: location.database
                )
            case .tcp(let host, let port):
                configuration = .init(
                    host: host,
                    port: port,
                    username: location.user,
                    password: location.password,
                    database: location.database,
                    tls: tls.map { location.tls == .prefer ? .prefer($0) : .require($0) } ?? .disable
                )
            }
            configuration.options.maximumConnections = connections
            configuration.options.connectTimeout = .seconds(5)
            configuration.options.additionalStartupParameters = parameters
            return PostgresClient(configuration: configuration, backgroundLogger: logger)
        }
        let pool = client(connections: 8)
        let leaseClient = client(connections: 1)
        let running = Task {
            await withDiscardingTaskGroup { group in
                group.addTask { await pool.run() }
                group.addTask { await leaseClient.run() }
            }
        }
        let store = PostgresStore(
            client: pool,
            leaseClient: leaseClient,
            running: running,
            logger: logger,
            location: location,
            callTimeout: callTimeout,
            timings: timings
        )
        do {
            try await store.migrate()
        } catch {
            await store.close()
            throw error
        }
        return store
    }

    /// Every session's bounds, so that the server itself ends what a client left hanging:
    /// - a statement after `callTimeout` (the client has given up on it by then);
    /// - a wait for a lock before the lease could end (a standby's takeover behind a stalled
    ///   leader's write fails and is tried again, instead of waiting without end);
    /// - a transaction left idle (a leader paused mid-write) once its lease could have ended,
    ///   which frees the lease's row for the next leader;
    /// - over TCP, a client gone silent, by keepalives.
    static func sessionParameters(timings: LeaseTimings, callTimeout: Duration) -> [(String, String)] {
        func milliseconds(_ duration: Duration) -> String { String(max(1, Int((duration.inSeconds * 1000).rounded()))) }
        return [
            ("application_name", "micado"),
            ("statement_timeout", milliseconds(callTimeout)),
            ("lock_timeout", milliseconds(timings.lease - timings.renewEvery)),
            ("idle_in_transaction_session_timeout", milliseconds(timings.lease)),
            ("tcp_keepalives_idle", String(max(1, Int(timings.lease.inSeconds.rounded())))),
            ("tcp_keepalives_interval", "1"),
            ("tcp_keepalives_count", "3"),
        ]
    }

    /// libpq's `sslmode` as NIOSSL's: nil for no TLS (`disable`, and always on a socket).
    static func tlsConfiguration(_ location: PostgresLocation) throws -> TLSConfiguration? {
        guard case .tcp = location.endpoint, location.tls != .disable else { return nil }
        var configuration = TLSConfiguration.makeClientConfiguration()
        if let roots = location.rootCertificates { configuration.trustRoots = .file(roots) }
        switch location.tls {
        case .disable: return nil
        case .prefer: configuration.certificateVerification = .none
        // As libpq: `require` verifies the authority only when one is named.
        case .require: configuration.certificateVerification = location.rootCertificates == nil ? .none : .noHostnameVerification
        case .verifyCA: configuration.certificateVerification = .noHostnameVerification
        case .verifyFull: configuration.certificateVerification = .fullVerification
        }
        return configuration
    }

    static func probeConfiguration(
        _ location: PostgresLocation,
        tls: TLSConfiguration?,
        parameters: [(String, String)]
    ) throws -> PostgresConnection.Configuration {
        var configuration: PostgresConnection.Configuration
        switch location.endpoint {
        case .socket(let path):
            configuration = .init(unixSocketPath: path, username: location.user, password: location.password, database: location.database)
        case .tcp(let host, let port):
            let context = try tls.map { try NIOSSLContext(configuration: $0) }
            configuration = .init(
                host: host,
                port: port,
                username: location.user,
                password: location.password,
                database: location.database,
                tls: context.map { location.tls == .prefer ? .prefer($0) : .require($0) } ?? .disable
            )
        }
        configuration.options.additionalStartupParameters = parameters
        return configuration
    }

    public func close() async {
        renewer.withLock { $0?.cancel() }
        running.cancel()
        await running.value
    }

    // MARK: the schema

    static let migrationsTable = "micado_migrations"

    /// `Schema.migrations` not yet applied, in one transaction under an advisory lock (two
    /// managers starting at once on an empty database: one migrates, the other then finds it
    /// done). A database migrated by a newer micado is refused, not written.
    func migrate() async throws(MicadoError) {
        try await write { db in
            // Waiting for another manager's migrations may take longer than a lease: only the
            // statement's bound applies here.
            try await db.execute("SET LOCAL lock_timeout = 0")
            try await db.execute("SELECT pg_advisory_xact_lock(7335718251)")
            try await db.execute(
                "CREATE TABLE IF NOT EXISTS \(Self.migrationsTable) (name TEXT NOT NULL PRIMARY KEY, appliedAt TEXT NOT NULL)"
            )
            let applied = Set(try await db.rows("SELECT name FROM \(Self.migrationsTable)").compactMap { $0["name"] as String? })
            let known = Set(Schema.migrations.map(\.name))
            if let unknown = applied.subtracting(known).sorted().first {
                throw MicadoError(
                    .configuration,
                    "the store \(self.location) was migrated by a newer micado (it has \"\(unknown)\"); run that version"
                )
            }
            for migration in Schema.migrations where !applied.contains(migration.name) {
                for statement in Schema.statements(migration, in: .postgres) { try await db.execute(statement) }
                try await db.execute(
                    "INSERT INTO \(Self.migrationsTable) (name, appliedAt) VALUES (?, ?)",
                    [migration.name.databaseValue, StoredDate.now.databaseValue]
                )
            }
        }
    }

    /// The names of the migrations applied, in order (for tests and `micado doctor`).
    public func appliedMigrations() async throws(MicadoError) -> [String] {
        try await read { db in
            try await db.rows("SELECT name FROM \(Self.migrationsTable)").compactMap { $0["name"] as String? }
        }
        .sorted { a, b in
            (Schema.migrations.firstIndex { $0.name == a } ?? .max) < (Schema.migrations.firstIndex { $0.name == b } ?? .max)
        }
    }

    // MARK: transactions

    /// One connection's work: SQL written with `?` placeholders, as for SQLite, rows read back as
    /// GRDB rows, records written by their GRDB encoding.
    struct Connection {
        let connection: PostgresConnection
        let logger: Logger

        func rows(_ sql: String, _ arguments: [DatabaseValue] = []) async throws -> [Row] {
            let query = PostgresQuery(unsafeSQL: PostgresStore.numbered(sql), binds: PostgresStore.binds(arguments))
            var rows: [Row] = []
            for try await row in try await connection.query(query, logger: logger) {
                var values: [String: (any DatabaseValueConvertible)?] = [:]
                for cell in row { values[cell.columnName] = try PostgresStore.value(of: cell) }
                rows.append(Row(values))
            }
            return rows
        }

        func execute(_ sql: String, _ arguments: [DatabaseValue] = []) async throws {
            _ = try await rows(sql, arguments)
        }

        func all<Record: FetchableRecord>(_ type: Record.Type, _ sql: String, _ arguments: [DatabaseValue] = []) async throws -> [Record] {
            try await rows(sql, arguments).map { try Record(row: $0) }
        }

        func one<Record: FetchableRecord & TableRecord>(_ type: Record.Type, key: String) async throws -> Record? {
            let column = Schema.primaryKeys[Record.databaseTableName]![0]
            return try await all(type, "SELECT * FROM \(Record.databaseTableName) WHERE \(column) = ?", [key.databaseValue]).first
        }

        /// Deletes the row of `Record`'s table with this (single-column) primary key, as GRDB's `deleteOne`.
        func delete<Record: TableRecord>(_ type: Record.Type, key: String) async throws {
            let column = Schema.primaryKeys[Record.databaseTableName]![0]
            try await execute("DELETE FROM \(Record.databaseTableName) WHERE \(column) = ?", [key.databaseValue])
        }

        /// What an insert does when the key is taken: fail (`already_exists`), replace the row, or keep it.
        enum Conflict { case fail, replace, keep }

        /// Inserts `record`; an auto-numbered key it leaves nil is the database's, and returned.
        @discardableResult
        func insert<Record: EncodableRecord & TableRecord>(_ record: Record, onConflict: Conflict = .fail) async throws -> Int64? {
            let table = Record.databaseTableName
            var columns = try record.databaseDictionary
            let keys = Schema.primaryKeys[table]!
            let numbered = keys == ["id"] && (columns["id"]?.isNull ?? true)
            if numbered { columns["id"] = nil }
            let names = columns.keys.sorted()
            var sql = "INSERT INTO \(table) (\(names.joined(separator: ", "))) VALUES (\(names.map { _ in "?" }.joined(separator: ", ")))"
            let others = names.filter { !keys.contains($0) }
            switch onConflict {
            case .fail: break
            case .keep: sql += " ON CONFLICT (\(keys.joined(separator: ", "))) DO NOTHING"
            case .replace:
                sql +=
                    " ON CONFLICT (\(keys.joined(separator: ", "))) DO UPDATE SET "
                    + others.map { "\($0) = excluded.\($0)" }.joined(separator: ", ")
            }
            if numbered { sql += " RETURNING id" }
            let rows = try await self.rows(sql, names.map { columns[$0]! })
            return numbered ? rows.first?["id"] : nil
        }

        /// Inserts or replaces by primary key.
        func save<Record: EncodableRecord & TableRecord>(_ record: Record) async throws {
            try await insert(record, onConflict: .replace)
        }

        /// Updates the row of `record`'s key; returns whether there was one.
        @discardableResult
        func update<Record: EncodableRecord & TableRecord>(_ record: Record) async throws -> Bool {
            let table = Record.databaseTableName
            let columns = try record.databaseDictionary
            let keys = Schema.primaryKeys[table]!
            let others = columns.keys.sorted().filter { !keys.contains($0) }
            let sql =
                "UPDATE \(table) SET \(others.map { "\($0) = ?" }.joined(separator: ", ")) WHERE "
                + keys.map { "\($0) = ?" }.joined(separator: " AND ") + " RETURNING 1 AS found"
            return try await !rows(sql, others.map { columns[$0]! } + keys.map { columns[$0]! }).isEmpty
        }
    }

    /// One transaction; under a lease, its first statement checks the epoch (and holds the lease's
    /// row so that no takeover commits while this write is under way).
    func write<T: Sendable>(_ body: @escaping @Sendable (Connection) async throws -> T) async throws(MicadoError) -> T {
        let logger = logger
        let fence = fence.withLock { $0 }
        if let fence, fence.lost.withLock({ $0 }) { throw fence.refusal }
        do {
            return try await bounded {
                try await self.client.withTransaction(logger: logger) { connection in
                    let db = Connection(connection: connection, logger: logger)
                    if let fence { try await fence.check(db) }
                    return try await body(db)
                }
            }
        } catch {
            if let fence, error.code == .deposed { fence.lose(error) }
            throw error
        }
    }

    func read<T: Sendable>(
        within timeout: Duration? = nil,
        _ body: @escaping @Sendable (Connection) async throws -> T
    ) async throws(MicadoError) -> T {
        let logger = logger
        return try await Self.within(timeout ?? callTimeout, location: location) {
            try await self.client.withConnection { connection in try await body(Connection(connection: connection, logger: logger)) }
        }
    }

    /// `work` within `callTimeout`, its errors as micado's.
    func bounded<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) async throws(MicadoError) -> T {
        try await Self.within(callTimeout, location: location, work)
    }

    /// `work` within `timeout` (else a `timeout` error, and `work` is cancelled), its errors as
    /// micado's. Not a task group: a group waits for its tasks to end, and a query on a connection
    /// whose server went silent may not end on cancellation; this answers on time regardless.
    static func within<T: Sendable>(
        _ timeout: Duration,
        location: PostgresLocation,
        _ work: @escaping @Sendable () async throws -> T
    ) async throws(MicadoError) -> T {
        let race = Race<T>()
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                race.waiting.withLock { $0 = continuation }
                race.start(work)
                Task {
                    try? await Task.sleep(for: timeout)
                    race.finish(.failure(MicadoError(.timeout, "the store \(location) did not answer within \(timeout)")))
                }
            }
        } onCancel: {
            race.finish(.failure(CancellationError()))
        }
        switch result {
        case .success(let value): return value
        case .failure(let error): throw map(error, location: location)
        }
    }

    /// The first of a piece of work and its deadline: the one continuation is resumed once, and
    /// the work is cancelled when it lost.
    final class Race<T: Sendable>: Sendable {
        let waiting = Mutex<CheckedContinuation<Result<T, any Error>, Never>?>(nil)
        let worker = Mutex<Task<Void, Never>?>(nil)

        func start(_ work: @escaping @Sendable () async throws -> T) {
            let task = Task {
                do { finish(.success(try await work())) } catch { finish(.failure(error)) }
            }
            worker.withLock { $0 = task }
        }

        func finish(_ result: Result<T, any Error>) {
            let continuation = waiting.withLock { continuation in
                defer { continuation = nil }
                return continuation
            }
            guard let continuation else { return }
            continuation.resume(returning: result)
            worker.withLock { $0?.cancel() }
        }
    }

    static func map(_ error: any Error, location: PostgresLocation) -> MicadoError {
        if let error = error as? MicadoError { return error }
        if let transaction = error as? PostgresTransactionError {
            return map(transaction.closureError ?? transaction.beginError ?? transaction.commitError ?? error, location: location)
        }
        if let error = error as? PSQLError {
            // PSQLError's description hides its details on purpose; the server's code and message
            // are safe to show (they never hold a bound value, only names).
            // Without the server's word (a connection that failed), the cause says what happened.
            let state = error.serverInfo?[.sqlState]
            let message = error.serverInfo?[.message] ?? "\(error.code)\(error.underlying.map { ": \($0)" } ?? "")"
            if state == "23505" { return MicadoError(.alreadyExists, "already exists: \(message)") }
            return MicadoError(.internal, "store error (\(location)): \(state.map { "SQLSTATE \($0): " } ?? "")\(message)")
        }
        if error is CancellationError { return MicadoError(.busy, "the store call was cancelled (the manager is stopping)") }
        return MicadoError(.internal, "store error (\(location)): \(error)")
    }

    /// `?` placeholders as PostgreSQL's `$1`, `$2`, … (outside quoted text and names). The SQL
    /// is micado's own, never a user's; it holds no dollar-quoted text or comments.
    static func numbered(_ sql: String) -> String {
        assert(!sql.contains("$") && !sql.contains("--") && !sql.contains("/*"), "numbered() reads plain SQL only")
        var result = ""
        var index = 0
        var quote: Character?
        for character in sql {
            if character == "'" || character == "\"" {
                if quote == nil { quote = character } else if quote == character { quote = nil }
            }
            if character == "?" && quote == nil {
                index += 1
                result += "$\(index)"
            } else {
                result.append(character)
            }
        }
        return result
    }

    static func binds(_ values: [DatabaseValue]) -> PostgresBindings {
        var binds = PostgresBindings(capacity: values.count)
        for value in values {
            switch value.storage {
            case .null: binds.appendNull()
            case .int64(let number): binds.append(number)
            case .double(let number): binds.append(number)
            case .string(let text): binds.append(text)
            case .blob(let data): binds.append(ByteBuffer(bytes: data))
            }
        }
        return binds
    }

    static func value(of cell: PostgresCell) throws -> DatabaseValue {
        guard cell.bytes != nil else { return .null }
        switch cell.dataType {
        case .int2, .int4, .int8: return try cell.decode(Int64.self).databaseValue
        case .float4, .float8: return try cell.decode(Double.self).databaseValue
        case .bool: return (try cell.decode(Bool.self) ? Int64(1) : 0).databaseValue
        case .bytea: return Data(try cell.decode([UInt8].self)).databaseValue
        default: return try cell.decode(String.self).databaseValue
        }
    }
}

extension PostgresStore: ContainerStore, InstanceStore, ApplicationStore, VolumeStore, EventStore, UsageStore, ImageStore,
    SettingsStore, ExecSessionStore, BackupStore
{
    // MARK: containers

    public func insertContainer(_ record: ContainerRecord, event: EventRecord) async throws(MicadoError) {
        try await write { db in
            if try await db.one(ContainerRecord.self, key: record.name) != nil {
                throw MicadoError(.alreadyExists, "a container named \(record.name) already exists; pick another name or remove it first")
            }
            try await db.insert(record)
            try await Self.unbury(Store.Tombstone.container, record.name, db)
            try await db.insert(event)
        }
    }

    public func container(_ name: String) async throws(MicadoError) -> ContainerRecord? {
        try await read { db in try await db.one(ContainerRecord.self, key: name) }
    }

    public func containers() async throws(MicadoError) -> [ContainerRecord] {
        try await read { db in try await db.all(ContainerRecord.self, "SELECT * FROM containers ORDER BY createdAt, name") }
    }

    public func updateContainer(_ record: ContainerRecord, event: EventRecord?) async throws(MicadoError) {
        try await write { db in
            guard try await db.update(record) else { throw MicadoError(.notFound, "no container named \(record.name)") }
            if let event { try await db.insert(event) }
        }
    }

    public func setReplicas(_ name: String, _ replicas: Int, event: EventRecord) async throws(MicadoError) -> Bool {
        try await write { db in
            let changed = try await db.rows(
                "UPDATE containers SET replicas = ?, updatedAt = ? WHERE name = ? RETURNING 1 AS found",
                [replicas.databaseValue, StoredDate.now.databaseValue, name.databaseValue]
            )
            guard !changed.isEmpty else { return false }
            try await db.insert(event)
            return true
        }
    }

    public func observe(container name: String, state: ObservedState, reason: String?) async throws(MicadoError) -> Bool {
        try await write { db in
            guard
                var record = try await db.all(
                    ContainerRecord.self,
                    "SELECT * FROM containers WHERE name = ? FOR UPDATE",
                    [name.databaseValue]
                )
                .first
            else { return false }
            guard record.lastState != state || record.lastReason != reason else { return false }
            let changed = record.lastState != state
            record.lastState = state
            record.lastReason = reason
            record.updatedAt = Date()
            try await db.update(record)
            return changed
        }
    }

    public func deleteContainer(_ name: String, event: EventRecord) async throws(MicadoError) {
        try await write { db in
            try await Self.forgetContainer(name, db)
            try await db.insert(event)
        }
    }

    /// A container's record and newest usage go; its tombstone stays.
    static func forgetContainer(_ name: String, _ db: Connection) async throws {
        try await db.delete(ContainerRecord.self, key: name)
        try await db.execute("DELETE FROM usageLatest WHERE container = ?", [name.databaseValue])
        try await bury(Store.Tombstone.container, name, db)
    }

    // MARK: instances

    public func upsertInstance(_ record: InstanceRecord) async throws(MicadoError) {
        try await write { db in try await db.save(record) }
    }

    public func instances() async throws(MicadoError) -> [InstanceRecord] {
        try await read { db in try await db.all(InstanceRecord.self, "SELECT * FROM instances ORDER BY createdAt, id") }
    }

    public func insertInstance(_ record: InstanceRecord, event: EventRecord) async throws(MicadoError) {
        try await write { db in
            try await db.insert(record)
            try await db.insert(event)
        }
    }

    public func updateInstance(_ record: InstanceRecord, event: EventRecord?) async throws(MicadoError) {
        try await write { db in
            guard try await db.update(record) else { throw MicadoError(.notFound, "no instance \(record.id.rawValue)") }
            if let event { try await db.insert(event) }
        }
    }

    public func deleteInstance(_ id: InstanceID, event: EventRecord) async throws(MicadoError) {
        try await write { db in
            try await db.delete(InstanceRecord.self, key: id.rawValue)
            try await Self.bury(Store.Tombstone.instance, id.rawValue, db)
            try await db.insert(event)
        }
    }

    // MARK: applications

    public func applications() async throws(MicadoError) -> [ApplicationRecord] {
        try await read { db in try await db.all(ApplicationRecord.self, "SELECT * FROM applications ORDER BY name") }
    }

    public func application(_ name: String) async throws(MicadoError) -> ApplicationRecord? {
        try await read { db in try await db.one(ApplicationRecord.self, key: name) }
    }

    public func apply(
        _ application: ApplicationRecord,
        saving services: [ContainerRecord],
        removing removed: [String],
        declaring volumes: [VolumeRecord],
        events: [EventRecord]
    ) async throws(MicadoError) {
        try await write { db in
            try await db.save(application)
            for volume in volumes {
                if var stored = try await db.one(VolumeRecord.self, key: volume.name) {
                    // A removal asked for and not yet done is called off: the file wants it again.
                    if stored.removing || stored.labels != volume.labels {
                        stored.removing = false
                        stored.labels = volume.labels
                        try await db.update(stored)
                    }
                } else {
                    try await db.insert(volume)
                }
            }
            try await Self.unbury(Store.Tombstone.application, application.name, db)
            for record in services {
                if let existing = try await db.one(ContainerRecord.self, key: record.name), existing.application != application.name {
                    throw MicadoError(
                        .alreadyExists,
                        "a container named \(record.name) already exists outside application \(application.name)"
                    )
                }
                try await db.save(record)
                try await Self.unbury(Store.Tombstone.container, record.name, db)
            }
            for name in removed { try await Self.forgetContainer(name, db) }
            for event in events { try await db.insert(event) }
        }
    }

    public func deleteApplication(_ name: String, removingVolumes: Bool, event: EventRecord) async throws(MicadoError) {
        try await write { db in
            // In the same transaction: a crash right after cannot keep volumes asked to go.
            if removingVolumes { try await db.execute("UPDATE volumes SET removing = 1 WHERE application = ?", [name.databaseValue]) }
            let services = try await db.rows("SELECT name FROM containers WHERE application = ?", [name.databaseValue])
            for service in services.compactMap({ $0["name"] as String? }) { try await Self.forgetContainer(service, db) }
            try await db.delete(ApplicationRecord.self, key: name)
            try await Self.bury(Store.Tombstone.application, name, db)
            try await db.insert(event)
        }
    }

    // MARK: volumes

    public func volumes() async throws(MicadoError) -> [VolumeRecord] {
        try await read { db in try await db.all(VolumeRecord.self, "SELECT * FROM volumes ORDER BY name") }
    }

    public func updateVolume(_ record: VolumeRecord, event: EventRecord?) async throws(MicadoError) {
        try await write { db in
            guard try await db.update(record) else { throw MicadoError(.notFound, "no volume \(record.name)") }
            if let event { try await db.insert(event) }
        }
    }

    public func deleteVolume(_ name: String, event: EventRecord) async throws(MicadoError) {
        try await write { db in
            try await db.delete(VolumeRecord.self, key: name)
            try await db.insert(event)
        }
    }

    // MARK: tombstones

    static func bury(_ kind: String, _ id: String, _ db: Connection) async throws {
        try await db.execute(
            "INSERT INTO tombstones (kind, id, removedAt) VALUES (?, ?, ?) ON CONFLICT (kind, id) DO UPDATE SET removedAt = excluded.removedAt",
            [kind.databaseValue, id.databaseValue, StoredDate.now.databaseValue]
        )
    }

    static func unbury(_ kind: String, _ id: String, _ db: Connection) async throws {
        try await db.execute("DELETE FROM tombstones WHERE kind = ? AND id = ?", [kind.databaseValue, id.databaseValue])
    }

    public func removed(_ kind: String, _ id: String) async throws(MicadoError) -> Bool {
        try await read { db in
            try await !db.rows("SELECT 1 AS found FROM tombstones WHERE kind = ? AND id = ?", [kind.databaseValue, id.databaseValue])
                .isEmpty
        }
    }

    public func bury(_ kind: String, _ id: String) async throws(MicadoError) {
        try await write { db in try await Self.bury(kind, id, db) }
    }

    public func forget(_ kind: String, _ id: String) async throws(MicadoError) {
        try await write { db in try await Self.unbury(kind, id, db) }
    }

    // MARK: images

    public func upsertImage(_ record: ImageRecord) async throws(MicadoError) {
        try await write { db in try await db.save(record) }
    }

    public func updateImage(
        _ name: String,
        _ change: @escaping @Sendable (inout ImageRecord) -> Void
    ) async throws(MicadoError) -> ImageRecord {
        try await write { db in
            // Made if missing, then locked: two writers at once change it one after the other.
            try await db.insert(
                ImageRecord(name: name, imageID: nil, sizeBytes: nil, criticalMemoryMiB: nil, createdAt: Date()),
                onConflict: .keep
            )
            guard
                var record = try await db.all(ImageRecord.self, "SELECT * FROM images WHERE name = ? FOR UPDATE", [name.databaseValue])
                    .first
            else { throw MicadoError(.internal, "the image record \(name) vanished inside its transaction") }
            let before = record
            change(&record)
            if record != before { try await db.update(record) }
            return record
        }
    }

    public func image(_ name: String) async throws(MicadoError) -> ImageRecord? {
        try await read { db in try await db.one(ImageRecord.self, key: name) }
    }

    public func deleteImage(_ name: String, event: EventRecord) async throws(MicadoError) {
        try await write { db in
            try await db.delete(ImageRecord.self, key: name)
            try await db.insert(event)
        }
    }

    public func images() async throws(MicadoError) -> [ImageRecord] {
        try await read { db in try await db.all(ImageRecord.self, "SELECT * FROM images ORDER BY name") }
    }

    // MARK: usage

    public func recordUsage(_ samples: [UsageRecord], keep: Int) async throws(MicadoError) {
        guard !samples.isEmpty else { return }
        try await write { db in
            for sample in samples {
                try await db.insert(sample)
                try await db.execute(
                    """
                    INSERT INTO usageLatest (container, image, time, cpuPercent, memoryMiB) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (container) DO UPDATE SET image = excluded.image, time = excluded.time,
                      cpuPercent = excluded.cpuPercent, memoryMiB = excluded.memoryMiB
                    """,
                    [
                        sample.container.databaseValue, sample.image.databaseValue, StoredDate.text(sample.time).databaseValue,
                        sample.cpuPercent.databaseValue, sample.memoryMiB.databaseValue,
                    ]
                )
                // Only this container's rows beyond `keep`, through the (container, id) index.
                try await db.execute(
                    """
                    DELETE FROM usage WHERE container = ? AND id <= (
                      SELECT id FROM usage WHERE container = ? ORDER BY id DESC LIMIT 1 OFFSET ?)
                    """,
                    [sample.container.databaseValue, sample.container.databaseValue, keep.databaseValue]
                )
            }
        }
    }

    public func latestUsage() async throws(MicadoError) -> [String: UsageRecord] {
        try await read { db in
            let rows = try await db.all(
                UsageRecord.self,
                "SELECT NULL AS id, container, image, time, cpuPercent, memoryMiB FROM usageLatest"
            )
            return Dictionary(rows.map { ($0.container, $0) }, uniquingKeysWith: { a, _ in a })
        }
    }

    public func latestUsage(container: String) async throws(MicadoError) -> UsageRecord? {
        try await read { db in
            try await db.all(
                UsageRecord.self,
                "SELECT * FROM usage WHERE container = ? ORDER BY id DESC LIMIT 1",
                [container.databaseValue]
            ).first
        }
    }

    public func memorySamples(image: String, limit: Int) async throws(MicadoError) -> [Double] {
        try await read { db in
            try await db.rows(
                "SELECT memoryMiB FROM usage WHERE image = ? ORDER BY id DESC LIMIT ?",
                [image.databaseValue, limit.databaseValue]
            )
            .compactMap { $0["memoryMiB"] as Double? }
        }
    }

    public func usageHistory(container: String, limit: Int) async throws(MicadoError) -> [UsageRecord] {
        try await read { db in
            try await db.all(
                UsageRecord.self,
                "SELECT * FROM usage WHERE container = ? ORDER BY id DESC LIMIT ?",
                [container.databaseValue, limit.databaseValue]
            ).reversed()
        }
    }

    // MARK: exec sessions

    public func saveExecSession(_ record: ExecSessionRecord) async throws(MicadoError) {
        try await write { db in _ = try await db.insert(record) }
    }

    public func deleteExecSession(_ session: String) async throws(MicadoError) {
        try await write { db in try await db.delete(ExecSessionRecord.self, key: session) }
    }

    public func execSessions() async throws(MicadoError) -> [ExecSessionRecord] {
        try await read { db in try await db.all(ExecSessionRecord.self, "SELECT * FROM execSessions ORDER BY startedAt") }
    }

    // MARK: settings

    public func setting(_ key: String) async throws(MicadoError) -> String? {
        try await read { db in try await db.rows("SELECT value FROM settings WHERE key = ?", [key.databaseValue]).first?["value"] }
    }

    public func setSetting(_ key: String, _ value: String) async throws(MicadoError) {
        try await write { db in try await Self.set(key, value, db) }
    }

    static func set(_ key: String, _ value: String, _ db: Connection) async throws {
        try await db.execute(
            "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [key.databaseValue, value.databaseValue]
        )
    }

    public func setting(_ key: String, orCreate make: @escaping @Sendable () -> String) async throws(MicadoError) -> String {
        try await write { db in
            try await db.execute(
                "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                [key.databaseValue, make().databaseValue]
            )
            guard let value: String = try await db.rows("SELECT value FROM settings WHERE key = ?", [key.databaseValue]).first?["value"]
            else { throw MicadoError(.internal, "the setting \(key) vanished inside its transaction") }
            return value
        }
    }

    public func markInFlight(_ kind: String, _ subject: String) async throws(MicadoError) {
        try await write { db in try await Self.set("inflight.\(kind).\(subject)", RFC3339.string(Date()), db) }
    }

    public func clearInFlight(_ kind: String, _ subject: String) async throws(MicadoError) {
        try await write { db in try await db.execute("DELETE FROM settings WHERE key = ?", ["inflight.\(kind).\(subject)".databaseValue]) }
    }

    public func inFlight(_ kind: String) async throws(MicadoError) -> [String] {
        let prefix = "inflight.\(kind)."
        return try await read { db in
            try await db.rows("SELECT key FROM settings WHERE key LIKE 'inflight.%' ORDER BY key").compactMap { $0["key"] as String? }
        }.filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
    }

    // MARK: events

    public func record(_ event: EventRecord) async throws(MicadoError) {
        try await write { db in _ = try await db.insert(event) }
    }

    public func events(subject: String?, after: Int64?, limit: Int) async throws(MicadoError) -> [EventRecord] {
        try await read { db in
            var conditions: [String] = []
            var arguments: [DatabaseValue] = []
            if let subject {
                conditions.append("subject = ?")
                arguments.append(subject.databaseValue)
            }
            if let after {
                conditions.append("id > ?")
                arguments.append(after.databaseValue)
            }
            let filter = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
            arguments.append(limit.databaseValue)
            if after != nil { return try await db.all(EventRecord.self, "SELECT * FROM events\(filter) ORDER BY id LIMIT ?", arguments) }
            return try await db.all(EventRecord.self, "SELECT * FROM events\(filter) ORDER BY id DESC LIMIT ?", arguments).reversed()
        }
    }

    // MARK: backups

    /// A consistent copy of every table (one repeatable-read snapshot) into a new SQLite file at
    /// `path`: what `micado backup` gives for either store, readable by any micado.
    public func backup(to path: String) async throws(MicadoError) { try await backup(to: path, within: .seconds(600)) }

    /// A large store takes longer than one call's bound: the backup has its own.
    func backup(to path: String, within timeout: Duration) async throws(MicadoError) {
        let snapshot: [Store.TableRows] = try await read(within: timeout) { db in
            try await db.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try await db.execute("SET LOCAL statement_timeout = \(Int(timeout.inSeconds * 1000))")
            do {
                var tables: [Store.TableRows] = []
                for table in Schema.tables {
                    let rows = try await db.rows("SELECT * FROM \(table)")
                    tables.append(
                        Store.TableRows(table: table, rows: rows.map { row in row.columnNames.map { ($0, row[$0] as DatabaseValue) } })
                    )
                }
                try await db.execute("COMMIT")
                return tables
            } catch {
                try? await db.execute("ROLLBACK")
                throw error
            }
        }
        try await Store.open(path: path).load(snapshot)
    }

    /// Nothing to fold: PostgreSQL keeps its own log.
    public func checkpoint() async throws(MicadoError) {}
}
