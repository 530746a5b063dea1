import ArgumentParser
import Foundation
import MicadoClient
import MicadoCore
import MicadoSim

extension MicadoBench {
    /// The planner alone at scale: how many pending containers a second it places.
    struct BenchPlan: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "plan",
            abstract:
                "Planner speed with a catalogue of 400 flavours and batches of 1 to 20,000 pending containers (Karpenter's size template), against first-fit decreasing on the same flavours, pairs interleaved."
        )

        @Option(help: "Flavours in the catalogue (1...406).")
        var flavours = 400

        @Option(help: "Batch sizes of pending containers, separated by commas.")
        var batches = "1,10,100,1000,5000,20000"

        @Option(help: "Timed pairs per batch (planner, then baseline).")
        var pairs = 5

        @Option(help: "Seed of the containers' sizes.")
        var seed: UInt64 = 42

        func validate() throws {
            guard (1...406).contains(flavours) else { throw ValidationError("--flavours must be 1...406") }
            guard (1...50).contains(pairs) else { throw ValidationError("--pairs must be 1...50") }
            guard !sizes.isEmpty, sizes.count == batches.split(separator: ",").count, sizes.allSatisfy({ (1...100_000).contains($0) })
            else { throw ValidationError("--batches must be numbers 1...100000 separated by commas") }
        }

        var sizes: [Int] { batches.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }

        func run() async throws {
            let catalogue = FlavourCatalogue.flavours(count: flavours)
            let planner = ScalingPlanner(
                flavours: ["zone": catalogue],
                bounds: ["zone": LocationBounds(min: 0, max: 1_000_000)],
                gracePeriod: 60
            )
            print("planner speed: \(catalogue.count) flavours, one location, an empty fleet; \(BenchLaunch.buildDescription)")
            print("pending  planner median  p99      containers/s  first-fit median  time ratio  cost ratio (planner / first-fit)")
            for size in sizes {
                var rng = SeededGenerator(seed: seed &+ UInt64(size))
                let tasks = (0..<size).map { i in
                    ScalingPlanner.PendingTask(id: "c\(i)", location: "zone", memoryMiB: ContainerTemplate.draw(using: &rng).memoryMiB)
                }
                var plannerTimes: [Double] = []
                var baselineTimes: [Double] = []
                var plan: ScalingPlanner.Plan?
                var baseline: [Flavour] = []
                for _ in 0..<pairs {
                    let start = ContinuousClock.now
                    plan = planner.plan(pending: tasks, instances: [], now: Date())
                    plannerTimes.append((ContinuousClock.now - start).inSeconds)
                    let startBaseline = ContinuousClock.now
                    baseline = try Self.firstFitDecreasing(tasks, catalogue)
                    baselineTimes.append((ContinuousClock.now - startBaseline).inSeconds)
                }
                guard let plan, plan.unplaceable.isEmpty, plan.add.flatMap(\.tasks).count == size else {
                    throw MicadoError(.internal, "bench plan: the planner left containers of the batch of \(size) unplaced")
                }
                let median = BenchLaunch.percentile(plannerTimes, 0.5)
                let baselineMedian = BenchLaunch.percentile(baselineTimes, 0.5)
                let cost = plan.add.reduce(0) { $0 + $1.flavour.pricePerHour }
                let baselineCost = baseline.reduce(0) { $0 + $1.pricePerHour }
                print(
                    String(
                        format: "%7d  %11.2f ms  %6.2f ms  %12.0f  %13.2f ms  %9.2fx  %6.3fx",
                        size,
                        median * 1000,
                        BenchLaunch.percentile(plannerTimes, 0.99) * 1000,
                        Double(size) / median,
                        baselineMedian * 1000,
                        median / baselineMedian,
                        cost / baselineCost
                    )
                )
            }
            print("goal: 10,000 containers/s at 20,000 pending (Karpenter's benchmark requires 100 pods/s)")
        }

        /// The textbook baseline: containers largest first, each into the first open node with
        /// room, else a new node of the flavour cheapest per MiB that holds it.
        static func firstFitDecreasing(_ tasks: [ScalingPlanner.PendingTask], _ flavours: [Flavour]) throws -> [Flavour] {
            let cheapestPerMiB = flavours.filter { $0.memoryMiB > 0 }.min {
                ($0.pricePerHour / Double($0.memoryMiB), $0.pricePerHour) < ($1.pricePerHour / Double($1.memoryMiB), $1.pricePerHour)
            }
            guard let cheapestPerMiB else { throw MicadoError(.internal, "bench plan needs flavours") }
            return try BenchPack.firstFit(tasks.sorted { $0.memoryMiB > $1.memoryMiB }) { size in
                size <= cheapestPerMiB.memoryMiB
                    ? cheapestPerMiB : flavours.filter { $0.memoryMiB >= size }.min { $0.pricePerHour < $1.pricePerHour }
            }
        }
    }
}
