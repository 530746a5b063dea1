import DockerEngine
import Foundation
import MicadoCore
import Testing

@Suite(.enabled(if: ManagerFixture.enginesAvailable || ManagerFixture.mustRun, ManagerFixture.skipNote))
struct ContainerLifecycleTests {
    static func containers(_ fixture: ManagerFixture, all: Bool) async throws -> [ContainerView] {
        let result = try await fixture.micado(["list", "-c", "--output", "json"] + (all ? ["-a"] : []))
        #expect(result.status == 0, "\(result)")
        return try WireFormat.decoder().decode([ContainerView].self, from: Data(result.stdout.utf8))
    }

    @Test func launchReachLogsExecuteCopyQuitRemove() async throws {
        try await ManagerFixture.with { f in
            // MiCADO's shape: a script as entrypoint and arguments that start with a dash.
            let launch = try await f.micado([
                "launch", "-i", "busybox:local", "-n", "web", "-p", "8080", "-e", "GREETING=hi there",
                "-m", "32m", "-s", "/bin/httpd", "-a", "-f", "-p", "8080", "-h", "/www",
            ])
            #expect(launch.status == 0, "\(launch)")
            let name = launch.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(name.hasPrefix("container-web-"))
            #expect(launch.stderr.contains("running"))
            #expect(launch.stderr.contains("answers at \(f.engineIP):8080"))

            #expect(try await f.fetchEventually("http://\(f.engineIP):8080/") == "hello from busybox:local\n")

            let listed = try await Self.containers(f, all: false)
            #expect(listed.map(\.name.rawValue) == [name])
            #expect(listed.first?.endpoint == "\(f.engineIP):8080")
            #expect(listed.first?.memoryMiB == 32)
            #expect(listed.first?.state == .running)

            let exec = try await f.micado(["execute", "-n", name, "-c", "echo $GREETING; echo to-stderr >&2; exit 7"])
            #expect(exec.status == 7)
            #expect(exec.stdout == "hi there\n")
            #expect(exec.stderr == "to-stderr\n")

            let local = f.state + "/page.html"
            try "copied in\n".write(toFile: local, atomically: true, encoding: .utf8)
            #expect(try await f.micado(["copy", "-n", name, local, ":/www/page.html"]).status == 0)
            #expect(try await f.fetch("http://\(f.engineIP):8080/page.html") == "copied in\n")
            let out = f.state + "/passwd"
            #expect(try await f.micado(["copy", "-n", name, ":/etc/passwd", out]).status == 0)
            #expect(try String(contentsOfFile: out, encoding: .utf8).hasPrefix("root:x:0:0"))
            // A long name whose 100th byte falls inside a character (it once crashed the manager): copied in and back.
            let longName = String(repeating: "a", count: 99) + "€" + String(repeating: "ü", count: 60) + ".html"
            #expect(try await f.micado(["copy", "-n", name, local, ":/www/" + longName]).status == 0)
            #expect(
                try await f.fetch(
                    "http://\(f.engineIP):8080/" + String(repeating: "a", count: 99) + "%E2%82%AC" + String(repeating: "%C3%BC", count: 60)
                        + ".html"
                ) == "copied in\n"
            )
            let back = f.state + "/back.html"
            #expect(try await f.micado(["copy", "-n", name, ":/www/" + longName, back]).status == 0)
            #expect(try String(contentsOfFile: back, encoding: .utf8) == "copied in\n")

            let info = try await f.micado(["info", "-s", name, "--output", "json"])
            let services = try WireFormat.decoder().decode([ServiceInfo].self, from: Data(info.stdout.utf8))
            #expect(services.first?.running == 1)
            #expect(services.first?.ports == [PortMapping(published: 8080, target: 8080)])

            let refused = try await f.micado(["remove", "-n", name])
            #expect(refused.status == 1)
            #expect(refused.stderr.contains("is running; quit it first"))

            let quit = try await f.micado(["quit", "-n", name])
            #expect(quit.status == 0 && quit.stdout == "\(name) stopped\n", "stopped only once its task is gone: \(quit)")
            #expect(try await Self.containers(f, all: true).first?.state == .stopped)
            #expect(try await Self.containers(f, all: false).isEmpty)
            #expect(try await Self.containers(f, all: true).map(\.name.rawValue) == [name])
            #expect(try await f.micado(["remove", "-n", name]).status == 0)
            #expect(try await Self.containers(f, all: true).isEmpty)
            let engine = try await f.engine()
            #expect(try await engine.services(label: "micado.container").isEmpty)

            let events = try await f.micado(["events", "--subject", name]).stdout
            for kind in [
                "container.launch", "container.created", "container.running", "container.execute", "container.copy", "container.quit",
                "container.removed",
            ] {
                #expect(events.contains(kind), "missing event \(kind) in\n\(events)")
            }
        }
    }

    /// A task that ignores SIGTERM (sleep as PID 1) takes the engine's grace period to stop:
    /// until then it is "stopping" everywhere, and remove waits for it. A quit whose
    /// --timeout is shorter kills the task at the timeout, says so, and only then says stopped.
    @Test func quitSaysStoppingUntilTheTaskIsGone() async throws {
        try await ManagerFixture.with { f in
            #expect(
                try await f.micado(["launch", "-i", "busybox:local", "-n", "slow", "--container", "container-slow", "-a", "sleep", "3600"])
                    .status == 0
            )
            let detached = try await f.micado(["quit", "-n", "container-slow", "--detach"])
            #expect(
                detached.status == 0 && detached.stdout == "container-slow stopping (its task is shutting down; not waited for)\n",
                "\(detached)"
            )
            #expect(try await Self.containers(f, all: true).first?.state == .stopping)
            let refused = try await f.micado(["remove", "-n", "container-slow"])
            #expect(refused.status == 1 && refused.stderr.contains("is still stopping"), "\(refused)")
            let waited = try await f.micado(["quit", "-n", "container-slow"])
            #expect(waited.status == 0 && waited.stdout == "container-slow stopped\n", "\(waited)")
            #expect(try await f.micado(["remove", "-n", "container-slow"]).status == 0)

            #expect(
                try await f.micado([
                    "launch", "-i", "busybox:local", "-n", "slow", "--container", "container-stubborn", "-a", "sleep", "3600",
                ]).status == 0
            )
            let killed = try await f.micado(["quit", "-n", "container-stubborn", "--timeout", "1"])
            #expect(killed.status == 0 && killed.stdout == "container-stubborn stopped\n", "\(killed)")
            #expect(killed.stderr.contains("container-stubborn: its task did not stop within 1 s; killing it"), "\(killed)")
            #expect(try await Self.containers(f, all: true).first { $0.name.rawValue == "container-stubborn" }?.state == .stopped)
            let events = try await f.micado(["events", "--subject", "container-stubborn"]).stdout
            let log = (try? String(contentsOfFile: f.state + "/manager.log", encoding: .utf8)) ?? ""
            #expect(
                events.contains("container.killed"),
                "\(events)\n\(log.split(separator: "\n").filter { $0.contains("quit with kill") })"
            )
            // A second quit changes nothing on the engine (an update of a service at zero would
            // make Swarm forget the tasks it is stopping) and answers the same.
            let again = try await f.micado(["quit", "-n", "container-stubborn"])
            #expect(again.status == 0 && again.stdout == "container-stubborn stopped\n", "\(again)")
            #expect(try await f.micado(["remove", "-n", "container-stubborn"]).status == 0)
        }
    }

    @Test func logsAndQuitWithSingleDashRm() async throws {
        try await ManagerFixture.with { f in
            let launch = try await f.micado([
                "launch", "-i", "busybox:local", "-n", "logger", "--container", "container-logger",
                "-e", "WHO=micado", "-s", "/bin/sh", "-a", "-c", "echo hello $WHO; echo oops >&2; exec sleep 3600",
            ])
            #expect(launch.status == 0, "\(launch)")
            var logs = CommandResult(status: 1, stdout: "", stderr: "")
            for _ in 0..<50 {
                logs = try await f.micado(["logs", "-n", "container-logger"])
                if logs.stdout.contains("hello micado") && logs.stderr.contains("oops") { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(logs.status == 0)
            #expect(logs.stdout == "hello micado\n")
            #expect(logs.stderr == "oops\n")
            let quit = try await f.micado(["quit", "-n", "container-logger", "-rm"])
            #expect(quit.status == 0, "\(quit)")
            #expect(try await Self.containers(f, all: true).isEmpty)
        }
    }

    @Test func buildFromTarballThenLaunchAcrossManagerRestart() async throws {
        try await ManagerFixture.with { f in
            let tarball = f.state + "/app.tar"
            let archive = TarArchive(entries: [
                .init(name: "app/", kind: .directory, mode: 0o755),
                .init(
                    name: "app/Dockerfile",
                    contents: Array(
                        "FROM busybox:local\nCOPY index.html /www/index.html\nCMD [\"httpd\", \"-f\", \"-p\", \"80\", \"-h\", \"/www\"]\n"
                            .utf8
                    )
                ),
                .init(name: "app/index.html", contents: Array("built by micado\n".utf8)),
            ])
            try Data(archive.bytes()).write(to: URL(fileURLWithPath: tarball))
            let build = try await f.micado(["build", "-n", "container-site", "-f", tarball])
            #expect(build.status == 0, "\(build)")
            #expect(build.stdout == "container-site:latest\n")

            #expect(try await f.stopManager() == 0, "graceful stop on SIGTERM")
            #expect(!FileManager.default.fileExists(atPath: f.home + "/manager.pid"))
            try await f.startManager()

            let launch = try await f.micado(["launch", "-i", "container-site", "-n", "site", "-p", "8081:80"])
            #expect(launch.status == 0, "\(launch)")
            #expect(try await f.fetchEventually("http://\(f.engineIP):8081/") == "built by micado\n")

            try await f.stopManager(signal: SIGKILL)
            try await f.startManager()
            let listed = try await Self.containers(f, all: false)
            #expect(listed.count == 1)
            #expect(listed.first?.state == .running)
            #expect(try await f.fetch("http://\(f.engineIP):8081/") == "built by micado\n")
        }
    }
}
