import ArgumentParser
import Foundation
import Logging
import MicadoClient
import MicadoCore
import MicadoSim

extension MicadoBench {
    /// A simulated day through micado's own scaler, planner and instance lifecycle, on a
    /// simulated cloud and swarm, with micado's defaults and other policy settings side by side.
    struct BenchSim: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sim",
            abstract:
                "A simulated day: a seeded diurnal trace (or --trace FILE) through micado's own scaler, planner and instance lifecycle on a simulated cloud and swarm, with micado's defaults, settings like cluster-autoscaler's and a first-fit baseline."
        )

        @Option(help: "Simulated hours (0.1...168).")
        var hours = 24.0

        @Option(help: "The peak instance count the synthetic trace is sized for (1...20000).")
        var peak = 5000

        @Option(help: "Seed of the trace and of the simulated cloud.")
        var seed: UInt64 = 1

        @Option(help: "Replay this trace (JSON lines, see docs/simulation.md) instead of a synthetic one.")
        var trace: String?

        @Option(help: "Write the trace used to this file (it must not exist).")
        var writeTrace: String?

        @Option(help: "Policies to run, separated by commas: defaults, ca-like, first-fit.")
        var policies = "defaults,ca-like,first-fit"

        @Option(help: "Applications with a CPU scaling policy under a diurnal load curve (0...1000).")
        var apps = 20

        @Flag(help: "Print each policy's figures as one JSON object per line.")
        var json = false

        func validate() throws {
            guard hours.isFinite, (0.1...168).contains(hours) else { throw ValidationError("--hours must be 0.1...168") }
            guard (1...20_000).contains(peak) else { throw ValidationError("--peak must be 1...20000") }
            guard (0...1000).contains(apps) else { throw ValidationError("--apps must be 0...1000") }
            guard !chosen.isEmpty, chosen.count == policies.split(separator: ",").count else {
                throw ValidationError("--policies must be defaults, ca-like or first-fit, separated by commas")
            }
        }

        var chosen: [String] {
            policies.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter {
                ["defaults", "ca-like", "first-fit"].contains($0)
            }
        }

        func run() async throws {
            let day: Trace
            if let path = trace {
                // A file that cannot be read is the caller's mistake, as a bad line is: exit 64.
                do { day = try Trace.parse(try BoundedFile.read(path, what: "--trace", limit: 256 << 20)) } catch {
                    throw MicadoError(.usage, error.message)
                }
            } else {
                day = DiurnalTrace.generate(hours: hours, peakInstances: peak, seed: seed)
            }
            if let path = writeTrace {
                guard day.launches.count <= Trace.maxLaunches else {
                    throw MicadoError(
                        .usage,
                        "--write-trace: \(day.launches.count) launches, more than a trace may hold (\(Trace.maxLaunches)); fewer --hours or a lower --peak"
                    )
                }
                do { try NewFile.write(day.jsonLines(), to: path, mode: 0o644, replacing: false) } catch {
                    throw MicadoError(.usage, "--write-trace: \(error.message)")
                }
            }
            let flavours = FlavourCatalogue.flavours(count: 400)
            var logger = Logger(label: "micado.sim")
            logger.logLevel = .critical
            if !json {
                print(
                    "bench sim: \(hours) h, \(day.launches.count) launches (\(trace == nil ? "synthetic, peak \(peak), seed \(seed)" : trace!)), \(flavours.count) flavours; \(BenchLaunch.buildDescription)"
                )
                let beyond = day.launches.count { $0.at >= hours * 3600 }
                if beyond > 0 {
                    print("note: \(beyond) launches of the trace come after the \(hours) simulated hours and are not replayed")
                }
                print(
                    "policy                                  cost/bound  pending p50/p99/max s  ex-boot p99  peak inst  created  deleted  moves  pass p50/p99 ms  memory MiB  sim/wall"
                )
            }
            for name in chosen {
                let policy: SimPolicy =
                    switch name {
                    case "ca-like": .clusterAutoscalerLike(flavours)
                    case "first-fit": .firstFit(flavours)
                    default: .micadoDefaults(flavours)
                    }
                let report = try await DaySimulation(
                    trace: day,
                    hours: hours,
                    policy: policy,
                    seed: seed,
                    boundFlavours: flavours,
                    applications: apps,
                    logger: logger
                ).run()
                if json {
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.sortedKeys]
                    print(String(decoding: try encoder.encode(report), as: UTF8.self))
                } else {
                    print(Self.row(report))
                }
            }
        }

        static func row(_ r: SimReport) -> String {
            func f(_ x: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", x) }
            let columns = [
                r.policy.padding(toLength: 40, withPad: " ", startingAt: 0),
                (f(r.costRatio, 3) + "×").padding(toLength: 12, withPad: " ", startingAt: 0),
                "\(f(r.pendingP50))/\(f(r.pendingP99))/\(f(r.pendingMax))".padding(toLength: 23, withPad: " ", startingAt: 0),
                f(r.pendingExcludingBootP99).padding(toLength: 13, withPad: " ", startingAt: 0),
                "\(r.peakInstances)".padding(toLength: 11, withPad: " ", startingAt: 0),
                "\(r.instancesCreated)".padding(toLength: 9, withPad: " ", startingAt: 0),
                "\(r.instancesDeleted)".padding(toLength: 9, withPad: " ", startingAt: 0),
                "\(r.consolidationMoves)".padding(toLength: 7, withPad: " ", startingAt: 0),
                "\(f(r.passP50ms))/\(f(r.passP99ms))".padding(toLength: 17, withPad: " ", startingAt: 0),
                f(r.peakMemoryMiB).padding(toLength: 12, withPad: " ", startingAt: 0),
                f(r.hours * 3600 / max(0.001, r.wallSeconds), 0) + "×",
            ]
            return columns.joined()
                + "\n    launches \(r.launches), started \(r.started), never started \(r.notStarted), launch errors \(r.launchErrors); cost \(f(r.cost, 2)) vs bound \(f(r.lowerBound, 2)); interruptions \(r.interruptions) (\(r.interruptedTasks) tasks); cloud refusals \(r.cloudRefusals.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")); wall \(f(r.wallSeconds)) s"
                + (r.applications == 0
                    ? ""
                    : "\n    \(r.applications) autoscaled applications: \(r.applicationScalings) replica changes, peak \(r.applicationPeakReplicas) replicas, CPU per replica \(f(r.applicationLoadP50, 0))% of target (p50), \(f(r.applicationLoadP95, 0))% (p95)")
        }
    }
}
