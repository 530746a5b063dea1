import DockerEngine
import Foundation
import MicadoCore
import Testing

/// Applications from Compose files on real engines, instances and Caddy.
@Suite(.serialized, .enabled(if: ManagerFixture.enginesAvailable || ManagerFixture.mustRun, ManagerFixture.skipNote))
struct ApplicationTests {
    static func shop(web image: String = "busybox:local", withAPI: Bool = true) -> String {
        var text = """
            name: shop
            services:
              web:
                image: \(image)
                entrypoint: /bin/httpd
                command: [-f, -p, "8090", -h, /www]
                ports: ["8090:8090"]
                deploy:
                  replicas: 2
                  resources: {reservations: {memory: 32M}}
                  update_config: {parallelism: 1, delay: 1s, monitor: 2s}
                x-micado: {domain: shop.test}

            """
        if withAPI {
            text += """
                  api:
                    image: busybox:local
                    entrypoint: /bin/httpd
                    command: [-f, -p, "80", -h, /www]
                    deploy: {resources: {reservations: {memory: 32M}}}

                """
        }
        return text
    }

    static func apps(_ f: ManagerFixture) async throws -> [ApplicationView] {
        try WireFormat.decoder().decode([ApplicationView].self, from: Data(try await f.micado(["apps", "--output", "json"]).stdout.utf8))
    }

    static func kinds(_ f: ManagerFixture) async throws -> [String] {
        try WireFormat.decoder().decode(
            [EventView].self,
            from: Data(try await f.micado(["events", "--limit", "1000", "--output", "json"]).stdout.utf8)
        ).map(\.kind.rawValue)
    }

