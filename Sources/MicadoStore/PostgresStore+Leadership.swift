import Foundation
import GRDB
import MicadoCore
import PostgresNIO
import Synchronization

/// Several managers on one PostgreSQL database: one leads, by a lease in the `leader` row.
///
/// - Taken by insert-if-absent, or by a takeover of an expired lease, which increments the
///   epoch. Expiry is in the database's clock, so managers' clocks never matter.
/// - Renewed only by its holder, at its epoch.
/// - Every write of the leader (`write`) first checks, in the same transaction, that its epoch
///   is current and unexpired, and holds the row (`FOR SHARE`) until it commits: a takeover
///   waits for the writes under way, and a deposed leader's late write fails (`deposed`).
/// - A leader that cannot confirm a renewal stops acting before its lease ends: its renewal
///   loop counts from when it sent the last confirmed renewal, on its own monotonic clock,
///   which a SIGSTOP does not stop.
extension PostgresStore {
    public struct Leadership: Sendable, Equatable {
        public var holder: String
        public var epoch: Int64
    }

    public struct LeaseTimings: Sendable, Equatable {
        /// How long a lease lasts unrenewed.
        public var lease: Duration
        /// How often the leader renews (at most a third of the lease).
        public var renewEvery: Duration
        /// How often a manager standing by tries to take the lease.
        public var retryEvery: Duration

        /// Failover under 5 s: a lease of 3 s, renewed every second, tried for every half second.
        public init(lease: Duration = .seconds(3), renewEvery: Duration = .seconds(1), retryEvery: Duration = .milliseconds(500)) {
            self.lease = lease
            self.renewEvery = renewEvery
            self.retryEvery = retryEvery
        }
    }

    static let cluster = "micado"

    /// The lease this store's writes act under, and what to do when it is gone.
    final class Fence: Sendable {
        let leadership: Leadership
        let onLoss: @Sendable (MicadoError) -> Void
        let lost = Mutex(false)

        init(leadership: Leadership, onLoss: @escaping @Sendable (MicadoError) -> Void) {
            self.leadership = leadership
            self.onLoss = onLoss
        }

        var refusal: MicadoError {
            MicadoError(
                .deposed,
                "this manager no longer leads (its lease, epoch \(leadership.epoch), has ended); it changes nothing more and stops"
            )
        }

        func check(_ db: PostgresStore.Connection) async throws {
            let current = try await db.rows(
                """
                SELECT epoch FROM leader WHERE cluster = ? AND holder = ? AND epoch = ?
                AND expiresAt > extract(epoch from clock_timestamp()) FOR SHARE
                """,
                [PostgresStore.cluster.databaseValue, leadership.holder.databaseValue, leadership.epoch.databaseValue]
            )
            guard !current.isEmpty else { throw refusal }
        }

        /// Once: later writes are refused without asking the database.
        func lose(_ error: MicadoError) {
            let first = lost.withLock { lost in
                defer { lost = true }
                return !lost
            }
            if first { onLoss(error) }
        }
    }

    /// One transaction on the lease's own connection, bounded by `timeout`.
    func onLease<T: Sendable>(
        within timeout: Duration,
        _ body: @escaping @Sendable (Connection) async throws -> T
    ) async throws(MicadoError) -> T {
        let logger = logger
        return try await Self.within(timeout, location: location) {
            try await self.leaseClient.withTransaction(logger: logger) { connection in
                try await body(Connection(connection: connection, logger: logger))
            }
        }
    }

    /// Takes the lease if nobody holds an unexpired one; nil when another manager leads. The
    /// expiry is computed when the row is written (after any wait for its lock), never before.
    /// A lease this holder already has is one an earlier try took but never heard of (its
    /// answer was late): taken again at the next epoch, as nothing acts under the first.
    public func acquire(holder: String) async throws(MicadoError) -> Leadership? {
        let lease = timings.lease
        let rows = try await onLease(within: timings.lease - timings.renewEvery) { db in
            try await db.rows(
                """
                INSERT INTO leader (cluster, holder, epoch, expiresAt, acquiredAt)
                VALUES (?, ?, 1, extract(epoch from clock_timestamp()) + ?, extract(epoch from clock_timestamp()))
                ON CONFLICT (cluster) DO UPDATE SET holder = excluded.holder, epoch = leader.epoch + 1,
                  expiresAt = extract(epoch from clock_timestamp()) + ?, acquiredAt = extract(epoch from clock_timestamp())
                WHERE leader.expiresAt <= extract(epoch from clock_timestamp()) OR leader.holder = excluded.holder
                RETURNING epoch
                """,
                [Self.cluster.databaseValue, holder.databaseValue, lease.inSeconds.databaseValue, lease.inSeconds.databaseValue]
            ).compactMap { $0["epoch"] as Int64? }
        }
        return rows.first.map { Leadership(holder: holder, epoch: $0) }
    }

    /// Extends the lease; false when it is no longer this holder's at this epoch.
    func renew(_ leadership: Leadership, within timeout: Duration) async throws(MicadoError) -> Bool {
        let lease = timings.lease
        return try await !onLease(within: timeout) { db in
            try await db.rows(
                """
                UPDATE leader SET expiresAt = extract(epoch from clock_timestamp()) + ?
                WHERE cluster = ? AND holder = ? AND epoch = ? RETURNING epoch
                """,
                [
                    lease.inSeconds.databaseValue, Self.cluster.databaseValue, leadership.holder.databaseValue,
                    leadership.epoch.databaseValue,
                ]
            ).isEmpty
        }
    }

