import Foundation
import MicadoCore

/// One thread that lives as long as the process, to start children that must die with the
/// manager: Linux sends the parent-death signal (`setpriv --pdeathsig`) when the *thread*
/// that started the child exits, and the concurrency pool's threads come and go (a Caddy
/// was once killed when its starting thread was reaped).
public final class SpawnThread: @unchecked Sendable {
    public static let shared = SpawnThread()

    // @unchecked: `jobs` is only touched under `condition`.
    private let condition = NSCondition()
    private var jobs: [() -> Void] = []

    private init() {
        let thread = Thread { [unowned self] in self.loop() }
        thread.name = "micado-spawn"
        thread.start()
    }

    private func loop() {
        while true {
            condition.lock()
            while jobs.isEmpty { condition.wait() }
            let job = jobs.removeFirst()
            condition.unlock()
            job()
        }
    }

    /// Runs `body` on the spawn thread and waits for it (starting a process takes a moment).
    public func run<T>(_ body: @escaping () throws -> T) throws -> T {
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var result: Result<T, any Error>?
        condition.lock()
        jobs.append {
            result = Result { try body() }
            done.signal()
        }
        condition.signal()
        condition.unlock()
        done.wait()
        guard let result else { throw MicadoError(.internal, "the spawn thread signalled a job done without its result") }
        return try result.get()
    }
}
