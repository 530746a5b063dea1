import Foundation
import GRDB
import MicadoCore
import MicadoTestSupport
import NIOSSL
import Synchronization
import Testing

@testable import MicadoStore

/// What only the PostgreSQL store has: its migrations under a lock, its hold on the database,
/// its backups into SQLite, and secrets kept out of what it says. (The store's behaviour itself
/// is tested on both kinds in `StoreTests`.)
@Suite(.enabled(if: PostgresServer.runnable, "PostgreSQL (and root) not found: its tests skip (in CI, with CI set, they fail instead)"))
struct PostgresStoreTests {
    let logger = StoreKind.quietLogger

    /// One schema: the tables and columns SQLite gets are the ones PostgreSQL gets.
    @Test func bothDatabasesGetTheSameSchemaFromOneListOfMigrations() async throws {
        let server = try await PostgresServer.running()
        let location = try await server.database()
        let store = try await PostgresStore.open(location, logger: logger)
        #expect(try await store.appliedMigrations() == Schema.migrations.map(\.name))
        let postgres = try await server.psql(
            "SELECT table_name || '.' || column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> 'micado_migrations' ORDER BY 1",
            database: location.database
        ).split(separator: "\n").map(String.init)
        let path = NSTemporaryDirectory() + "micado-schema-\(UUID().uuidString).sqlite"
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        _ = try Store.open(path: path)
        let queue = try DatabaseQueue(path: path)
        let sqlite = try await queue.read { db in
            try String.fetchAll(
                db,
                sql: """
                    SELECT lower(m.name || '.' || p.name) FROM sqlite_master m JOIN pragma_table_info(m.name) p
                    WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE 'grdb_%' ORDER BY 1
                    """
            )
        }
        #expect(!postgres.isEmpty)
        #expect(postgres == sqlite)
    }

