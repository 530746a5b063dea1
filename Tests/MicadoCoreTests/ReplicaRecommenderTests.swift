import Foundation
import MicadoCore
import Testing

struct ReplicaRecommenderTests {
    var policy: ScalingPolicy {
        var p = ScalingPolicy(min: 1, max: 8, targets: [.init(metric: .cpu, percent: 60)])
        p.upCooldownSeconds = 30
        p.downStabilizationSeconds = 300
        return p
    }
    let t0 = Date(timeIntervalSince1970: 1_000_000)

    @Test func theTargetValueRuleScalesUpAtOnceAndHoldsForTheCooldown() {
        var r = ReplicaRecommender()
        let up = r.decide(policy: policy, current: 1, observed: [.cpu: 150], now: t0)
        #expect(up.desired == 3)  // ⌈1 × 150 / 60⌉
        let again = r.decide(policy: policy, current: 3, observed: [.cpu: 150], now: t0 + 10)
        #expect(again.desired == 3 && again.recommended == 8 && again.held?.contains("cooling down for 20 s") == true)
        #expect(r.decide(policy: policy, current: 3, observed: [.cpu: 150], now: t0 + 31).desired == 8)
    }

    /// The load of the replicas that run is what the rule multiplies; no growth while others wait.
    @Test func pendingReplicasHoldGrowthAndTheRuleCountsWhatRuns() {
        var r = ReplicaRecommender()
        var wide = policy
        wide.max = 20
        let first = r.decide(policy: wide, current: 1, running: 1, observed: [.cpu: 300], now: t0)
        #expect(first.desired == 5)  // ⌈1 × 300 / 60⌉
        let waiting = r.decide(policy: wide, current: 5, running: 1, observed: [.cpu: 600], now: t0 + 60)
        #expect(waiting.desired == 5 && waiting.held == "4 of 5 replicas not running yet", "no 1 → 5 → 20 while 4 wait")
        let all = r.decide(policy: wide, current: 5, running: 5, observed: [.cpu: 90], now: t0 + 120)
        #expect(all.desired == 8)  // ⌈5 × 90 / 60⌉
    }

    @Test func noiseInsideTheToleranceChangesNothing() {
        var r = ReplicaRecommender()
        for (i, value) in [55.0, 64, 58, 62, 65.9, 54.1].enumerated() {
            let d = r.decide(policy: policy, current: 4, observed: [.cpu: value], now: t0 + Double(i) * 400)
            #expect(d.desired == 4 && d.recommended == 4, "\(value)")
        }
    }

    @Test func scaleDownWaitsForTheWindowAndTakesItsHighestRecommendation() {
        var r = ReplicaRecommender()
        #expect(r.decide(policy: policy, current: 4, observed: [.cpu: 10], now: t0).held?.hasPrefix("stabilizing") == true)
        #expect(r.decide(policy: policy, current: 4, observed: [.cpu: 45], now: t0 + 200).desired == 4)  // recommends 3
        let later = r.decide(policy: policy, current: 4, observed: [.cpu: 10], now: t0 + 310)
        #expect(later.desired == 3, "the 3 of t0+200 is within the window: \(later)")
        let last = r.decide(policy: policy, current: 3, observed: [.cpu: 10], now: t0 + 510)
        #expect(last.desired == 1)
    }

    @Test func boundsAndDisagreeingSignals() {
        var r = ReplicaRecommender()
        var both = policy
        both.targets = [.init(metric: .cpu, percent: 60), .init(metric: .memory, percent: 80)]
        // CPU says shrink, memory says grow: growth wins.
        #expect(r.decide(policy: both, current: 2, observed: [.cpu: 5, .memory: 160], now: t0).desired == 4)
        var s = ReplicaRecommender()
        #expect(s.decide(policy: policy, current: 12, observed: [:], now: t0).desired == 8)
        #expect(s.decide(policy: policy, current: 0, observed: [:], now: t0).desired == 1)
        #expect(s.decide(policy: policy, current: 2, observed: [:], now: t0).held == "no usage samples yet")
        #expect(s.decide(policy: policy, current: 8, observed: [.cpu: 900], now: t0 + 100).desired == 8)
    }
}
