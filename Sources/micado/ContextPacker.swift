import Crypto
import Foundation
import MicadoCompose
import MicadoCore

/// Packs a Compose service's build context (a folder beside the Compose file) into the tar
/// that `POST /v1/images` takes: one top folder, its files in name order with their modes,
/// times and owners zeroed, so the same content always makes the same bytes and the same
/// digest, which tags the image (an unchanged context is not built again). `.dockerignore`
/// is honoured as Docker honours it (the Dockerfile and `.dockerignore` are sent anyway).
/// Symbolic links are packed as links, never followed; sockets, FIFOs and devices are left
/// out and counted. The archive goes to an unnamed temporary file, bounded in bytes and entries.
struct ContextPacker {
    let folder: String
    let dockerfile: String
    let maximumBytes: Int
    static let maximumEntries = 100_000

    struct Packed {
        let body: FileBody
        /// Hex SHA-256 of the archive and the build's options.
        let digest: String
        let skipped: Int
    }

    func pack(options: ServiceBuild) throws -> Packed {
        var info = stat()
        guard lstat(folder, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
            throw MicadoError.badRequest("the build context \(Text.escaped(folder)) is not a folder")
        }
        var ignore = try DockerIgnore("")
        let ignorePath = folder + "/.dockerignore"
        if lstat(ignorePath, &info) == 0 {
            let bytes = try Micado.Apply.readObject(ignorePath, what: ".dockerignore", limit: 1 << 20)
            ignore = try DockerIgnore(String(decoding: bytes, as: UTF8.self))
        }
        var entries: [(path: String, kind: TarArchive.Kind, mode: Int, size: Int, link: String)] = []
        var skipped = 0
        var total = 0
        func walk(_ relative: String) throws {
            let absolute = relative.isEmpty ? folder : folder + "/" + relative
            let names = try FileManager.default.contentsOfDirectory(atPath: absolute).sorted {
                Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8))
            }
            for name in names {
                let path = relative.isEmpty ? name : relative + "/" + name
                var entry = stat()
                guard lstat(folder + "/" + path, &entry) == 0 else { continue }
                let kind = entry.st_mode & S_IFMT
                let forced = path == dockerfile || path == ".dockerignore"
                let excluded = !forced && ignore.excludes(path)
                if excluded && !(kind == S_IFDIR && ignore.hasExceptions) { continue }
                guard entries.count < Self.maximumEntries else {
                    throw MicadoError(.tooLarge, "the build context \(Text.escaped(folder)) has more than \(Self.maximumEntries) entries")
                }
                let mode = Int(entry.st_mode & 0o7777)
                switch kind {
                case S_IFDIR:
                    if !excluded { entries.append((path, .directory, mode, 0, "")) }
                    try walk(path)
                case S_IFREG:
                    total += Int(entry.st_size)
                    guard total <= maximumBytes else {
                        throw MicadoError(.tooLarge, "the build context \(Text.escaped(folder)) has more than \(maximumBytes) bytes")
                    }
                    entries.append((path, .file, mode, Int(entry.st_size), ""))
                case S_IFLNK:
                    let link = try FileManager.default.destinationOfSymbolicLink(atPath: folder + "/" + path)
                    entries.append((path, .symbolicLink, 0o777, 0, link))
                default:
                    skipped += 1
                }
            }
        }
        try walk("")
        guard entries.contains(where: { $0.path == dockerfile && $0.kind == .file }) else {
            throw MicadoError.badRequest("the build context \(Text.escaped(folder)) has no \(Text.escaped(dockerfile))")
        }

        // An unnamed file: gone with the process, whatever happens.
        // O_TMPFILE (Glibc does not export it): __O_TMPFILE | O_DIRECTORY.
        let fd = open(NSTemporaryDirectory(), 0o20000000 | O_DIRECTORY | O_RDWR | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw MicadoError.badRequest("cannot make a temporary file: \(String(cString: strerror(errno)))") }
        var hash = SHA256()
        var written = 0
        func emit(_ bytes: [UInt8]) throws {
            hash.update(data: bytes)
            var offset = 0
            while offset < bytes.count {
                let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                if n < 0, errno == EINTR { continue }
                guard n > 0 else {
                    close(fd)
                    throw MicadoError.badRequest("cannot write the build context: \(String(cString: strerror(errno)))")
                }
                offset += n
            }
            written += bytes.count
        }
        let top = "context"
        try emit(
            TarWriter.headerBlocks(
                .init(name: top, kind: .directory, mode: 0o755, linkName: "", size: 0, modificationTime: 0, dataOffset: 0)
            )
        )
        for entry in entries {
            let name = top + "/" + entry.path
            guard entry.kind == .file else {
                try emit(
                    TarWriter.headerBlocks(
                        .init(
                            name: name,
                            kind: entry.kind,
                            mode: entry.mode,
                            linkName: entry.link,
                            size: 0,
                            modificationTime: 0,
                            dataOffset: 0
                        )
                    )
                )
                continue
            }
            // What is read is what is packed: a file that changes size meanwhile is refused.
            let input = open(folder + "/" + entry.path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC)
            guard input >= 0 else {
                close(fd)
                throw MicadoError.badRequest("cannot read \(Text.escaped(entry.path)) of the build context")
            }
            defer { close(input) }
            try emit(
                TarWriter.headerBlocks(
                    .init(name: name, kind: .file, mode: entry.mode, linkName: "", size: entry.size, modificationTime: 0, dataOffset: 0)
                )
            )
            var left = entry.size
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while left > 0 {
                let n = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, min($0.count, left)) }
                if n < 0, errno == EINTR { continue }
                guard n > 0 else {
                    close(fd)
                    throw MicadoError.badRequest("\(Text.escaped(entry.path)) of the build context changed while it was packed")
                }
                try emit(Array(buffer[..<n]))
                left -= n
            }
            try emit([UInt8](repeating: 0, count: TarWriter.padding(for: entry.size)))
        }
        try emit(TarWriter.endOfArchive)
        // The options change what is built: they are part of the tag.
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let described = [
            "dockerfile": options.dockerfile ?? "Dockerfile", "target": options.target ?? "",
            "args": String(decoding: (try? encoder.encode(options.arguments)) ?? Data(), as: UTF8.self),
        ]
        hash.update(data: (try? encoder.encode(described)) ?? Data())
        lseek(fd, 0, SEEK_SET)
        let digest = hash.finalize().map { String(format: "%02x", $0) }.joined()
        return Packed(body: FileBody(descriptor: fd, length: written), digest: digest, skipped: skipped)
    }
}
