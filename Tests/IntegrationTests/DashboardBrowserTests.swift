import Foundation
import MicadoClouds
import MicadoCore
import Testing

/// The dashboard in a real browser: Debian's chromium, driven by Playwright
/// (Tests/Browser/dashboard_flow.py), against a live manager with the local cloud. Log in
/// (a wrong token refused), a launched container appears without a refresh, its logs and
/// usage chart, the instance the scaler started, quit from the page, the instance drains,
/// live events filtered by subject, logout. Screenshots go to .build/test-output/.
@Suite(.serialized, .enabled(if: ManagerFixture.enginesAvailable || ManagerFixture.mustRun, ManagerFixture.skipNote))
struct DashboardBrowserTests {
    static let script = ManagerFixture.packageRoot + "/Tests/Browser/dashboard_flow.py"

    @Test func mainFlowsInChromium() async throws {
        try await ManagerFixture.with(clouds: true) { f in
            let output = ManagerFixture.packageRoot + "/.build/test-output/dashboard-\(f.id)"
            try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
            let token = try String(contentsOfFile: f.home + "/token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            let log = f.state + "/browser.log"
            // The token travels in the environment, never on a command line.
            let environment = ProcessInfo.processInfo.environment.merging([
                "MICADO_URL": "http://127.0.0.1:\(f.port)", "MICADO_TOKEN": token, "MICADO_OUTPUT": output, "MICADO_IMAGE": "busybox:local",
            ]) { _, b in b }
            // Its own process group (setsid), so Playwright's driver and chromium go with it.
            let browser = try ChildProcess.start("/usr/bin/setsid", ["python3", Self.script], environment: environment, output: log)
            defer { kill(-browser.pid, SIGKILL) }
            var status: Int32?
            let deadline = ContinuousClock.now + .seconds(900)
            while status == nil, ContinuousClock.now < deadline {
                status = browser.poll()
                if status == nil { try await Task.sleep(for: .milliseconds(500)) }
            }
            if status == nil {
                kill(-browser.pid, SIGKILL)
                _ = browser.wait()
            }
            let transcript = (try? String(contentsOfFile: log, encoding: .utf8)) ?? "(no output)"
            #expect(status == 0, "the browser flows failed (screenshots in \(output)):\n\(transcript)")
            let screenshots = (try? FileManager.default.contentsOfDirectory(atPath: output)) ?? []
            #expect(screenshots.filter { $0.hasSuffix(".png") }.count >= 8, "\(screenshots)")
        }
    }
}
