import Foundation
import MicadoCore

/// Where a PostgreSQL store is and how to log in to it: `store.postgres` in config.yaml, with
/// what it leaves out taken from the usual PG* variables, as libpq does. The password is never
/// part of the URL (a URL gets printed, logged and shown by `ps`): it comes from
/// `store.passwordFile`, PGPASSWORD, or the password file (PGPASSFILE, else ~/.pgpass).
public struct PostgresLocation: Sendable, Equatable, CustomStringConvertible {
    public enum Endpoint: Sendable, Equatable {
        case tcp(host: String, port: Int)
        /// The server's socket file (`<folder>/.s.PGSQL.<port>`).
        case socket(path: String)
    }

    public var endpoint: Endpoint
    public var user: String
    public var database: String
    /// Over TCP, as libpq's `sslmode` (a socket never uses TLS).
    public enum TLSMode: String, Sendable, Equatable, CaseIterable {
        /// Never.
        case disable
        /// If the server offers it, unverified (libpq's `allow` and `prefer`).
        case prefer
        /// Always, unverified unless `sslrootcert` names the authorities (then as `verifyCA`).
        case require
        /// Always, the certificate signed by `sslrootcert`'s authorities (else the system's).
        case verifyCA = "verify-ca"
        /// As `verifyCA`, and the certificate names the host.
        case verifyFull = "verify-full"
    }

    public var tls: TLSMode
    /// PEM authorities for `verify-ca` and `verify-full` (`sslrootcert`, PGSSLROOTCERT).
    public var rootCertificates: String?
    var password: String?

    /// What logs and errors show: never the password.
    public var description: String {
        switch endpoint {
        case .tcp(let host, let port): "postgres://\(user)@\(host):\(port)/\(database)"
        case .socket(let path): "postgres://\(user)@/\(database)?host=\((path as NSString).deletingLastPathComponent)"
        }
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.endpoint == b.endpoint && a.user == b.user && a.database == b.database && a.tls == b.tls
            && a.rootCertificates == b.rootCertificates
            && a.password == b.password
    }

    public var hasPassword: Bool { password != nil }

