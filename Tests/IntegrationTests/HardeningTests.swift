import DockerEngine
import Foundation
import MicadoClouds
import MicadoCore
import MicadoStore
import MicadoTestSupport
import Testing

/// What an attacker or a busy user once broke, against the real manager.
@Suite(.enabled(if: ManagerFixture.enginesAvailable || ManagerFixture.mustRun, ManagerFixture.skipNote))
struct HardeningTests {
    func events(_ f: ManagerFixture) async throws -> [EventView] {
        try WireFormat.decoder().decode(
            [EventView].self,
            from: Data(try await f.micado(["events", "--limit", "10000", "--output", "json"]).stdout.utf8)
        )
    }

    func eventCount(_ f: ManagerFixture) async throws -> Int { try await events(f).count }

    /// A second manager on the same home is refused with the first one's pid and port,
    /// and changes nothing: no event, no pid file touched, the first keeps answering.
    @Test func oneManagerPerHome() async throws {
        try await ManagerFixture.with { f in
            let pidFile = try String(contentsOfFile: f.home + "/manager.pid", encoding: .utf8)
            // The first manager may still record its own work (a proxy or registry start under
            // load); what a second manager would write is a manager event.
            func managerEvents() async throws -> [EventView] {
                try await events(f).filter { [.managerStart, .managerStop].contains($0.kind) }
            }
            let before = try await managerEvents()
            let second = try await CommandResult.run(ManagerFixture.micadoBinary, ["manager"], environment: ["MICADO_HOME": f.home])
            #expect(second.status == 1)
            #expect(second.stderr.contains("another manager (pid \(f.manager!.pid), port \(f.port))"), "\(second)")
            #expect(try String(contentsOfFile: f.home + "/manager.pid", encoding: .utf8) == pidFile)
            #expect(try await managerEvents() == before)
            // Nor can init --force pull the token and certificates from under it.
            let token = try String(contentsOfFile: f.home + "/token", encoding: .utf8)
            let reinit = try await f.micado(["init", "--force"])
            #expect(reinit.status == 1 && reinit.stderr.contains("another manager"), "\(reinit)")
            #expect(try String(contentsOfFile: f.home + "/token", encoding: .utf8) == token)
            // Nor a second home whose store is this one's through a symlink.
            let other = f.state + "/other-home"
            #expect(
                try await CommandResult.run(
                    ManagerFixture.micadoBinary,
                    ["init", "--port", String(f.port + 7)],
                    environment: ["MICADO_HOME": other]
                ).status == 0
            )
            try FileManager.default.createSymbolicLink(atPath: f.state + "/alias.sqlite", withDestinationPath: f.home + "/micado.sqlite")
            let config = try String(contentsOfFile: other + "/config.yaml", encoding: .utf8)
                .replacingOccurrences(of: "path: \(other)/micado.sqlite", with: "path: \(f.state)/alias.sqlite")
            try config.write(toFile: other + "/config.yaml", atomically: true, encoding: .utf8)
            let aliased = try await CommandResult.run(ManagerFixture.micadoBinary, ["manager"], environment: ["MICADO_HOME": other])
            #expect(aliased.status == 1 && aliased.stderr.contains("another manager"), "\(aliased)")
            // The store is private whatever the umask: it holds every container's environment.
            #expect((try FileManager.default.attributesOfItem(atPath: f.home + "/micado.sqlite")[.posixPermissions] as? Int) == 0o600)
            // Nor does removing the lock file let a second one in.
            try FileManager.default.removeItem(atPath: f.home + "/manager.lock")
            let third = try await CommandResult.run(ManagerFixture.micadoBinary, ["manager"], environment: ["MICADO_HOME": f.home])
            #expect(third.status == 1 && third.stderr.contains("another manager"), "\(third)")
        }
    }

    /// A deleted store does not start empty beside the old services: it refuses, and
    /// --adopt takes them over without restarting them.
    @Test func aLostStoreIsRefusedUntilAdopted() async throws {
        try await ManagerFixture.with { f in
            #expect(
                try await f.micado(["launch", "-i", "busybox:local", "-n", "keep", "--container", "container-keep", "-a", "sleep", "3600"])
                    .status == 0
            )
            let engine = try await f.engine()
            let before = try await engine.service("container-keep")
            try await f.stopManager()
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: f.home + "/micado.sqlite" + suffix) }
            await #expect(throws: MicadoError.self) { try await f.startManager() }
            let log = try String(contentsOfFile: f.state + "/manager.log", encoding: .utf8)
            #expect(log.contains("container-keep") && log.contains("micado manager --adopt"), "\(log.suffix(600))")
            #expect(try await engine.service("container-keep").id == before.id)

            try await f.startManager(["--adopt"])
            let list = try WireFormat.decoder().decode(
                [ContainerView].self,
                from: Data(try await f.micado(["list", "-c", "--output", "json"]).stdout.utf8)
            )
            #expect(list.map(\.name.rawValue) == ["container-keep"])
            let after = try await engine.service("container-keep")
            #expect(after.id == before.id)
            #expect(after.spec.taskTemplate.containerSpec.args == ["sleep", "3600"])
        }
    }

    /// Copying a file onto a folder is refused, never replacing the folder and what it holds.
    @Test func copyNeverReplacesAFolder() async throws {
        try await ManagerFixture.with { f in
            #expect(
                try await f.micado(["launch", "-i", "busybox:local", "-n", "c", "--container", "container-copy", "-a", "sleep", "3600"])
                    .status == 0
            )
            let file = f.state + "/page.html"
            try "hello\n".write(toFile: file, atomically: true, encoding: .utf8)
            let refused = try await f.micado(["copy", "-n", "container-copy", file, ":/www"])
            #expect(refused.status == 1 && refused.stderr.contains("is a folder"), "\(refused)")
            #expect(try await f.micado(["execute", "-n", "container-copy", "-c", "test -d /www && test -f /www/index.html"]).status == 0)
            #expect(try await f.micado(["copy", "-n", "container-copy", file, ":/www/page.html"]).status == 0)
            #expect(try await f.micado(["execute", "-n", "container-copy", "-c", "cat /www/page.html"]).stdout == "hello\n")
        }
    }

    /// Root's copy out and backup into a folder another user can write: that user's links at
    /// the destination are replaced or refused, never followed (a root-only file outside keeps
    /// its bytes), and the copy keeps the source's mode (a 0600 key stays 0600).
    @Test func copyAndBackupThroughAnotherUsersLink() async throws {
        try await ManagerFixture.with { f in
            #expect(
                try await f.micado(["launch", "-i", "busybox:local", "-n", "c", "--container", "container-key", "-a", "sleep", "3600"])
                    .status == 0
            )
            #expect(try await f.micado(["execute", "-n", "container-key", "-c", "echo key > /tmp/key && chmod 600 /tmp/key"]).status == 0)
            let shared = f.state + "/shared"
            try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: true)
            chmod(shared, 0o1777)
            let secret = f.state + "/root-only"
            try "root's\n".write(toFile: secret, atomically: false, encoding: .utf8)
            chmod(secret, 0o600)
            for name in ["key", "store.backup"] {
                #expect(symlink(secret, shared + "/" + name) == 0)
                lchown(shared + "/" + name, 65534, 65534)
            }
            let copy = try await f.micado(["copy", "-n", "container-key", ":/tmp/key", shared + "/key"])
            #expect(copy.status == 0, "\(copy)")
            #expect(try String(contentsOfFile: secret, encoding: .utf8) == "root's\n")
            #expect(try String(contentsOfFile: shared + "/key", encoding: .utf8) == "key\n")
            let attributes = try FileManager.default.attributesOfItem(atPath: shared + "/key")
            #expect(attributes[.type] as? FileAttributeType == .typeRegular)
            #expect(attributes[.posixPermissions] as? Int == 0o600)
            let backup = try await f.micado(["backup", shared + "/store.backup"])
            #expect(backup.status != 0 && backup.stderr.contains("already exists"), "\(backup)")
            #expect(try String(contentsOfFile: secret, encoding: .utf8) == "root's\n")
            #expect(try FileManager.default.contentsOfDirectory(atPath: shared).sorted() == ["key", "store.backup"])
        }
    }

    /// One record the swarm refuses does not stop the pass: it is an event (once), and the
    /// other records and orphans are still converged.
    /// Whatever an event holds (a cloud's message, an engine's), `micado events` shows it
    /// escaped: no terminal title, screen clear or reversed line reaches the user's terminal.
    @Test func theEventsTableEscapesWhatAnEventHolds() async throws {
        try await ManagerFixture.with { f in
            try await f.stopManager(signal: SIGKILL)
            let store = try Store.open(path: f.home + "/micado.sqlite")
            try await store.record(
                EventRecord(
                    time: Date(),
                    kind: .instanceCreateFailed,
                    subject: "x\u{1B}]0;owned\u{07}",
                    message: "clear\u{1B}[2J then \u{202E}txt.exe and a \u{9B}31m CSI"
                )
            )
            try await f.startManager()
            let table = try await f.micado(["events", "--limit", "500"])
            #expect(table.status == 0, "\(table)")
            let line = try #require(table.stdout.split(separator: "\n").first { $0.contains("instance.create-failed") })
            #expect(
                !line.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 || $0.value == 0x202E || $0.value == 0x9B },
                "\(line)"
            )
            #expect(line.contains("\\u{1B}[2J") && line.contains("\\u{202E}txt.exe"), "\(line)")
        }
    }

    @Test func oneBadRecordNeverStopsAPass() async throws {
        try await ManagerFixture.with { f in
            try await f.stopManager()
            let store = try Store.open(path: f.home + "/micado.sqlite")
            let managerID = try await store.setting("manager.id") { "unused" }
            let now = Date()
            for name in ["container-blocked", "container-next"] {
                try await store.insertContainer(
                    ContainerRecord(
                        name: name,
                        client: "x",
                        image: "busybox:local",
                        desired: .running,
                        serviceID: nil,
                        location: nil,
                        script: nil,
                        domain: nil,
                        arguments: ["sleep", "3600"],
                        environment: [],
                        port: nil,
                        memoryMiB: 16,
                        lastState: .creating,
                        lastReason: nil,
                        createdAt: now,
                        updatedAt: now
                    ),
                    event: EventRecord(time: now, kind: .containerLaunch, subject: name, message: "test")
                )
            }
            try await store.bury(Store.Tombstone.container, "container-gone")
            let engine = try await f.engine()
            let spec = { (name: String, labels: [String: String]) in
                ServiceSpec(
                    name: name,
                    labels: labels,
                    taskTemplate: .init(containerSpec: .init(image: "busybox:local", args: ["sleep", "3600"])),
                    mode: .init(replicas: 0),
                    endpointSpec: nil
                )
            }
            // Someone else's service holds the first record's name: its launch can never finish.
            _ = try await engine.createService(spec("container-blocked", ["owner": "someone-else"]))
            _ = try await engine.createService(spec("container-gone", ["micado.manager": managerID, "micado.container": "container-gone"]))

            try await f.startManager()
            let names = Set(try await engine.services().map(\.spec.name))
            #expect(names.contains("container-next"), "\(names)")
            #expect(!names.contains("container-gone"), "\(names)")
            let events = try WireFormat.decoder().decode(
                [EventView].self,
                from: Data(try await f.micado(["events", "--subject", "container-blocked", "--output", "json"]).stdout.utf8)
            )
            let failures = events.filter { $0.kind == .containerReconcileFailed }
            #expect(failures.count == 1, "\(events.map(\.message))")
            #expect(failures.first?.message.contains("not created by this manager") == true)
            #expect(try await f.micado(["list", "-c"]).status == 0)
        }
    }

    /// A damaged store is refused at start with the reason; a backup taken online restores it.
    @Test func damagedStoreIsRefusedAndABackupRestores() async throws {
        try await ManagerFixture.with { f in
            #expect(
                try await f.micado(["launch", "-i", "busybox:local", "-n", "b", "--container", "container-b", "-a", "sleep", "3600"]).status
                    == 0
            )
            let backup = f.state + "/backup.sqlite"
            let taken = try await f.micado(["backup", backup])
            #expect(taken.status == 0, "\(taken)")
            let mode = try FileManager.default.attributesOfItem(atPath: backup)[.posixPermissions] as? Int
            #expect(mode == 0o600)
            #expect(try await f.micado(["backup", backup]).status != 0)  // never overwrites
            // Launched after the backup: restoring it must not remove this one.
            #expect(
                try await f.micado(["launch", "-i", "busybox:local", "-n", "c", "--container", "container-after", "-a", "sleep", "3600"])
                    .status == 0
            )
            try await f.stopManager()

            let store = f.home + "/micado.sqlite"
            // A clean stop folds the write-ahead log into the main file: it alone is the store.
            let wal = (try? FileManager.default.attributesOfItem(atPath: store + "-wal")[.size] as? Int) ?? 0
            #expect(wal == 0, "a clean stop left \(wal) bytes of write-ahead log")
            for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: store + suffix) }
            let handle = try #require(FileHandle(forUpdatingAtPath: store))
            let size = try handle.seekToEnd()
            try #require(size > 8192, "the main file holds \(size) bytes: nothing to damage")
            try handle.seek(toOffset: 4096)
            try handle.write(contentsOf: Data(repeating: 0xAB, count: Int(size) - 4096))
            try handle.close()
            await #expect(throws: MicadoError.self) { try await f.startManager() }
            let log = try String(contentsOfFile: f.state + "/manager.log", encoding: .utf8)
            #expect(log.contains("is damaged"), "\(log.suffix(600))")

            try FileManager.default.removeItem(atPath: store)
            try FileManager.default.copyItem(atPath: backup, toPath: store)
            await #expect(throws: MicadoError.self) { try await f.startManager() }
            let refused = try String(contentsOfFile: f.state + "/manager.log", encoding: .utf8)
            #expect(refused.contains("container-after") && refused.contains("older backup"), "\(refused.suffix(600))")
            #expect(try await f.engine().service("container-after").spec.name == "container-after")
            try await f.startManager(["--adopt"])
            let list = try WireFormat.decoder().decode(
                [ContainerView].self,
                from: Data(try await f.micado(["list", "-c", "--output", "json"]).stdout.utf8)
            )
            #expect(Set(list.map(\.name.rawValue)) == ["container-b", "container-after"])
        }
    }

    /// Crafted archives are refused with the reason and the manager lives on; a build
    /// whose step fails is a failure even when the tag exists, and records no image.built.
    @Test func craftedArchivesAndFailedBuilds() async throws {
        try await ManagerFixture.with { f in
            let good = f.state + "/good.tar"
            try Data(
                TarArchive(entries: [.init(name: "app/Dockerfile", contents: Array("FROM busybox:local\nRUN echo ok > /ok\n".utf8))])
                    .bytes()
            )
            .write(to: URL(fileURLWithPath: good))
            #expect(try await f.micado(["build", "-n", "container-app", "-f", good]).status == 0)
            let image = try await f.micado(["images", "--output", "json"]).stdout

            var crafted = TarArchive(entries: [.init(name: "app/Dockerfile", contents: Array("FROM x\n".utf8))]).bytes()
            crafted.replaceSubrange(124..<136, with: Array(repeating: 0xFF, count: 12))
            var sum = 0
            for (i, byte) in crafted[0..<512].enumerated() { sum += (148..<156).contains(i) ? 0x20 : Int(byte) }
            let checksum = Array(String(sum, radix: 8).utf8)
            crafted.replaceSubrange(148..<156, with: Array(repeating: 0x30, count: 6 - checksum.count) + checksum + [0, 0x20])
            let bad = f.state + "/bad.tar"
            try Data(crafted).write(to: URL(fileURLWithPath: bad))
            let refused = try await f.micado(["build", "-n", "container-app", "-f", bad])
            #expect(refused.status == 1)
            #expect(refused.stderr.contains("bad size field"), "\(refused)")
            let truncated = f.state + "/truncated.tar"
            try Data(try Data(contentsOf: URL(fileURLWithPath: good)).prefix(1024)).write(to: URL(fileURLWithPath: truncated))
            #expect(try await f.micado(["build", "-n", "container-app", "-f", truncated]).stderr.contains("truncated"))

            let events = try await eventCount(f)
            let failing = f.state + "/failing.tar"
            try Data(TarArchive(entries: [.init(name: "app/Dockerfile", contents: Array("FROM busybox:local\nRUN false\n".utf8))]).bytes())
                .write(to: URL(fileURLWithPath: failing))
            let failed = try await f.micado(["build", "-n", "container-app", "-f", failing])
            #expect(failed.status == 1)
            #expect(failed.stderr.contains("the build failed"), "\(failed)")
            #expect(try await f.micado(["images", "--output", "json"]).stdout == image)
            let kinds = try WireFormat.decoder().decode(
                [EventView].self,
                from: Data(try await f.micado(["events", "--limit", "10000", "--output", "json"]).stdout.utf8)
            )
            .dropFirst(events).map(\.kind)
            #expect(!kinds.contains(.imageBuilt), "\(kinds)")
            #expect(try await f.micado(["list", "-c"]).status == 0)  // still up
        }
    }

    /// No secret is ever on a command line, where every local user's `ps` shows it: not
    /// while the manager starts (registry, Caddy), an instance boots and joins, or a build runs.
    /// Caddy's admin API and the registry's secrets are out of an unprivileged user's reach.
    @Test func secretsStayOffCommandLines() async throws {
        let seen = CommandLines()
        let watcher = Task { await seen.watch() }
        try await ManagerFixture.with(clouds: true) { f in
            let tar = f.state + "/app.tar"
            try Data(
                TarArchive(entries: [.init(name: "app/Dockerfile", contents: Array("FROM busybox:local\nCMD [\"sleep\", \"3600\"]\n".utf8))]
                ).bytes()
            )
            .write(to: URL(fileURLWithPath: tar))
            let built = try await f.micado(["build", "-n", "container-web", "-f", tar])
            #expect(built.status == 0, "\(built)")
            let launched = try await f.micado(["launch", "-i", "container-web", "-n", "web", "-m", "32"])
            #expect(launched.status == 0, "\(launched)")
            watcher.cancel()
            _ = await watcher.value
            let swarm = try await f.engine().swarm()
            let secrets = [
                (
                    "registry password",
                    try String(contentsOfFile: f.home + "/registry/password", encoding: .utf8).trimmingCharacters(
                        in: .whitespacesAndNewlines
                    )
                ),
                ("worker join token", swarm.joinTokens.worker), ("manager join token", swarm.joinTokens.manager),
                (
                    "API token",
                    try String(contentsOfFile: f.home + "/token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
                ),
            ]
            let lines = await seen.lines
            #expect(lines.count > 10)
            #expect(lines.contains { $0.contains("dockerd") })  // the watcher saw the instance boot
            for (what, secret) in secrets {
                #expect(!secret.isEmpty)
                #expect(!lines.contains { $0.contains(secret) }, "the \(what) was on a command line")
            }

            // An unprivileged local user reaches neither Caddy's admin API nor the registry's secrets.
            func asNobody(_ command: String) async throws -> CommandResult {
                try await CommandResult.run(
                    "/usr/bin/setpriv",
                    ["--reuid=nobody", "--regid=nogroup", "--clear-groups", "/bin/sh", "-c", command]
                )
            }
            #expect(FileManager.default.fileExists(atPath: f.home + "/proxy/admin.sock"))
            let admin = try await asNobody("curl -s --max-time 2 --unix-socket '\(f.home)/proxy/admin.sock' http://localhost/config/")
            #expect(admin.status != 0, "\(admin)")
            for file in ["registry/password", "registry/serve/htpasswd", "registry/serve/server-key.pem", "registry/serve/config.yml"] {
                #expect(FileManager.default.fileExists(atPath: f.home + "/" + file))
                #expect(try await asNobody("cat '\(f.home)/\(file)'").status != 0, "\(file)")
            }
            #expect(try await asNobody("ls '\(f.home)/registry/serve/data'").status != 0)
            // Nor do the helpers reach each other's files, or the password.
            #expect(
                try await CommandResult.run(
                    "/usr/bin/setpriv",
                    ["--reuid=micado-proxy", "--regid=micado-proxy", "--clear-groups", "cat", f.home + "/registry/serve/server-key.pem"]
                ).status != 0
            )
            #expect(
                try await CommandResult.run(
                    "/usr/bin/setpriv",
                    ["--reuid=micado-registry", "--regid=micado-registry", "--clear-groups", "cat", f.home + "/registry/password"]
                ).status != 0
            )
            #expect(try await asNobody("curl -s --max-time 2 http://127.0.0.1:2019/config/").status != 0)  // no TCP admin API any more
        }
    }
}

