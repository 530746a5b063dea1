import Foundation
import Logging
import MicadoClouds
import MicadoCore
import MicadoStore

#if canImport(Glibc)
import Glibc
#endif

/// Debian's PostgreSQL, started once per test process for the tests that need it: `initdb` in
/// a folder of its own (under MICADO_TEST_ROOT in CI, whose sweep stops it by its pid file),
/// run as the `postgres` user on a unix socket only, with a random password that is written
/// to files of mode 0600 and never passed as an argument. A watchdog shell stops it when the
/// test process is gone, however that ended. Each test asks for a database of its own.
public final class PostgresServer: Sendable {
    public let folder: String
    public let password: String
    public let user = "micado"

    init(folder: String, password: String) {
        self.folder = folder
        self.password = password
    }

    /// The PostgreSQL binaries (`initdb`, `postgres`), or nil when none is installed.
    public static let binaries: String? = {
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        return versions.sorted { (Int($0) ?? 0) > (Int($1) ?? 0) }.map { "/usr/lib/postgresql/\($0)/bin" }
            .first { FileManager.default.isExecutableFile(atPath: $0 + "/postgres") }
    }()

    /// Without PostgreSQL (and root, which starting it as `postgres` takes) its tests skip,
    /// except in CI, where they run and fail.
    public static var runnable: Bool { (binaries != nil && getuid() == 0) || Moto.inCI }

    static let shared = Once<PostgresServer>()

    /// The server of this test process, started on first use.
    public static func running() async throws -> PostgresServer { try await shared.value { try await start() } }

    public var socketFolder: String { folder + "/run" }

    /// A new, empty database on the server, and where it is (password included, as a store gets it).
    public func database(_ prefix: String = "t") async throws -> PostgresLocation {
        let name = prefix + String(UInt64.random(in: 0...UInt64.max), radix: 36)
        try await psql("CREATE DATABASE \(name)")
        return try PostgresLocation.parse(
            "postgres://\(user)@/\(name)?host=\(socketFolder)",
            environment: ["PGPASSWORD": password]
        )
    }

