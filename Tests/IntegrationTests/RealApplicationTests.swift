import DockerEngine
import Foundation
import MicadoCore
import Testing

/// A three-service application from its own Compose file on the local cloud, as issue 21
/// asks: a web built from its context, a database-like service with a named volume, a secret
/// and a health check, a cache; the web waits for the database's health. Its data survives a
/// scale-up of the web onto new instances, a secret's roll, a manager kill -9, and apps rm +
/// apply; its instance is never drained while the volume exists.
@Suite(.serialized, .enabled(if: ManagerFixture.enginesAvailable || ManagerFixture.mustRun, ManagerFixture.skipNote))
struct RealApplicationTests {
    static func file(webReplicas: Int) -> String {
        """
        name: real
        volumes:
          data: {}
        secrets:
          db_password: {file: ./db_password.txt}
        services:
          db:
            image: busybox:local
            entrypoint: /bin/sh
            command: [-c, "test -e /data/rows || echo row-1 > /data/rows; exec httpd -f -p 5432 -h /data"]
            secrets: [db_password]
            volumes: [data:/data]
            stop_grace_period: 1s
            healthcheck: {test: [CMD-SHELL, "wget -q -O /dev/null http://127.0.0.1:5432/rows"], interval: 1s, retries: 30}
            deploy: {resources: {reservations: {memory: 100M}}}
          cache:
            image: busybox:local
            entrypoint: [/bin/httpd, -f, -p, "6379", -h, /etc]
            deploy: {resources: {reservations: {memory: 32M}}}
          web:
            build: ./web
            entrypoint: [/bin/httpd, -f, -p, "8080", -h, /www]
            depends_on: {db: {condition: service_healthy}, cache: {condition: service_started}}
            deploy: {replicas: \(webReplicas), resources: {reservations: {memory: 100M}}}
        """
    }

    @Test func aThreeServiceApplicationKeepsItsDataThroughTheFleetsMoves() async throws {
        try await ManagerFixture.with(clouds: true) { f in
            let folder = f.state + "/real"
            try FileManager.default.createDirectory(atPath: folder + "/web", withIntermediateDirectories: true)
            try "FROM busybox:local\nCOPY index.html /www/index.html\n".write(
                toFile: folder + "/web/Dockerfile",
                atomically: true,
                encoding: .utf8
            )
            try "the web\n".write(toFile: folder + "/web/index.html", atomically: true, encoding: .utf8)
            try "first-password\n".write(toFile: folder + "/db_password.txt", atomically: true, encoding: .utf8)
            let path = folder + "/compose.yaml"
            try Self.file(webReplicas: 1).write(toFile: path, atomically: true, encoding: .utf8)

            let applied = try await f.micado(["apply", "-f", path])
            #expect(applied.status == 0, "\(applied)")
            func rows() async throws -> String {
                try await f.micado(["execute", "-n", "real_web", "-c", "wget -q -O- http://db:5432/rows"]).stdout
            }
            // The web reaches the database by name.
            try await CloudTests.eventually(90, "the web reads the database's rows") { try await rows().contains("row-1") }
            #expect(try await f.micado(["execute", "-n", "real_db", "-c", "echo row-2 >> /data/rows"]).status == 0)
            func node(of name: String) async throws -> String? {
                try await CloudTests.containers(f).first { $0.name.rawValue == name }?.node
            }
            let home = try #require(try await node(of: "real_db"))

            // The web grows onto new instances; the database stays where its data is.
            try Self.file(webReplicas: 3).write(toFile: path, atomically: true, encoding: .utf8)
            #expect(try await f.micado(["apply", "-f", path]).status == 0)
            try await CloudTests.eventually(120, "three replicas of the web run") {
                try await f.engine().tasks(filters: ["service": ["real_web"], "desired-state": ["running"]]).filter {
                    $0.status.state == .running
                }.count == 3
            }
            #expect(try await CloudTests.instances(f).count >= 2)
            #expect(try await node(of: "real_db") == home)

            // A changed secret rolls the database, and only it.
            try "second-password\n".write(toFile: folder + "/db_password.txt", atomically: true, encoding: .utf8)
            let plan = try WireFormat.decoder().decode(
                ApplyPlanView.self,
                from: Data(try await f.micado(["apply", "-f", path, "--output", "json"]).stdout.utf8)
            )
            #expect(plan.steps.filter { $0.action == .update }.map(\.service) == ["real_db"], "\(plan.steps)")
            try await CloudTests.eventually(90, "the rolled database has the new secret and the old rows") {
                let out = try await f.micado(["execute", "-n", "real_db", "-c", "cat /run/secrets/db_password /data/rows"]).stdout
                return out.contains("second-password") && out.contains("row-2")
            }
            #expect(try await node(of: "real_db") == home)

            // kill -9 of the manager, then apps rm and apply: the same instance, the same rows.
            #expect(try await f.stopManager(signal: SIGKILL) != 0)
            try await f.startManager()
            #expect(try await f.micado(["apps", "rm", "real"]).status == 0)
            #expect(try await f.micado(["apply", "-f", path]).status == 0)
            try await CloudTests.eventually(120, "the re-applied web reads the old rows") { try await rows().contains("row-2") }
            #expect(try await node(of: "real_db") == home)

            // Without the application, the other instances go after their grace period; the
            // database's stays, with its volume, until apps rm --volumes.
            #expect(try await f.micado(["apps", "rm", "real"]).status == 0)
            try await CloudTests.eventually(120, "only the volume's instance is left") {
                try await CloudTests.instances(f).map(\.id.rawValue) == [home]
            }
            let kept = try await f.micado(["events", "--subject", home, "--limit", "50"]).stdout
            #expect(!kept.contains("instance.draining"), "\(kept)")
            #expect(try await f.micado(["apply", "-f", path, "-n", "real"]).status == 0)
            let removed = try await f.micado(["apps", "rm", "real", "--volumes"])
            #expect(removed.status == 0 && removed.stdout.contains("volume real_data removed with its data"), "\(removed)")
            try await CloudTests.eventually(120, "the volume's instance is deleted once the volume is gone") {
                try await CloudTests.instances(f).isEmpty
            }
        }
    }
}