/// Every process's command line, read from /proc while a test runs.
actor CommandLines {
    var lines: Set<String> = []

    func watch() async {
        while !Task.isCancelled {
            for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] where entry.allSatisfy(\.isNumber) {
                guard let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline"), !data.isEmpty else { continue }
                lines.insert(String(decoding: data.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self))
            }
            try? await Task.sleep(for: .milliseconds(10))
        }
    }
}

extension HardeningTests {
    /// A build a kill -9 cuts short gets its outcome at the next start (it had none: the
    /// event log showed a build that never ended).
    @Test func aBuildCutByAKillSaysSoAtTheNextStart() async throws {
        try await ManagerFixture.with { f in
            let slow = f.state + "/slow.tar"
            try Data(
                TarArchive(entries: [.init(name: "app/Dockerfile", contents: Array("FROM busybox:local\nRUN sleep 60\n".utf8))]).bytes()
            )
            .write(to: URL(fileURLWithPath: slow))
            let cli = try ChildProcess.start(
                ManagerFixture.micadoBinary,
                ["build", "-n", "container-slow", "-f", slow],
                environment: ProcessInfo.processInfo.environment.merging(["MICADO_HOME": f.home]) { _, b in b },
                output: f.state + "/build.log"
            )
            defer { if cli.poll() == nil { cli.signal(SIGKILL) } }
            try await CloudTests.eventually(30, "the build started") {
                try await f.micado(["events", "--limit", "20"]).stdout.contains("image.build ")
            }
            #expect(try await f.stopManager(signal: SIGKILL) == 128 + SIGKILL)
            try await f.startManager()
            let events = try await f.micado(["events", "--subject", "container-slow:latest"]).stdout
            #expect(events.contains("image.build-interrupted"), "\(events)")
            // Once: a second start has nothing more to say.
            try await f.stopManager()
            try await f.startManager()
            let again = try WireFormat.decoder().decode(
                [EventView].self,
                from: Data(try await f.micado(["events", "--subject", "container-slow:latest", "--output", "json"]).stdout.utf8)
            )
            #expect(again.filter { $0.kind == .imageBuildInterrupted }.count == 1)
        }
    }

