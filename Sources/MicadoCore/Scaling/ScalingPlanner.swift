import Foundation

/// Decides which instances to add and remove. Pure: no I/O, no clock of its own.
///
/// Scale-up packs the pending reservations of a location into the cheapest set of
/// flavours (first-fit decreasing, choosing per instance the flavour with the lowest
/// price per MiB actually used, then shrinking it to the cheapest flavour that still
/// holds what it got). Capacity already there or still booting is used first, so a
/// booting instance is never doubled. Scale-down removes only empty, unprotected,
/// ready instances past their grace period, in a location that is not scaling up,
/// and never below `min` or the headroom.
public struct ScalingPlanner: Sendable {
    public struct PendingTask: Sendable, Hashable {
        public var id: String
        public var location: String
        public var memoryMiB: Int
        /// Host ports it publishes: it cannot share an instance with another task that does.
        public var ports: Set<Int>
        public init(id: String, location: String, memoryMiB: Int, ports: Set<Int> = []) {
            self.id = id
            self.location = location
            self.memoryMiB = memoryMiB
            self.ports = ports
        }
    }

    public struct Instance: Sendable, Hashable {
        public enum State: String, Sendable { case booting, ready, draining }
        public var id: String
        public var location: String
        public var capacityMiB: Int
        public var reservedMiB: Int
        public var pricePerHour: Double
        public var state: State
        /// First instances and database servers: never removed by the planner.
        public var protected: Bool
        public var createdAt: Date
        /// Since when it has had no task of ours; nil when busy.
        public var idleSince: Date?
        /// The reservations of its tasks, when they may move to other instances; nil when one
        /// of them cannot (a published host port would clash where it lands).
        public var movableTasksMiB: [Int]?
        /// Host ports its tasks publish.
        public var ports: Set<Int>

        public init(
            id: String,
            location: String,
            capacityMiB: Int,
            reservedMiB: Int,
            pricePerHour: Double,
            state: State,
            protected: Bool,
            createdAt: Date,
            idleSince: Date?,
            movableTasksMiB: [Int]? = nil,
            ports: Set<Int> = []
        ) {
            self.movableTasksMiB = movableTasksMiB
            self.ports = ports
            self.id = id
            self.location = location
            self.capacityMiB = capacityMiB
            self.reservedMiB = reservedMiB
            self.pricePerHour = pricePerHour
            self.state = state
            self.protected = protected
            self.createdAt = createdAt
            self.idleSince = idleSince
        }

        public var freeMiB: Int { Swift.max(0, capacityMiB - reservedMiB) }
    }

    public struct Addition: Sendable, Hashable {
        public var location: String
        public var flavour: Flavour
        public var tasks: [String]
        public var reason: String
    }

    public struct Removal: Sendable, Hashable {
        public var instanceID: String
        public var reason: String
    }

    public struct Unplaceable: Sendable, Hashable {
        public var taskID: String
        public var reason: String
    }

    public struct Plan: Sendable, Hashable {
        public var add: [Addition] = []
        public var remove: [Removal] = []
        public var unplaceable: [Unplaceable] = []
        /// Tasks that fit in capacity already there or booting.
        public var coveredByExisting: [String] = []
    }

    public var flavours: [String: [Flavour]]
    public var bounds: [String: LocationBounds]
    public var gracePeriod: TimeInterval

    /// - Parameters:
    ///   - flavours: the flavours each location can start.
    ///   - bounds: min, max and headroom per location; a location without bounds gets the defaults.
    public init(flavours: [String: [Flavour]], bounds: [String: LocationBounds], gracePeriod: TimeInterval) {
        self.flavours = flavours
        self.bounds = bounds
        self.gracePeriod = gracePeriod
    }

    public func plan(pending: [PendingTask], instances: [Instance], now: Date) -> Plan {
        var plan = Plan()
        let locations = Set(pending.map(\.location)).union(instances.map(\.location)).union(bounds.keys).sorted()
        for location in locations {
            planLocation(
                location,
                pending: pending.filter { $0.location == location },
                instances: instances.filter { $0.location == location },
                now: now,
                into: &plan
            )
        }
        return plan
    }

