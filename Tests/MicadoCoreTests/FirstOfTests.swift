import Synchronization
import Testing

@testable import MicadoCore

/// `firstOf` against an operation that never notices cancellation: it waits on a gate that only
/// the test opens, so each answer below came while the operation was still running.
struct FirstOfTests {
    /// A gate the operation waits at; `open` lets it through (and any later waiter at once).
    final class Gate: Sendable {
        let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))
        func wait() async {
            await withCheckedContinuation { continuation in
                let now = state.withLock { state in
                    if state.open { return true }
                    state.waiters.append(continuation)
                    return false
                }
                if now { continuation.resume() }
            }
        }
        func open() {
            let waiters = state.withLock { state in
                state.open = true
                defer { state.waiters = [] }
                return state.waiters
            }
            for waiter in waiters { waiter.resume() }
        }
        var opened: Bool { state.withLock { $0.open } }
    }

    @Test func theOperationsResultWhenItComesFirst() async throws {
        let value = try await firstOf(timeout: .seconds(600)) { 42 }
        #expect(value == 42)
    }

    @Test func theOperationsErrorWhenItComesFirst() async throws {
        struct Refused: Error {}
        await #expect(throws: Refused.self) { _ = try await firstOf(timeout: .seconds(600)) { () async throws -> Int in throw Refused() } }
    }

    @Test func nilAtTheTimeoutWhileTheOperationStillRuns() async throws {
        let gate = Gate()
        let value = try await firstOf(timeout: .milliseconds(50)) { () async -> Int in
            await gate.wait()
            return 1
        }
        #expect(value == nil)
        #expect(!gate.opened)
        gate.open()
    }

    @Test func cancellationAnswersWhileTheOperationStillRuns() async throws {
        let gate = Gate()
        let entered = Gate()
        let caller = Task {
            try await firstOf(timeout: .seconds(600)) { () async -> Int in
                entered.open()
                await gate.wait()
                return 1
            }
        }
        await entered.wait()
        caller.cancel()
        await #expect(throws: CancellationError.self) { _ = try await caller.value }
        #expect(!gate.opened)
        gate.open()
    }

    @Test func aCallerCancelledBeforehandGetsCancellationError() async throws {
        let caller = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await firstOf(timeout: .seconds(600)) { () async throws -> Int in
                try await Task.sleep(for: .seconds(600))
                return 1
            }
        }
        await #expect(throws: CancellationError.self) { _ = try await caller.value }
    }
}
