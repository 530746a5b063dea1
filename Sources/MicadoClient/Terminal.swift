import Dispatch
import Foundation
import MicadoCore

#if canImport(Glibc)
import Glibc
#endif

/// The local terminal of an attached `micado execute`: raw mode while the remote command
/// owns it, its size, and its size changes.
public enum Terminal {
    public static var stdinIsTerminal: Bool { isatty(0) == 1 }
    public static var stdoutIsTerminal: Bool { isatty(1) == 1 }

    /// The size of the terminal on stdout (or stdin), if there is one.
    public static func size() -> TerminalSize? {
        var window = winsize()
        for fd: Int32 in [1, 0] where ioctl(fd, UInt(TIOCGWINSZ), &window) == 0 && window.ws_col > 0 && window.ws_row > 0 {
            return TerminalSize(columns: Int(window.ws_col), rows: Int(window.ws_row))
        }
        return nil
    }

    /// Puts stdin's terminal in raw mode (keys go to the remote command as typed, Ctrl-C
    /// included) until the returned function restores it.
    /// A TERM or QUIT sent to micado restores the terminal before it exits (keys cannot
    /// send signals while raw; the command in the container is then hung up by the manager).
    public static func makeRaw() -> () -> Void {
        var saved = termios()
        guard tcgetattr(0, &saved) == 0 else { return {} }
        var raw = saved
        cfmakeraw(&raw)
        tcsetattr(0, TCSANOW, &raw)
        let original = saved
        let restore: @Sendable () -> Void = { _ = withUnsafePointer(to: original) { tcsetattr(0, TCSANOW, $0) } }
        for signal in [SIGTERM, SIGQUIT] {
            Glibc.signal(signal, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signal)
            source.setEventHandler {
                restore()
                exit(128 + signal)
            }
            source.resume()
            exitSources.append(source)
        }
        return restore
    }

    /// Kept for the life of the process: a signal source that is released stops listening.
    nonisolated(unsafe) static var exitSources: [any DispatchSourceSignal] = []

    /// The terminal's new size after each SIGWINCH.
    public static func resizes() -> AsyncStream<TerminalSize> {
        AsyncStream { continuation in
            signal(SIGWINCH, SIG_IGN)
            // Only cancelled when the stream ends; DispatchSource itself is thread-safe.
            nonisolated(unsafe) let source = DispatchSource.makeSignalSource(signal: SIGWINCH)
            source.setEventHandler { if let size = size() { continuation.yield(size) } }
            source.resume()
            continuation.onTermination = { _ in source.cancel() }
        }
    }

    /// Stdin's bytes as they are read, on a thread of their own (a blocking read must not
    /// hold one of the concurrency pool's few threads). Ends at end of file.
    public static func standardInput() -> AsyncStream<[UInt8]> {
        AsyncStream { continuation in
            let thread = Thread {
                var buffer = [UInt8](repeating: 0, count: 4096)
                while true {
                    let n = buffer.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
                    if n < 0, errno == EINTR { continue }
                    guard n > 0 else { break }
                    continuation.yield(Array(buffer[..<n]))
                }
                continuation.finish()
            }
            thread.start()
        }
    }

    /// Writes all of `bytes` to `fd`.
    public static func write(_ bytes: some Collection<UInt8>, to fd: Int32) {
        var rest = Array(bytes)[...]
        while !rest.isEmpty {
            let n = rest.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { return }
            rest = rest.dropFirst(n)
        }
    }
}
