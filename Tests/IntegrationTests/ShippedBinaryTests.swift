import Foundation
import Testing

/// The `micado` users run is the product: the clouds' stand-ins and the benchmarks live in
/// `micado-bench`, and none of their code is linked into `micado`.
struct ShippedBinaryTests {
    @Test func micadoHoldsNoStandInOrBenchmarkCode() async throws {
        let micado = ManagerFixture.micadoBinary
        let bench = URL(fileURLWithPath: micado).deletingLastPathComponent().appendingPathComponent("micado-bench").path
        // Swift mangles a symbol's module as <length><name>: 14MicadoStandIns, 12micado_bench;
        // and a stand-in anywhere else (a module micado links) has StandIn in its type's name.
        let modules = ["14MicadoStandIns", "12micado_bench", "StandIn"]
        func symbols(_ binary: String) async throws -> String {
            let result = try await CommandResult.run("/usr/bin/nm", [binary])
            try #require(result.status == 0, "\(result.stderr)")
            return result.stdout
        }
        let shipped = try await symbols(micado)
        for module in modules {
            let found = shipped.split(separator: "\n").filter { $0.contains(module) }
            #expect(found.isEmpty, "\(micado) holds \(found.count) symbols of \(module), for one \(found.first ?? "")")
        }
        // The check can see them: the benchmarks' binary holds both.
        let benchmarks = try await symbols(bench)
        for module in modules { #expect(benchmarks.contains(module), "\(bench) has no symbol of \(module)") }
    }
}
