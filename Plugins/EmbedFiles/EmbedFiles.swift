import Foundation
import PackagePlugin

/// Embeds files in the manager's code at build, so the one binary serves them with nothing
/// beside it: the dashboard's files (Sources/MicadoManager/Dashboard; Chart.js there is a
/// link to Debian's libjs-chart.js, copied in by this step, never fetched from a CDN) and
/// the API contract, `openapi.yaml`. Base64 in string literals: SwiftPM's own `embedInCode`
/// writes byte-array literals, which take the compiler a minute and a half for Chart.js's 200 KB.
@main struct EmbedFiles: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: any Target) throws -> [Command] {
        let root = context.package.directoryURL
        let script = root.appending(path: "scripts/embed-files.sh")
        let folder = root.appending(path: "Sources/\(target.name)/Dashboard")
        let dashboard = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { !$0.hasPrefix(".") }.sorted()
            .map { folder.appending(path: $0) }
        return [
            embed(dashboard, as: "DashboardAssets", script: script, context: context),
            embed([root.appending(path: "openapi.yaml")], as: "OpenAPIFiles", script: script, context: context),
        ]
    }

    func embed(_ files: [URL], as name: String, script: URL, context: PluginContext) -> Command {
        let output = context.pluginWorkDirectoryURL.appending(path: "\(name).swift")
        return .buildCommand(
            displayName: "Embedding \(name)",
            executable: URL(fileURLWithPath: "/bin/sh"),
            arguments: [script.path, output.path, name] + files.map(\.path),
            inputFiles: [script] + files,
            outputFiles: [output]
        )
    }
}
