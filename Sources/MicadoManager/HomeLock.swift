import Foundation
import MicadoCore

#if canImport(Glibc)
import Glibc
#endif

/// One manager per home (and per store): an exclusive `flock` on a lock file, held for the
/// manager's whole life (the kernel drops it when the process dies, kill -9 included).
/// It is taken before anything else is touched, so a second manager changes nothing: no
/// store migration, no swarm call, no event, no pid file. `micado init --force` takes it
/// too, so it cannot rewrite the token and certificates under a running manager.
final class HomeLock: Sendable {
    let descriptor: Int32

    private init(descriptor: Int32) { self.descriptor = descriptor }

    deinit { close(descriptor) }

    /// Takes the home's lock, or says which manager holds it.
    static func acquire(_ home: MicadoHome, port: Int) throws(MicadoError) -> HomeLock {
        try acquire(home.lockFile, port: port, what: "the home \(home.path)")
    }

    /// Takes the lock at `path`. A lock file removed or replaced while it is taken (by
    /// someone who hoped to start a second manager) is noticed: the lock is taken again on
    /// the file that is there now.
    static func acquire(_ path: String, port: Int, what: String) throws(MicadoError) -> HomeLock {
        for _ in 0..<3 {
            let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw .init(.configuration, "cannot open \(path): \(String(cString: strerror(errno)))") }
            // A few tries: a child that another thread is spawning holds a copy of a lock just
            // released until it execs; a running manager holds it for good.
            var locked = false
            for attempt in 0..<20 {
                if flock(fd, LOCK_EX | LOCK_NB) == 0 {
                    locked = true
                    break
                }
                if attempt < 19 { usleep(10_000) }
            }
            guard locked else {
                var buffer = [UInt8](repeating: 0, count: 128)
                let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
                close(fd)
                let holder = String(decoding: buffer.prefix(max(0, n)), as: UTF8.self).split(whereSeparator: \.isWhitespace)
                let pid = holder.first.map(String.init) ?? "?"
                let heldPort = holder.dropFirst().first.map(String.init) ?? "?"
                throw .init(
                    .conflict,
                    "another manager (pid \(pid), port \(heldPort)) already runs on \(what); stop it first, or use another MICADO_HOME"
                )
            }
            // What the descriptor holds is still the file at `path` (else: "… (deleted)").
            let held = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(fd)")
            guard let held, held == URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path else {
                close(fd)
                continue
            }
            let text = "\(getpid()) \(port)\n"
            _ = ftruncate(fd, 0)
            _ = text.withCString { pwrite(fd, $0, strlen($0), 0) }
            return HomeLock(descriptor: fd)
        }
        throw .init(.conflict, "the lock file \(path) keeps changing while it is taken; is another manager starting?")
    }
}
