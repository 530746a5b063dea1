import ArgumentParser
import Foundation
import MicadoCore

/// `--output table|json`: how results print. JSON has sorted keys and goes to stdout only.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json
}

struct OutputOptions: ParsableArguments {
    @Option(name: .long, help: "Output format: table or json.")
    var output: OutputFormat = .table
}

/// Converts a domain validation error into ArgumentParser's usage error (exit 64).
func usage<T>(_ body: () throws(MicadoError) -> T) throws -> T {
    do { return try body() } catch { throw ValidationError(error.message) }
}
