import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A child process started with posix_spawn and reaped with waitpid.
///
/// Foundation's `Process` can miss a child's exit when several are spawned at once on
/// Linux (its waitUntilExit then never returns); plain waitpid cannot.
public struct ChildProcess: Sendable {
    public let pid: pid_t

    /// Starts `executable` with stdin from /dev/null and stdout and stderr appended to `output`.
    public static func start(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String],
        output: String
    ) throws -> ChildProcess {
        try start(executable, arguments, environment: environment) { actions in
            posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        }
    }

    /// Starts `executable` with stdout and stderr on `outputDescriptor`, and stdin from
    /// `inputDescriptor` (else /dev/null).
    static func start(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String],
        outputDescriptor: Int32,
        inputDescriptor: Int32? = nil
    ) throws -> ChildProcess {
        try start(executable, arguments, environment: environment) { actions in
            if let inputDescriptor { posix_spawn_file_actions_adddup2(&actions, inputDescriptor, 0) }
            posix_spawn_file_actions_adddup2(&actions, outputDescriptor, 1)
        }
    }

    /// Starts `executable` with stdin from /dev/null, stdout and stderr appended to `output`,
    /// and `descriptor` as its descriptor 3 (a folder it reaches as /proc/self/fd/3).
    public static func start(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String],
        output: String,
        passing descriptor: Int32
    ) throws -> ChildProcess {
        try start(executable, arguments, environment: environment, passing: descriptor) { actions in
            posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        }
    }

    static func start(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String],
        passing descriptor: Int32? = nil,
        stdout: (inout posix_spawn_file_actions_t) -> Void
    ) throws -> ChildProcess {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        stdout(&actions)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // dup2 of a descriptor onto itself keeps its close-on-exec flag: a folder opened as
        // descriptor 3 (the lowest free one) would be closed at exec and the child would find
        // nothing at /proc/self/fd/3. Such a one goes through a copy above 3.
        var source = descriptor
        if descriptor == 3 {
            source = fcntl(3, F_DUPFD_CLOEXEC, 4)
            guard let copy = source, copy >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EBADF) }
        }
        defer { if let source, source != descriptor { close(source) } }
        if let source { posix_spawn_file_actions_adddup2(&actions, source, 3) }
        // Nothing else of ours leaks into the child: a detached boot or dockerd that kept the
        // manager's listening socket would hold its port after the manager died.
        if let closeFrom = Self.addCloseFrom { _ = closeFrom(&actions, descriptor == nil ? 3 : 4) }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        // A child starts with no signal blocked and none ignored: it inherits the spawning
        // thread's mask otherwise (runtime threads block some), and a helper whose SIGTERM is
        // blocked can never be stopped gracefully.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGHUP, SIGINT, SIGQUIT, SIGPIPE, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM, SIGCHLD, SIGWINCH] {
            sigaddset(&defaults, signal)
        }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard rc == 0 else { throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .EINVAL) }
        return ChildProcess(pid: pid)
    }

    /// glibc's posix_spawn_file_actions_addclosefrom_np (2.34+), which Swift's Glibc module does not expose.
    typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    static let addCloseFrom: AddCloseFrom? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: AddCloseFrom.self)
    }()

    /// Waits for the exit without holding a thread of the concurrency pool: the blocking
    /// waitpid runs on a thread of its own (two teardowns awaited at once must not take
    /// both pool threads of a 2-core machine).
    public func exit() async -> Int32 {
        await withCheckedContinuation { (continuation: CheckedContinuation<Int32, Never>) in
            let thread = Thread { continuation.resume(returning: self.wait()) }
            thread.name = "micado-wait"
            thread.start()
        }
    }

    /// Waits for the exit, blocking the calling thread; returns the exit status, or 128+signal when killed.
    /// For synchronous callers only: async code awaits `exit()`.
    public func wait() -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        return Self.decode(status)
    }

    /// The exit status if the child has ended, else nil (without blocking).
    public func poll() -> Int32? {
        var status: Int32 = 0
        let rc = waitpid(pid, &status, WNOHANG)
        return rc == pid ? Self.decode(status) : nil
    }

    public func signal(_ signal: Int32) { kill(pid, signal) }

    static func decode(_ status: Int32) -> Int32 {
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    /// Runs a command to completion; returns its status and combined output. `input` (a
    /// secret, say: never an argument, which every local user sees in `ps`) is the child's
    /// stdin, through a pipe; at most 4 KiB, which a password is.
    public static func run(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String] = ProcessInfo.processInfo.environment,
        input: [UInt8]? = nil,
        outputDirectory: String = NSTemporaryDirectory()
    ) async throws -> (status: Int32, output: String) {
        var inputDescriptor: Int32?
        if let input {
            // Written before the child starts: it must fit a pipe's smallest buffer (one page).
            guard input.count <= 4096 else { throw POSIXError(.E2BIG) }
            var ends: [Int32] = [0, 0]
            guard pipe(&ends) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
            // Close-on-exec (Swift's Glibc lacks pipe2): no other child started meanwhile inherits them.
            for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
            let written = input.withUnsafeBytes { write(ends[1], $0.baseAddress, $0.count) }
            close(ends[1])
            guard written == input.count else {
                close(ends[0])
                throw POSIXError(.EIO)
            }
            inputDescriptor = ends[0]
        }
        defer { if let inputDescriptor { close(inputDescriptor) } }
        // A file, not a pipe (a chatty child can never block on it), unlinked at once: nothing
        // is left behind even when this process is killed while the child runs.
        let path = outputDirectory + "/micado-run-\(UUID().uuidString)"
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        unlink(path)
        defer { close(fd) }
        let status = try await start(
            executable,
            arguments,
            environment: environment,
            outputDescriptor: fd,
            inputDescriptor: inputDescriptor
        ).exit()
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        var offset: off_t = 0
        while true {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, offset) }
            guard n > 0 else { break }
            output += buffer[..<n]
            offset += off_t(n)
        }
        return (status, String(decoding: output, as: UTF8.self))
    }

    /// Whether a process with this pid is alive (and not a zombie of ours).
    public static func isAlive(_ pid: pid_t) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        return !stat.contains(") Z ")
    }
}
