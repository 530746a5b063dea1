#if canImport(Glibc)
import Glibc
#endif

/// A file micado creates on a path it was given, so that no other user's link, FIFO or file
/// at that path (or at any name beside it) can redirect the write: the bytes go to an unnamed
/// file in the destination's folder (`O_TMPFILE`; where the file system has none, a random name
/// opened `O_CREAT|O_EXCL|O_NOFOLLOW`), which is linked in only once it is whole, with its
/// final mode. A link planted at the destination is replaced, never followed; a kill -9
/// before `commit` leaves nothing behind (the unnamed file is freed with its descriptor).
/// The one place in Core that touches the file system: every write the CLI and the manager
/// make on a user's path, as root, goes through it.
public final class NewFile {
    public let path: String
    /// Where the bytes go until `commit`.
    public let descriptor: Int32
    private let folder: Int32
    private let name: String
    /// The random name of the fallback's file, unlinked if never committed.
    private var temporaryName: String?
    private var finished = false

    /// Opens the unnamed file in `path`'s folder (owner-only until `commit`).
    public init(_ path: String) throws(MicadoError) {
        guard !path.isEmpty, !path.hasSuffix("/") else { throw .badRequest("cannot write \(Text.escaped(path)): not a file name") }
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        guard name != ".", name != ".." else { throw .badRequest("cannot write \(Text.escaped(path)): not a file name") }
        self.path = path
        folder = try Self.openFolder(directory, of: path)
        var fd = openat(folder, ".", Self.O_TMPFILE | O_WRONLY | O_CLOEXEC, 0o600)
        if fd < 0, [EOPNOTSUPP, EISDIR, EINVAL].contains(errno) {
            // No O_TMPFILE here: a name nobody can guess, refused if anything is there already.
            for _ in 0..<8 where fd < 0 {
                let candidate = ".\(name.prefix(64)).micado-\(String(UInt64.random(in: 0...UInt64.max), radix: 36))"
                fd = openat(folder, candidate, O_CREAT | O_EXCL | O_NOFOLLOW | O_WRONLY | O_CLOEXEC, 0o600)
                if fd >= 0 { temporaryName = candidate } else if errno != EEXIST { break }
            }
        }
        guard fd >= 0 else {
            let error = Self.failure("cannot write \(path)")
            close(folder)
            throw error
        }
        descriptor = fd
    }

    deinit { discard() }

    /// Links the whole file in at `path` with `mode` (permission bits only: no set-id bit
    /// survives). `replacing` false refuses an existing `path` (a backup never overwrites).
    public func commit(mode: mode_t, replacing: Bool) throws(MicadoError) {
        precondition(!finished, "a NewFile is committed once")
        guard fchmod(descriptor, mode & 0o777) == 0, fsync(descriptor) == 0 else { throw Self.failure("cannot write \(path)") }
        let staged: String
        if let temporaryName {
            staged = temporaryName
        } else {
            // The unnamed file gets a name: the final one (refused if taken) or a random one to rename over it.
            var linked: String?
            for attempt in 0..<8 where linked == nil {
                let candidate =
                    !replacing && attempt == 0 ? name : ".\(name.prefix(64)).micado-\(String(UInt64.random(in: 0...UInt64.max), radix: 36))"
                if linkat(AT_FDCWD, "/proc/self/fd/\(descriptor)", folder, candidate, AT_SYMLINK_FOLLOW) == 0 {
                    linked = candidate
                } else if errno != EEXIST || !replacing {
                    throw errno == EEXIST ? MicadoError(.alreadyExists, "\(path) already exists") : Self.failure("cannot write \(path)")
                }
            }
            guard let linked else { throw Self.failure("cannot write \(path)") }
            if linked == name {
                finish()
                return
            }
            staged = linked
        }
        if !replacing {
            // link(2) never replaces: the final name appears whole, or the call fails.
            defer { unlinkat(folder, staged, 0) }
            guard linkat(folder, staged, folder, name, 0) == 0 else {
                throw errno == EEXIST ? MicadoError(.alreadyExists, "\(path) already exists") : Self.failure("cannot write \(path)")
            }
        } else {
            // rename(2) replaces a link itself, never what it points at.
            guard renameat(folder, staged, folder, name) == 0 else {
                let error = Self.failure("cannot write \(path)")
                unlinkat(folder, staged, 0)
                throw error
            }
        }
        temporaryName = nil
        finish()
    }

