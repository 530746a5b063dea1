import AsyncHTTPClient
import Foundation
import MicadoClouds
import MicadoCore
import NIOCore
import NIOHTTP1
import Testing

/// The domain proxy: real Caddy, programmed through its admin API, routing to containers on real instances.
@Suite(.enabled(if: ManagerFixture.enginesAvailable || ManagerFixture.mustRun, ManagerFixture.skipNote))
struct ProxyTests {
    /// GET through Caddy with a Host header, as a separate client each time (curl): a pooled
    /// client would back off after the refusals while Caddy restarts. Returns status and body.
    static func viaProxy(_ f: ManagerFixture, host: String) async throws -> (Int, String) {
        let result = try await CommandResult.run(
            "/usr/bin/curl",
            ["-s", "--max-time", "3", "-H", "Host: \(host)", "-w", "\n%{http_code}", "http://127.0.0.1:\(f.proxyPort)/"]
        )
        var lines = result.stdout.components(separatedBy: "\n")
        let status = Int(lines.removeLast()) ?? 0
        return (status, lines.joined(separator: "\n"))
    }

    static func eventually(_ f: ManagerFixture, host: String, status: Int, seconds: Int = 20) async throws -> String {
        try await eventually(f, host: host, statuses: [status], seconds: seconds)
    }

    static func eventually(_ f: ManagerFixture, host: String, statuses: Set<Int>, seconds: Int = 20) async throws -> String {
        let deadline = ContinuousClock.now + .seconds(seconds)
        var last = (0, "")
        while ContinuousClock.now < deadline {
            if let answer = try? await viaProxy(f, host: host) {
                last = answer
                if statuses.contains(answer.0) { return answer.1 }
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw MicadoError(.timeout, "\(host) did not answer \(statuses.sorted()) within \(seconds) s (last: \(last.0) \(last.1))")
    }

    @Test func domainsAreRoutedReconciledAndRemoved() async throws {
        try await ManagerFixture.with(clouds: true) { f in
            let launch = try await f.micado([
                "launch", "-i", "busybox:local", "-n", "web", "--container", "container-web", "-d", "app.test", "-p", "8080",
                "-m", "64m", "-s", "/bin/httpd", "-a", "-f", "-p", "8080", "-h", "/www",
            ])
            #expect(launch.status == 0, "\(launch)")
            #expect(try await Self.eventually(f, host: "app.test", status: 200) == "hello from busybox:local\n")
            #expect(try await Self.viaProxy(f, host: "other.test").0 == 404)

            let taken = try await f.micado(["launch", "-i", "busybox:local", "-n", "x", "-d", "app.test", "-p", "8081"])
            #expect(taken.status == 1 && taken.stderr.contains("domain app.test is already routed to container-web"), "\(taken)")
            let invalid = try await f.micado(["launch", "-i", "busybox:local", "-n", "x", "-d", "bad_domain!", "-p", "8081"])
            #expect(invalid.status == 64 && invalid.stderr.contains("invalid domain"), "\(invalid)")

            // A port the container does not listen on: reported unhealthy, answered at once, never a hang.
            #expect(
                try await f.micado([
                    "launch", "-i", "busybox:local", "-n", "deaf", "-d", "deaf.test", "-p", "8082", "-m", "16m", "-a", "sleep", "3600",
                ]).status == 0
            )
            // 502 while Caddy still tries it, 503 once its health check marked it down.
            _ = try await Self.eventually(f, host: "deaf.test", statuses: [502, 503])
            let routes = try WireFormat.decoder().decode(
                [RouteView].self,
                from: Data(try await f.micado(["routes", "--output", "json"]).stdout.utf8)
            )
            #expect(routes.first { $0.domain == "app.test" }?.healthy == [true])
            #expect(routes.first { $0.domain == "deaf.test" }?.healthy == [false])

            // Caddy dies: the manager restarts it and loads the routes again.
            let pid = try #require(
                Int32(
                    try String(contentsOfFile: f.home + "/proxy/caddy.pid", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
                )
            )
            // Caddy runs as its own unprivileged user, with no capability but binding low ports.
            let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
            let uid = status.split(separator: "\n").first { $0.hasPrefix("Uid:") }.map { $0.split(separator: "\t")[1] }
            #expect(uid != nil && uid != "0", "\(status)")
            #expect(status.contains("CapEff:\t0000000000000400"), "\(status)")
            kill(pid, SIGKILL)
            #expect(try await Self.eventually(f, host: "app.test", status: 200) == "hello from busybox:local\n")

            // The manager dies: Caddy goes with it (no orphan), and comes back with the routes.
            try await f.stopManager(signal: SIGKILL)
            try await Task.sleep(for: .milliseconds(300))
            let restarted = try #require(
                Int32(
                    try String(contentsOfFile: f.home + "/proxy/caddy.pid", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
                )
            )
            #expect(restarted != pid)
            #expect(!ChildProcess.isAlive(restarted), "Caddy outlived the manager")
            try await f.startManager()
            #expect(try await Self.eventually(f, host: "app.test", status: 200) == "hello from busybox:local\n")

            // --tls: the same domain over HTTPS, with a certificate from Caddy's internal CA.
            let secure = try await f.micado([
                "launch", "-i", "busybox:local", "-n", "sec", "--container", "container-sec", "-d", "secure.test", "--tls",
                "-p", "8083", "-m", "16m", "-s", "/bin/httpd", "-a", "-f", "-p", "8083", "-h", "/www",
            ])
            #expect(secure.status == 0, "\(secure)")
            var https = CommandResult(status: 1, stdout: "", stderr: "")
            for _ in 0..<50 {
                let root = f.home + "/proxy/data/caddy/pki/authorities/local/root.crt"
                https = try await CommandResult.run(
                    "/usr/bin/curl",
                    [
                        "-s", "--max-time", "3", "--cacert", root,
                        "--resolve", "secure.test:\(f.proxyPort + 2):127.0.0.1", "https://secure.test:\(f.proxyPort + 2)/",
                    ]
                )
                if https.stdout == "hello from busybox:local\n" { break }
                try await Task.sleep(for: .milliseconds(200))
            }
            #expect(https.stdout == "hello from busybox:local\n", "\(https)")

            #expect(try await f.micado(["quit", "-n", "container-web"]).status == 0)
            _ = try await Self.eventually(f, host: "app.test", status: 404)
        }
    }
}
