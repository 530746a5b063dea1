import Foundation
import PackagePlugin

/// Embeds the dashboard's files (Sources/MicadoManager/Dashboard) in the manager's code at
/// build, so the binary serves them with nothing beside it. Chart.js is a link there to
/// Debian's libjs-chart.js, copied in by this step, never fetched from a CDN. Base64 in a
/// string literal: SwiftPM's own `embedInCode` writes byte-array literals, which take the
/// compiler a minute and a half for Chart.js's 200 KB.
@main struct EmbedDashboard: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: any Target) throws -> [Command] {
        let folder = context.package.directoryURL.appending(path: "Sources/\(target.name)/Dashboard")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { !$0.hasPrefix(".") }.sorted().map { folder.appending(path: $0) }
        let script = context.package.directoryURL.appending(path: "scripts/embed-dashboard.sh")
        let output = context.pluginWorkDirectoryURL.appending(path: "DashboardAssets.swift")
        return [
            .buildCommand(
                displayName: "Embedding the dashboard", executable: URL(fileURLWithPath: "/bin/sh"),
                arguments: [script.path, output.path] + files.map(\.path), inputFiles: [script] + files, outputFiles: [output])
        ]
    }
}
