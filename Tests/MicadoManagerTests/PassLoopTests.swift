import ServiceLifecycleTestKit
import Synchronization
import Testing

@testable import MicadoManager

/// The scaler's and reconciler's loop: woken, never polling; a shutdown lets the pass in
/// flight finish and starts no other.
struct PassLoopTests {
    /// Resolves once, for whoever waits.
    final class Gate: Sendable {
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self)
        func open() { continuation.finish() }
        func wait() async { for await _ in stream {} }
    }

    @Test func runsAtOnceThenWhenWokenCoalescingWakeUps() async {
        let wakeUps = WakeUps()
        let passes = Mutex(0)
        let next = AsyncStream.makeStream(of: Int.self)
        let loop = Task {
            await PassLoop.run(every: .seconds(3600), wakeUps: wakeUps) {
                let n = passes.withLock {
                    $0 += 1
                    return $0
                }
                next.continuation.yield(n)
            }
        }
        var seen = next.stream.makeAsyncIterator()
        #expect(await seen.next() == 1, "a pass at once, without waiting for the interval")
        wakeUps.yield()
        #expect(await seen.next() == 2, "a wake-up runs a pass")
        loop.cancel()
        await loop.value
    }

    @Test func aPassInFlightFinishesOnGracefulShutdownAndNoOtherStarts() async {
        await testGracefulShutdown { trigger in
            let wakeUps = WakeUps()
            let started = Mutex(0)
            let finished = Mutex(0)
            let inPass = Gate()
            let release = Gate()
            let loop = Task {
                await PassLoop.run(every: .seconds(3600), wakeUps: wakeUps) {
                    started.withLock { $0 += 1 }
                    inPass.open()
                    await release.wait()
                    // A cut pass would see its task cancelled here.
                    if !Task.isCancelled { finished.withLock { $0 += 1 } }
                }
            }
            await inPass.wait()
            trigger.triggerGracefulShutdown()
            wakeUps.yield()  // asked for after the shutdown: not run
            release.open()
            await loop.value
            #expect(started.withLock { $0 } == 1)
            #expect(finished.withLock { $0 } == 1, "the pass in flight was not cut")
        }
    }
}
