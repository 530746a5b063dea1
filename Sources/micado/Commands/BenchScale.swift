import ArgumentParser
import Foundation
import MicadoCore
import NIOCore
import NIOHTTP1

extension Micado {
    /// Packing and planner speed: pure, no manager needed.
    struct BenchPack: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "pack",
            abstract: "Planner packing cost against a lower bound and two baselines; planner time at scale.")

        @Option(help: "Containers to pack.")
        var containers = 1000

        @Option(help: "Seed of the mix of reservations.")
        var seed: UInt64 = 42

        static let flavours = [
            Flavour(name: "xs", cpus: 1, memoryMiB: 512, pricePerHour: 0.0116),
            Flavour(name: "s", cpus: 1, memoryMiB: 1024, pricePerHour: 0.0220),
            Flavour(name: "m", cpus: 2, memoryMiB: 2048, pricePerHour: 0.0416),
            Flavour(name: "l", cpus: 2, memoryMiB: 4096, pricePerHour: 0.0800),
            Flavour(name: "xl", cpus: 4, memoryMiB: 8192, pricePerHour: 0.1536),
            Flavour(name: "2xl", cpus: 8, memoryMiB: 16384, pricePerHour: 0.3008),
        ]

        func run() async throws {
            var rng = SeededGenerator(seed: seed)
            let sizes = [64, 128, 128, 256, 256, 256, 384, 512, 512, 768, 1024, 1536, 2048, 3072]
            // randomElement(using:)'s draw without its optional: a seed gives the mix it gave before.
            func randomSize() -> Int { sizes[Int.random(in: sizes.indices, using: &rng)] }
            let tasks = (0..<containers).map { ScalingPlanner.PendingTask(id: "c\($0)", location: "eu", memoryMiB: randomSize()) }
            let planner = ScalingPlanner(flavours: ["eu": Self.flavours], bounds: ["eu": LocationBounds(min: 0, max: 100_000)], gracePeriod: 60)
            let plan = planner.plan(pending: tasks, instances: [], now: Date())
            let cost = plan.add.reduce(0) { $0 + $1.flavour.pricePerHour }
            let total = Double(tasks.reduce(0) { $0 + $1.memoryMiB })
            guard let cheapestPerMiB = Self.flavours.map({ $0.pricePerHour / Double($0.memoryMiB) }).min(),
                let fixed = Self.flavours.first(where: { $0.name == "l" })
            else { throw MicadoError(.internal, "bench pack needs its flavour list, with an 'l'") }
            let bound = total * cheapestPerMiB
            var onePer = 0.0
            for t in tasks {
                guard let price = Self.flavours.filter({ $0.memoryMiB >= t.memoryMiB }).map(\.pricePerHour).min() else {
                    throw MicadoError(.internal, "bench pack: no flavour holds a task of \(t.memoryMiB) MiB")
                }
                onePer += price
            }
            var bins: [Int] = []
            for t in tasks {
                if let i = bins.firstIndex(where: { $0 >= t.memoryMiB }) { bins[i] -= t.memoryMiB } else { bins.append(fixed.memoryMiB - t.memoryMiB) }
            }
            let firstFit = Double(bins.count) * fixed.pricePerHour
            print("packing \(containers) containers (\(Int(total)) MiB reserved) over \(Self.flavours.count) flavours")
            print(String(format: "  lower bound (total × cheapest price per MiB): %.4f /h", bound))
            print(String(format: "  micado planner: %.4f /h with %d instances = %.3fx the bound", cost, plan.add.count, cost / bound))
            print(String(format: "  one instance per container: %.4f /h = %.3fx", onePer, onePer / bound))
            print(String(format: "  first-fit in arrival order on one %@ node group: %.4f /h (%d nodes) = %.3fx", fixed.name, firstFit, bins.count, firstFit / bound))

            let bigPending = (0..<10_000).map { ScalingPlanner.PendingTask(id: "p\($0)", location: "l\($0 % 10)", memoryMiB: randomSize()) }
            let bigInstances = (0..<5_000).map { i in
                ScalingPlanner.Instance(
                    id: "i\(i)", location: "l\(i % 10)", capacityMiB: 4096, reservedMiB: Int.random(in: 2048...4096, using: &rng), pricePerHour: 0.08,
                    state: .ready, protected: false, createdAt: Date(timeIntervalSinceNow: -3600), idleSince: nil)
            }
            let bigPlanner = ScalingPlanner(
                flavours: Dictionary(uniqueKeysWithValues: (0..<10).map { ("l\($0)", Self.flavours) }),
                bounds: Dictionary(uniqueKeysWithValues: (0..<10).map { ("l\($0)", LocationBounds(min: 0, max: 100_000)) }), gracePeriod: 60)
            var times: [Double] = []
            for _ in 0..<5 {
                let start = ContinuousClock.now
                _ = bigPlanner.plan(pending: bigPending, instances: bigInstances, now: Date())
                times.append((ContinuousClock.now - start).inSeconds)
            }
            print(String(format: "planner time, 10,000 pending tasks and 5,000 instances: median %.1f ms (of 5)", BenchLaunch.percentile(times, 0.5) * 1000))
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
            discussion: "Needs a running manager with a cloud whose largest flavour leaves room for one container per instance.")

        @Option(help: "Launches, each needing a new instance (at most the location's max).")
        var count = 3

        @Option(help: "Containers for the memory figure (on 3 instances).")
        var containers = 100

        @Option(help: "Image to launch.")
        var image = "busybox:local"

        func run() async throws {
            let client = try ManagerClient.fromHome()
            let clouds = try await client.json([CloudView].self, .GET, "/v1/clouds")
            guard let cloud = clouds.first, let largest = cloud.flavours.max(by: { $0.memoryMiB < $1.memoryMiB }) else {
                throw MicadoError(.noCloud, "bench scale needs a manager with a cloud")
            }
            let health = try await client.json(HealthView.self, .GET, "/v1/health")
            var rows: [[Double]] = []
            var names: [String] = []
            for i in 0..<count {
                let request = LaunchRequest(image: image, client: "benchscale", arguments: ["sleep", "3600"], memoryMiB: largest.memoryMiB - 16, detach: true)
                let sent = Date()
                let view = try await client.json(ContainerView.self, .POST, "/v1/containers", body: request)
                names.append(view.name.rawValue)
                _ = try await Progress.waitUntilRunning(view, client: client, timeout: .seconds(120))
                let events = try await client.json([EventView].self, .GET, "/v1/events", query: [("limit", "300")])
                func time(_ kind: String, _ subject: String) -> Date? { events.last { $0.kind == kind && $0.subject == subject }?.time }
                guard let create = events.last(where: { $0.kind == "instance.create" && $0.message.contains(view.name.rawValue) }),
                    let booting = time("instance.booting", create.subject), let ready = time("instance.ready", create.subject),
                    let running = time("container.running", view.name.rawValue), let launched = time("container.launch", view.name.rawValue)
                else { throw MicadoError(.internal, "launch \(i + 1) did not start a new instance; is there room already?") }
                let row = [
                    create.time.timeIntervalSince(launched), booting.timeIntervalSince(create.time), ready.timeIntervalSince(booting),
                    running.timeIntervalSince(ready), running.timeIntervalSince(sent),
                ]
                rows.append(row)
                Console.err(String(format: "launch %d: decide %.0f ms, create %.0f ms, boot+join %.0f ms, schedule+start %.0f ms, total %.0f ms",
                                   i + 1, row[0] * 1000, row[1] * 1000, row[2] * 1000, row[3] * 1000, row[4] * 1000))
            }
            func median(_ column: Int) -> Double { BenchLaunch.percentile(rows.map { $0[column] }, 0.5) * 1000 }
            print("launch needing a new instance, \(count) runs (cloud \(cloud.name), flavour \(largest.name)):")
            print(String(format: "  unplaceable launch → cloud create call: median %.0f ms (cluster-autoscaler scans every 10,000 ms)", median(0)))
            print(String(format: "  breakdown (median): decide %.0f, create %.0f, boot+join %.0f, schedule+start %.0f ms; launch-to-running %.0f ms",
                         median(0), median(1), median(2), median(3), median(4)))
            for name in names { try await client.send(.POST, "/v1/containers/\(name)/quit", json: QuitRequest(remove: true)) }

            // Memory with 3 instances and many containers.
            guard containers > 0, let small = cloud.flavours.sorted(by: { $0.memoryMiB < $1.memoryMiB }).last else { return }
            let idle = try await Self.cpuPercent(pid: health.pid, over: .seconds(15))
            let each = max(6, (small.memoryMiB * 3) / containers - 1)
            Console.err("launching \(containers) containers of \(each) MiB…")
            var many: [String] = []
            for _ in 0..<containers {
                let request = LaunchRequest(image: image, client: "benchmem", arguments: ["sleep", "3600"], memoryMiB: each, detach: true)
                many.append(try await client.json(ContainerView.self, .POST, "/v1/containers", body: request).name.rawValue)
            }
            let start = ContinuousClock.now
            var runningCount = 0
            while ContinuousClock.now - start < .seconds(300) {
                runningCount = try await client.json([ContainerView].self, .GET, "/v1/containers").filter { $0.state == .running }.count
                if runningCount == containers { break }
                try await Task.sleep(for: .seconds(1))
            }
            let instances = try await client.json([InstanceView].self, .GET, "/v1/instances").filter { $0.cloud != "manager" }
            // Monitor cost: the manager's CPU while it samples them, against the same window idle before.
            let busy = try await Self.cpuPercent(pid: health.pid, over: .seconds(15))
            print("manager RSS with \(instances.count) instances and \(runningCount) running containers: \(BenchLaunch.rssMiB(pid: health.pid).map { String(format: "%.1f", $0) } ?? "?") MiB")
            print(String(format: "manager CPU: idle %.1f%% of a core; sampling %d containers every monitor interval: %.1f%% of a core (%.2f%% per 100 containers above idle)",
                         idle, runningCount, busy, (busy - idle) * 100 / Double(max(runningCount, 1))))
            for name in many { try await client.send(.POST, "/v1/containers/\(name)/quit", json: QuitRequest(remove: true)) }
        }
    }
}
