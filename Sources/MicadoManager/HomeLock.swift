import Foundation
import MicadoCore

#if canImport(Glibc)
import Glibc
#endif

/// One manager per home: an exclusive `flock` on the home's lock file, held for the
/// manager's whole life (the kernel drops it when the process dies, kill -9 included).
/// It is taken before anything else is touched, so a second manager changes nothing: no
/// store migration, no swarm call, no event, no pid file.
final class HomeLock: Sendable {
    let descriptor: Int32

    private init(descriptor: Int32) { self.descriptor = descriptor }

    deinit { close(descriptor) }

    /// Takes the lock, or says which manager holds it.
    static func acquire(_ home: MicadoHome, port: Int) throws(MicadoError) -> HomeLock {
        let fd = open(home.lockFile, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .init(.configuration, "cannot open \(home.lockFile): \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            var buffer = [UInt8](repeating: 0, count: 128)
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
            close(fd)
            let holder = String(decoding: buffer.prefix(max(0, n)), as: UTF8.self).split(separator: " ")
            let pid = holder.first.map(String.init) ?? "?"
            let heldPort = holder.dropFirst().first.map { String($0).trimmingCharacters(in: .whitespacesAndNewlines) } ?? "?"
            throw .init(
                .conflict, "another manager (pid \(pid), port \(heldPort)) already runs on the home \(home.path); stop it first, or use another MICADO_HOME")
        }
        let text = "\(getpid()) \(port)\n"
        _ = ftruncate(fd, 0)
        _ = text.withCString { pwrite(fd, $0, strlen($0), 0) }
        return HomeLock(descriptor: fd)
    }
}
