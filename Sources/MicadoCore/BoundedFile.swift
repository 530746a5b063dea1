import Foundation

/// A file named on a command line, read as hostile input: a regular file (not a FIFO or a
/// device that never ends), no larger than the bound for it, read without following it
/// past that bound if it grows meanwhile. A secret (`privateOnly`) must moreover be readable by
/// its owner alone, judged on the file opened (a symlink's target), not on the name.
public enum BoundedFile {
    public static func read(_ path: String, what: String, limit: Int, privateOnly: Bool = false) throws(MicadoError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)
        guard fd >= 0 else {
            throw MicadoError.badRequest("\(what): cannot read \(Text.escaped(path)): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            throw MicadoError.badRequest("\(what): \(Text.escaped(path)) is not a regular file")
        }
        guard !privateOnly || info.st_mode & 0o077 == 0 else {
            throw MicadoError.badRequest(
                "\(what): \(Text.escaped(path)) may be read by others (mode \(String(info.st_mode & 0o777, radix: 8))); chmod 600 it"
            )
        }
        guard info.st_size <= limit else {
            throw MicadoError(
                .tooLarge,
                "\(what): \(Text.escaped(path)) is over \(limit) bytes, the bound for it"
            )
        }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size) + 1)
        var count = 0
        while count < bytes.count {
            let n = bytes[count...].withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            guard n >= 0 else { throw MicadoError.badRequest("\(what): cannot read \(Text.escaped(path))") }
            if n == 0 { break }
            count += n
        }
        guard count <= limit else {
            throw MicadoError(.tooLarge, "\(what): \(Text.escaped(path)) grew over \(limit) bytes")
        }
        return Array(bytes[..<count])
    }
}