    /// Two managers starting at once on an empty database: one migrates, the other waits and
    /// finds it done; a third open later changes nothing.
    @Test func migrationsRunOnceWhenManyOpenAtOnce() async throws {
        let location = try await PostgresServer.running().database()
        let logger = logger
        try await withThrowingTaskGroup(of: [String].self) { group in
            for _ in 0..<4 { group.addTask { try await PostgresStore.open(location, logger: logger).appliedMigrations() } }
            for try await applied in group { #expect(applied == Schema.migrations.map(\.name)) }
        }
        let again = try await PostgresStore.open(location, logger: logger)
        #expect(try await again.appliedMigrations() == Schema.migrations.map(\.name))
    }

    @Test func aDatabaseOfANewerMicadoIsRefusedUnchanged() async throws {
        let server = try await PostgresServer.running()
        let location = try await server.database()
        _ = try await PostgresStore.open(location, logger: logger)
        try await server.psql("INSERT INTO micado_migrations VALUES ('v99: from the future', 'x')", database: location.database)
        let error = await #expect(throws: MicadoError.self) { try await PostgresStore.open(location, logger: logger) }
        #expect(error?.code == .configuration)
        #expect(error?.message.contains("newer micado") == true && error?.message.contains("v99: from the future") == true)
    }

    /// Four managers starting at once on an empty database: exactly one gets the lease.
    @Test func oneOfManyStartingAtOnceLeads() async throws {
        let location = try await PostgresServer.running().database()
        var stores: [PostgresStore] = []
        let timings = PostgresStore.LeaseTimings(lease: .seconds(5))
        for _ in 0..<4 { stores.append(try await PostgresStore.open(location, logger: logger, timings: timings)) }
        let won = try await withThrowingTaskGroup(of: PostgresStore.Leadership?.self) { group in
            for (n, store) in stores.enumerated() { group.addTask { try await store.acquire(holder: "m\(n)") } }
            var won: [PostgresStore.Leadership] = []
            for try await leadership in group { if let leadership { won.append(leadership) } }
            return won
        }
        #expect(won.count == 1)
        #expect(won.first?.epoch == 1)
        #expect(try await stores[0].leader()?.holder == won.first?.holder)
    }

    /// A leader that renews keeps the lease for as long as it runs; once it stops, the one standing
    /// by takes over within the lease and a try, at the next epoch.
    @Test func aStandbyTakesOverWhenTheLeaseEndsAtTheNextEpoch() async throws {
        let location = try await PostgresServer.running().database()
        let timings = PostgresStore.LeaseTimings(lease: .seconds(3), renewEvery: .milliseconds(500), retryEvery: .milliseconds(100))
        let first = try await PostgresStore.open(location, logger: logger, timings: timings)
        let second = try await PostgresStore.open(location, logger: logger, timings: timings)
        let leading = try await first.lead(holder: "first") { _ in }
        #expect(leading.epoch == 1)
        let notes = Mutex<[String]>([])
        let standby = Task {
            try await second.lead(holder: "second") { note in
                notes.withLock { $0.append(note) }
            } onLoss: { _ in
            }
        }
        // Longer than a lease: still the first's.
        try await Task.sleep(for: .seconds(4))
        #expect(notes.withLock { $0.first?.contains("standing by: first leads (epoch 1)") == true })
        // The lease as the database says it, just before the stop: it ends no sooner than that.
        let asked = ContinuousClock.now
        let current = try #require(try await second.leader())
        #expect(current.holder == "first" && current.remaining > 0)
        await first.close()
        let took = try await standby.value
        #expect(took == PostgresStore.Leadership(holder: "second", epoch: 2))
        // Never before the lease had ended; how soon after depends on the machine's load, so it
        // is not bounded here.
        #expect((ContinuousClock.now - asked).inSeconds >= current.remaining)
    }

    /// A leader paused past its lease (its renewals stopped, as by SIGSTOP): its next write is
    /// refused by epoch and changes nothing, it learns it is deposed, and the new leader's writes go in.
    @Test func aDeposedLeadersLateWriteIsRefusedAndItStepsDown() async throws {
        let location = try await PostgresServer.running().database()
        let timings = PostgresStore.LeaseTimings(lease: .seconds(1), renewEvery: .milliseconds(250), retryEvery: .milliseconds(100))
        let old = try await PostgresStore.open(location, logger: logger, timings: timings)
        let new = try await PostgresStore.open(location, logger: logger, timings: timings)
        let lost = Mutex<MicadoError?>(nil)
        _ = try await old.lead(holder: "old") { _ in
        } onLoss: { error in
            lost.withLock { $0 = error }
        }
        try await old.record(StoreTests.event("before"))
        old.renewer.withLock { $0?.cancel() }
        let took = try await new.lead(holder: "new") { _ in
        } onLoss: { _ in
        }
        #expect(took.epoch == 2)
        let refused = await #expect(throws: MicadoError.self) {
            try await old.insertContainer(StoreTests.record("late"), event: StoreTests.event("late"))
        }
        #expect(refused?.code == .deposed)
        #expect(lost.withLock { $0?.code } == .deposed)
        #expect(try await new.container("late") == nil)
        try await new.record(StoreTests.event("after"))
        #expect(try await new.events().map(\.subject) == ["before", "after"])
        // Refused from then on without asking the database.
        await #expect(throws: MicadoError.self) { try await old.record(StoreTests.event("later")) }
    }

    /// A leader whose renewals do not get through (here the lease's row is held by another
    /// session) gives up before its lease ends, not after.
    @Test func aLeaderThatCannotRenewStopsBeforeItsLeaseEnds() async throws {
        let server = try await PostgresServer.running()
        let location = try await server.database()
        // Its deadline is one renewal period before the lease's end: that much slack for a loaded machine.
        let timings = PostgresStore.LeaseTimings(lease: .seconds(3), renewEvery: .milliseconds(750), retryEvery: .milliseconds(100))
        let store = try await PostgresStore.open(location, logger: logger, timings: timings)
        let lost = Mutex<ContinuousClock.Instant?>(nil)
        _ = try await store.lead(holder: "stuck") { _ in
        } onLoss: { _ in
            lost.withLock { $0 = .now }
        }
        let blocked = ContinuousClock.now
        let blocker = Task {
            try await server.psql("BEGIN; SELECT 1 FROM leader FOR UPDATE; SELECT pg_sleep(6); COMMIT;", database: location.database)
        }
        let clock = ContinuousClock()
        while lost.withLock({ $0 }) == nil, clock.now - blocked < .seconds(8) { try await Task.sleep(for: .milliseconds(20)) }
        let at = try #require(lost.withLock { $0 })
        // The last renewal that got through was at most one renewal period before the row was held.
        #expect(at - blocked < timings.lease)
        _ = try await blocker.value
    }

