import DockerEngine
import Foundation
import Hummingbird
import MicadoCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// An upload (a build context, a file to copy) received into a file in the home instead of
/// memory, so its size costs disk, not the manager's memory. The file is unlinked as soon
/// as it is open: nothing is left behind, even by a manager killed mid-upload.
final class SpooledUpload: TarSource, Sendable {
    let descriptor: Int32
    let count: Int

    /// Whether this upload holds one of the `concurrentUploads` slots.
    let slot: Bool

    private init(descriptor: Int32, count: Int, slot: Bool) {
        self.descriptor = descriptor
        self.count = count
        self.slot = slot
    }

    deinit {
        close(descriptor)
        if slot { Self.held.withLock { $0 -= 1 } }
    }

    /// Uploads held at once (received, or being built from): their disk is bounded by this
    /// many times the upload limit. A slot is given back when its upload is released.
    static let concurrentUploads = 4
    /// An upload that holds a slot must average this after `minimumRateGraceSeconds` (a
    /// client trickling a byte now and then, within the idle limit, held a slot for good).
    static let minimumBytesPerSecond = 16 << 10
    static let minimumRateGraceSeconds = 30.0
    static let held = Mutex(0)

    /// One of the `concurrentUploads` slots, or 503.
    static func takeSlot() throws(MicadoError) {
        let taken = held.withLock { count in
            guard count < concurrentUploads else { return false }
            count += 1
            return true
        }
        guard taken else {
            throw MicadoError(
                .busy,
                "\(concurrentUploads) uploads and copies are held already (received, being built or sent); try again when one is done"
            )
        }
    }

    /// Receives `request`'s body, refusing with 413 (before reading, when the length is
    /// declared) anything over `limit` bytes, and with 503 one upload more than allowed.
    static func receive(_ request: Request, limit: Int, directory: String) async throws -> SpooledUpload {
        if let declared = request.headers[.contentLength].flatMap({ Int($0) }), declared > limit {
            throw HTTPAPI.tooLarge(limit, what: "an upload")
        }
        try takeSlot()
        do { return try await spool(request, limit: limit, directory: directory) } catch {
            held.withLock { $0 -= 1 }
            throw error
        }
    }

    /// The body into an unlinked file; the result holds the slot `receive` took.

    static func spool(_ request: Request, limit: Int, directory: String) async throws -> SpooledUpload {
        let fd = try openUnlinked(in: directory, prefix: "upload", what: "an upload")
        var count = 0
        do {
            let started = ContinuousClock.now
            for try await buffer in request.body {
                count += buffer.readableBytes
                // A slot is held while an upload trickles in: past its grace, it must average the minimum rate.
                let elapsed = (ContinuousClock.now - started).inSeconds
                if elapsed > minimumRateGraceSeconds, Double(count) / elapsed < Double(minimumBytesPerSecond) {
                    throw MicadoError(
                        .timeout,
                        "the upload is too slow: \(count) bytes in \(Int(elapsed)) s (at least \(minimumBytesPerSecond / 1024) KiB/s after the first \(Int(minimumRateGraceSeconds)) s)"
                    )
                }
                guard count <= limit else { throw HTTPAPI.tooLarge(limit, what: "an upload") }
                try buffer.writeAll(to: fd)
            }
        } catch {
            close(fd)
            throw error
        }
        return SpooledUpload(descriptor: fd, count: count, slot: true)
    }

    /// A file the manager fills itself (a file copied out of a container), unlinked at once,
    /// holding an upload slot as an upload does: disk, not memory, whatever its size.
    static func filling(directory: String, _ fill: (Int32) async throws(MicadoError) -> Void) async throws(MicadoError) -> SpooledUpload {
        try takeSlot()
        let fd: Int32
        do { fd = try openUnlinked(in: directory, prefix: "copy", what: "a copy") } catch {
            held.withLock { $0 -= 1 }
            throw error
        }
        do { try await fill(fd) } catch {
            close(fd)
            held.withLock { $0 -= 1 }
            throw error
        }
        let size = lseek(fd, 0, SEEK_END)
        return SpooledUpload(descriptor: fd, count: max(0, Int(size)), slot: true)
    }

