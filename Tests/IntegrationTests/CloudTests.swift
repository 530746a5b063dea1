import DockerEngine
import Foundation
import MicadoClouds
import MicadoCore
import MicadoStore
import Testing

/// The scaler against real local instances: engines in namespaces, mutual TLS, Swarm.
@Suite(.serialized, .enabled(if: ManagerFixture.enginesAvailable || ManagerFixture.mustRun, ManagerFixture.skipNote))
struct CloudTests {
    static func containers(_ f: ManagerFixture) async throws -> [ContainerView] {
        try WireFormat.decoder().decode(
            [ContainerView].self,
            from: Data(try await f.micado(["list", "-c", "-a", "--output", "json"]).stdout.utf8)
        )
    }

    static func instances(_ f: ManagerFixture) async throws -> [InstanceView] {
        try WireFormat.decoder().decode(
            [InstanceView].self,
            from: Data(try await f.micado(["list", "-i", "--output", "json"]).stdout.utf8)
        )
        .filter { $0.cloud == "local" }
    }

    /// Polls until `condition` holds, for at most `seconds`.
    static func eventually(_ seconds: Int, _ what: String, _ condition: () async throws -> Bool) async throws {
        guard try await becomesTrue(within: seconds, every: .milliseconds(200), condition) else {
            throw MicadoError(.timeout, "not within \(seconds) s: \(what)")
        }
    }