    func planLocation(_ location: String, pending: [PendingTask], instances: [Instance], now: Date, into plan: inout Plan) {
        let bound = bounds[location] ?? LocationBounds()
        let offered = (flavours[location] ?? []).filter { $0.memoryMiB > 0 }
        let live = instances.filter { $0.state != .draining }
        var free = live.map(\.freeMiB)
        var ports = live.map(\.ports)

        // 1. What fits in capacity that is there or booting needs no new instance (and whose
        // host ports are free there).
        var remaining: [PendingTask] = []
        for task in pending.sorted(by: Self.largestFirst) {
            if let i = free.indices.first(where: { free[$0] >= task.memoryMiB && ports[$0].isDisjoint(with: task.ports) }) {
                free[i] -= task.memoryMiB
                ports[i].formUnion(task.ports)
                plan.coveredByExisting.append(task.id)
            } else {
                remaining.append(task)
            }
        }

        // 2. Tasks no flavour can hold.
        let largest = offered.map(\.memoryMiB).max() ?? 0
        remaining.removeAll { task in
            guard task.memoryMiB > largest else { return false }
            let reason =
                offered.isEmpty
                ? "no cloud offers instances in location \(location)"
                : "no flavour in \(location) has \(task.memoryMiB) MiB (largest: \(largest) MiB)"
            plan.unplaceable.append(Unplaceable(taskID: task.id, reason: reason))
            return true
        }

        // 3. Pack the rest into new instances, within max.
        var count = live.count
        var added: [Addition] = []
        while !remaining.isEmpty {
            guard count < bound.max else {
                for task in remaining {
                    plan.unplaceable.append(
                        Unplaceable(taskID: task.id, reason: "location \(location) at its max of \(bound.max) instances")
                    )
                }
                break
            }
            guard let (flavour, packed) = bestBin(for: remaining, offered: offered) else {
                // Only tasks reserving no memory are left (launches reserve at least 6 MiB): no
                // flavour's price per MiB says which instance to start for them.
                for task in remaining {
                    plan.unplaceable.append(
                        Unplaceable(
                            taskID: task.id,
                            reason: "it reserves \(task.memoryMiB) MiB; the planner places only reservations above 0"
                        )
                    )
                }
                break
            }
            let ids = Set(packed.map(\.id))
            remaining.removeAll { ids.contains($0.id) }
            let used = packed.reduce(0) { $0 + $1.memoryMiB }
            free.append(flavour.memoryMiB - used)
            added.append(
                Addition(
                    location: location,
                    flavour: flavour,
                    tasks: packed.map(\.id),
                    reason: "\(packed.count) pending task(s) need \(used) MiB in \(location); \(flavour.name) is the cheapest fit"
                )
            )
            count += 1
        }

        // 4. Minimum count, then headroom, with the cheapest flavours that do it.
        if let cheapest = offered.min(by: { $0.pricePerHour < $1.pricePerHour }) {
            while count < bound.min {
                added.append(
                    Addition(location: location, flavour: cheapest, tasks: [], reason: "location \(location) below its min of \(bound.min)")
                )
                free.append(cheapest.memoryMiB)
                count += 1
            }
        }
        let spare = free.reduce(0, +)
        if bound.headroomMiB > spare, count < bound.max {
            let deficit = bound.headroomMiB - spare
            let fitting = offered.filter { $0.memoryMiB >= deficit }
            if let flavour = fitting.min(by: { $0.pricePerHour < $1.pricePerHour }) ?? offered.max(by: { $0.memoryMiB < $1.memoryMiB }) {
                added.append(
                    Addition(
                        location: location,
                        flavour: flavour,
                        tasks: [],
                        reason: "headroom: \(spare) MiB free in \(location), \(bound.headroomMiB) MiB wanted"
                    )
                )
                count += 1
            }
        }
        plan.add += added

        // 5. Scale down: never while this location is growing or has work waiting.
        let booting = instances.contains { $0.state == .booting }
        guard added.isEmpty, pending.isEmpty, !booting else { return }
        var keptCount = live.count
        var keptFree = live.reduce(0) { $0 + $1.freeMiB }
        let candidates = live.filter { instance in
            instance.state == .ready && !instance.protected && instance.reservedMiB == 0
                && now.timeIntervalSince(instance.createdAt) >= gracePeriod
                && (instance.idleSince.map { now.timeIntervalSince($0) >= gracePeriod } ?? false)
        }.sorted { ($0.capacityMiB, $0.pricePerHour, $0.id) < ($1.capacityMiB, $1.pricePerHour, $1.id) }
        for instance in candidates {
            guard keptCount - 1 >= bound.min, keptFree - instance.freeMiB >= bound.headroomMiB else { continue }
            keptCount -= 1
            keptFree -= instance.freeMiB
            let idle = Int(now.timeIntervalSince(instance.idleSince ?? now))
            plan.remove.append(Removal(instanceID: instance.id, reason: "idle for \(idle) s (grace \(Int(gracePeriod)) s) in \(location)"))
        }

        // 6. Consolidation: an underused instance whose tasks all fit in the free room of the
        // instances that stay is drained too (its tasks move there), emptiest first.
        let removed = Set(plan.remove.map(\.instanceID))
        // Only onto instances that already hold tasks: moving onto an empty one saves nothing
        // (it is the same spend) and evicts a running task onto a node that is idle itself.
        var room = Dictionary(
            live.filter { $0.state == .ready && !removed.contains($0.id) && $0.reservedMiB > 0 }.map { ($0.id, $0.freeMiB) },
            uniquingKeysWith: { a, _ in a }
        )
        let busy = live.compactMap { instance -> (instance: Instance, movableTasksMiB: [Int])? in
            guard instance.state == .ready, !instance.protected, instance.reservedMiB > 0, let movable = instance.movableTasksMiB,
                now.timeIntervalSince(instance.createdAt) >= gracePeriod
            else { return nil }
            return (instance, movable)
        }.sorted {
            ($0.instance.reservedMiB, $0.instance.pricePerHour, $0.instance.id) < (
                $1.instance.reservedMiB, $1.instance.pricePerHour, $1.instance.id
            )
        }
        var receivers: Set<String> = []
        for (candidate, movableTasksMiB) in busy where keptCount - 1 >= bound.min && !receivers.contains(candidate.id) {
            var trial = room
            trial[candidate.id] = nil
            var targets: Set<String> = []
            var fits = true
            for size in movableTasksMiB.sorted(by: >) {
                // Best fit: the instance with the least room that still takes the task.
                guard let target = trial.filter({ $0.value >= size }).min(by: { ($0.value, $0.key) < ($1.value, $1.key) }) else {
                    fits = false
                    break
                }
                trial[target.key] = target.value - size
                targets.insert(target.key)
            }
            guard fits, trial.values.reduce(0, +) >= bound.headroomMiB else { continue }
            room = trial
            receivers.formUnion(targets)
            keptCount -= 1
            plan.remove.append(
                Removal(
                    instanceID: candidate.id,
                    reason: "its \(movableTasksMiB.count) task(s), \(candidate.reservedMiB) MiB, fit on the other instances of \(location)"
                )
            )
        }
    }