    /// A file the manager fills and reads itself without an upload slot (images on their way
    /// from one engine to another), unlinked at once.
    static func unlinked(in directory: String, prefix: String, what: String) throws(MicadoError) -> SpooledUpload {
        SpooledUpload(descriptor: try openUnlinked(in: directory, prefix: prefix, what: what), count: 0, slot: false)
    }

    /// Room on the spool's file system for `bytes` and 1 GiB more, or 507 with the figures.
    static func requireRoom(for bytes: Int64, in directory: String, what: String) throws(MicadoError) {
        try? FileManager.default.createDirectory(
            atPath: directory,
            withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700]
        )
        var stats = statvfs()
        guard statvfs(directory, &stats) == 0 else { return }
        let free = Int64(stats.f_bavail) * Int64(stats.f_frsize)
        guard free >= bytes + (1 << 30) else {
            throw MicadoError(
                .tooLarge,
                "no room to spool \(what): \(bytes >> 20) MiB needed and 1 GiB kept free, \(free >> 20) MiB free in \(directory)"
            )
        }
    }

    /// Everything written to the file so far, as a request body read piece by piece.
    var body: OutgoingBody {
        // A size that cannot be read sends nothing rather than a wrong length.
        let length = max(0, Int(lseek(descriptor, 0, SEEK_END)))
        var offset = 0
        return .stream(
            length: length,
            OutgoingBody.PieceProducer { [self] in
                guard offset < length else { return nil }
                let piece = try read(offset..<min(length, offset + (1 << 20)))
                offset += piece.count
                return piece
            }
        )
    }

    /// A new file in `directory` (made 0700 if missing), open for reading and writing and
    /// already unlinked: nothing is left behind, even by a manager killed while it is in use.
    /// `prefix` names the file ("upload", "copy"); `what` says what it is in errors ("an upload").
    static func openUnlinked(in directory: String, prefix: String, what: String) throws(MicadoError) -> Int32 {
        do {
            try FileManager.default.createDirectory(
                atPath: directory,
                withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700]
            )
        } catch { throw MicadoError(.internal, "cannot spool \(what) in \(directory): \(error)") }
        let path = directory + "/\(prefix)-\(UUID().uuidString)"
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw MicadoError(.internal, "cannot spool \(what) in \(directory): \(String(cString: strerror(errno)))") }
        unlink(path)
        return fd
    }

    /// Opens the file at `path` and unlinks it: it lives as long as the returned value.
    static func adopting(path: String) throws(MicadoError) -> SpooledUpload {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        defer { unlink(path) }
        guard fd >= 0 else { throw .init(.internal, "cannot open \(path): \(String(cString: strerror(errno)))") }
        let size = lseek(fd, 0, SEEK_END)
        guard size >= 0 else {
            close(fd)
            throw .init(.internal, "cannot size \(path)")
        }
        return SpooledUpload(descriptor: fd, count: Int(size), slot: false)
    }

    func read(_ range: Range<Int>) throws(MicadoError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: range.count)
        var done = 0
        while done < range.count {
            let result = bytes.withUnsafeMutableBytes { buffer in
                buffer.baseAddress.map { pread(descriptor, $0 + done, range.count - done, off_t(range.lowerBound + done)) }
            }
            // Only an empty array has no address, and an empty range never gets here.
            guard let n = result else {
                throw MicadoError(.internal, "no buffer to read a spooled upload into at byte \(range.lowerBound + done)")
            }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw MicadoError(.internal, "cannot read back a spooled upload at byte \(range.lowerBound + done)") }
            done += n
        }
        return bytes
    }
}

extension TarStream {
    /// The archive as a request body streamed to an engine at the pace it reads.
    var engineBody: OutgoingBody {
        var stream = self
        return .stream(length: length, OutgoingBody.PieceProducer { try stream.next() })
    }
}