    /// A leader stalled in the middle of a write (its transaction open, holding the lease's row):
    /// the server ends that transaction once the lease could have ended, and the one standing by
    /// leads while the stalled write would still be waiting, not after it.
    @Test func aLeaderStalledMidWriteDoesNotHoldTheTakeoverOff() async throws {
        let location = try await PostgresServer.running().database()
        let timings = PostgresStore.LeaseTimings(lease: .seconds(1), renewEvery: .milliseconds(250), retryEvery: .milliseconds(100))
        let stalled = try await PostgresStore.open(location, logger: logger, timings: timings, callTimeout: .seconds(10))
        let standby = try await PostgresStore.open(location, logger: logger, timings: timings)
        _ = try await stalled.lead(holder: "stalled") { _ in
        } onLoss: { _ in
        }
        let woke = Mutex(false)
        let write = Task {
            try await stalled.write { db in
                try await db.execute("INSERT INTO settings (key, value) VALUES ('stalled', 'x')")
                try await Task.sleep(for: .seconds(8))
                woke.withLock { $0 = true }
            }
        }
        let took = try await standby.lead(holder: "standby") { _ in
        } onLoss: { _ in
        }
        #expect(took.epoch >= 2)
        #expect(woke.withLock { $0 } == false, "the takeover waited for the stalled write to end")
        // Its write never lands.
        await #expect(throws: (any Error).self) { try await write.value }
        #expect(try await standby.setting("stalled") == nil)
    }

    /// Every session carries the bounds that let the server end what a client left hanging.
    @Test func sessionsAreBoundedByTheServerToo() async throws {
        let location = try await PostgresServer.running().database()
        let timings = PostgresStore.LeaseTimings(lease: .seconds(4), renewEvery: .seconds(1))
        let store = try await PostgresStore.open(location, logger: logger, timings: timings, callTimeout: .seconds(20))
        let shown = try await store.read { db in
            try await db.rows(
                "SELECT name, setting FROM pg_settings WHERE name IN ('statement_timeout', 'lock_timeout', 'idle_in_transaction_session_timeout')"
            )
            .reduce(into: [String: String]()) { $0[$1["name"] as String? ?? ""] = $1["setting"] }
        }
        #expect(shown == ["statement_timeout": "20000", "lock_timeout": "3000", "idle_in_transaction_session_timeout": "4000"])
    }

    /// A clean stop gives the lease up: the one standing by leads at its next try.
    @Test func aResignedLeaseIsTakenAtOnce() async throws {
        let location = try await PostgresServer.running().database()
        let timings = PostgresStore.LeaseTimings(lease: .seconds(30), renewEvery: .seconds(1), retryEvery: .milliseconds(100))
        let first = try await PostgresStore.open(location, logger: logger, timings: timings)
        let second = try await PostgresStore.open(location, logger: logger, timings: timings)
        _ = try await first.lead(holder: "first") { _ in }
        let standby = Task { try await second.lead(holder: "second") { _ in } }
        try await Task.sleep(for: .milliseconds(300))
        let resigned = ContinuousClock.now
        await first.resign()
        #expect(try await standby.value.epoch == 2)
        // Long before the 30 s lease would have ended.
        #expect(ContinuousClock.now - resigned < .seconds(15))
    }

    /// `micado backup` of a PostgreSQL store is a SQLite file with the same records.
    @Test func aBackupIsASQLiteCopyOfEveryRecord() async throws {
        let store = try await PostgresStore.open(PostgresServer.running().database(), logger: logger)
        try await store.insertContainer(StoreTests.record("container-a"), event: StoreTests.event("container-a"))
        try await store.recordUsage(
            [UsageRecord(container: "container-a", image: "i", time: Date(), cpuPercent: 1, memoryMiB: 2)],
            keep: 10
        )
        try await store.bury(Store.Tombstone.instance, "i-gone")
        _ = try await store.setting("manager.id") { "m1" }
        let path = NSTemporaryDirectory() + "micado-backup-\(UUID().uuidString).sqlite"
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        try await store.backup(to: path)
        let copy = try Store.open(path: path)
        #expect(try await copy.containers() == store.containers())
        #expect(try await copy.events() == store.events())
        #expect(try await copy.usageHistory(container: "container-a", limit: 10) == store.usageHistory(container: "container-a", limit: 10))
        #expect(try await copy.removed(Store.Tombstone.instance, "i-gone"))
        #expect(try await copy.setting("manager.id") == "m1")
        // The copy goes on numbering events after the ones it holds.
        try await copy.record(StoreTests.event("after"))
        #expect(try await copy.events().last?.id == (try await store.events().last?.id ?? 0) + 1)
    }

