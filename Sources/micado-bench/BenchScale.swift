import ArgumentParser
import Foundation
import MicadoClient
import MicadoCore
import NIOCore
import NIOHTTP1

extension MicadoBench {
    /// Packing, consolidation and planner speed: pure, no manager needed.
    struct BenchPack: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "pack",
            abstract:
                "Planner packing cost against a lower bound and first-fit baselines on the same flavours; the scale-down and consolidation pass after containers leave; planner time at scale."
        )

        @Option(help: "Containers to pack.")
        var containers = 1000

        @Option(help: "Seed of the mix of reservations (and of which containers leave).")
        var seed: UInt64 = 42

        @Option(help: "Share of the packed containers that leave before the consolidation pass, 0...1.")
        var departures = 0.5

        func validate() throws {
            guard (1...200_000).contains(containers) else { throw ValidationError("--containers must be 1...200000") }
            guard (0...1).contains(departures) else { throw ValidationError("--departures must be between 0 and 1") }
        }

        /// The flavours every packing here uses: the planner and every baseline (same sizes, same prices).
        static let flavours = [
            Flavour(name: "xs", cpus: 1, memoryMiB: 512, pricePerHour: 0.0116),
            Flavour(name: "s", cpus: 1, memoryMiB: 1024, pricePerHour: 0.0220),
            Flavour(name: "m", cpus: 2, memoryMiB: 2048, pricePerHour: 0.0416),
            Flavour(name: "l", cpus: 2, memoryMiB: 4096, pricePerHour: 0.0800),
            Flavour(name: "xl", cpus: 4, memoryMiB: 8192, pricePerHour: 0.1536),
            Flavour(name: "2xl", cpus: 8, memoryMiB: 16384, pricePerHour: 0.3008),
        ]

        typealias Instance = ScalingPlanner.Instance

        func run() async throws {
            var rng = SeededGenerator(seed: seed)
            let sizes = [64, 128, 128, 256, 256, 256, 384, 512, 512, 768, 1024, 1536, 2048, 3072]
            // randomElement(using:)'s draw without its optional: a seed gives the mix it gave before.
            func randomSize() -> Int { sizes[Int.random(in: sizes.indices, using: &rng)] }
            let tasks = (0..<containers).map { ScalingPlanner.PendingTask(id: "c\($0)", location: "eu", memoryMiB: randomSize()) }
            let planner = ScalingPlanner(
                flavours: ["eu": Self.flavours],
                bounds: ["eu": LocationBounds(min: 0, max: 100_000)],
                gracePeriod: 60
            )
            let plan = planner.plan(pending: tasks, instances: [], now: Date())
            let cost = plan.add.reduce(0) { $0 + $1.flavour.pricePerHour }
            let total = Double(tasks.reduce(0) { $0 + $1.memoryMiB })
            guard let cheapestPerMiB = Self.flavours.map({ $0.pricePerHour / Double($0.memoryMiB) }).min() else {
                throw MicadoError(.internal, "bench pack needs its flavour list")
            }
            let bound = total * cheapestPerMiB
            var onePer = 0.0
            for t in tasks {
                guard let price = Self.flavours.filter({ $0.memoryMiB >= t.memoryMiB }).map(\.pricePerHour).min() else {
                    throw MicadoError(.internal, "bench pack: no flavour holds a task of \(t.memoryMiB) MiB")
                }
                onePer += price
            }
            let flavourList = Self.flavours.map { String(format: "%@ %d MiB %.4f/h", $0.name, $0.memoryMiB, $0.pricePerHour) }.joined(
                separator: ", "
            )
            print(
                "packing \(containers) containers (\(Int(total)) MiB reserved) over \(Self.flavours.count) flavours (\(flavourList)); \(BenchLaunch.buildDescription)"
            )
            print(String(format: "  lower bound (total × cheapest price per MiB): %.4f /h", bound))
            print(
                String(
                    format: "  micado planner: %.4f /h with %d instances (%@) = %.3fx the bound",
                    cost,
                    plan.add.count,
                    Self.mix(plan.add.map(\.flavour)),
                    cost / bound
                )
            )
            print(String(format: "  one instance per container (cheapest flavour that holds it): %.4f /h = %.3fx", onePer, onePer / bound))
            // First-fit baselines on the planner's own flavours: a new node of the flavour with the
            // lowest price per MiB that holds the container; then one node group per flavour.
            let mixed = try Self.firstFit(tasks) { size in
                Self.flavours.filter { $0.memoryMiB >= size }.min {
                    ($0.pricePerHour / Double($0.memoryMiB), $0.pricePerHour) < ($1.pricePerHour / Double($1.memoryMiB), $1.pricePerHour)
                }
            }
            let mixedCost = mixed.reduce(0) { $0 + $1.pricePerHour }
            print(
                String(
                    format:
                        "  first-fit in arrival order, each new node the flavour cheapest per MiB that holds the container: %.4f /h (%d nodes: %@) = %.3fx",
                    mixedCost,
                    mixed.count,
                    Self.mix(mixed),
                    mixedCost / bound
                )
            )
            let largestTask = tasks.map(\.memoryMiB).max() ?? 0
            for flavour in Self.flavours {
                guard flavour.memoryMiB >= largestTask else {
                    print("  first-fit in arrival order on one \(flavour.name) node group: cannot hold a \(largestTask) MiB container")
                    continue
                }
                let nodes = try Self.firstFit(tasks) { _ in flavour }
                let groupCost = Double(nodes.count) * flavour.pricePerHour
                print(
                    String(
                        format: "  first-fit in arrival order on one %@ node group: %.4f /h (%d nodes) = %.3fx",
                        flavour.name,
                        groupCost,
                        nodes.count,
                        groupCost / bound
                    )
                )
            }

            try consolidation(plan: plan, tasks: tasks, planner: planner, cheapestPerMiB: cheapestPerMiB)

            let bigPending = (0..<10_000).map { ScalingPlanner.PendingTask(id: "p\($0)", location: "l\($0 % 10)", memoryMiB: randomSize()) }
            let bigInstances = (0..<5_000).map { i in
                Instance(
                    id: "i\(i)",
                    location: "l\(i % 10)",
                    capacityMiB: 4096,
                    reservedMiB: Int.random(in: 2048...4096, using: &rng),
                    pricePerHour: 0.08,
                    state: .ready,
                    protected: false,
                    createdAt: Date(timeIntervalSinceNow: -3600),
                    idleSince: nil
                )
            }
            let bigPlanner = ScalingPlanner(
                flavours: Dictionary(uniqueKeysWithValues: (0..<10).map { ("l\($0)", Self.flavours) }),
                bounds: Dictionary(uniqueKeysWithValues: (0..<10).map { ("l\($0)", LocationBounds(min: 0, max: 100_000)) }),
                gracePeriod: 60
            )
            let (times, _) = Self.timed(5) { bigPlanner.plan(pending: bigPending, instances: bigInstances, now: Date()) }
            print(
                String(
                    format: "planner time, 10,000 pending tasks and 5,000 instances (scale-up): median %.1f ms (of 5)",
                    BenchLaunch.percentile(times, 0.5) * 1000
                )
            )

            // The scale-down and consolidation pass at the same scale: no pending task, 5,000 ready
            // instances of 4 GiB in 10 locations, each 0–100 % full of movable containers.
            var fleetRNG = SeededGenerator(seed: seed &+ 2)
            let longAgo = Date(timeIntervalSinceNow: -3600)
            let bigFleet = (0..<5_000).map { i in
                let fill = Int.random(in: 0...4096, using: &fleetRNG)
                var movable: [Int] = []
                var used = 0
                while true {
                    let size = sizes[Int.random(in: sizes.indices, using: &fleetRNG)]
                    guard used + size <= fill else { break }
                    movable.append(size)
                    used += size
                }
                return Instance(
                    id: "i\(i)",
                    location: "l\(i % 10)",
                    capacityMiB: 4096,
                    reservedMiB: used,
                    pricePerHour: 0.08,
                    state: .ready,
                    protected: false,
                    createdAt: longAgo,
                    idleSince: used == 0 ? longAgo : nil,
                    movableTasksMiB: movable
                )
            }
            let (passTimes, pass) = Self.timed(5) { bigPlanner.plan(pending: [], instances: bigFleet, now: Date()) }
            let emptyCount = bigFleet.filter { $0.reservedMiB == 0 }.count
            print(
                String(
                    format:
                        "planner time, scale-down and consolidation pass over 5,000 instances (%d empty), no pending task: median %.1f ms (of 5); it drains %d",
                    emptyCount,
                    BenchLaunch.percentile(passTimes, 0.5) * 1000,
                    pass?.remove.count ?? 0
                )
            )
        }

        /// The planner's own instances after a share of their containers left: what its scale-down
        /// and consolidation pass removes, one pass and until nothing more drains, against the
        /// bound of what is left and against repacking it from scratch.
        func consolidation(
            plan: ScalingPlanner.Plan,
            tasks: [ScalingPlanner.PendingTask],
            planner: ScalingPlanner,
            cheapestPerMiB: Double
        ) throws {
            var rng = SeededGenerator(seed: seed &+ 1)
            let leaving = Set(tasks.map(\.id).shuffled(using: &rng).prefix(Int((Double(tasks.count) * departures).rounded())))
            let sizeOf = Dictionary(uniqueKeysWithValues: tasks.map { ($0.id, $0.memoryMiB) })
            let now = Date()
            let longAgo = now.addingTimeInterval(-3600)
            let fleet = plan.add.enumerated().map { i, addition in
                let staying = addition.tasks.filter { !leaving.contains($0) }.compactMap { sizeOf[$0] }
                let reserved = staying.reduce(0, +)
                return Instance(
                    id: String(format: "n%05d", i),
                    location: addition.location,
                    capacityMiB: addition.flavour.memoryMiB,
                    reservedMiB: reserved,
                    pricePerHour: addition.flavour.pricePerHour,
                    state: .ready,
                    protected: false,
                    createdAt: longAgo,
                    idleSince: reserved == 0 ? longAgo : nil,
                    movableTasksMiB: staying
                )
            }
            func cost(_ instances: [Instance]) -> Double { instances.reduce(0) { $0 + $1.pricePerHour } }
            let left = fleet.reduce(0) { $0 + $1.reservedMiB }
            let bound = Double(left) * cheapestPerMiB
            func times(_ c: Double) -> String { bound > 0 ? String(format: "%.3fx", c / bound) : "n/a" }
            print(
                String(
                    format:
                        "after %d of %d containers leave (seed %llu): %d instances hold %d MiB, %.4f /h = %@ the bound of what is left (%.4f /h)",
                    leaving.count,
                    tasks.count,
                    seed,
                    fleet.count,
                    left,
                    cost(fleet),
                    times(cost(fleet)),
                    bound
                )
            )
            let busy = fleet.filter { $0.reservedMiB > 0 }
            print(
                String(format: "  only the empty instances removed: %.4f /h (%d instances) = %@", cost(busy), busy.count, times(cost(busy)))
            )

            let (passTimes, timedPass) = Self.timed(5) { planner.plan(pending: [], instances: fleet, now: now) }
            let firstRemovals = (timedPass?.remove ?? []).map(\.instanceID)
            let firstIDs = Set(firstRemovals)
            let emptied = fleet.filter { firstIDs.contains($0.id) && $0.reservedMiB == 0 }.count
            var current = try Self.drain(fleet, removing: firstRemovals)
            print(
                String(
                    format:
                        "  planner scale-down and consolidation, one pass: drains %d (%d empty, %d consolidated) → %.4f /h (%d instances) = %@; pass time median %.2f ms (of 5)",
                    firstRemovals.count,
                    emptied,
                    firstRemovals.count - emptied,
                    cost(current),
                    current.count,
                    times(cost(current)),
                    BenchLaunch.percentile(passTimes, 0.5) * 1000
                )
            )
            var passes = firstRemovals.isEmpty ? 0 : 1
            while passes < 50 {
                let next = planner.plan(pending: [], instances: current, now: now)
                guard !next.remove.isEmpty else { break }
                current = try Self.drain(current, removing: next.remove.map(\.instanceID))
                passes += 1
            }
            print(
                String(
                    format:
                        "  planner passes until nothing more drains (moved containers placed best-fit, as the planner counts them): %d → %.4f /h (%d instances) = %@",
                    passes,
                    cost(current),
                    current.count,
                    times(cost(current))
                )
            )
            let staying = tasks.filter { !leaving.contains($0.id) }
            let repacked = planner.plan(pending: staying, instances: [], now: now).add.reduce(0) { $0 + $1.flavour.pricePerHour }
            print(
                String(
                    format: "  reference, what is left packed from scratch by the planner (not a move micado makes): %.4f /h = %@",
                    repacked,
                    times(repacked)
                )
            )
        }

        /// Instances after `removing` drain: each removed one's containers, largest first, go to the
        /// instance with the least room that still takes them (the planner's own best fit).
        static func drain(_ instances: [Instance], removing: [String]) throws -> [Instance] {
            let gone = Set(removing)
            var kept = instances.filter { !gone.contains($0.id) }
            for id in removing {
                guard let instance = instances.first(where: { $0.id == id }) else { continue }
                for size in (instance.movableTasksMiB ?? []).sorted(by: >) {
                    let target = kept.indices.filter { kept[$0].state == .ready && kept[$0].capacityMiB - kept[$0].reservedMiB >= size }
                        .min {
                            (kept[$0].capacityMiB - kept[$0].reservedMiB, kept[$0].id) < (
                                kept[$1].capacityMiB - kept[$1].reservedMiB, kept[$1].id
                            )
                        }
                    guard let target else {
                        throw MicadoError(
                            .internal,
                            "bench pack: a \(size) MiB container of \(id) fits nowhere, though the planner drained it"
                        )
                    }
                    kept[target].reservedMiB += size
                    kept[target].movableTasksMiB = (kept[target].movableTasksMiB ?? []) + [size]
                    kept[target].idleSince = nil
                }
            }
            return kept
        }

        /// First-fit in arrival order: each container goes to the first node with room, else to a
        /// new node of the flavour `open` picks for it. Answers the nodes' flavours.
        static func firstFit(_ tasks: [ScalingPlanner.PendingTask], open: (Int) -> Flavour?) throws -> [Flavour] {
            var nodes: [(flavour: Flavour, free: Int)] = []
            for task in tasks {
                if let i = nodes.firstIndex(where: { $0.free >= task.memoryMiB }) {
                    nodes[i].free -= task.memoryMiB
                } else {
                    guard let flavour = open(task.memoryMiB), flavour.memoryMiB >= task.memoryMiB else {
                        throw MicadoError(.internal, "bench pack: no flavour holds a task of \(task.memoryMiB) MiB")
                    }
                    nodes.append((flavour, flavour.memoryMiB - task.memoryMiB))
                }
            }
            return nodes.map(\.flavour)
        }

        /// "12 × 2xl, 1 × m", largest first.
        static func mix(_ flavours: [Flavour]) -> String {
            Dictionary(grouping: flavours, by: \.name).map { ($0.value[0].memoryMiB, "\($0.value.count) × \($0.key)") }.sorted {
                $0.0 > $1.0
            }.map(\.1)
                .joined(separator: ", ")
        }

        /// Runs `body` `runs` times; its durations in seconds and its last answer.
        static func timed<T>(_ runs: Int, _ body: () -> T) -> ([Double], T?) {
            var times: [Double] = []
            var last: T?
            for _ in 0..<runs {
                let start = ContinuousClock.now
                last = body()
                times.append((ContinuousClock.now - start).inSeconds)
            }
            return (times, last)
        }
    }

    /// Reaction and launch-to-running through a real cloud.
    struct BenchScale: AsyncParsableCommand {
        /// CPU of a process over a window, in percent of one core (from /proc/PID/stat, 100 ticks a second).
        static func cpuPercent(pid: Int32, over window: Duration) async throws -> Double {
            func ticks() -> Double {
                let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
                let fields = stat.split(separator: ")").last?.split(separator: " ") ?? []
                guard fields.count > 13 else { return 0 }
                return (Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0)
            }
            let before = ticks()
            try await Task.sleep(for: window)
            return (ticks() - before) / window.inSeconds
        }

        static let configuration = CommandConfiguration(
            commandName: "scale",
            abstract: "Launches that need a new instance: time to the cloud's create call, and launch-to-running with its breakdown.",
            discussion: "Needs a running manager with a cloud whose largest flavour leaves room for one container per instance."
        )

        @Option(help: "Launches per cloud, each needing a new instance (at most the location's max).")
        var count = 3

        @Option(help: "Containers for the memory figure (on 3 instances of the first cloud).")
        var containers = 100

        @Option(help: "Image to launch.")
        var image = "busybox:local"

        @Option(
            name: .customLong("cloud"),
            help: "A cloud to measure (repeat for several: their launches alternate). Default: every cloud of the manager."
        )
        var cloudNames: [String] = []

        func run() async throws {
            let client = try ManagerClient.fromHome()
            let all = try await client.json([CloudView].self, .GET, "/v1/clouds")
            let clouds =
                cloudNames.isEmpty
                ? all
                : try cloudNames.map { name in
                    guard let cloud = all.first(where: { $0.name == name }) else {
                        throw MicadoError(
                            .noCloud,
                            "the manager has no cloud \(Text.escaped(name)) (it has: \(all.map(\.name).joined(separator: ", ")))"
                        )
                    }
                    return cloud
                }
            guard !clouds.isEmpty, clouds.allSatisfy({ $0.flavours.contains { $0.memoryMiB > 16 } && !$0.locations.isEmpty }) else {
                throw MicadoError(.noCloud, "bench scale needs a manager with a cloud")
            }
            let health = try await client.json(HealthView.self, .GET, "/v1/health")
            let run = BenchRun()
            Console.err("bench run \(run.tag): containers \(run.containerPrefix)*; all removed at the end")
            try await run.withCleanup(client: client, engine: nil, concurrency: 16) {
                try await measure(client: client, clouds: clouds, health: health, run: run)
            }
        }

        /// One launch that needs a new instance of `cloud`: decide, create, boot+join, schedule+start, total (seconds).
        func launchOnNewInstance(
            _ i: Int,
            cloud: CloudView,
            client: ManagerClient,
            run: BenchRun
        ) async throws -> (name: String, row: [Double]) {
            guard let largest = cloud.flavours.max(by: { $0.memoryMiB < $1.memoryMiB }), let location = cloud.locations.first?.name else {
                throw MicadoError(.noCloud, "cloud \(cloud.name) has no flavour or location")
            }
            let request = LaunchRequest(
                image: image,
                client: "benchscale",
                location: location,
                arguments: ["sleep", "3600"],
                memoryMiB: largest.memoryMiB - 16,
                name: try ContainerName.parse(run.container("scale-\(cloud.name)-\(i)")),
                detach: true
            )
            let sent = Date()
            let view = try await client.json(ContainerView.self, .POST, "/v1/containers", body: request)
            _ = try await Progress.waitUntilRunning(view, client: client, timeout: .seconds(120))
            // The task can run a moment before the manager records the instance ready and the
            // container running (they are written after the node is labelled): wait for both.
            var events: [EventView] = []
            for _ in 0..<100 {
                events = try await client.json([EventView].self, .GET, "/v1/events", query: [("limit", "300")])
                let kinds = Set(events.filter { $0.subject == view.name.rawValue || $0.kind == .instanceReady }.map(\.kind))
                if kinds.contains(.containerRunning) && kinds.contains(.instanceReady) { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            func time(_ kind: EventKind, _ subject: String) -> Date? { events.last { $0.kind == kind && $0.subject == subject }?.time }
            guard let create = events.last(where: { $0.kind == .instanceCreate && $0.message.contains(view.name.rawValue) }),
                let booting = time(.instanceBooting, create.subject), let ready = time(.instanceReady, create.subject),
                let running = time(.containerRunning, view.name.rawValue), let launched = time(.containerLaunch, view.name.rawValue)
            else { throw MicadoError(.internal, "launch \(i + 1) on \(cloud.name) did not start a new instance; is there room already?") }
            let row = [
                create.time.timeIntervalSince(launched), booting.timeIntervalSince(create.time), ready.timeIntervalSince(booting),
                running.timeIntervalSince(ready), running.timeIntervalSince(sent),
            ]
            Console.err(
                String(
                    format: "%@ launch %d: decide %.0f ms, create %.0f ms, boot+join %.0f ms, schedule+start %.0f ms, total %.0f ms",
                    cloud.name,
                    i + 1,
                    row[0] * 1000,
                    row[1] * 1000,
                    row[2] * 1000,
                    row[3] * 1000,
                    row[4] * 1000
                )
            )
            return (view.name.rawValue, row)
        }

        func measure(client: ManagerClient, clouds: [CloudView], health: HealthView, run: BenchRun) async throws {
            var rows: [String: [[Double]]] = [:]
            var names: [String] = []
            // Alternating clouds, so that each sees the same machine load over the run.
            for i in 0..<count {
                for cloud in clouds {
                    let (name, row) = try await launchOnNewInstance(i, cloud: cloud, client: client, run: run)
                    names.append(name)
                    rows[cloud.name, default: []].append(row)
                }
            }
            print("launch needing a new instance, \(count) runs per cloud, clouds alternating (\(BenchLaunch.buildDescription)):")
            for cloud in clouds {
                let cloudRows = rows[cloud.name] ?? []
                func median(_ column: Int) -> Double { BenchLaunch.percentile(cloudRows.map { $0[column] }, 0.5) * 1000 }
                let flavour = cloud.flavours.max(by: { $0.memoryMiB < $1.memoryMiB })?.name ?? "?"
                print("  cloud \(cloud.name) (driver \(cloud.driver), flavour \(flavour)):")
                print(String(format: "    unplaceable launch → cloud create call: median %.0f ms", median(0)))
                print(
                    String(
                        format:
                            "    breakdown (median): decide %.0f, create %.0f, boot+join %.0f, schedule+start %.0f ms; launch-to-running %.0f ms",
                        median(0),
                        median(1),
                        median(2),
                        median(3),
                        median(4)
                    )
                )
            }
            for name in names { try await client.send(.POST, "/v1/containers/\(name)/quit", json: QuitRequest(remove: true)) }

            // Memory with 3 instances and many containers.
            guard containers > 0, let cloud = clouds.first, let small = cloud.flavours.sorted(by: { $0.memoryMiB < $1.memoryMiB }).last
            else { return }
            let idle = try await Self.cpuPercent(pid: health.pid, over: .seconds(15))
            let each = max(6, (small.memoryMiB * 3) / containers - 1)
            Console.err("launching \(containers) containers of \(each) MiB…")
            var many: [String] = []
            for i in 0..<containers {
                let request = LaunchRequest(
                    image: image,
                    client: "benchmem",
                    location: cloud.locations.first?.name,
                    arguments: ["sleep", "3600"],
                    memoryMiB: each,
                    name: try ContainerName.parse(run.container("mem-\(i)")),
                    detach: true
                )
                many.append(try await client.json(ContainerView.self, .POST, "/v1/containers", body: request).name.rawValue)
            }
            let start = ContinuousClock.now
            var runningCount = 0
            while ContinuousClock.now - start < .seconds(300) {
                runningCount = try await client.json([ContainerView].self, .GET, "/v1/containers").filter {
                    $0.state == .running && $0.name.rawValue.hasPrefix(run.container("mem-"))
                }.count
                if runningCount == containers { break }
                try await Task.sleep(for: .seconds(1))
            }
            let instances = try await client.json([InstanceView].self, .GET, "/v1/instances").filter { $0.cloud != "manager" }
            // Monitor cost: the manager's CPU while it samples them, against the same window idle before.
            let busy = try await Self.cpuPercent(pid: health.pid, over: .seconds(15))
            print(
                "manager RSS with \(instances.count) instances and \(runningCount) running containers: \(BenchLaunch.rssMiB(pid: health.pid).map { String(format: "%.1f", $0) } ?? "?") MiB"
            )
            print(
                String(
                    format:
                        "manager CPU: idle %.1f%% of a core; sampling %d containers every monitor interval: %.1f%% of a core (%.2f%% per 100 containers above idle)",
                    idle,
                    runningCount,
                    busy,
                    (busy - idle) * 100 / Double(max(runningCount, 1))
                )
            )
            for name in many { try await client.send(.POST, "/v1/containers/\(name)/quit", json: QuitRequest(remove: true)) }
        }
    }
}