    /// A file copied out of a container goes through disk, never the manager's or the CLI's
    /// memory (it was held three times over in the manager, twice in the CLI).
    /// 200 MiB out of a container and back in: the manager streams both ways (its peak
    /// resident memory stays far below the file's size).
    @Test func largeCopiesStayOffTheHeap() async throws {
        try await ManagerFixture.with { f in
            let launch = try await f.micado([
                "launch", "-i", "busybox:local", "-n", "big", "--container", "container-big", "-m", "300m", "-s", "/bin/sh", "-a", "-c",
                "dd if=/dev/zero of=/tmp/big bs=1M count=200 2>/dev/null; exec sleep 3600",
            ])
            #expect(launch.status == 0, "\(launch)")
            let out = f.state + "/big.out"
            try await CloudTests.eventually(30, "the file is whole") {
                try await f.micado(["execute", "-n", "container-big", "-c", "ls -l /tmp/big"]).stdout.contains("209715200")
            }
            let copy = try await f.micado(["copy", "-n", "container-big", ":/tmp/big", out])
            #expect(copy.status == 0, "\(copy)")
            let size = (try FileManager.default.attributesOfItem(atPath: out)[.size] as? NSNumber)?.intValue
            #expect(size == 200 << 20)
            let back = try await f.micado(["copy", "-n", "container-big", out, ":/tmp/back"])
            #expect(back.status == 0, "\(back)")
            #expect(
                try await f.micado(["execute", "-n", "container-big", "-c", "cmp /tmp/big /tmp/back && echo same"]).stdout.contains("same")
            )
            let pid = try #require(f.manager?.pid)
            let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
            let peakKiB =
                status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") }.flatMap {
                    Int($0.split(separator: " ").dropFirst().first ?? "")
                } ?? 0
            #expect(
                peakKiB > 0 && peakKiB < 150 << 10,
                "the manager's peak resident memory was \(peakKiB / 1024) MiB for 200 MiB copied out and in"
            )
            try? FileManager.default.removeItem(atPath: out)
        }
    }

    /// A client that stalls mid-upload is cut off after `limits.idleSeconds` (it used to hold
    /// an upload slot and a connection for good), and a body that breaks HTTP (a malformed
    /// chunk) gets 400, not 500; the manager serves on.
    @Test func stalledAndMalformedBodiesAreCutOff() async throws {
        try await ManagerFixture.with { f in
            try await f.stopManager()
            let config = try String(contentsOfFile: f.home + "/config.yaml", encoding: .utf8)
            try config.replacingOccurrences(of: "idleSeconds: 60", with: "idleSeconds: 2").write(
                toFile: f.home + "/config.yaml",
                atomically: true,
                encoding: .utf8
            )
            try await f.startManager()
            let token = try String(contentsOfFile: f.home + "/token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            let head = "POST /v1/images?name=stalled HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\n"

            // 1 MiB announced, 10 bytes sent, then silence: the connection is closed within a few seconds.
            let clock = ContinuousClock()
            let began = clock.now
            let stalled = try RawHTTP.exchange(
                port: f.port,
                send: head + "Content-Length: 1048576\r\n\r\n0123456789",
                readFor: .seconds(20)
            )
            #expect(stalled.closed && clock.now - began < .seconds(10), "closed: \(stalled.closed) after \(clock.now - began)")

            // Before any request: silence, half a head, or a head the parser never finishes are closed too
            // (they held connections and the manager's descriptors for good: an attack ran it out of them).
            for opening in ["", "GET /v1/health HTTP/1.1\r\n", head + "Content-Length: 5\r\nContent-Length: 6\r\n\r\n12345"] {
                let began = clock.now
                let answer = try RawHTTP.exchange(port: f.port, send: opening, readFor: .seconds(20))
                #expect(
                    answer.closed && clock.now - began < .seconds(10),
                    "\(opening.debugDescription): closed \(answer.closed) after \(clock.now - began)"
                )
            }

            // A byte a second keeps within the idle limit, but not the minimum rate: refused after its 30 s
            // grace, and its upload slot given back (the connection may drain on; it holds no slot).
            let trickled = try RawHTTP.trickle(
                port: f.port,
                head: head + "Content-Length: 1048576\r\n\r\n",
                every: .seconds(1),
                for: .seconds(45)
            )
            #expect(trickled.text.contains("too slow"), "\(trickled.text.prefix(300))")

            let malformed = try RawHTTP.exchange(
                port: f.port,
                send: head + "Transfer-Encoding: chunked\r\n\r\nzz\r\nnot a chunk\r\n",
                readFor: .seconds(10)
            )
            #expect(malformed.text.hasPrefix("HTTP/1.1 400"), "\(malformed.text.prefix(200))")
            #expect(try await f.micado(["images"]).status == 0, "the manager serves on")

            // Not while the manager answers, nor on an attached execute: both outlast the idle limit here.
            let launch = try await f.micado([
                "launch", "-i", "busybox:local", "-n", "idle", "--container", "container-idle", "-m", "32m", "-a", "sleep", "3600",
            ])
            #expect(launch.status == 0, "\(launch)")
            let quiet = try await f.micado(["execute", "-n", "container-idle", "-i", "-c", "sleep 4; echo still here"], input: "")
            #expect(quiet.status == 0 && quiet.stdout.contains("still here"), "\(quiet)")
        }
    }
}