    /// Who leads now, at which epoch, and for how many more seconds (negative: expired).
    public func leader() async throws(MicadoError) -> (holder: String, epoch: Int64, remaining: Double)? {
        let rows: [(String, Int64, Double)] = try await onLease(within: timings.lease) { db in
            try await db.rows(
                "SELECT holder, epoch, (expiresAt - extract(epoch from clock_timestamp()))::float8 AS remaining FROM leader WHERE cluster = ?",
                [Self.cluster.databaseValue]
            ).compactMap { row in
                guard let holder: String = row["holder"], let epoch: Int64 = row["epoch"], let remaining: Double = row["remaining"] else {
                    return nil
                }
                return (holder, epoch, remaining)
            }
        }
        return rows.first.map { (holder: $0.0, epoch: $0.1, remaining: $0.2) }
    }

    /// Waits until this manager leads (saying who does meanwhile, through `onStandby`), then keeps
    /// the lease renewed and every write fenced by it. `onLoss` is called once, when the lease is
    /// gone or cannot be confirmed in time: the manager must then stop acting at once.
    public func lead(
        holder: String,
        onStandby: @escaping @Sendable (String) -> Void = { _ in },
        onLoss: @escaping @Sendable (MicadoError) -> Void
    ) async throws(MicadoError) -> Leadership {
        let clock = ContinuousClock()
        var said: String?
        while true {
            var sent = clock.now
            do {
                if let leadership = try await acquire(holder: holder) {
                    // Taken so late that the lease may end before a renewal could confirm it:
                    // confirmed once more first, or not acted on (the lease then lapses).
                    if clock.now - sent >= timings.lease - timings.renewEvery {
                        sent = clock.now
                        guard try await renew(leadership, within: timings.lease - timings.renewEvery),
                            clock.now - sent < timings.lease - timings.renewEvery
                        else { continue }
                    }
                    keep(leadership, since: sent, onLoss: onLoss)
                    return leadership
                }
                if let current = try await leader() {
                    let note = "standing by: \(current.holder) leads (epoch \(current.epoch))"
                    if note != said { onStandby(note + String(format: ", its lease ends in %.1f s unless renewed", current.remaining)) }
                    said = note
                }
            } catch  where error.code == .busy {
                throw error
            } catch {
                let note = "standing by: the store does not answer (\(error.message))"
                if note != said { onStandby(note) }
                said = note
            }
            do { try await Task.sleep(for: timings.retryEvery) } catch { throw MicadoError(.busy, "stopped while standing by") }
        }
    }

    /// Fences this store's writes by `leadership` and renews it until it is lost.
    func keep(_ leadership: Leadership, since sent: ContinuousClock.Instant, onLoss: @escaping @Sendable (MicadoError) -> Void) {
        let timings = timings
        let fence = Fence(leadership: leadership, onLoss: onLoss)
        self.fence.withLock { $0 = fence }
        let task = Task {
            let clock = ContinuousClock()
            var confirmed = sent
            var next = sent + timings.renewEvery
            while !Task.isCancelled {
                // Past the deadline the lease may end before another renewal is confirmed (and
                // after a SIGSTOP, it may have ended already): stop acting then, on time.
                let deadline = confirmed + timings.lease - timings.renewEvery
                try? await Task.sleep(until: min(next, deadline), clock: clock)
                if clock.now >= deadline {
                    let seconds = String(format: "%.1f", (clock.now - confirmed).inSeconds)
                    fence.lose(
                        MicadoError(
                            .deposed,
                            "no renewal of the lease (epoch \(leadership.epoch)) confirmed for \(seconds) s; stopping before it ends"
                        )
                    )
                    return
                }
                let attempt = clock.now
                next = attempt + timings.renewEvery
                do {
                    // Bounded by the deadline: a renewal that hangs must not hold the check off.
                    let renewed = try await self.renew(leadership, within: min(timings.renewEvery, deadline - attempt))
                    guard renewed else {
                        fence.lose(MicadoError(.deposed, "another manager has taken the lease (this one's was epoch \(leadership.epoch))"))
                        return
                    }
                    confirmed = attempt
                } catch {
                    // Tried again at the next tick, until the deadline above.
                }
            }
        }
        renewer.withLock { $0 = task }
    }

    /// Gives the lease up (a clean stop) by ending it now, not by removing it, so the next epoch
    /// is still higher: a manager standing by takes it at its next try. The holder is marked
    /// resigned too, so that a renewal still on its way (a call is not cancelled at the server)
    /// finds nothing to extend when it lands.
    public func resign() async {
        renewer.withLock { $0?.cancel() }
        guard let fence = fence.withLock({ $0 }) else { return }
        fence.lost.withLock { $0 = true }
        let leadership = fence.leadership
        do {
            _ = try await onLease(within: timings.lease) { db in
                try await db.connection.query(
                    """
                    UPDATE leader SET expiresAt = extract(epoch from clock_timestamp()), holder = holder || ' (resigned)'
                    WHERE cluster = \(Self.cluster) AND holder = \(leadership.holder) AND epoch = \(leadership.epoch)
                    """,
                    logger: db.logger
                )
            }
        } catch {
            logger.warning("could not give the lease up (\(error.message)); it ends unrenewed")
        }
    }
}
