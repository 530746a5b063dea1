import Foundation
import MicadoCore
import Synchronization

/// A simulation's time of day: it stands still until the simulation moves it, so the
/// manager's parts see a day pass in as many steps as the simulation takes.
public final class VirtualClock: WallClock {
    private let current: Mutex<Date>

    public init(start: Date) { current = Mutex(start) }

    public var now: Date { current.withLock { $0 } }

    /// Moves the time on by `seconds` (never back).
    public func advance(by seconds: TimeInterval) {
        current.withLock { $0 = $0.addingTimeInterval(Swift.max(0, seconds)) }
    }

    /// Moves the time on to `date`, if that is later.
    public func advance(to date: Date) {
        current.withLock { $0 = Swift.max($0, date) }
    }
}