    @Test func anApplicationRunsRollsAndGoesAway() async throws {
        try await ManagerFixture.with(clouds: true) { f in
            let context = f.state + "/v2.tar"
            try Data(
                TarArchive(entries: [
                    .init(name: "app/", kind: .directory, mode: 0o755),
                    .init(name: "app/Dockerfile", contents: Array("FROM busybox:local\nCOPY index.html /www/index.html\n".utf8)),
                    .init(name: "app/index.html", contents: Array("v2\n".utf8)),
                ]).bytes()
            ).write(to: URL(fileURLWithPath: context))
            #expect(try await f.micado(["build", "-n", "container-shopv2", "-f", context]).status == 0)

            let folder = f.state + "/shop"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let file = folder + "/compose.yaml"
            try Self.shop().write(toFile: file, atomically: true, encoding: .utf8)
            let applied = try await f.micado(["apply", "-f", file])
            #expect(applied.status == 0 && applied.stdout.contains("shop is at revision 1"), "\(applied)")

            // Two replicas publish one port: the scaler starts an instance for each.
            try await CloudTests.eventually(90, "both web replicas and the api run") {
                let services = try await Self.apps(f).first?.services ?? []
                return services.map { "\($0.name) \($0.runningReplicas)/\($0.desiredReplicas)" } == ["shop_api 1/1", "shop_web 2/2"]
            }
            #expect(Set(try await CloudTests.instances(f).map(\.id)).count == 2)
            #expect(try await ProxyTests.eventually(f, host: "shop.test", status: 200) == "hello from busybox:local\n")
            // The api is found by its service name on the application's network.
            try await CloudTests.eventually(30, "web reaches api by name") {
                let reply = try await f.micado([
                    "execute", "-n", "shop_web", "-c", "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | timeout 3 nc api 80",
                ])
                return reply.stdout.contains("hello from busybox:local")
            }
            for command in [["logs", "-n", "shop_api"], ["info", "-s", "shop_web"], ["explain", "shop_web"]] {
                let result = try await f.micado(command)
                #expect(result.status == 0, "\(command): \(result)")
            }
            #expect(try await f.micado(["quit", "-n", "shop_web"]).stderr.contains("is a service of application shop"))

            // Unchanged: nothing touched.
            let before = try await Self.kinds(f).filter { $0.hasPrefix("application.") || $0.hasPrefix("service.") }.count
            let again = try await f.micado(["apply", "-f", file])
            #expect(again.status == 0 && again.stdout.contains("nothing touched"), "\(again)")
            #expect(try await Self.kinds(f).filter { $0.hasPrefix("application.") || $0.hasPrefix("service.") }.count == before)

            // A new image: the dry run says so and changes nothing; the apply rolls the
            // replicas one at a time, and the domain answers all along.
            try Self.shop(web: "container-shopv2").write(toFile: file, atomically: true, encoding: .utf8)
            let dry = try await f.micado(["apply", "-f", file, "--dry-run", "--output", "json"])
            let plan = try WireFormat.decoder().decode(ApplyPlanView.self, from: Data(dry.stdout.utf8))
            #expect(plan.steps.first { $0.service == "shop_web" } == .init(service: "shop_web", action: .update, fields: ["image"]))
            #expect(try await f.micado(["apply", "-f", file]).status == 0)
            var answers: [String] = []
            var failures: [String] = []
            let deadline = ContinuousClock.now + .seconds(90)
            while answers.suffix(6) != Array(repeating: "v2\n", count: 6), ContinuousClock.now < deadline {
                let (status, body) = try await ProxyTests.viaProxy(f, host: "shop.test")
                if status == 200 { answers.append(body) } else { failures.append("\(status) \(body)") }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(answers.suffix(6) == Array(repeating: "v2\n", count: 6), "the roll finished: \(answers.suffix(10))")
            #expect(failures.isEmpty, "the domain answered during the roll: \(failures)")

            // A service removed from the file is removed.
            try Self.shop(web: "container-shopv2", withAPI: false).write(toFile: file, atomically: true, encoding: .utf8)
            let removed = try await f.micado(["apply", "-f", file])
            #expect(removed.status == 0 && removed.stdout.contains("remove"), "\(removed)")
            #expect(try await Self.apps(f).first?.services.map(\.name) == ["shop_web"])

            #expect(try await f.micado(["apps", "rm", "shop"]).status == 0)
            #expect(try await Self.apps(f).isEmpty)
            _ = try await ProxyTests.eventually(f, host: "shop.test", status: 404)
            try await CloudTests.eventually(60, "the application's network is removed") {
                let engine = try await f.engine()
                return try await engine.networks(label: nil).allSatisfy { $0.name != "micado-shop" }
            }
        }
    }

    /// An update whose tasks fail is rolled back by Swarm, and the reconciler leaves it so
    /// (rolling it again would loop) and says why.
    @Test func aFailingUpdateIsRolledBackAndStaysRolledBack() async throws {
        try await ManagerFixture.with { f in
            let good = """
                name: roll
                services:
                  web:
                    image: busybox:local
                    entrypoint: /bin/httpd
                    command: [-f, -p, "8095", -h, /www]
                    ports: ["8095:8095"]
                    deploy: {resources: {reservations: {memory: 16M}}, update_config: {monitor: 3s}}
                """
            let file = f.state + "/roll.yaml"
            try good.write(toFile: file, atomically: true, encoding: .utf8)
            #expect(try await f.micado(["apply", "-f", file]).status == 0)
            #expect(try await f.fetchEventually("http://\(f.engineIP):8095/") == "hello from busybox:local\n")

            try good.replacingOccurrences(of: "entrypoint: /bin/httpd", with: "entrypoint: /bin/false").write(
                toFile: file,
                atomically: true,
                encoding: .utf8
            )
            let bad = try await f.micado(["apply", "-f", file])
            #expect(bad.status == 0 && bad.stdout.contains("entrypoint"), "\(bad)")
            try await CloudTests.eventually(90, "the reconciler reports the rolled-back update") {
                try await ApplicationTests.kinds(f).contains("service.update-failed")
            }
            let service = try await f.engine().service("roll_web")
            #expect(service.updateStatus?.rolledBack == true, "\(String(describing: service.updateStatus))")
            #expect(service.spec.taskTemplate.containerSpec.command == ["/bin/httpd"], "it runs its previous spec, not rolled again")
            // The rollback restarts the previous task: on a saturated machine that takes a while.
            #expect(try await f.fetchEventually("http://\(f.engineIP):8095/", seconds: 60) == "hello from busybox:local\n")
            let events = try await f.micado(["events", "--subject", "roll_web"]).stdout
            #expect(events.contains("rolled it back"), "\(events)")

            // The fixed file rolls forward again.
            try good.replacingOccurrences(of: "/www]", with: "/www, -v]").write(toFile: file, atomically: true, encoding: .utf8)
            #expect(try await f.micado(["apply", "-f", file]).status == 0)
            try await CloudTests.eventually(60, "the fixed spec runs") {
                try await f.engine().service("roll_web").spec.taskTemplate.containerSpec.args?.last == "-v"
            }
        }
    }

    @Test func badFilesChangeNothing() async throws {
        try await ManagerFixture.with { f in
            let file = f.state + "/compose.yaml"
            let cases: [(String, String)] = [
                (
                    "services:\n  web:\n    image: busybox:local\n    volumes: [./a:/b]\n",
                    "compose.yaml:4: services.web.volumes[0]: bind mounts of the host's folders are not supported"
                ),
                (
                    "services:\n  web:\n    image: busybox:local\n    deploy: {replicas: many}\n",
                    "compose.yaml:4: services.web.deploy.replicas must be a whole number"
                ),
                (
                    "services:\n  a:\n    image: busybox:local\n    ports: [\"80:80\"]\n  b:\n    image: busybox:local\n    ports: [\"80:81\"]\n",
                    "port 80 is already published by services.a"
                ),
                (
                    "services:\n  web:\n    image: busybox:local\n    x-micado: {scaling: {min: 1, max: 2, metric: cpu, target: 50, downStabilization: forever}}\n",
                    "downStabilization must be a duration"
                ),
                ("services:\n  web:\n    image: nosuch:image\n", "unknown image 'nosuch:image'"),
            ]
            for (text, message) in cases {
                try text.write(toFile: file, atomically: true, encoding: .utf8)
                let result = try await f.micado(["apply", "-f", file, "-n", "bad"])
                #expect(result.status != 0 && result.stderr.contains(message), "\(result)")
            }
            #expect(try await f.micado(["apply", "-f", f.state + "/none.yaml"]).stderr.contains("no such file"))
            let rm = try await f.micado(["apps", "rm", "../x"])
            #expect(rm.status == 1 && rm.stderr.contains("no application named ../x"), "names in the path are decoded: \(rm)")
            // An image path with `..` is refused before anything is stored (Swarm would refuse it later).
            try "services:\n  web:\n    image: x/../busybox:local\n".write(toFile: file, atomically: true, encoding: .utf8)
            #expect(try await f.micado(["apply", "-f", file, "-n", "trav"]).stderr.contains("invalid image"))
            // A service of that name that micado did not make is not taken over, and nothing is stored.
            let foreign = try await f.engine().createService(
                ServiceSpec(
                    name: "zz_s",
                    labels: nil,
                    taskTemplate: .init(containerSpec: .init(image: "busybox:local", args: ["sleep", "3600"])),
                    mode: .init(replicas: 0),
                    endpointSpec: nil
                )
            )
            try "services:\n  s:\n    image: busybox:local\n".write(toFile: file, atomically: true, encoding: .utf8)
            let taken = try await f.micado(["apply", "-f", file, "-n", "zz"])
            #expect(taken.status == 1 && taken.stderr.contains("was not created by this manager"), "\(taken)")
            try await f.engine().removeService(foreign)
            #expect(try await Self.apps(f).isEmpty)
            let engine = try await f.engine()
            #expect(try await engine.services(label: "micado.application").isEmpty)
            #expect(!(try await Self.kinds(f)).contains { $0.hasPrefix("application.") })
        }
    }
}