    @Test func launchBeyondCapacityStartsAnInstanceThenScalesDown() async throws {
        try await ManagerFixture.with(clouds: true) { f in
            // Nothing runs on the manager's engine: the first launch needs an instance.
            let a = try await f.micado([
                "launch", "-i", "busybox:local", "-n", "a", "-m", "200m", "-p", "8080", "-s", "/bin/httpd", "-a", "-f", "-p", "8080", "-h",
                "/www",
            ])
            #expect(a.status == 0, "\(a)")
            let b = try await f.micado([
                "launch", "-i", "busybox:local", "-n", "b", "-m", "200m", "-p", "8081", "-s", "/bin/httpd", "-a", "-f", "-p", "8081", "-h",
                "/www",
            ])
            #expect(b.status == 0, "\(b)")
            let running = try await Self.containers(f)
            #expect(running.count == 2)
            #expect(Set(running.compactMap(\.node)).count == 2, "two 200 MiB containers need two 256 MiB instances")
            for container in running {
                let endpoint = try #require(container.endpoint)
                #expect(!endpoint.hasPrefix(f.engineIP), "containers run on instances, not on the manager's engine")
                #expect(try await f.fetchEventually("http://\(endpoint)/") == "hello from busybox:local\n")
            }
            let instances = try await Self.instances(f)
            #expect(instances.count == 2)
            #expect(instances.allSatisfy { $0.flavour == "small" && $0.state == .ready })
            // The image went into micado's registry once, from the manager's engine, and the
            // instances pulled it by digest (never a copy through the manager).
            let image = try await f.engine().service(running[0].name.rawValue).spec.taskTemplate.containerSpec.image
            #expect(image.contains("/mirror/busybox:local@sha256:"), "\(image)")
            let mirrored = try await f.micado(["events", "--subject", "busybox:local", "--limit", "10"]).stdout
            #expect(mirrored.components(separatedBy: "image.mirrored").count == 2, "pushed once: \(mirrored)")
            // Engines are reached over TLS: execute runs in a container on an instance.
            let exec = try await f.micado([
                "execute", "-n", running[0].name.rawValue, "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes",
            ])
            #expect(exec.stdout == "209715200\n", "the 200 MiB limit is enforced: \(exec)")
            // And attached: stdin and output cross the instance engine's TLS connection, hijacked.
            let attached = try await f.micado(["execute", "-n", running[0].name.rawValue, "-i", "-c", "tr a-z A-Z"], input: "over tls\n")
            #expect(attached.status == 0, "\(attached)")
            #expect(attached.stdout == "OVER TLS\n", "\(attached)")

            let quit = running.first { $0.client == "b" }!
            #expect(try await f.micado(["quit", "-n", quit.name.rawValue, "-rm"]).status == 0)
            try await Self.eventually(40, "the idle instance is deleted after its grace period") { try await Self.instances(f).count == 1 }
            let gone = Set(instances.compactMap(\.cloudID)).subtracting(try await Self.instances(f).compactMap(\.cloudID))
            #expect(gone.count == 1)
            for id in gone { #expect(try await ManagerFixture.leftovers(of: id).isEmpty) }
            let events = try await f.micado(["events", "--limit", "100"]).stdout
            #expect(events.contains("instance.draining"))
            #expect(events.contains("idle for"))
        }
    }

    @Test func startAndStopByTagMovesContainers() async throws {
        try await ManagerFixture.with(clouds: true) { f in
            let start = try await f.micado(["start", "-c", "local", "-a", "node", "-f", "medium", "-t", "app01", "-n", "application"])
            #expect(start.status == 0, "\(start)")
            let id = try #require(start.stdout.split(separator: " ").first.map(String.init))
            let launch = try await f.micado([
                "launch", "-i", "busybox:local", "-n", "web", "--container", "container-web", "-m", "100m", "-a", "sleep", "3600",
            ])
            #expect(launch.status == 0, "\(launch)")
            #expect(try await Self.containers(f).first?.node == id, "the container lands on the started instance")
            let cloudID = try await Self.instances(f).first { $0.id.rawValue == id }?.cloudID
            #expect(cloudID.map(f.instanceIDs().contains) == true, "the cloud's ID names the local machine: \(String(describing: cloudID))")
            let stop = try await f.micado(["stop", "-t", "app01"])
            #expect(stop.status == 0, "\(stop)")
            #expect(!(try await Self.instances(f).contains { $0.id.rawValue == id }))
            #expect(try await ManagerFixture.leftovers(of: try #require(cloudID)).isEmpty)
            try await Self.eventually(40, "the container runs again on another instance") {
                let c = try await Self.containers(f).first
                return c?.state == .running && c?.node != id
            }
            // Bad requests change nothing.
            for (args, message) in [
                (["start", "-c", "nosuch", "-a", "node", "-f", "small", "-t", "x"], "no cloud named 'nosuch'"),
                (["start", "-c", "local", "-a", "node", "-f", "huge", "-t", "x"], "has no flavour 'huge'"),
                (["start", "-c", "local", "-a", "oracle", "-f", "small", "-t", "x"], "has no application 'oracle'"),
                (["stop", "-t", "nosuchtag"], "no instance has tag 'nosuchtag'"),
            ] {
                let result = try await f.micado(args)
                #expect(result.status == 1 && result.stderr.contains(message), "\(args): \(result)")
            }
        }
    }

    @Test func unplaceableLaunchSaysWhy() async throws {
        try await ManagerFixture.with(cloudsFile: { $0.cloudsFile(max: 1) }) { f in
            let huge = try await f.micado([
                "launch", "-i", "busybox:local", "-n", "huge", "--container", "container-huge", "-m", "2g", "--timeout", "5", "-a", "sleep",
                "3600",
            ])
            #expect(huge.status == 1)
            #expect(huge.stderr.contains("no flavour in local has 2048 MiB (largest: 512 MiB)"), "\(huge)")
            let explain = try await f.micado(["explain", "container-huge"])
            #expect(explain.stdout.contains("no flavour in local has 2048 MiB"), "\(explain)")
            #expect(try await f.micado(["quit", "-n", "container-huge", "-rm"]).status == 0)
            #expect(try await f.micado(["launch", "-i", "busybox:local", "-n", "one", "-m", "400m", "-a", "sleep", "3600"]).status == 0)
            let two = try await f.micado([
                "launch", "-i", "busybox:local", "-n", "two", "-m", "400m", "--timeout", "5", "-a", "sleep", "3600",
            ])
            #expect(two.status == 1)
            #expect(two.stderr.contains("location local at its max of 1 instances"), "\(two)")
            #expect(try await Self.instances(f).count == 1)
        }
    }

    /// kill -9 at the two moments a scale-up can be cut: after the record, before the cloud
    /// call; after the call, before its answer is stored. The manager dies at the named
    /// point (MICADO_CRASH_AT), not after a guessed sleep.
    @Test(arguments: ["instance.before-create", "instance.after-create"])
    func managerKilledMidScaleUpLeavesNoDuplicateNorOrphan(crashAt point: String) async throws {
        try await ManagerFixture.with(clouds: true) { f in
            try await f.stopManager()
            f.managerEnvironment["MICADO_CRASH_AT"] = point
            try await f.startManager()
            // The scaler may reach the crash point before the launch's answer is sent: its exit status is not the point.
            _ = try await f.micado([
                "launch", "-i", "busybox:local", "-n", "c", "--container", "container-c", "-m", "200m", "--detach", "-a", "sleep", "3600",
            ])
            #expect(try await f.managerExit(within: 30) == 128 + SIGKILL, "the manager died at \(point)")
            // Half-done as named: the record waits in creating; the cloud has nothing, or the instance.
            let store = try Store.open(path: f.home + "/micado.sqlite")
            let records = try await store.instances().filter { !$0.isManager }
            #expect(records.map(\.state) == [.creating] && records.first?.cloudID == nil, "\(records)")
            #expect(f.instanceIDs().count == (point == "instance.after-create" ? 1 : 0))

            f.managerEnvironment["MICADO_CRASH_AT"] = nil
            try await f.startManager()
            try await Self.eventually(60, "the container runs") { try await Self.containers(f).first?.state == .running }
            #expect(try await Self.instances(f).count == 1, "no duplicate instance")
            #expect(f.instanceIDs().count == 1, "no orphan in the cloud")
            let events = try await f.micado(["events", "--limit", "100"]).stdout
            #expect(events.contains("create resumed after a restart"), "\(events)")
        }
    }

    /// A cloud that answers a create with an instance another record holds (a confused or
    /// hostile cloud; an attack made two records share one EC2 ID, and each delete killed the
    /// other's instance): the create is refused, and nothing of the other is deleted for it.
    @Test func aCreateAnsweredWithAnotherRecordsInstanceIsRefused() async throws {
        try await ManagerFixture.with(clouds: true) { f in
            try await f.stopManager()
            let store = try Store.open(path: f.home + "/micado.sqlite")
            let token = (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
            let now = Date()
            // A create cut by a crash (resumed at start), and a record that already holds the ID the cloud will answer with.
            var resumed = InstanceRecord(
                id: InstanceID(token: token),
                hostname: "resumed",
                cloud: "local",
                location: "local",
                role: .worker,
                state: .creating,
                address: nil,
                createdAt: now,
                updatedAt: now
            )
            resumed.token = token
            resumed.flavour = "small"
            resumed.memoryMiB = 256
            resumed.stateSince = now
            var holder = InstanceRecord(
                id: InstanceID("mholder0001"),
                hostname: "holder",
                cloud: "local",
                location: "local",
                role: .worker,
                state: .down,
                address: nil,
                createdAt: now,
                updatedAt: now
            )
            holder.cloudID = LocalDriver.instanceID(token: token)
            holder.stateSince = now
            for record in [resumed, holder] {
                try await store.insertInstance(
                    record,
                    event: EventRecord(time: now, kind: .instanceCreate, subject: record.id.rawValue, message: "test")
                )
            }
            try await f.startManager()
            try await Self.eventually(30, "the conflict is reported") {
                try await f.micado(["events", "--limit", "100"]).stdout.contains("instance.create-conflict")
            }
            #expect(!(try await Self.instances(f).contains { $0.id == resumed.id }), "the resumed record is dropped")
            // The holder's own lifecycle still deletes what it holds: nothing is left in the cloud.
            try await Self.eventually(30, "no instance is left") {
                let known = try await Self.instances(f)
                return f.instanceIDs().isEmpty && known.isEmpty
            }
        }
    }

    @Test func instanceWhoseEngineDiesIsReplaced() async throws {
        try await ManagerFixture.with(clouds: true) { f in
            #expect(
                try await f.micado([
                    "launch", "-i", "busybox:local", "-n", "d", "--container", "container-d", "-m", "100m", "-a", "sleep", "3600",
                ]).status == 0
            )
            let first = try #require(try await Self.instances(f).first)
            let firstCloudID = try #require(first.cloudID)
            let pid = try #require(
                Int32(try String(contentsOfFile: f.instancesDirectory + "/\(firstCloudID)/dockerd.pid", encoding: .utf8))
            )
            kill(pid, SIGKILL)
            try await Self.eventually(60, "the dead instance is replaced and the container runs elsewhere") {
                let c = try await Self.containers(f).first
                let replaced = try await !Self.instances(f).contains { $0.id == first.id }
                return c?.state == .running && c?.node != first.id.rawValue && replaced
            }
            #expect(try await ManagerFixture.leftovers(of: firstCloudID).isEmpty)
            let events = try await f.micado(["events", "--limit", "100"]).stdout
            #expect(events.contains("instance.down"))
        }
    }

    @Test func badCloudsFileStopsTheManagerWithLineAndField() async throws {
        try await ManagerFixture.with { f in
            try await f.stopManager()
            try "clouds:\n  local:\n    driver: local\n    locations: {local: {max: many}}\n".write(
                toFile: f.home + "/clouds.yaml",
                atomically: true,
                encoding: .utf8
            )
            let log = f.state + "/bad-manager.log"
            let manager = try ChildProcess.start(
                ManagerFixture.micadoBinary,
                ["manager"],
                environment: ["MICADO_HOME": f.home],
                output: log
            )
            #expect(manager.wait() == 1)
            let output = try String(contentsOfFile: log, encoding: .utf8)
            #expect(output.contains("clouds.yaml:4: clouds.local.locations.local.max must be a whole number"), "\(output)")
        }
    }
}
