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

    /// The sections of micado's own file for `cloud`, nil when there is none; refused when
    /// anyone but its owner may read it.
    public static func own(cloud: String, micadoHome: String) throws(CloudError) -> [String: [String: String]]? {
        let file = path(cloud: cloud, micadoHome: micadoHome)
        guard FileManager.default.fileExists(atPath: file) else { return nil }
        try requireOwnerOnly(file)
        return try parse(file: file)
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
