import Foundation
import MicadoCore
import NIOHTTP1

/// Progress on waits: state changes go to stderr as they happen.
public enum Progress {
    public static func waitUntilRunning(_ initial: ContainerView, client: ManagerClient, timeout: Duration) async throws -> ContainerView {
        let deadline = ContinuousClock.now + timeout
        var view = initial
        var last = ""
        let start = ContinuousClock.now
        var delay = Duration.milliseconds(25)
        while true {
            let line = "\(view.state.rawValue)\(view.reason.map { ": \($0)" } ?? "")"
            if line != last {
                let elapsed = ContinuousClock.now - start
                Console.err(String(format: "[%5.1fs] %@ %@", elapsed.inSeconds, view.name.rawValue, line))
                last = line
            }
            if view.state == .running { return view }
            if view.state == .missing { throw MicadoError(.conflict, "\(view.name) lost its service: \(view.reason ?? "")") }
            if ContinuousClock.now >= deadline {
                throw MicadoError(
                    .timeout,
                    "\(view.name) is not running after \(timeout.components.seconds) s: \(view.reason ?? view.state.rawValue). It stays launched; see 'micado info -s \(view.name)' or 'micado quit -n \(view.name) -rm'"
                )
            }
            try await Task.sleep(for: delay)
            if ContinuousClock.now - start > .seconds(5) { delay = .milliseconds(250) }
            view = try await client.json(ContainerView.self, .GET, "/v1/containers/\(view.name)")
        }
    }
}