    /// A wrong password, a database that is not there: errors that say so, without the password.
    @Test func refusalsSayWhyAndNeverThePassword() async throws {
        let server = try await PostgresServer.running()
        var wrong = try PostgresLocation.parse(
            "postgres://micado@/postgres?host=\(server.socketFolder)",
            environment: ["PGPASSWORD": "not-" + server.password]
        )
        var error = await #expect(throws: MicadoError.self) {
            try await PostgresStore.open(wrong, logger: logger, callTimeout: .seconds(10))
        }
        #expect(error?.message.contains("password") == true || error?.code == .timeout)
        #expect(error?.message.contains(server.password) == false)
        wrong = try PostgresLocation.parse(
            "postgres://micado@/nothere?host=\(server.socketFolder)",
            environment: ["PGPASSWORD": server.password]
        )
        error = await #expect(throws: MicadoError.self) { try await PostgresStore.open(wrong, logger: logger, callTimeout: .seconds(10)) }
        #expect(error?.message.contains(server.password) == false)
        #expect("\(wrong)".contains(server.password) == false)
    }
}

/// config.yaml's `store.postgres`, read as libpq reads a URL and its PG* variables.
struct PostgresLocationTests {
    @Test func aURLNamesEveryPart() throws {
        let location = try PostgresLocation.parse("postgres://app@db.example:6543/micado?sslmode=require", environment: [:])
        #expect(location.endpoint == .tcp(host: "db.example", port: 6543))
        #expect(location.user == "app" && location.database == "micado" && location.tls == .require)
        #expect(!location.hasPassword)
        #expect("\(location)" == "postgres://app@db.example:6543/micado")
    }

    @Test func whatTheURLLeavesOutComesFromTheEnvironment() throws {
        let environment = ["PGHOST": "/run/pg", "PGPORT": "5433", "PGUSER": "u", "PGDATABASE": "d", "PGPASSWORD": "s3cret"]
        let location = try PostgresLocation.parse("postgres://", environment: environment)
        #expect(location.endpoint == .socket(path: "/run/pg/.s.PGSQL.5433"))
        #expect(location.user == "u" && location.database == "d" && location.hasPassword)
        #expect(!"\(location)".contains("s3cret"))
        // The URL wins over the environment; a database defaults to the user's name.
        let other = try PostgresLocation.parse("postgres://v@/?host=/tmp/x", environment: ["PGUSER": "u"])
        #expect(other.endpoint == .socket(path: "/tmp/x/.s.PGSQL.5432") && other.user == "v" && other.database == "v")
    }

    @Test(arguments: [
        ("postgres://u:hunter2@h/d", "holds a password"),
        ("mysql://u@h/d", "expected postgres://"),
        ("postgres://u@h:99999/d", "is not 1-65535"),
        ("postgres://u@h/d?password=x", "unknown parameter 'password'"),
        ("postgres://u@h/d?sslmode=sometimes", "sslmode 'sometimes'"),
        ("postgres://u%01@h/d", "control characters"),
    ])
    func badURLsAreRefusedAndSayWhy(_ bad: (String, String)) {
        let error = #expect(throws: MicadoError.self) { try PostgresLocation.parse(bad.0, environment: [:]) }
        #expect(error?.code == .configuration)
        #expect(error?.message.contains(bad.1) == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("hunter2") == false)
    }

