import AsyncHTTPClient
import Foundation
import MicadoCore
import NIOCore
import Testing

/// The usage monitor against a container that holds a known amount of memory.
@Suite(.enabled(if: ManagerFixture.enginesAvailable || ManagerFixture.mustRun, ManagerFixture.skipNote))
struct MonitorTests {
    @Test func samplesUsageLearnsCriticalUsageAndExportsMetrics() async throws {
        try await ManagerFixture.with(clouds: true) { f in
            // Sample every second instead of five.
            try await f.stopManager()
            let config = try String(contentsOfFile: f.home + "/config.yaml", encoding: .utf8)
            try (config + "monitor:\n  intervalSeconds: 1\n").write(toFile: f.home + "/config.yaml", atomically: true, encoding: .utf8)
            try await f.startManager()

            // 40 MiB in /dev/shm (tmpfs: counted as the container's memory, not as droppable cache).
            let launch = try await f.micado([
                "launch", "-i", "busybox:local", "-n", "mem", "--container", "container-mem", "-m", "100m",
                "-s", "/bin/sh", "-a", "-c", "dd if=/dev/zero of=/dev/shm/x bs=1M count=40 2>/dev/null; exec sleep 3600",
            ])
            #expect(launch.status == 0, "\(launch)")
            var used: Double?
            var critical = ""
            for _ in 0..<60 {
                let views = try WireFormat.decoder().decode(
                    [ContainerView].self,
                    from: Data(try await f.micado(["list", "-c", "--output", "json"]).stdout.utf8)
                )
                used = views.first?.memoryUsedMiB
                critical = try await f.micado(["events", "--subject", "busybox:local"]).stdout
                if critical.contains("image.critical-usage"), let used, used > 39 { break }
                try await Task.sleep(for: .milliseconds(500))
            }
            let memory = try #require(used)
            #expect(memory >= 39 && memory <= 48, "sampled \(memory) MiB for a container holding 40 MiB")
            #expect(critical.contains("image.critical-usage"), "\(critical)")

            // The next launch of the image without -m reserves the recorded critical usage (p95 + 25%).
            let next = try await f.micado([
                "launch", "-i", "busybox:local", "-n", "next", "--container", "container-next", "--detach", "-a", "sleep", "3600",
            ])
            #expect(next.status == 0, "\(next)")
            let views = try WireFormat.decoder().decode(
                [ContainerView].self,
                from: Data(try await f.micado(["list", "-c", "-a", "--output", "json"]).stdout.utf8)
            )
            let reserved = try #require(views.first { $0.name.rawValue == "container-next" }?.memoryMiB)
            #expect(reserved >= 49 && reserved <= 60, "reserved \(reserved) MiB")

            let info = try WireFormat.decoder().decode(
                [ServiceInfo].self,
                from: Data(try await f.micado(["info", "-s", "container-mem", "--output", "json"]).stdout.utf8)
            )
            #expect((info.first?.memoryUsedMiB ?? 0) > 39, "info shows usage too")

            // A refusal is counted with the status the client got, not as a server error.
            #expect(try await f.micado(["info", "-s", "container-none"]).status == 1)
            let response = try await f.http.execute(HTTPClientRequest(url: "http://127.0.0.1:\(f.port)/metrics"), timeout: .seconds(5))
            let metrics = String(buffer: try await response.body.collect(upTo: 1 << 20))
            #expect(metrics.contains("micado_containers_running"))
            #expect(metrics.contains("micado_scaler_instances_started_total"))
            #expect(metrics.contains("http_server_request_duration_bucket"), "API latency histogram")
            let statuses = metrics.split(separator: "\n").filter { $0.hasPrefix("hb_requests") }
            #expect(statuses.contains { $0.contains("status_code=\"404\"") }, "\(statuses)")
            #expect(!statuses.contains { $0.contains("status_code=\"500\"") }, "\(statuses)")
        }
    }
}
