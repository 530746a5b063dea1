import ServiceLifecycle

/// Wake-ups for one loop: yielded by anyone, coalesced (at most one waits), never lost.
public final class WakeUps: Sendable {
    let stream: AsyncStream<Void>
    let continuation: AsyncStream<Void>.Continuation

    public init() {
        (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Asks for a pass as soon as the one in flight (if any) ends.
    public func yield() { continuation.yield() }

    func finish() { continuation.finish() }
}

/// The manager's loops (scaler, reconciler): a pass at once, then one whenever woken and
/// at least every `interval` (asked again after each tick, so a loop can go faster for a
/// while; one ticker, whose wake-ups coalesce with everyone else's, so passes never pile
/// up). On graceful shutdown the pass in flight finishes its work and no other starts; only
/// a hard cancellation cuts a pass.
enum PassLoop {
    static func run(every interval: Duration, wakeUps: WakeUps, _ pass: () async -> Void) async {
        await run(every: { interval }, wakeUps: wakeUps, pass)
    }

    static func run(every interval: @escaping @Sendable () async -> Duration, wakeUps: WakeUps, _ pass: () async -> Void) async {
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: await interval())
                        wakeUps.yield()
                    }
                }
                wakeUps.yield()
                for await _ in wakeUps.stream { await pass() }
                group.cancelAll()
            }
        } onGracefulShutdown: {
            wakeUps.finish()
        }
    }
}