    /// Runs one SQL command as the server's owner (the password goes by environment, never argv).
    @discardableResult
    public func psql(_ sql: String, database: String = "postgres") async throws -> String {
        guard let binaries = Self.binaries else { throw TestFailure("PostgreSQL is not installed (scripts/install-deps.sh installs it)") }
        let psql = FileManager.default.isExecutableFile(atPath: binaries + "/psql") ? binaries + "/psql" : "/usr/bin/psql"
        let (status, output) = try await ChildProcess.run(
            psql,
            ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", socketFolder, "-U", user, "-d", database, "-c", sql],
            environment: ["PATH": "/usr/bin:/bin", "PGPASSWORD": password]
        )
        guard status == 0 else { throw TestFailure("psql \(sql): \(output)") }
        return output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The server's pid (from its pid file).
    public var pid: pid_t? {
        guard let text = try? String(contentsOfFile: folder + "/data/postmaster.pid", encoding: .utf8) else { return nil }
        return text.split(separator: "\n").first.flatMap { pid_t($0) }
    }

    /// The watchdog: postgres as the `postgres` user (setpriv execs it: its pid is the server's),
    /// stopped fast (SIGINT) on TERM or when the test process ($3) is gone; its folder then goes.
    static let watchdog = """
        setpriv --reuid=postgres --regid=postgres --clear-groups -- "$0/postgres" -D "$1/data" -k "$1/run" \
          -c listen_addresses= -c fsync=off -c full_page_writes=off -c max_connections=200 >>"$1/server.log" 2>&1 & pg=$!
        trap 'kill -INT $pg 2>/dev/null; wait $pg; rm -rf "$1"; exit 0' TERM INT
        while kill -0 "$2" 2>/dev/null && kill -0 $pg 2>/dev/null; do sleep 1 & wait $!; done
        kill -INT $pg 2>/dev/null; wait $pg; rm -rf "$1"
        """

    /// The server runs as `postgres`, so every folder above its own must let others pass
    /// (`x` for others): a private 0700 test root would make initdb fail on its password file.
    static func requireTraversable(_ path: String) throws {
        var folder = URL(fileURLWithPath: path).standardizedFileURL.path
        while folder != "/" && !folder.isEmpty {
            var info = stat()
            guard stat(folder, &info) == 0 else { throw TestFailure("cannot stat \(folder)") }
            guard info.st_mode & S_IXOTH != 0 else {
                throw TestFailure("\(folder) does not let the postgres user pass (chmod o+x, as .ci/run does)")
            }
            folder = (folder as NSString).deletingLastPathComponent
        }
    }

    static func start() async throws -> PostgresServer {
        guard let binaries else { throw TestFailure("PostgreSQL is not installed (scripts/install-deps.sh installs it)") }
        guard getuid() == 0 else { throw TestFailure("starting PostgreSQL as the postgres user takes root") }
        let root = ProcessInfo.processInfo.environment["MICADO_TEST_ROOT"] ?? NSTemporaryDirectory()
        try requireTraversable(root)
        let folder = root + "/pg-" + String(UInt64.random(in: 0...UInt64.max), radix: 36)
        let password = (0..<24).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        for sub in ["", "/run"] {
            try FileManager.default.createDirectory(
                atPath: folder + sub,
                withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700]
            )
        }
        let passwordFile = folder + "/password"
        guard FileManager.default.createFile(atPath: passwordFile, contents: Data(password.utf8), attributes: [.posixPermissions: 0o600])
        else { throw TestFailure("cannot write \(passwordFile)") }
        let (chown, chownOutput) = try await ChildProcess.run("/bin/chown", ["-R", "postgres:postgres", folder])
        guard chown == 0 else { throw TestFailure("chown \(folder): \(chownOutput) (is the postgres user there?)") }
        let (initdb, initdbOutput) = try await ChildProcess.run(
            "/usr/bin/setpriv",
            [
                "--reuid=postgres", "--regid=postgres", "--clear-groups", "--", binaries + "/initdb", "-D", folder + "/data", "-U",
                "micado",
                "--pwfile=" + passwordFile, "--auth=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync",
            ],
            environment: ["PATH": "/usr/bin:/bin", "LC_ALL": "C"]
        )
        try? FileManager.default.removeItem(atPath: passwordFile)
        guard initdb == 0 else { throw TestFailure("initdb: \(initdbOutput.suffix(2000))") }
        _ = try ChildProcess.start(
            "/bin/sh",
            ["-c", watchdog, binaries, folder, String(getpid())],
            environment: ["PATH": "/usr/bin:/bin", "LC_ALL": "C"],
            output: "/dev/null"
        )
        let server = PostgresServer(folder: folder, password: password)
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(60)
        while clock.now < deadline {
            // Its pid file's last line says when it takes connections.
            if let text = try? String(contentsOfFile: folder + "/data/postmaster.pid", encoding: .utf8),
                text.split(separator: "\n").last?.trimmingCharacters(in: .whitespaces) == "ready"
            {
                return server
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        let log = (try? String(contentsOfFile: folder + "/server.log", encoding: .utf8)) ?? ""
        throw TestFailure("PostgreSQL did not start within 60 s: \(log.suffix(2000))")
    }
}

/// A value made once, by whichever task asks first; the others wait for it (and share its error).
public actor Once<Value: Sendable> {
    var task: Task<Value, any Error>?

    public init() {}

    public func value(_ make: @escaping @Sendable () async throws -> Value) async throws -> Value {
        if let task { return try await task.value }
        let task = Task { try await make() }
        self.task = task
        return try await task.value
    }
}

/// The stores a store test runs on: the embedded SQLite, and PostgreSQL.
public enum StoreKind: String, CaseIterable, Sendable, CustomStringConvertible {
    case sqlite, postgres

    public var description: String { rawValue }

    public static var quietLogger: Logger {
        var logger = Logger(label: "micado.test.store")
        logger.logLevel = .critical
        return logger
    }

    /// A new, empty store of this kind.
    public func make() async throws -> any ManagerStore {
        switch self {
        case .sqlite: return try Store.inMemory()
        case .postgres: return try await PostgresStore.open(PostgresServer.running().database(), logger: Self.quietLogger)
        }
    }
}

extension StoreKind {
    /// SQLite always; PostgreSQL where it can run (always in CI: there its absence fails).
    public static var enabled: [StoreKind] { PostgresServer.runnable ? allCases : [.sqlite] }
}
