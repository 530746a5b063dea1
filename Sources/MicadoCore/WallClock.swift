import Foundation

/// Where the manager's parts read the time of day: the system's, or a simulation's virtual
/// one, which runs a day of scaling decisions in minutes (`micado bench sim`). Durations a part
/// waits for (a loop's interval) stay on the system's clock; what a part decides from
/// timestamps (grace periods, idle times, boot timeouts, cooldowns, backoffs) reads this one.
public protocol WallClock: Sendable {
    var now: Date { get }
}

/// The system's time.
public struct SystemClock: WallClock {
    public init() {}
    public var now: Date { Date() }
}
