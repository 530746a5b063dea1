import DockerEngine
import Foundation
import MicadoCore
import Testing

/// Named volumes on a real engine: a service's data outlives a roll, a manager kill -9, and
/// `apps rm` followed by `apply`; `apps rm --volumes` removes it; bind mounts are refused.
@Suite(.serialized) struct VolumeTests {
    static func file(_ marker: String) -> String {
        """
        name: vol
        volumes:
          data:
            labels: {tier: db}
        services:
          db:
            image: busybox:local
            entrypoint: /bin/sh
            command: [-c, "echo started >> /data/starts; exec sleep 3600"]
            environment: {MARKER: \(marker)}
            stop_grace_period: 1s
            volumes:
              - data:/data
              - type: tmpfs
                target: /scratch
                tmpfs: {size: 1m}
              - /anonymous
            deploy: {resources: {reservations: {memory: 16M}}}
        """
    }

    @Test func aNamedVolumeKeepsItsDataOnItsNode() async throws {
        try await ManagerFixture.with { f in
            let path = f.state + "/vol.yaml"
            try Self.file("one").write(toFile: path, atomically: true, encoding: .utf8)
            let applied = try await f.micado(["apply", "-f", path])
            #expect(applied.status == 0, "\(applied)")

            // The service mounts the named volume and is held to the node that has it.
            let spec = try await f.engine().service("vol_db").spec
            let mounts = spec.taskTemplate.containerSpec.mounts ?? []
            #expect(mounts.contains { $0.type == "volume" && $0.source == "vol_data" && $0.target == "/data" }, "\(mounts)")
            #expect(mounts.contains { $0.type == "volume" && $0.source == nil && $0.target == "/anonymous" }, "\(mounts)")
            #expect(mounts.contains { $0.type == "tmpfs" && $0.target == "/scratch" && $0.tmpfsOptions?.sizeBytes == 1 << 20 })
            #expect(spec.taskTemplate.placement?.constraints?.contains("node.labels.micado.volume.vol_data == home") == true)
            let nodes = try await f.engine().nodes()
            #expect(nodes.contains { $0.spec.labels?["micado.volume.vol_data"] == "home" }, "the home node is not labelled")
            let explained = try await f.micado(["explain", "vol_db"])
            #expect(explained.stdout.contains("its volume vol_data lives on the manager's node"), "\(explained)")

            func read() async throws -> String {
                try await f.micado(["execute", "-n", "vol_db", "-c", "cat /data/kept"]).stdout
            }
            try await CloudTests.eventually(60, "the database runs") {
                try await f.micado(["execute", "-n", "vol_db", "-c", "echo kept > /data/kept"]).status == 0
            }
            #expect(try await read().contains("kept"))
            // The engine made the volume with the file's labels and micado's.
            let labelled = try await f.engine().volumes(label: "tier=db")
            #expect(labelled == ["vol_data"], "\(labelled)")

            // A roll (a changed environment) replaces the task: the data stays.
            try Self.file("two").write(toFile: path, atomically: true, encoding: .utf8)
            #expect(try await f.micado(["apply", "-f", path]).status == 0)
            try await CloudTests.eventually(60, "the rolled task runs and reads the data") {
                let out = try await f.micado(["execute", "-n", "vol_db", "-c", "echo $MARKER; cat /data/kept"]).stdout
                return out.contains("two") && out.contains("kept")
            }

            // kill -9 of the manager, then apps rm and apply again: the same volume, the same data.
            #expect(try await f.stopManager(signal: SIGKILL) != 0)
            try await f.startManager()
            let removed = try await f.micado(["apps", "rm", "vol"])
            #expect(removed.status == 0 && removed.stdout.contains("its volumes, if any, stay"), "\(removed)")
            #expect(try await f.engine().volumes(label: "micado.application=vol") == ["vol_data"])
            #expect(try await f.micado(["apply", "-f", path]).status == 0)
            try await CloudTests.eventually(60, "the re-applied database reads the old data") {
                try await read().contains("kept")
            }
            let starts = try await f.micado(["execute", "-n", "vol_db", "-c", "wc -l < /data/starts"]).stdout
            #expect((Int(starts.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) >= 3, "\(starts)")

            // --volumes removes it, with its data, and the node's label.
            let gone = try await f.micado(["apps", "rm", "vol", "--volumes"])
            #expect(gone.status == 0, "\(gone)")
            try await CloudTests.eventually(60, "the volume is removed") {
                try await f.engine().volumes(label: "micado.application=vol").isEmpty
            }
            try await CloudTests.eventually(30, "the node's label is removed") {
                try await f.engine().nodes().allSatisfy { $0.spec.labels?["micado.volume.vol_data"] == nil }
            }
            let events = try await f.micado(["events", "--subject", "vol_data"])
            #expect(events.stdout.contains("removed volume vol_data of vol with its data"), "\(events)")

            // A new apply starts from an empty volume.
            #expect(try await f.micado(["apply", "-f", path]).status == 0)
            try await CloudTests.eventually(60, "the new database runs") {
                try await f.micado(["execute", "-n", "vol_db", "-c", "test -e /data/starts"]).status == 0
            }
            #expect(!(try await read().contains("kept")))
            #expect(try await f.micado(["apps", "rm", "vol", "--volumes"]).status == 0)
        }
    }

    @Test func bindMountsAndUndeclaredVolumesAreRefusedByLine() async throws {
        try await ManagerFixture.with { f in
            let path = f.state + "/bind.yaml"
            for (volume, message) in [
                ("./site:/www", "bind mounts of the host's folders are not supported"),
                ("/etc:/host-etc:ro", "bind mounts of the host's folders are not supported"),
                ("undeclared:/data", "'undeclared' is not declared in the file's volumes"),
            ] {
                try "services:\n  web:\n    image: busybox:local\n    volumes: [\"\(volume)\"]\n".write(
                    toFile: path,
                    atomically: true,
                    encoding: .utf8
                )
                let refused = try await f.micado(["apply", "-f", path, "-n", "bind"])
                #expect(refused.status == 1, "\(refused)")
                #expect(refused.stderr.contains("bind.yaml:4: services.web.volumes[0]") && refused.stderr.contains(message), "\(refused)")
            }
            #expect((try? await f.engine().service("bind_web")) == nil)
        }
    }
}
