import Foundation
import Testing

@testable import MicadoManager

/// Instances that never come up slow the scaler down per location (an attack made the
/// manager start 251 instances in four seconds with a machine image that died at once).
struct BootBackoffTests {
    @Test func waitsDoubleWithEachFailureUpToFiveMinutesAndAReadyInstanceResets() async {
        let backoff = BootBackoff()
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        #expect(await backoff.holding("eu", now: now) == nil)
        var waits: [TimeInterval] = []
        for _ in 0..<9 { waits.append(await backoff.failed("eu", reason: "lost", now: now).until.timeIntervalSince(now)) }
        #expect(waits == [5, 10, 20, 40, 80, 160, 300, 300, 300])
        #expect(await backoff.holding("eu", now: now.addingTimeInterval(299))?.count == 9)
        #expect(await backoff.holding("eu", now: now.addingTimeInterval(301)) == nil, "the wait ends")
        #expect(await backoff.holding("us", now: now) == nil, "per location")
        await backoff.succeeded("eu")
        #expect(await backoff.failed("eu", reason: "lost", now: now).until.timeIntervalSince(now) == 5, "a ready instance resets the count")
    }
}
