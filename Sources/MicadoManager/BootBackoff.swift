import Foundation

/// Instances that fail to come up (lost, failed or timed out while booting, or refused
/// by the cloud) slow the scaler down in their location: after n failures in a row it waits
/// 5 s × 2^(n−1), at most 5 minutes, before it starts another there. A ready instance
/// resets the count. Without it, a machine image that dies at once made the scaler start
/// (and pay for) an instance every pass, 251 in four seconds.
actor BootBackoff {
    struct Failures: Sendable, Equatable {
        var count: Int
        var until: Date
        var lastReason: String
    }

    static let base: TimeInterval = 5
    static let longest: TimeInterval = 300
    private var byLocation: [String: Failures] = [:]

    /// Records a failure; returns the new state (for the event that says so).
    @discardableResult
    func failed(_ location: String, reason: String, now: Date = Date()) -> Failures {
        let count = (byLocation[location]?.count ?? 0) + 1
        let wait = min(Self.longest, Self.base * pow(2, Double(min(count - 1, 16))))
        let failures = Failures(count: count, until: now.addingTimeInterval(wait), lastReason: reason)
        byLocation[location] = failures
        return failures
    }

    func succeeded(_ location: String) { byLocation[location] = nil }

    /// The failures that hold new instances back in `location` now, if any.
    func holding(_ location: String, now: Date = Date()) -> Failures? {
        guard let failures = byLocation[location], failures.until > now else { return nil }
        return failures
    }
}