    /// Reads `url` (`postgres://USER@HOST:PORT/DATABASE?host=…&sslmode=…`) and fills the rest from
    /// `environment`. Hostile input: every part is bounded, and a password in the URL is refused.
    public static func parse(
        _ url: String,
        passwordFile: String? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(MicadoError) -> PostgresLocation {
        func refuse(_ why: String) -> MicadoError { MicadoError(.configuration, "config: store.postgres: \(why)") }
        guard url.utf8.count <= 2048 else { throw refuse("longer than 2048 bytes") }
        guard url.hasPrefix("postgres://") || url.hasPrefix("postgresql://"), let parts = URLComponents(string: url) else {
            throw refuse("expected postgres://USER@HOST:PORT/DATABASE")
        }
        guard parts.password == nil else {
            throw refuse("holds a password; put it in store.passwordFile (0600) or PGPASSWORD instead, where no log or ps shows it")
        }
        var query: [String: String] = [:]
        for item in parts.queryItems ?? [] {
            guard ["host", "port", "sslmode", "sslrootcert", "user", "dbname"].contains(item.name) else {
                throw refuse("unknown parameter '\(item.name)' (known: host, port, sslmode, sslrootcert, user, dbname)")
            }
            query[item.name] = item.value ?? ""
        }
        let host = nonEmpty(parts.host) ?? query["host"] ?? environment["PGHOST"] ?? defaultSocketFolder
        let portText = parts.port.map(String.init) ?? query["port"] ?? environment["PGPORT"] ?? "5432"
        guard let port = Int(portText), (1...65535).contains(port) else { throw refuse("port '\(portText)' is not 1-65535") }
        let user = nonEmpty(parts.user) ?? query["user"] ?? environment["PGUSER"] ?? NSUserName()
        let path = String(parts.path.drop { $0 == "/" })
        let database = nonEmpty(path) ?? query["dbname"] ?? environment["PGDATABASE"] ?? user
        for (what, value) in [("host", host), ("user", user), ("database", database)] {
            guard !value.isEmpty, value.utf8.count <= 255, !value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F })
            else { throw refuse("\(what) is empty, longer than 255 bytes or holds control characters") }
        }
        let mode = query["sslmode"] ?? environment["PGSSLMODE"] ?? "prefer"
        guard let tls = mode == "allow" ? .prefer : TLSMode(rawValue: mode) else {
            throw refuse("sslmode '\(mode)' is not one of disable, allow, prefer, require, verify-ca, verify-full")
        }
        let rootCertificates = query["sslrootcert"] ?? environment["PGSSLROOTCERT"]
        if let rootCertificates {
            guard rootCertificates.hasPrefix("/"), rootCertificates.utf8.count <= 1024 else {
                throw refuse("sslrootcert '\(rootCertificates)' is not an absolute path")
            }
        }
        var location = PostgresLocation(
            endpoint: host.hasPrefix("/") ? .socket(path: host + "/.s.PGSQL.\(port)") : .tcp(host: host, port: port),
            user: user,
            database: database,
            tls: tls,
            rootCertificates: rootCertificates,
            password: nil
        )
        if let passwordFile {
            location.password = try readSecret(passwordFile, what: "store.passwordFile")
        } else if let password = environment["PGPASSWORD"] {
            location.password = password
        } else {
            let file = environment["PGPASSFILE"] ?? ((environment["HOME"] ?? NSHomeDirectory()) + "/.pgpass")
            if FileManager.default.fileExists(atPath: file) {
                location.password = passFileEntry(try readSecret(file, what: "the password file"), for: location, port: port)
            }
        }
        return location
    }

    /// Debian's libpq's DEFAULT_PGSOCKET_DIR.
    static let defaultSocketFolder = "/var/run/postgresql"

    static func nonEmpty(_ text: String?) -> String? { text.flatMap { $0.isEmpty ? nil : $0.removingPercentEncoding ?? $0 } }

    /// A secret file: bounded, and like libpq's ~/.pgpass, refused when others may read it (a
    /// symlink is judged by the file it leads to, as a mounted secret is one).
    static func readSecret(_ path: String, what: String) throws(MicadoError) -> String {
        do {
            let bytes = try BoundedFile.read(path, what: what, limit: 64 << 10, privateOnly: true)
            return String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .newlines)
        } catch {
            throw MicadoError(.configuration, "config: \(error.message)")
        }
    }

    /// The password of the first `host:port:database:user:password` line that matches (`*` matches
    /// anything; `\:` and `\\` are escapes; CRLF lines are read as LF ones). As in libpq, a socket
    /// matches its folder, and the default socket folder also matches `localhost`.
    static func passFileEntry(_ text: String, for location: PostgresLocation, port: Int) -> String? {
        let hosts: [String]
        switch location.endpoint {
        case .tcp(let name, _): hosts = [name]
        case .socket(let path):
            let folder = (path as NSString).deletingLastPathComponent
            hosts = folder == defaultSocketFolder ? [folder, "localhost"] : [folder]
        }
        let wanted = [String(port), location.database, location.user]
        // By `isNewline`: "\r\n" is one Character, which a split on "\n" would not see.
        for line in text.split(whereSeparator: \.isNewline) where !line.hasPrefix("#") {
            var fields: [String] = [""]
            var escaped = false
            for character in line {
                if escaped {
                    fields[fields.count - 1].append(character)
                    escaped = false
                } else if character == "\\" {
                    escaped = true
                } else if character == ":" && fields.count < 5 {
                    fields.append("")
                } else {
                    fields[fields.count - 1].append(character)
                }
            }
            guard fields.count == 5 else { continue }
            guard fields[0] == "*" || hosts.contains(fields[0]) else { continue }
            if zip(fields[1...3], wanted).allSatisfy({ $0 == "*" || $0 == $1 }) { return fields[4] }
        }
        return nil
    }
}
