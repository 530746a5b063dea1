import Foundation
import MicadoCore

#if canImport(Glibc)
import Glibc
#endif

/// micado's own credentials file, `<home>/credentials/<cloud>`, and the INI form AWS's
/// shared file uses too: `[section]` lines, `key = value` lines. Every driver reads its
/// secrets through here. No error ever quotes a line of such a file (it may hold a secret).
public enum CredentialsFile {
    /// A credentials file larger than this is not one.
    static let maximumFileBytes = 256 << 10

    /// `<home>/credentials/<cloud>`.
    public static func path(cloud: String, micadoHome: String) -> String { micadoHome + "/credentials/" + cloud }

    /// A user and password for HTTP Basic: from the two environment variables, else from
    /// micado's own file, section `profile` (else `[default]`), keys `userKey` and `password`.
    /// Neither may hold a control character, nor the user a ':' (Basic joins them with one).
    public static func basicLogin(
        cloud: String,
        profile: String?,
        micadoHome: String,
        environment: [String: String],
        service: String,
        userVariable: String,
        passwordVariable: String,
        userKey: String
    ) throws(CloudError) -> (user: String, password: String) {
        func value(_ key: String) -> String? { environment[key].flatMap { $0.isEmpty ? nil : $0 } }
        let login: (user: String, password: String)
        let place: String
        if value(userVariable) != nil || value(passwordVariable) != nil {
            guard let user = value(userVariable) else { throw CloudError(.auth, "\(passwordVariable) is set but \(userVariable) is not") }
            guard let password = value(passwordVariable) else {
                throw CloudError(.auth, "\(userVariable) is set but \(passwordVariable) is not")
            }
            (login, place) = ((user, password), "the environment (\(userVariable), \(passwordVariable))")
        } else {
            let file = path(cloud: cloud, micadoHome: micadoHome)
            guard let sections = try own(cloud: cloud, micadoHome: micadoHome) else {
                throw CloudError(
                    .auth,
                    "no \(service) login for cloud \(cloud): set \(userVariable) and \(passwordVariable), or write \(file) (mode 0600)"
                )
            }
            let name = profile ?? "default"
            guard let section = sections[name] ?? sections["default"] else {
                throw CloudError(.auth, "\(file) has no [\(Text.escaped(name))] or [default] section")
            }
            place = "\(file) [\(Text.escaped(sections[name] != nil ? name : "default"))]"
            guard let user = section[userKey], !user.isEmpty else { throw CloudError(.auth, "\(place): \(userKey) is missing") }
            guard let password = section["password"], !password.isEmpty else { throw CloudError(.auth, "\(place): password is missing") }
            login = (user, password)
        }
        guard !login.user.contains(":"),
            [login.user, login.password].allSatisfy({ text in
                text.count <= 1024 && !text.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
            })
        else { throw CloudError(.auth, "\(place): the \(userKey) has a ':' or a field has a control character") }
        return login
    }

    /// The sections of micado's own file for `cloud`, nil when there is none; refused unless
    /// it is a regular file of this user's that no one else may read. Opened without
    /// following a link and without waiting on a FIFO, whatever took its place since the check.
    public static func own(cloud: String, micadoHome: String) throws(CloudError) -> [String: [String: String]]? {
        let file = path(cloud: cloud, micadoHome: micadoHome)
        // attributesOfItem does not follow a link: a link's own mode says nothing of the file.
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: file) else {
            if FileManager.default.fileExists(atPath: file) { throw CloudError(.auth, "cannot read \(file)") }
            return nil
        }
        if attributes[.type] as? FileAttributeType == .typeSymbolicLink {
            throw CloudError(.auth, "\(file) is a symbolic link; micado reads a secret only from a regular file of its own (0600)")
        }
        guard attributes[.type] as? FileAttributeType == .typeRegular else {
            throw CloudError(.auth, "\(file) is not a regular file; refused")
        }
        guard let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue,
            let owner = (attributes[.ownerAccountID] as? NSNumber)?.uint32Value
        else {
            throw CloudError(.auth, "cannot read the mode of \(file)")
        }
        guard mode & 0o077 == 0 else {
            throw CloudError(
                .auth,
                "\(file) is mode \(String(mode & 0o777, radix: 8)); it holds a secret and must be 0600 (chmod 600 \(file))"
            )
        }
        guard owner == geteuid() else { throw CloudError(.auth, "\(file) belongs to another user (uid \(owner)); refused") }
        let descriptor = open(file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else { throw CloudError(.auth, "cannot read \(file): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while bytes.count <= maximumFileBytes {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw CloudError(.auth, "cannot read \(file)") }
            if count == 0 { break }
            bytes += chunk[..<count]
        }
        guard bytes.count <= maximumFileBytes else {
            throw CloudError(.auth, "\(file) is larger than \(maximumFileBytes >> 10) KiB; not a credentials file")
        }
        return try parse(String(decoding: bytes, as: UTF8.self), file: file)
    }

    /// An INI file: `[section]` lines and `key = value` lines; `#` and `;` start comments.
    static func parse(file: String) throws(CloudError) -> [String: [String: String]] {
        guard let handle = FileHandle(forReadingAtPath: file) else { throw CloudError(.auth, "cannot read \(file)") }
        defer { try? handle.close() }
        let data: Data
        do { data = try handle.read(upToCount: maximumFileBytes + 1) ?? Data() } catch { throw CloudError(.auth, "cannot read \(file)") }
        guard data.count <= maximumFileBytes else {
            throw CloudError(.auth, "\(file) is larger than \(maximumFileBytes >> 10) KiB; not a credentials file")
        }
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