    /// One new instance: the flavour with the lowest price per MiB it would actually carry,
    /// then the cheapest flavour that still holds that same load. Nil when no flavour would
    /// carry any memory (no flavours, or tasks that reserve none).
    func bestBin(for tasks: [PendingTask], offered: [Flavour]) -> (Flavour, [PendingTask])? {
        var best: (flavour: Flavour, packed: [PendingTask], costPerMiB: Double)?
        for flavour in offered {
            let packed = Self.firstFit(tasks, capacity: flavour.memoryMiB)
            let used = packed.reduce(0) { $0 + $1.memoryMiB }
            guard used > 0 else { continue }
            let cost = flavour.pricePerHour / Double(used)
            let better =
                best.map { cost < $0.costPerMiB || (cost == $0.costPerMiB && flavour.pricePerHour < $0.flavour.pricePerHour) } ?? true
            if better { best = (flavour, packed, cost) }
        }
        guard let chosen = best else { return nil }
        let used = chosen.packed.reduce(0) { $0 + $1.memoryMiB }
        let cheaper = offered.filter { $0.memoryMiB >= used }.min { ($0.pricePerHour, $0.memoryMiB) < ($1.pricePerHour, $1.memoryMiB) }
        return (cheaper ?? chosen.flavour, chosen.packed)
    }

    /// Into one bin of `capacity`, in the given order (callers keep tasks largest first): the tasks it takes.
    static func firstFit(_ tasks: [PendingTask], capacity: Int) -> [PendingTask] {
        var left = capacity
        var packed: [PendingTask] = []
        var ports: Set<Int> = []
        let smallest = tasks.last?.memoryMiB ?? 0
        for task in tasks where task.memoryMiB <= left && ports.isDisjoint(with: task.ports) {
            packed.append(task)
            ports.formUnion(task.ports)
            left -= task.memoryMiB
            if left < smallest { break }
        }
        return packed
    }

    static func largestFirst(_ a: PendingTask, _ b: PendingTask) -> Bool {
        (a.memoryMiB, b.id) > (b.memoryMiB, a.id)
    }
}
