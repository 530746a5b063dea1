import DockerEngine
import Foundation
import MicadoCore
import Testing

/// A Compose file written as public sample applications write theirs, applied on a real engine:
/// interpolation from the CLI's environment and `.env`, the container options in the service's
/// spec and in the running container, creation in dependency order, warnings in the plan.
@Suite(.serialized) struct ComposeSpecificationTests {
    static let file = """
        version: "3.8"
        name: sample
        networks:
          back: {}
        services:
          web:
            image: "busybox:${TAG:-local}"
            container_name: sample-web
            entrypoint: /bin/httpd
            command: [-f, -p, "${PORT}", -h, /www]
            ports: ["${PORT}:${PORT}"]
            hostname: web-host
            working_dir: /www
            env_file: [web.env, {path: missing.env, required: false}]
            environment:
              GREETING: "${GREETING}"
              PRICE: "$$5"
            extra_hosts: ["db.local:10.9.9.9"]
            tmpfs: [/scratch]
            cap_drop: [NET_RAW]
            stop_grace_period: 2s
            restart: on-failure
            healthcheck:
              test: ["CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1:${PORT}/ || exit 1"]
              interval: 2s
              retries: 3
            depends_on: [cache]
            networks: {back: {aliases: [front-door]}}
            deploy: {resources: {reservations: {memory: 16M}}}
          cache:
            image: busybox:local
            entrypoint: /bin/httpd
            command: [-f, -p, "80", -h, /www]
            networks: [back]
            deploy: {resources: {reservations: {memory: 16M}}}
        """

