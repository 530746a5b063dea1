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

    /// Runs `body` on the spawn thread; the caller's thread is free meanwhile (a blocked
    /// thread of the concurrency pool, of which there are as many as cores, stalls everyone).
    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            condition.lock()
            jobs.append { continuation.resume(with: Result { try body() }) }
            condition.signal()
            condition.unlock()
        }
    }
}
