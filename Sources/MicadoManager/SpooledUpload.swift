import DockerEngine
import Foundation
import Hummingbird
import MicadoCore

#if canImport(Glibc)
import Glibc
#endif

/// An upload (a build context, a file to copy) received into a file in the home instead of
/// memory, so its size costs disk, not the manager's memory. The file is unlinked as soon
/// as it is open: nothing is left behind, even by a manager killed mid-upload.
final class SpooledUpload: TarSource, Sendable {
    let descriptor: Int32
    let count: Int

    private init(descriptor: Int32, count: Int) {
        self.descriptor = descriptor
        self.count = count
    }

    deinit { close(descriptor) }

    /// Receives `request`'s body, refusing with 413 (before reading, when the length is
    /// declared) anything over `limit` bytes.
    static func receive(_ request: Request, limit: Int, directory: String) async throws -> SpooledUpload {
        if let declared = request.headers[.contentLength].flatMap({ Int($0) }), declared > limit {
            throw HTTPAPI.tooLarge(limit, what: "an upload")
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let path = directory + "/upload-\(UUID().uuidString)"
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw MicadoError(.internal, "cannot spool an upload in \(directory): \(String(cString: strerror(errno)))") }
        unlink(path)
        var count = 0
        do {
            for try await buffer in request.body {
                count += buffer.readableBytes
                guard count <= limit else { throw HTTPAPI.tooLarge(limit, what: "an upload") }
                try buffer.withUnsafeReadableBytes { raw in
                    var done = 0
                    while done < raw.count {
                        let n = write(fd, raw.baseAddress! + done, raw.count - done)
                        if n < 0, errno == EINTR { continue }
                        guard n > 0 else { throw MicadoError(.internal, "cannot spool an upload: \(String(cString: strerror(errno)))") }
                        done += n
                    }
                }
            }
        } catch {
            close(fd)
            throw error
        }
        return SpooledUpload(descriptor: fd, count: count)
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
        return SpooledUpload(descriptor: fd, count: Int(size))
    }

    func read(_ range: Range<Int>) throws(MicadoError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: range.count)
        var done = 0
        while done < range.count {
            let n = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress! + done, range.count - done, off_t(range.lowerBound + done)) }
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