    /// libpq's sslmode, each as the TLS it means; a socket never uses TLS.
    @Test func eachSSLModeMeansWhatItMeansInLibpq() throws {
        func verification(_ url: String) throws -> CertificateVerification? {
            try PostgresStore.tlsConfiguration(PostgresLocation.parse(url, environment: [:]))?.certificateVerification
        }
        #expect(try verification("postgres://u@h/d?sslmode=disable") == nil)
        #expect(try verification("postgres://u@h/d?sslmode=allow") == CertificateVerification.none)
        #expect(try verification("postgres://u@h/d") == CertificateVerification.none)
        #expect(try verification("postgres://u@h/d?sslmode=require") == CertificateVerification.none)
        #expect(try verification("postgres://u@h/d?sslmode=require&sslrootcert=/etc/ca.pem") == .noHostnameVerification)
        #expect(try verification("postgres://u@h/d?sslmode=verify-ca") == .noHostnameVerification)
        #expect(try verification("postgres://u@h/d?sslmode=verify-full") == .fullVerification)
        #expect(try verification("postgres://u@/d?host=/run/pg&sslmode=verify-full") == nil)
        let error = #expect(throws: MicadoError.self) {
            try PostgresLocation.parse("postgres://u@h/d?sslrootcert=ca.pem", environment: [:])
        }
        #expect(error?.message.contains("not an absolute path") == true)
    }

    /// A mounted secret is often a symlink: judged by the file it leads to.
    @Test func aSymlinkedPasswordFileIsJudgedByItsTarget() throws {
        let folder = NSTemporaryDirectory() + "micado-pglink-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let target = folder + "/target"
        _ = FileManager.default.createFile(atPath: target, contents: Data("pw\n".utf8), attributes: [.posixPermissions: 0o600])
        try FileManager.default.createSymbolicLink(atPath: folder + "/link", withDestinationPath: target)
        let location = try PostgresLocation.parse("postgres://u@h/d", passwordFile: folder + "/link", environment: [:])
        #expect(location == (try PostgresLocation.parse("postgres://u@h/d", environment: ["PGPASSWORD": "pw"])))
        try FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: target)
        let error = #expect(throws: MicadoError.self) {
            try PostgresLocation.parse("postgres://u@h/d", passwordFile: folder + "/link", environment: [:])
        }
        #expect(error?.message.contains("chmod 600") == true)
    }

    @Test func thePasswordFileIsReadLikeLibpqsAndMustBePrivate() throws {
        let folder = NSTemporaryDirectory() + "micado-pgpass-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let passfile = folder + "/pgpass"
        let lines = "# comment\r\nother:5432:*:u:no\r\ndb.example:5432:d:u:p\\:ss\r\n/run/pg:*:*:*:socket\nlocalhost:*:*:*:default\n"
        _ = FileManager.default.createFile(atPath: passfile, contents: Data(lines.utf8), attributes: [.posixPermissions: 0o600])
        let tcp = try PostgresLocation.parse("postgres://u@db.example/d", environment: ["PGPASSFILE": passfile])
        #expect(tcp == (try PostgresLocation.parse("postgres://u@db.example/d", environment: ["PGPASSWORD": "p:ss"])))
        let socket = try PostgresLocation.parse("postgres://u@/d?host=/run/pg", environment: ["PGPASSFILE": passfile])
        #expect(socket == (try PostgresLocation.parse("postgres://u@/d?host=/run/pg", environment: ["PGPASSWORD": "socket"])))
        // `localhost` is the default socket folder, as in libpq.
        let local = try PostgresLocation.parse("postgres://u@/d", environment: ["PGPASSFILE": passfile])
        #expect(local == (try PostgresLocation.parse("postgres://u@/d", environment: ["PGPASSWORD": "default"])))
        // store.passwordFile, private or refused.
        let secret = folder + "/secret"
        _ = FileManager.default.createFile(atPath: secret, contents: Data("pw\n".utf8), attributes: [.posixPermissions: 0o644])
        let error = #expect(throws: MicadoError.self) {
            try PostgresLocation.parse("postgres://u@h/d", passwordFile: secret, environment: [:])
        }
        #expect(error?.message.contains("chmod 600") == true)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: secret)
        let fromFile = try PostgresLocation.parse("postgres://u@h/d", passwordFile: secret, environment: ["PGPASSWORD": "env"])
        #expect(fromFile == (try PostgresLocation.parse("postgres://u@h/d", environment: ["PGPASSWORD": "pw"])))
    }
}