    @Test func aSampleApplicationsOwnFileRuns() async throws {
        try await ManagerFixture.with { f in
            let folder = f.state + "/sample"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try Self.file.write(toFile: folder + "/compose.yaml", atomically: true, encoding: .utf8)
            try "PORT=8097\nGREETING=from-dotenv\n".write(toFile: folder + "/.env", atomically: true, encoding: .utf8)
            // env_file: its variables reach the container; the service's environment wins over them.
            try "FROM_FILE='yes it is'\nGREETING=from-env-file\n".write(toFile: folder + "/web.env", atomically: true, encoding: .utf8)
            // The CLI's environment wins over .env.
            let environment = ["GREETING": "from-shell", "UNRELATED_SECRET": "never-sent"]
            let plan = try await f.micado(["apply", "-f", folder + "/compose.yaml", "--dry-run"], environment: environment)
            #expect(plan.status == 0, "\(plan)")
            #expect(plan.stdout.contains("warning: compose.yaml:8: services.web.container_name is not carried out"), "\(plan.stdout)")
            #expect(plan.stdout.contains("warning: compose.yaml:1: version is not carried out"), "\(plan.stdout)")
            let json = try await f.micado(
                ["apply", "-f", folder + "/compose.yaml", "--dry-run", "--output", "json"],
                environment: environment
            )
            let view = try WireFormat.decoder().decode(ApplyPlanView.self, from: Data(json.stdout.utf8))
            #expect(view.warnings.count == 2, "\(view.warnings)")

            let applied = try await f.micado(["apply", "-f", folder + "/compose.yaml"], environment: environment)
            #expect(applied.status == 0, "\(applied)")
            #expect(try await f.fetchEventually("http://\(f.engineIP):8097/") == "hello from busybox:local\n")

            // The service's spec says what the file said.
            let spec = try await f.engine().service("sample_web").spec
            let container = spec.taskTemplate.containerSpec
            #expect(container.hostname == "web-host" && container.dir == "/www")
            #expect(container.env?.contains("GREETING=from-shell") == true && container.env?.contains("PRICE=$5") == true)
            #expect(container.env?.contains("FROM_FILE=yes it is") == true && container.env?.contains("GREETING=from-env-file") == false)
            #expect(container.hosts == ["10.9.9.9 db.local"])
            #expect(container.mounts?.map(\.target) == ["/scratch"] && container.mounts?.first?.type == "tmpfs")
            #expect(container.capabilityDrop == ["CAP_NET_RAW"])
            #expect(container.stopGracePeriod == 2_000_000_000)
            #expect(container.healthCheck?.test == ["CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1:8097/ || exit 1"])
            #expect(spec.taskTemplate.restartPolicy?.condition == "on-failure")
            #expect(spec.taskTemplate.networks?.map(\.aliases) == [["web", "front-door"]])
            let networks = try await f.engine().networks(label: nil).map(\.name)
            #expect(networks.contains("micado-sample_back") && !networks.contains("micado-sample"), "\(networks)")

            // And the running container does, once its health check has passed (Swarm says running only then).
            try await CloudTests.eventually(60, "the web's health check passes") {
                try await f.engine().tasks(filters: ["service": ["sample_web"], "desired-state": ["running"]]).contains {
                    $0.status.state == .running
                }
            }
            let inside = try await f.micado([
                "execute", "-n", "sample_web", "-c", "hostname; grep db.local /etc/hosts; pwd; echo $GREETING",
            ])
            #expect(inside.status == 0, "\(inside)")
            #expect(
                inside.stdout.contains("web-host") && inside.stdout.contains("10.9.9.9") && inside.stdout.contains("from-shell"),
                "\(inside.stdout)"
            )

            // On their network they reach each other by name and alias.
            let byAlias = try await f.micado(["execute", "-n", "sample_cache", "-c", "wget -q -O- http://front-door:8097/"])
            #expect(byAlias.stdout.contains("hello from busybox:local"), "\(byAlias)")
            let byName = try await f.micado(["execute", "-n", "sample_web", "-c", "wget -q -O- http://cache/"])
            #expect(byName.stdout.contains("hello from busybox:local"), "\(byName)")

            // The cache was created before the web, which depends on it.
            let events = try WireFormat.decoder().decode(
                [EventView].self,
                from: Data(try await f.micado(["events", "--limit", "1000", "--output", "json"]).stdout.utf8)
            )
            let created = events.filter { $0.kind == .serviceCreate }.sorted { $0.id < $1.id }.map(\.subject)
            #expect(created == ["sample_cache", "sample_web"], "\(created)")
            // Nothing of the environment the file does not use reached the manager.
            let stored = try await f.micado(["events", "--limit", "1000"])
            #expect(!stored.stdout.contains("never-sent"))

            // A change of an option rolls the service and names the key.
            try Self.file.replacingOccurrences(of: "hostname: web-host", with: "hostname: web-two").write(
                toFile: folder + "/compose.yaml",
                atomically: true,
                encoding: .utf8
            )
            let rolled = try await f.micado(["apply", "-f", folder + "/compose.yaml"], environment: environment)
            #expect(rolled.status == 0 && rolled.stdout.contains("hostname"), "\(rolled)")
            try await CloudTests.eventually(60, "the new hostname is in the spec") {
                try await f.engine().service("sample_web").spec.taskTemplate.containerSpec.hostname == "web-two"
            }
            #expect(try await f.micado(["apps", "rm", "sample"]).status == 0)
            try await CloudTests.eventually(60, "the application's networks are removed") {
                try await f.engine().networks(label: nil).allSatisfy { !$0.name.hasPrefix("micado-sample") }
            }
        }
    }

    /// `depends_on: service_healthy` waits for the dependency's health check to pass before the
    /// dependent service is made; one that never passes fails the apply, naming both.
    @Test func aServiceWaitsForItsDependencyToBeHealthy() async throws {
        try await ManagerFixture.with { f in
            try await f.stopManager()
            let config = try String(contentsOfFile: f.home + "/config.yaml", encoding: .utf8)
            try config.replacingOccurrences(of: "launchTimeoutSeconds: 60", with: "launchTimeoutSeconds: 20")
                .write(toFile: f.home + "/config.yaml", atomically: true, encoding: .utf8)
            try await f.startManager()
            func file(_ check: String) -> String {
                """
                name: health
                services:
                  db:
                    image: busybox:local
                    entrypoint: /bin/sh
                    command: [-c, "sleep 3; touch /tmp/ready; exec sleep 3600"]
                    healthcheck: {test: \(check), interval: 1s, retries: 60}
                    deploy: {resources: {reservations: {memory: 16M}}}
                  web:
                    image: busybox:local
                    command: sleep 3600
                    depends_on: {db: {condition: service_healthy}}
                    deploy: {resources: {reservations: {memory: 16M}}}
                """
            }
            let path = f.state + "/health.yaml"
            try file("[CMD, test, -e, /tmp/ready]").write(toFile: path, atomically: true, encoding: .utf8)
            let applied = try await f.micado(["apply", "-f", path])
            #expect(applied.status == 0, "\(applied)")
            // When the apply returns, the database's check has passed (Swarm says running only then),
            // and the web exists.
            let db = try await f.engine().tasks(filters: ["service": ["health_db"], "desired-state": ["running"]])
            #expect(db.contains { $0.status.state == .running }, "\(db.map(\.status.state))")
            #expect(try await f.engine().service("health_web").spec.name == "health_web")
            #expect(try await f.micado(["apps", "rm", "health"]).status == 0)
            try await CloudTests.eventually(60, "the application is gone") {
                // The filter of a service that is gone is refused: gone either way.
                (try? await f.engine().tasks(filters: ["service": ["health_db"]]))?.isEmpty ?? true
            }

            // A check that never passes: the apply fails within the launch timeout and says why,
            // the web is never made (the reconciler waits too: the attack review saw it made at
            // once), and meanwhile another application's apply is not held.
            try file("[CMD, \"false\"]").write(toFile: path, atomically: true, encoding: .utf8)
            async let failing = f.micado(["apply", "-f", path, "-n", "sick"])
            try await CloudTests.eventually(30, "the sick database exists") { (try? await f.engine().service("sick_db")) != nil }
            let other = f.state + "/other.yaml"
            try "services:\n  solo:\n    image: busybox:local\n    command: sleep 3600\n".write(
                toFile: other,
                atomically: true,
                encoding: .utf8
            )
            let started = ContinuousClock.now
            #expect(try await f.micado(["apply", "-f", other, "-n", "other", "--dry-run"]).status == 0)
            #expect(ContinuousClock.now - started < .seconds(10), "another application's plan waited for the sick one")
            #expect((try? await f.engine().service("sick_web")) == nil, "the web was made before its database was healthy")
            let failed = try await failing
            #expect(failed.status == 1, "\(failed)")
            #expect(failed.stderr.contains("sick_web waits for sick_db to be healthy (depends_on: service_healthy)"), "\(failed.stderr)")
            #expect((try? await f.engine().service("sick_web")) == nil, "the reconciler made the web anyway")
            #expect(try await f.micado(["apps", "rm", "sick"]).status == 0)
        }
    }

    /// Secrets and configs from a file, a variable and the file's own text reach the containers
    /// where the specification says; no secret's value is in the store, the log, the events or
    /// the answers; a changed secret rolls the one service that mounts it.
    @Test func secretsAndConfigsReachTheContainersAndNothingElse() async throws {
        try await ManagerFixture.with { f in
            let folder = f.state + "/vault"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let password = "pw-\(UUID().uuidString)"
            let token = "tk-\(UUID().uuidString)"
            try password.write(toFile: folder + "/db_password.txt", atomically: true, encoding: .utf8)
            let file = """
                name: vault
                secrets:
                  db_password: {file: ./db_password.txt}
                  api_token: {environment: API_TOKEN}
                configs:
                  app_conf: {content: "mode=fast"}
                services:
                  db:
                    image: busybox:local
                    command: sleep 3600
                    secrets:
                      - db_password
                      - {source: api_token, target: token.txt, mode: 0400}
                    configs: [{source: app_conf, target: /etc/app.conf}]
                    deploy: {resources: {reservations: {memory: 16M}}}
                  web:
                    image: busybox:local
                    command: sleep 3600
                    configs: [app_conf]
                    deploy: {resources: {reservations: {memory: 16M}}}
                """
            try file.write(toFile: folder + "/compose.yaml", atomically: true, encoding: .utf8)
            let environment = ["API_TOKEN": token]
            let applied = try await f.micado(["apply", "-f", folder + "/compose.yaml"], environment: environment)
            #expect(applied.status == 0, "\(applied)")
            try await CloudTests.eventually(60, "both services run") {
                try await f.engine().tasks(filters: ["desired-state": ["running"]]).filter { $0.status.state == .running }.count >= 2
            }
            let inside = try await f.micado([
                "execute", "-n", "vault_db", "-c",
                "cat /run/secrets/db_password; echo; cat /run/secrets/token.txt; echo; cat /etc/app.conf; echo; stat -c %a /run/secrets/token.txt",
            ])
            #expect(inside.stdout == "\(password)\n\(token)\nmode=fast\n400\n", "\(inside)")
            #expect(try await f.micado(["execute", "-n", "vault_web", "-c", "cat /app_conf"]).stdout == "mode=fast")

            // The values are in the swarm's objects only.
            let answers = [
                try await f.micado(["events", "--limit", "1000", "--output", "json"]).stdout,
                try await f.micado(["apps", "--output", "json"]).stdout,
                try await f.micado(["list", "-c", "--output", "json"]).stdout,
                try await f.micado(["explain", "vault_db"]).stdout,
            ]
            for answer in answers { #expect(!answer.contains(password) && !answer.contains(token)) }
            try await f.stopManager()
            for name in ["micado.sqlite", "micado.sqlite-wal", "micado.sqlite-shm"] {
                guard let bytes = FileManager.default.contents(atPath: f.home + "/" + name) else { continue }
                #expect(bytes.range(of: Data(password.utf8)) == nil && bytes.range(of: Data(token.utf8)) == nil, "\(name) holds a secret")
            }
            let log = try String(contentsOfFile: f.state + "/manager.log", encoding: .utf8)
            #expect(!log.contains(password) && !log.contains(token))
            try await f.startManager()

            // A new password rolls the database, and only it; the old object goes.
            let before = try await f.engine().swarmObjects(.secret, label: nil).map(\.spec.name)
            try "pw-\(UUID().uuidString)".write(toFile: folder + "/db_password.txt", atomically: true, encoding: .utf8)
            let plan = try await f.micado(["apply", "-f", folder + "/compose.yaml", "--output", "json"], environment: environment)
            let view = try WireFormat.decoder().decode(ApplyPlanView.self, from: Data(plan.stdout.utf8))
            #expect(
                view.steps.map { "\($0.service) \($0.action.rawValue) \($0.fields)" } == [
                    "vault_db update [\"secrets\"]", "vault_web unchanged []",
                ]
            )
            try await CloudTests.eventually(60, "the old password's object is removed") {
                let now = try await f.engine().swarmObjects(.secret, label: nil).map(\.spec.name)
                return now.count == before.count && Set(now) != Set(before)
            }
            #expect(try await f.micado(["apps", "rm", "vault"]).status == 0)
            try await CloudTests.eventually(60, "the application's secrets and configs are removed") {
                let secrets = try await f.engine().swarmObjects(.secret, label: nil)
                let configs = try await f.engine().swarmObjects(.config, label: nil)
                return secrets.isEmpty && configs.isEmpty
            }
        }
    }

    /// A required variable that is missing is refused by line and field, before anything changes.
    @Test func aMissingRequiredVariableNamesItsLine() async throws {
        try await ManagerFixture.with { f in
            let file = f.state + "/required.yaml"
            try "services:\n  web:\n    image: busybox:local\n    command: [sleep, \"${SECONDS_TO_SLEEP:?say how long}\"]\n".write(
                toFile: file,
                atomically: true,
                encoding: .utf8
            )
            let result = try await f.micado(["apply", "-f", file, "-n", "req"])
            #expect(result.status == 1, "\(result)")
            #expect(
                result.stderr.contains("required.yaml:4: services.web.command[1]: SECONDS_TO_SLEEP is not set or empty: say how long"),
                "\(result.stderr)"
            )
            #expect(try await f.micado(["apps"]).stdout.contains("req") == false)
        }
    }

    /// `build:` from a folder beside the Compose file: packed by the CLI (honouring
    /// .dockerignore), built by micado under a tag of its content, not built again while the
    /// context is unchanged, and rebuilt and rolled when it changes.
    @Test func aServiceIsBuiltFromItsOwnContext() async throws {
        try await ManagerFixture.with { f in
            let folder = f.state + "/built"
            try FileManager.default.createDirectory(atPath: folder + "/web/www", withIntermediateDirectories: true)
            try """
            name: built
            services:
              web:
                build:
                  context: ./web
                  dockerfile: web.Dockerfile
                  args: {GREETING: hello-arg}
                entrypoint: /bin/httpd
                command: [-f, -p, "8099", -h, /www]
                ports: ["8099:8099"]
                deploy: {resources: {reservations: {memory: 16M}}}
            """.write(toFile: folder + "/compose.yaml", atomically: true, encoding: .utf8)
            try "FROM busybox:local\nARG GREETING\nCOPY www /www\nRUN echo $GREETING > /www/arg.txt\n".write(
                toFile: folder + "/web/web.Dockerfile",
                atomically: true,
                encoding: .utf8
            )
            try "version one\n".write(toFile: folder + "/web/www/index.html", atomically: true, encoding: .utf8)
            try "not for the image\n".write(toFile: folder + "/web/www/secret.txt", atomically: true, encoding: .utf8)
            try "# keep it out\nwww/secret.txt\n".write(toFile: folder + "/web/.dockerignore", atomically: true, encoding: .utf8)

            let dry = try await f.micado(["apply", "-f", folder + "/compose.yaml", "--dry-run"])
            #expect(dry.status == 0 && dry.stderr.contains("would build container-built-web:"), "\(dry)")
            let applied = try await f.micado(["apply", "-f", folder + "/compose.yaml"])
            #expect(applied.status == 0 && applied.stderr.contains("built container-built-web:"), "\(applied)")
            #expect(try await f.fetchEventually("http://\(f.engineIP):8099/") == "version one\n")
            #expect(try await f.fetchEventually("http://\(f.engineIP):8099/arg.txt") == "hello-arg\n")
            let leaked = try await f.micado(["execute", "-n", "built_web", "-c", "test -e /www/secret.txt && echo leaked || echo absent"])
            #expect(leaked.stdout.contains("absent"), "\(leaked)")
            let image = try await f.engine().service("built_web").spec.taskTemplate.containerSpec.image
            #expect(image.hasPrefix("container-built-web:"), "\(image)")

            // Unchanged (a new mtime is not a change): nothing is built, nothing rolls.
            try "version one\n".write(toFile: folder + "/web/www/index.html", atomically: true, encoding: .utf8)
            let again = try await f.micado(["apply", "-f", folder + "/compose.yaml"])
            #expect(again.status == 0 && again.stderr.contains("unchanged") && again.stdout.contains("nothing touched"), "\(again)")

            // A changed file: a new tag, built and rolled.
            try "version two\n".write(toFile: folder + "/web/www/index.html", atomically: true, encoding: .utf8)
            let changed = try await f.micado(["apply", "-f", folder + "/compose.yaml"])
            #expect(changed.status == 0 && changed.stdout.contains("image"), "\(changed)")
            try await CloudTests.eventually(60, "the rebuilt web answers") {
                (try? await f.fetch("http://\(f.engineIP):8099/")) == "version two\n"
            }
            let images = try await f.micado(["images"])
            #expect(images.stdout.components(separatedBy: "container-built-web:").count == 3, "\(images)")

            // A context without its Dockerfile is refused before anything is sent.
            try FileManager.default.removeItem(atPath: folder + "/web/web.Dockerfile")
            let missing = try await f.micado(["apply", "-f", folder + "/compose.yaml"])
            #expect(missing.status == 1 && missing.stderr.contains("has no web.Dockerfile"), "\(missing)")
            #expect(try await f.micado(["apps", "rm", "built"]).status == 0)
        }
    }
}
