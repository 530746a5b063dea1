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
    public var consolidateBelow: Double

    /// - Parameters:
    ///   - flavours: the flavours each location can start.
    ///   - bounds: min, max and headroom per location; a location without bounds gets the defaults.
    ///   - consolidateBelow: an instance is consolidated only while it reserves less than this share of its memory.
    public init(flavours: [String: [Flavour]], bounds: [String: LocationBounds], gracePeriod: TimeInterval, consolidateBelow: Double = 1) {
        self.flavours = flavours
        self.bounds = bounds
        self.gracePeriod = gracePeriod
        self.consolidateBelow = consolidateBelow
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
        // Free room only shrinks here and tasks come largest first: once a task without ports
        // fits nowhere, no task of its size or larger does (no scan of the fleet for each).
        var fitsNowhere = Int.max
        for task in pending.sorted(by: Self.largestFirst) {
            if task.ports.isEmpty && task.memoryMiB >= fitsNowhere {
                remaining.append(task)
            } else if let i = free.indices.first(where: { free[$0] >= task.memoryMiB && ports[$0].isDisjoint(with: task.ports) }) {
                free[i] -= task.memoryMiB
                ports[i].formUnion(task.ports)
                plan.coveredByExisting.append(task.id)
            } else {
                if task.ports.isEmpty { fitsNowhere = task.memoryMiB }
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

        // 3. Pack the rest into new instances, within max. Tasks of one size and the same
        // ports are one group, so a bin is filled group by group: a pass costs flavours ×
        // groups per new instance, not flavours × tasks.
        var groups = Self.groups(of: remaining)
        var count = live.count
        var added: [Addition] = []
        while groups.contains(where: { !$0.isEmpty }) {
            guard count < bound.max else {
                for task in groups.flatMap(\.left) {
                    plan.unplaceable.append(
                        Unplaceable(taskID: task.id, reason: "location \(location) at its max of \(bound.max) instances")
                    )
                }
                break
            }
            guard let (flavour, takes) = bestBin(for: groups, offered: offered) else {
                // Only tasks reserving no memory are left (launches reserve at least 6 MiB): no
                // flavour's price per MiB says which instance to start for them.
                for task in groups.flatMap(\.left) {
                    plan.unplaceable.append(
                        Unplaceable(
                            taskID: task.id,
                            reason: "it reserves \(task.memoryMiB) MiB; the planner places only reservations above 0"
                        )
                    )
                }
                break
            }
            var packed: [String] = []
            var used = 0
            for (group, taken) in takes {
                packed += groups[group].take(taken)
                used += groups[group].memoryMiB * taken
            }
            free.append(flavour.memoryMiB - used)
            added.append(
                Addition(
                    location: location,
                    flavour: flavour,
                    tasks: packed,
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
                Double(instance.reservedMiB) < consolidateBelow * Double(instance.capacityMiB),
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

    /// Pending tasks of one size that publish the same host ports, in the order they are
    /// packed (by id); `next` is how many are already packed.
    struct Group {
        var memoryMiB: Int
        var ports: Set<Int>
        var tasks: [PendingTask]
        var next = 0
        var count: Int { tasks.count - next }
        var isEmpty: Bool { next >= tasks.count }
        var left: ArraySlice<PendingTask> { tasks[next...] }
        mutating func take(_ n: Int) -> [String] {
            defer { next += n }
            return tasks[next..<next + n].map(\.id)
        }
    }

    /// The tasks' groups, largest first (then by their first task's id).
    static func groups(of tasks: [PendingTask]) -> [Group] {
        var byKey: [Int: [Set<Int>: [PendingTask]]] = [:]
        for task in tasks { byKey[task.memoryMiB, default: [:]][task.ports, default: []].append(task) }
        return byKey.flatMap { memory, byPorts in
            byPorts.map { ports, tasks in Group(memoryMiB: memory, ports: ports, tasks: tasks.sorted { $0.id < $1.id }) }
        }.sorted { ($0.memoryMiB, $1.tasks[0].id) > ($1.memoryMiB, $0.tasks[0].id) }
    }

    /// One new instance: the flavour with the lowest price per MiB it would actually carry,
    /// then the cheapest flavour that still holds that same load; with how many tasks of each
    /// group it takes. Nil when no flavour would carry any memory (no flavours, or tasks that
    /// reserve none).
    func bestBin(for groups: [Group], offered: [Flavour]) -> (Flavour, [(group: Int, count: Int)])? {
        var best: (flavour: Flavour, takes: [(group: Int, count: Int)], used: Int, costPerMiB: Double)?
        for flavour in offered {
            let (takes, used) = Self.firstFit(groups, capacity: flavour.memoryMiB)
            guard used > 0 else { continue }
            let cost = flavour.pricePerHour / Double(used)
            let better =
                best.map { cost < $0.costPerMiB || (cost == $0.costPerMiB && flavour.pricePerHour < $0.flavour.pricePerHour) } ?? true
            if better { best = (flavour, takes, used, cost) }
        }
        guard let chosen = best else { return nil }
        let cheaper = offered.filter { $0.memoryMiB >= chosen.used }.min {
            ($0.pricePerHour, $0.memoryMiB) < ($1.pricePerHour, $1.memoryMiB)
        }
        return (cheaper ?? chosen.flavour, chosen.takes)
    }

    /// Into one bin of `capacity`, group by group in the given order (largest first): how many
    /// of each group it takes, and the MiB they reserve. A task that publishes host ports is
    /// taken once per bin, and only if no task taken before publishes one of them.
    static func firstFit(_ groups: [Group], capacity: Int) -> (takes: [(group: Int, count: Int)], used: Int) {
        var left = capacity
        var takes: [(group: Int, count: Int)] = []
        var ports: Set<Int> = []
        let smallest = groups.last { !$0.isEmpty }?.memoryMiB ?? 0
        for (index, group) in groups.enumerated() where !group.isEmpty && group.memoryMiB <= left {
            let n: Int
            if group.ports.isEmpty {
                n = group.memoryMiB == 0 ? group.count : min(group.count, left / group.memoryMiB)
            } else {
                guard ports.isDisjoint(with: group.ports) else { continue }
                ports.formUnion(group.ports)
                n = 1
            }
            takes.append((index, n))
            left -= group.memoryMiB * n
            if left < smallest { break }
        }
        return (takes, capacity - left)
    }

    static func largestFirst(_ a: PendingTask, _ b: PendingTask) -> Bool {
        (a.memoryMiB, b.id) > (b.memoryMiB, a.id)
    }
}
