import Foundation
import MicadoCore
import Testing

/// Bad input gets a specific message and exit code, and changes nothing.
@Suite(.enabled(if: ManagerFixture.enginesAvailable || ManagerFixture.mustRun, ManagerFixture.skipNote))
struct BadInputTests {
    /// A 2.7 MB .tar.gz that expands to 600 MiB: the CLI decompresses it in a stream, within
    /// a 200 MiB data limit, and refuses it once past --max-context-bytes (300 MiB), which a
    /// CLI holding the tarball in memory could not reach.
    @Test func aGzipBombIsRefusedWithinBoundedMemory() async throws {
        let folder = NSTemporaryDirectory() + "micado-bomb-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let made = try await CommandResult.run(
            "/bin/sh",
            ["-c", "head -c 629145600 /dev/zero | gzip -1 > \"$0\"", folder + "/bomb.tar.gz"]
        )
        #expect(made.status == 0, "\(made)")
        let build = try await CommandResult.run(
            "/usr/bin/prlimit",
            [
                "--data=209715200", ManagerFixture.micadoBinary, "build", "-n", "container-bomb", "-f", folder + "/bomb.tar.gz",
                "--max-context-bytes", "314572800",
            ],
            environment: ["MICADO_HOME": folder + "/home"]
        )
        #expect(build.status == 1, "\(build)")
        #expect(build.stderr.contains("bomb.tar.gz expands to more than 314572800 bytes (--max-context-bytes)"), "\(build)")
    }

    @Test func errorsAreSpecificAndChangeNothing() async throws {
        try await ManagerFixture.with { f in
            #expect(
                try await f.micado([
                    "launch", "-i", "busybox:local", "-n", "one", "--container", "container-one", "-p", "8090", "-a", "sleep", "3600",
                ]).status == 0
            )
            // What the containers are, without the usage samples the monitor keeps taking meanwhile.
            func containers() async throws -> [ContainerView] {
                try WireFormat.decoder().decode(
                    [ContainerView].self,
                    from: Data(try await f.micado(["list", "-c", "-a", "--output", "json"]).stdout.utf8)
                )
                .map {
                    var view = $0
                    view.cpuPercent = nil
                    view.memoryUsedMiB = nil
                    return view
                }
            }
            let before = try await containers()
            #expect(before.count == 1)
            let eventsBefore = try await f.micado(["events", "--limit", "1000", "--output", "json"]).stdout

            let cases: [([String], Int32, String)] = [
                (["launch", "-i", "nosuch:image", "-n", "x"], 1, "unknown image 'nosuch:image'"),
                (
                    ["launch", "-i", "busybox:local", "-n", "x", "--container", "container-one"], 1,
                    "a container named container-one already exists"
                ),
                (["launch", "-i", "busybox:local", "-n", "x", "-p", "8090"], 1, "port 8090 is already published by container-one"),
                (["launch", "-i", "busybox:local", "-n", "x", "-e", "NOEQUALS"], 64, "write it as KEY=VALUE"),
                (["launch", "-i", "busybox:local", "-n", "x", "-p", "99999"], 64, "99999 is out of range 1-65535"),
                (["launch", "-i", "busybox:local", "-n", "x", "-l", "mars"], 1, "no instance in location 'mars'"),
                (["launch", "-i", "busybox:local"], 64, "Missing expected argument '--name <name>'"),
                (["list"], 64, "Missing one of: '--containers', '--instance'"),
                (["list", "-c", "-i"], 64, "had already been set with flag '-c'"),
                (["lunch"], 64, "lunch is not a micado command. Did you mean launch?"),
                (["xyzzy"], 64, "xyzzy is not a micado command. See 'micado --help'."),
                ([String(repeating: "x", count: 100_000)], 64, String(repeating: "x", count: 64) + "… is not a micado command"),
                // What was typed comes back escaped: it cannot drive the terminal.
                (["launch", "-i", "busybox:local", "-n", "x", "--memory", "1\u{1B}]0;pwned\u{07}"], 64, "1\\u{1B}]0;pwned\\u{7}'"),
                (["quit", "-n", "container-none"], 1, "no container named container-none"),
                (["remove", "-n", "container-one"], 1, "is running; quit it first"),
                (["build", "-n", "app", "-f", "/dev/null"], 64, "invalid container name 'app'"),
                (["start", "-c", "aws", "-a", "node", "-f", "small", "-t", "app01"], 1, "no cloud configured"),
                (["stop", "-t", "app01"], 1, "no cloud configured"),
                (["copy", "-n", "container-one", "a", "b"], 64, "exactly one of SOURCE and DEST"),
            ]
            for (arguments, status, message) in cases {
                let result = try await f.micado(arguments)
                #expect(result.status == status, "\(arguments): \(result)")
                #expect(result.stderr.contains(message), "\(arguments): \(result)")
            }

            let noDockerfile = f.state + "/nodockerfile.tar"
            try Data(TarArchive(entries: [.init(name: "app/index.html", contents: Array("x".utf8))]).bytes()).write(
                to: URL(fileURLWithPath: noDockerfile)
            )
            let build = try await f.micado(["build", "-n", "container-bad", "-f", noDockerfile])
            #expect(build.status == 1)
            #expect(build.stderr.contains("has no Dockerfile"))

            let tokenFile = f.home + "/token"
            let token = try String(contentsOfFile: tokenFile, encoding: .utf8)
            try "wrong-token-0123456789\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
            let wrongToken = try await f.micado(["list", "-c"])
            try token.write(toFile: tokenFile, atomically: true, encoding: .utf8)
            #expect(wrongToken.status == 1)
            #expect(wrongToken.stderr.contains("missing or wrong API token"))

            #expect(try await containers() == before)
            let eventsAfter = try await f.micado(["events", "--limit", "1000", "--output", "json"]).stdout
            let newKinds = try WireFormat.decoder().decode([EventView].self, from: Data(eventsAfter.utf8)).dropFirst(
                try WireFormat.decoder().decode([EventView].self, from: Data(eventsBefore.utf8)).count
            ).map(\.kind)
            // Refusals are recorded as such; nothing else happened (but the monitor's own finding of
            // the running container's critical usage, which a slow machine reaches meanwhile).
            #expect(Set(newKinds).isSubset(of: [.instanceStartRefused, .instanceStopRefused, .imageCriticalUsage]), "\(newKinds)")

            try await f.stopManager()
            let down = try await f.micado(["list", "-c"])
            #expect(down.status == 69)
            #expect(down.stderr.contains(": connection refused; start it with 'micado manager'"), "\(down)")
            #expect(down.stderr.split(separator: "\n").count == 1, "one sentence: \(down)")
        }
    }
}