/// One HTTP exchange over a plain socket, for requests no HTTP client would send.
enum RawHTTP {
    struct Answer {
        var text: String
        /// The server closed the connection (EOF) before `readFor` ran out.
        var closed: Bool
    }

    /// Sends `head`, then one byte every `every`, until the server answers and closes, or `for` runs out.
    static func trickle(port: Int, head: String, every: Duration, for total: Duration) throws -> Answer {
        let fd = try connected(port)
        defer { close(fd) }
        try send(fd, Array(head.utf8))
        let deadline = ContinuousClock.now + total
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while ContinuousClock.now < deadline {
            var poll = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if Glibc.poll(&poll, 1, Int32(every.components.seconds * 1000)) > 0 {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n <= 0 { return Answer(text: String(decoding: received, as: UTF8.self), closed: true) }
                received += buffer[0..<n]
                // A whole answer ends the exchange (its head and as much body as it announced; the
                // two may come in separate reads): what follows is the server's business.
                if Self.isComplete(received) { return Answer(text: String(decoding: received, as: UTF8.self), closed: false) }
                continue
            }
            _ = [UInt8(ascii: "x")].withUnsafeBytes { write(fd, $0.baseAddress, 1) }
        }
        return Answer(text: String(decoding: received, as: UTF8.self), closed: false)
    }