    /// Drops the file: nothing is left at `path` or beside it.
    public func discard() {
        guard !finished else { return }
        if let temporaryName { unlinkat(folder, temporaryName, 0) }
        finish()
    }

    private func finish() {
        finished = true
        close(descriptor)
        close(folder)
    }

    /// Writes `text` whole to a new file at `path`.
    public static func write(_ text: String, to path: String, mode: mode_t, replacing: Bool = true) throws(MicadoError) {
        let file = try NewFile(path)
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let n = bytes.withUnsafeBytes { Glibc.write(file.descriptor, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw failure("cannot write \(path)") }
            bytes = bytes.dropFirst(n)
        }
        try file.commit(mode: mode, replacing: replacing)
    }

    /// Opens `directory` component by component, following only links that could not have been
    /// planted by another user: a link is followed when it belongs to the caller, to root or
    /// to the owner of the folder that holds it (what `fs.protected_symlinks` does for sticky
    /// folders, here for every folder and every component). Otherwise a user who can write a
    /// folder on the way (a 1777 one, a group-writable one) could point root's write at any
    /// folder it likes, the micado home's token included. A folder swapped for a link between
    /// the check and the open fails the open (`O_NOFOLLOW`), never follows it.
    static func openFolder(_ directory: String, of path: String) throws(MicadoError) -> Int32 {
        var current = open(directory.hasPrefix("/") ? "/" : ".", O_PATH | O_DIRECTORY | O_CLOEXEC)
        guard current >= 0 else { throw failure("cannot open the folder of \(path)") }
        var pending = Array(directory.split(separator: "/").map(String.init).reversed())
        var links = 0
        while let component = pending.popLast() {
            if component == "." { continue }
            var link = stat()
            if component != "..", fstatat(current, component, &link, AT_SYMLINK_NOFOLLOW) == 0, (link.st_mode & S_IFMT) == S_IFLNK {
                var holder = stat()
                guard fstat(current, &holder) == 0 else {
                    close(current)
                    throw failure("cannot open the folder of \(path)")
                }
                guard link.st_uid == geteuid() || link.st_uid == 0 || link.st_uid == holder.st_uid else {
                    close(current)
                    throw .badRequest(
                        "cannot write \(Text.escaped(path)): '\(Text.escaped(component))' on the way is a link of user \(link.st_uid) in a folder of user \(holder.st_uid); micado does not follow links another user could have planted (name the folder it points at)"
                    )
                }
                links += 1
                var target = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
                let length = readlinkat(current, component, &target, Int(PATH_MAX))
                guard links <= 40, length > 0 else {
                    close(current)
                    if links > 40 { errno = ELOOP }
                    throw failure("cannot open the folder of \(path)")
                }
                let text = String(decoding: target[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
                pending.append(contentsOf: text.split(separator: "/").map(String.init).reversed())
                if text.hasPrefix("/") {
                    close(current)
                    current = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)
                    guard current >= 0 else { throw failure("cannot open the folder of \(path)") }
                }
                continue
            }
            let next = openat(current, component, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            close(current)
            guard next >= 0 else { throw failure("cannot open the folder of \(path)") }
            current = next
        }
        return current
    }

    /// Glibc's O_PATH is a macro Swift does not import (the same on x86-64 and arm64).
    static let O_PATH: Int32 = 0o10000000

    /// Glibc's O_TMPFILE is a macro Swift does not import: __O_TMPFILE (the same on x86-64 and arm64) with O_DIRECTORY.
    static let O_TMPFILE: Int32 = 0o20000000 | O_DIRECTORY

    static func failure(_ what: String) -> MicadoError {
        let reason = String(cString: strerror(errno))
        return errno == EACCES || errno == EPERM || errno == ENOENT || errno == ENOTDIR || errno == EISDIR || errno == EROFS
            ? .badRequest("\(what): \(reason)") : MicadoError(.internal, "\(what): \(reason)")
    }
}
