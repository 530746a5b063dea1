import AsyncHTTPClient
import Foundation
import MicadoCore
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// A local file sent as a request body piece by piece, never read whole into memory.
struct FileBody {
    let descriptor: Int32
    let length: Int

    /// Opens `path` for reading.
    init(path: String) throws(MicadoError) {
        // O_NONBLOCK: a FIFO put in the file's place cannot hang the open; the type is then
        // checked on what was opened, not on the path (which may change in between).
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw .badRequest("cannot read \(path): \(String(cString: strerror(errno)))") }
        let opened = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(fd)")) ?? ""
        guard (try? FileManager.default.attributesOfItem(atPath: opened)[.type] as? FileAttributeType) == .typeRegular else {
            close(fd)
            throw .badRequest("cannot read \(path): not a regular file")
        }
        let size = lseek(fd, 0, SEEK_END)
        guard size >= 0 else {
            close(fd)
            throw .badRequest("cannot read \(path): \(String(cString: strerror(errno)))")
        }
        self.init(descriptor: fd, length: Int(size))
    }

    init(descriptor: Int32, length: Int) {
        self.descriptor = descriptor
        self.length = length
    }

    /// The first bytes, to recognise the format.
    func prefix(_ count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let n = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, count, 0) }
        return Array(bytes.prefix(max(0, n)))
    }

    /// The file as a request body, read a piece at a time as the manager takes it; the
    /// descriptor is closed at its end. A file that changes length while it is sent fails
    /// the request instead of sending a lie.
    var requestBody: HTTPClientRequest.Body {
        .stream(Pieces(descriptor: descriptor, length: length), length: .known(Int64(length)))
    }

    struct Pieces: AsyncSequence, Sendable {
        typealias Element = ByteBuffer
        let descriptor: Int32
        let length: Int

        struct AsyncIterator: AsyncIteratorProtocol {
            let descriptor: Int32
            let length: Int
            var offset = 0

            mutating func next() async throws -> ByteBuffer? {
                guard offset < length else {
                    close(descriptor)
                    return nil
                }
                var piece = [UInt8](repeating: 0, count: Swift.min(256 << 10, length - offset))
                let n = piece.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, off_t(offset)) }
                guard n == piece.count else { throw MicadoError(.badRequest, "the file changed while it was being sent") }
                offset += n
                return ByteBuffer(bytes: piece)
            }
        }

        func makeAsyncIterator() -> AsyncIterator { AsyncIterator(descriptor: descriptor, length: length) }
    }

    /// Decompresses the gzip file at `path` with the system's gzip into an unlinked
    /// temporary file, stopping as soon as the output passes `limit` bytes (a small
    /// archive can expand a thousandfold).
    static func gunzip(path: String, limit: Int) throws -> FileBody {
        let temporary = FileManager.default.temporaryDirectory.appendingPathComponent("micado-context-\(UUID().uuidString)").path
        let fd = open(temporary, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw MicadoError(.internal, "cannot create a temporary file in \(FileManager.default.temporaryDirectory.path)")
        }
        unlink(temporary)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "exec gzip -dc"]
        let output = Pipe()
        guard let input = FileHandle(forReadingAtPath: path) else {
            close(fd)
            throw MicadoError(.badRequest, "cannot read \(path)")
        }
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        var total = 0
        while let data = try output.fileHandleForReading.read(upToCount: 1 << 16), !data.isEmpty {
            total += data.count
            guard total <= limit else {
                // SIGKILL: the child inherits the CLI's blocked signals (SIGTERM among them), so
                // a terminate() stays pending forever while gzip waits on a full pipe.
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                close(fd)
                throw MicadoError(.tooLarge, "\(path) expands to more than \(limit) bytes (--max-context-bytes)")
            }
            let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard written == data.count else {
                close(fd)
                throw MicadoError(.internal, "cannot write the decompressed tarball to \(FileManager.default.temporaryDirectory.path)")
            }
        }
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            close(fd)
            throw MicadoError(.badRequest, "\(path) looks gzip-compressed but does not decompress")
        }
        return FileBody(descriptor: fd, length: total)
    }
}
