import Foundation
import MicadoCore

#if canImport(Glibc)
import Glibc
#endif

/// Where the ec2 driver finds AWS credentials, in the order AWS users keep them:
/// 1. `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`);
/// 2. `~/.aws/credentials` (or `AWS_SHARED_CREDENTIALS_FILE`), the profile of clouds.yaml,
///    else `AWS_PROFILE`, else `default`;
/// 3. micado's own `<home>/credentials/<cloud>`, the same INI form, which must be
///    readable by its owner only (0600).
///
/// No error here ever holds a secret, nor a line of a credentials file (it may be one).
public enum EC2Credentials {
    /// A credentials file larger than this is not one.
    static let maximumFileBytes = 256 << 10

    public static var processEnvironment: [String: String] { ProcessInfo.processInfo.environment }

    public static func resolve(cloud: String, profile: String?, micadoHome: String, environment: [String: String]) throws(CloudError) -> AWSCredentials {
        let keyID = environment["AWS_ACCESS_KEY_ID"] ?? ""
        let secret = environment["AWS_SECRET_ACCESS_KEY"] ?? ""
        if !keyID.isEmpty || !secret.isEmpty {
            guard !keyID.isEmpty else { throw CloudError(.auth, "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not") }
            guard !secret.isEmpty else { throw CloudError(.auth, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not") }
            let token = environment["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
            return try checked(AWSCredentials(accessKeyID: keyID, secretAccessKey: secret, sessionToken: token), from: "the environment (AWS_*)")
        }
        let profileName = profile ?? environment["AWS_PROFILE"].flatMap { $0.isEmpty ? nil : $0 } ?? "default"
        let shared =
            environment["AWS_SHARED_CREDENTIALS_FILE"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()) + "/.aws/credentials"
        if FileManager.default.fileExists(atPath: shared) {
            let sections = try parse(file: shared)
            if let section = sections[profileName] { return try credentials(section, file: shared, profile: profileName) }
        }
        let own = micadoHome + "/credentials/" + cloud
        if FileManager.default.fileExists(atPath: own) {
            try requireOwnerOnly(own)
            let sections = try parse(file: own)
            for name in [profileName, "default"] {
                if let section = sections[name] { return try credentials(section, file: own, profile: name) }
            }
            throw CloudError(.auth, "\(own) has no [\(Text.escaped(profileName))] or [default] section")
        }
        throw CloudError(
            .auth,
            "no AWS credentials for cloud \(cloud): set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, add [\(Text.escaped(profileName))] to \(shared), or write \(own) (mode 0600)")
    }

    static func credentials(_ section: [String: String], file: String, profile: String) throws(CloudError) -> AWSCredentials {
        let place = "\(file) [\(Text.escaped(profile))]"
        guard let keyID = section["aws_access_key_id"], !keyID.isEmpty else { throw CloudError(.auth, "\(place): aws_access_key_id is missing") }
        guard let secret = section["aws_secret_access_key"], !secret.isEmpty else { throw CloudError(.auth, "\(place): aws_secret_access_key is missing") }
        let token = (section["aws_session_token"] ?? section["aws_security_token"]).flatMap { $0.isEmpty ? nil : $0 }
        return try checked(AWSCredentials(accessKeyID: keyID, secretAccessKey: secret, sessionToken: token), from: place)
    }

    /// The key ID and the session token travel in headers: printable ASCII only.
    static func checked(_ credentials: AWSCredentials, from place: String) throws(CloudError) -> AWSCredentials {
        func printable(_ text: String) -> Bool { text.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value < 0x7F } }
        guard printable(credentials.accessKeyID), credentials.accessKeyID.count <= 128 else {
            throw CloudError(.auth, "\(place): the access key ID has characters an AWS key ID cannot have")
        }
        guard printable(credentials.secretAccessKey) else { throw CloudError(.auth, "\(place): the secret access key has characters an AWS secret cannot have") }
        if let token = credentials.sessionToken, !printable(token) {
            throw CloudError(.auth, "\(place): the session token has characters an AWS session token cannot have")
        }
        return credentials
    }

    /// micado's own file holds a secret: refused when anyone but its owner may read it.
    static func requireOwnerOnly(_ path: String) throws(CloudError) {
        let attributes: [FileAttributeKey: Any]
        do { attributes = try FileManager.default.attributesOfItem(atPath: path) } catch { throw CloudError(.auth, "cannot read \(path)") }
        guard let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue, let owner = (attributes[.ownerAccountID] as? NSNumber)?.uint32Value else {
            throw CloudError(.auth, "cannot read the mode of \(path)")
        }
        // attributesOfItem does not follow a link: a link's own mode says nothing of the file.
        guard attributes[.type] as? FileAttributeType != .typeSymbolicLink else {
            throw CloudError(.auth, "\(path) is a symbolic link; micado reads a secret only from a regular file of its own (0600)")
        }
        guard mode & 0o077 == 0 else {
            throw CloudError(.auth, "\(path) is mode \(String(mode & 0o777, radix: 8)); it holds a secret and must be 0600 (chmod 600 \(path))")
        }
        guard owner == geteuid() else { throw CloudError(.auth, "\(path) belongs to another user (uid \(owner)); refused") }
    }

    /// An INI file: `[section]` lines and `key = value` lines; `#` and `;` start comments.
    static func parse(file: String) throws(CloudError) -> [String: [String: String]] {
        guard let handle = FileHandle(forReadingAtPath: file) else { throw CloudError(.auth, "cannot read \(file)") }
        defer { try? handle.close() }
        let data: Data
        do { data = try handle.read(upToCount: maximumFileBytes + 1) ?? Data() } catch { throw CloudError(.auth, "cannot read \(file)") }
        guard data.count <= maximumFileBytes else { throw CloudError(.auth, "\(file) is larger than \(maximumFileBytes >> 10) KiB; not a credentials file") }
        return try parse(String(decoding: data, as: UTF8.self), file: file)
    }

    static func parse(_ text: String, file: String) throws(CloudError) -> [String: [String: String]] {
        var sections: [String: [String: String]] = [:]
        var current: String?
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                let name = line.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
                current = name
                if sections[name] == nil { sections[name] = [:] }
                continue
            }
            // The line itself is never quoted back: it may hold a secret.
            guard let equals = line.firstIndex(of: "=") else {
                throw CloudError(.auth, "\(file):\(index + 1): neither [profile] nor key = value")
            }
            guard let section = current else { throw CloudError(.auth, "\(file):\(index + 1): a key before any [profile] line") }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            sections[section, default: [:]][key] = value
        }
        return sections
    }
}
