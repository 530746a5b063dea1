import Foundation

/// A scaling policy's decisions for one service: the target-value rule
/// (desired = ⌈current × observed ÷ target⌉, nothing inside the tolerance band), bounded by
/// min and max, scale-up held for `upCooldown` after a change, scale-down taking the highest
/// recommendation of the last `downStabilization` (and only once that long was observed:
/// a restarted manager does not shrink on its first sample). Pure: time comes in as `now`.
public struct ReplicaRecommender: Sendable {
    public struct Decision: Sendable, Equatable {
        public var current: Int
        /// What the policy asks for now (bounded).
        public var recommended: Int
        /// What to set: differs from `current` only when a change is made.
        public var desired: Int
        /// Average percent per metric, over the sampled replicas.
        public var observed: [ScalingPolicy.Metric: Double]
        /// Why a different recommendation was not applied (nil when applied or equal).
        public var held: String?

        public var changes: Bool { desired != current }

        /// One line with the numbers, for events and `explain`.
        public func summary(policy: ScalingPolicy) -> String {
            let numbers = policy.targets.map { target in
                let value = observed[target.metric].map { String(format: "%.0f%%", $0) } ?? "no samples"
                return "\(target.metric.rawValue) \(value) (target \(String(format: "%.0f%%", target.percent)))"
            }.joined(separator: ", ")
            var line = "\(numbers); \(current) → \(changes ? desired : recommended)"
            if let held { line += " held: \(held)" }
            return line
        }
    }

    /// Recommendations of the stabilization window, oldest first.
    private var history: [(time: Date, replicas: Int)] = []
    private var observingSince: Date?
    public private(set) var lastChange: Date?

    public init(lastChange: Date? = nil) { self.lastChange = lastChange }

    /// The decision for `current` wanted replicas, `running` of which were sampled, given the
    /// averages observed now. The rule multiplies what runs (the replicas the averages are
    /// over), and no scale-up is made while wanted replicas still wait to run: growing on the
    /// load of the few that run would run away (1 → 20 while 19 waited for room).
    public mutating func decide(
        policy: ScalingPolicy,
        current: Int,
        running: Int? = nil,
        observed: [ScalingPolicy.Metric: Double],
        now: Date
    ) -> Decision {
        let running = Swift.min(running ?? current, current)
        let bounded = { (n: Int) in Swift.min(policy.max, Swift.max(policy.min, n)) }
        var decision = Decision(current: current, recommended: bounded(current), desired: current, observed: observed, held: nil)
        // Outside the bounds (the file changed them): back inside at once.
        if bounded(current) != current {
            decision.desired = bounded(current)
            record(decision.desired, now: now, window: policy.downStabilizationSeconds)
            lastChange = now
            return decision
        }
        let recommendations = policy.targets.compactMap { target -> Int? in
            guard let value = observed[target.metric] else { return nil }
            let ratio = value / target.percent
            if abs(ratio - 1) <= policy.tolerance || running == 0 { return current }
            // A sample of any size (NaN too) cannot trap the conversion: past the bounds is the maximum.
            let wanted = (Double(running) * ratio).rounded(.up)
            return wanted.isNaN ? current : wanted >= Double(Int32.max) ? Int(Int32.max) : Int(max(wanted, 0))
        }
        guard let highest = recommendations.max() else {
            decision.held = "no usage samples yet"
            return decision
        }
        let recommended = bounded(highest)
        decision.recommended = recommended
        if observingSince == nil { observingSince = now }
        record(recommended, now: now, window: policy.downStabilizationSeconds)
        if recommended > current {
            if running < current {
                decision.held = "\(current - running) of \(current) replicas not running yet"
                return decision
            }
            if let lastChange, now.timeIntervalSince(lastChange) < policy.upCooldownSeconds {
                let left = policy.upCooldownSeconds - now.timeIntervalSince(lastChange)
                decision.held = "cooling down for \(Int(left.rounded(.up))) s after the last change"
                return decision
            }
            decision.desired = recommended
            lastChange = now
        } else if recommended < current {
            let observedFor = now.timeIntervalSince(observingSince ?? now)
            if observedFor < policy.downStabilizationSeconds {
                decision.held = "stabilizing: \(Int(observedFor)) s of \(Int(policy.downStabilizationSeconds)) s observed"
                return decision
            }
            let stabilized = history.map(\.replicas).max() ?? recommended
            guard stabilized < current else {
                decision.held = "\(stabilized) was recommended within the last \(Int(policy.downStabilizationSeconds)) s"
                return decision
            }
            decision.desired = stabilized
            lastChange = now
        }
        return decision
    }

    private mutating func record(_ replicas: Int, now: Date, window: Double) {
        history.append((now, replicas))
        history.removeAll { now.timeIntervalSince($0.time) > window }
    }
}
