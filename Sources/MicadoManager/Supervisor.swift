import Foundation
import MicadoClouds
import MicadoCore

/// Keeps one helper process (Caddy, the registry) running for as long as the manager runs.
///
/// Starts it, restarts it when it exits, backs off (1 s doubling to 30 s) when it cannot
/// start, and says so in events; it never throws, since a helper that fails must not bring
/// the manager down. `tick` runs about every 500 ms while the process is up; `fresh` is true
/// on the first tick after each (re)start. On cancellation the process is stopped with SIGTERM.
struct Supervisor {
    let name: String
    /// The events of its exits and of failed starts.
    let restarted: EventKind
    let failed: EventKind
    let eventLog: EventLog

    func run(start: () async throws -> ChildProcess, tick: (_ fresh: Bool) async -> Void) async {
        var process: ChildProcess?
        var backoff = Duration.seconds(1)
        var fresh = true
        while !Task.isCancelled {
            if let running = process, let status = running.poll() {
                await eventLog.note(restarted, name, "\(name) exited (\(status)); restarting it")
                process = nil
            }
            if process == nil {
                do {
                    process = try await start()
                    backoff = .seconds(1)
                    fresh = true
                } catch {
                    await eventLog.note(
                        failed,
                        name,
                        "\(name) did not start: \(error); retrying in \(backoff.components.seconds) s"
                    )
                    try? await Task.sleep(for: backoff)
                    backoff = min(backoff * 2, .seconds(30))
                    continue
                }
            }
            await tick(fresh)
            fresh = false
            try? await Task.sleep(for: .milliseconds(500))
        }
        if let process {
            process.signal(SIGTERM)
            _ = await process.exit()
        }
    }
}
