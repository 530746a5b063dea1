import ArgumentParser
import Foundation
import MicadoCore

extension Micado {
    /// The benchmarks and stand-ins live in `micado-bench`, beside this binary, so that the
    /// `micado` users run holds none of their code; `micado bench VERB …` runs it in this
    /// process's place (same pid, same signals).
    struct Bench: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Measure micado against a baseline in the same run (runs micado-bench, built beside micado).",
            discussion: "Example: micado bench launch --count 20. 'micado bench --help' lists the benchmarks."
        )

        @Argument(parsing: .captureForPassthrough, help: "The benchmark and its options.")
        var arguments: [String] = []

        func run() throws {
            let own = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
            let bench = URL(fileURLWithPath: own).deletingLastPathComponent().appendingPathComponent("micado-bench").path
            guard access(bench, X_OK) == 0 else {
                throw MicadoError(.notFound, "\(bench) is not there: the benchmarks are built apart ('swift build --product micado-bench')")
            }
            let argv = ([bench] + arguments).map { strdup($0) } + [nil]
            execv(bench, argv)
            throw MicadoError(.internal, "cannot run \(bench): \(String(cString: strerror(errno)))")
        }
    }
}