    /// Whether `bytes` hold a whole answer: a head, and the body its Content-Length announces.
    static func isComplete(_ bytes: [UInt8]) -> Bool {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let end = text.range(of: "\r\n\r\n") else { return false }
        let head = text[..<end.lowerBound].lowercased()
        let length =
            head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
            .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
        return text[end.upperBound...].utf8.count >= length
    }

    /// A connection to the manager; `receiveBuffer` shrinks the socket's (a client that reads slowly).
    static func connected(_ port: Int, receiveBuffer: Int32? = nil) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket: \(errno)") }
        if var size = receiveBuffer { setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size)) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            throw TestFailure("connect: \(errno)")
        }
        return fd
    }

    static func send(_ fd: Int32, _ bytes: [UInt8]) throws {
        guard bytes.isEmpty || bytes.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == bytes.count else {
            throw TestFailure("write: \(errno)")
        }
    }

    static func exchange(port: Int, send text: String, readFor: Duration) throws -> Answer {
        let fd = try connected(port)
        defer { close(fd) }
        try send(fd, Array(text.utf8))
        let (received, closed) = receive(fd, within: readFor) { _ in false }
        return Answer(text: String(decoding: received, as: UTF8.self), closed: closed)
    }

    /// Reads until `done` says so, the peer closes (`closed`), or `within` runs out.
    static func receive(_ fd: Int32, within: Duration, until done: ([UInt8]) -> Bool) -> (bytes: [UInt8], closed: Bool) {
        var received: [UInt8] = []
        let deadline = ContinuousClock.now + within
        var buffer = [UInt8](repeating: 0, count: 65536)
        while ContinuousClock.now < deadline {
            var poll = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard Glibc.poll(&poll, 1, 200) > 0 else { continue }
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { return (received, true) }
            received += buffer[0..<n]
            if done(received) { break }
        }
        return (received, false)
    }
}
