import DockerEngine
import Foundation
import Logging
import MicadoClouds
import MicadoCore
import Testing

/// The private registry: real docker-registry with htpasswd and TLS from micado's CA.
@Suite(.enabled(if: ManagerFixture.enginesAvailable || ManagerFixture.mustRun, ManagerFixture.skipNote))
struct RegistryTests {
    @Test func builtImagesArePushedAndPulledByInstances() async throws {
        try await ManagerFixture.with(clouds: true) { f in
            let tarball = f.state + "/app.tar"
            try Data(
                TarArchive(entries: [
                    .init(
                        name: "app/Dockerfile",
                        contents: Array(
                            "FROM busybox:local\nCOPY index.html /www/index.html\nCMD [\"httpd\", \"-f\", \"-p\", \"80\", \"-h\", \"/www\"]\n"
                                .utf8
                        )
                    ),
                    .init(name: "app/index.html", contents: Array("from the registry\n".utf8)),
                ]).bytes()
            ).write(to: URL(fileURLWithPath: tarball))
            let build = try await f.micado(["build", "-n", "container-reg", "-f", tarball])
            #expect(build.status == 0, "\(build)")
            let images = try WireFormat.decoder().decode(
                [ImageView].self,
                from: Data(try await f.micado(["images", "--output", "json"]).stdout.utf8)
            )
            let image = try #require(images.first { $0.name.rawValue == "container-reg:latest" })
            let registry = "\(f.subnetPrefix).1:5000"
            #expect(image.reference == "\(registry)/container-reg:latest")
            #expect(image.digest?.hasPrefix("sha256:") == true)
            // The push is reported with its duration, and with the engine's retries if it needed any.
            let built = try await f.micado(["events", "--subject", "container-reg:latest"]).stdout
            #expect(built.contains("pushed as \(registry)/container-reg:latest (\(image.digest ?? "")) in "), "\(built)")

            // Restart: the registry's data survives, and the instance pulls from it.
            try await f.stopManager()
            try await f.startManager()
            let launch = try await f.micado([
                "launch", "-i", "container-reg", "-n", "reg", "--container", "container-reg1", "-p", "8080:80", "-m", "32m",
            ])
            #expect(launch.status == 0, "\(launch)")
            let view = try #require(
                try WireFormat.decoder().decode(
                    [ContainerView].self,
                    from: Data(try await f.micado(["list", "-c", "--output", "json"]).stdout.utf8)
                ).first
            )
            #expect(try await f.fetchEventually("http://\(try #require(view.endpoint))/") == "from the registry\n")
            let instance = try #require(f.instanceIDs().first)
            let address = try String(contentsOfFile: f.instancesDirectory + "/\(instance)/address", encoding: .utf8)
            let engine = try await EngineClient.connect(
                to: EngineEndpoint(
                    transport: .tcp(host: address, port: 2376),
                    tls: .init(
                        caCertificate: f.home + "/tls/ca.pem",
                        certificate: f.home + "/tls/client.pem",
                        key: f.home + "/tls/client-key.pem"
                    )
                ),
                http: f.http,
                logger: Logger(label: "test")
            )
            // Pulled by digest: exactly what was pushed.
            #expect(
                try await engine.inspectImage("\(registry)/container-reg@\(image.digest!)").repoDigests?.first?.contains(image.digest!)
                    == true,
                "pulled from the registry"
            )

            let inUse = try await f.micado(["images", "rm", "container-reg"])
            #expect(inUse.status == 1 && inUse.stderr.contains("is used by container-reg1"), "\(inUse)")
            #expect(try await f.micado(["quit", "-n", "container-reg1", "-rm"]).status == 0)
            #expect(try await f.micado(["images", "rm", "container-reg"]).status == 0)
            #expect(!(try await f.micado(["images"]).stdout.contains("container-reg")))
        }
    }

    /// An image the manager's engine does not hold (a "public" one, in a registry the test
    /// stands up on loopback as the internet) is pulled by the instance through micado's
    /// pull-through cache, by the digest the cache gave at apply; one no registry has is refused
    /// as unknown and changes nothing; no registry process carries the password in its arguments.
    @Test func publicImagesComeThroughThePullThroughCache() async throws {
        try await ManagerFixture.with(clouds: true) { f in
            let upstream = try await UpstreamRegistry.start(in: f.state + "/upstream", port: f.port + 13)
            do {
                try await upstream.push("busybox:local", of: try await f.engine(), as: "library/pubtool", tag: "1", scratch: f.state)
                try await f.stopManager()
                let config = try String(contentsOfFile: f.home + "/config.yaml", encoding: .utf8)
                    .replacingOccurrences(of: "  # pullThrough: https://registry-1.docker.io", with: "  pullThrough: \(upstream.url)")
                try config.write(toFile: f.home + "/config.yaml", atomically: true, encoding: .utf8)
                try await f.startManager()

                let cache = "\(f.subnetPrefix).1:5001"
                let folder = f.state + "/pub"
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                let path = folder + "/compose.yaml"
                try
                    "services:\n  tool:\n    image: pubtool:1\n    command: sleep 3600\n    deploy: {resources: {reservations: {memory: 32M}}}\n"
                    .write(toFile: path, atomically: true, encoding: .utf8)
                let dry = try await f.micado(["apply", "-f", path, "--dry-run", "--output", "json"])
                #expect(dry.status == 0, "\(dry)")
                let plan = try WireFormat.decoder().decode(ApplyPlanView.self, from: Data(dry.stdout.utf8))
                #expect(plan.pulls == [.init(service: "tool", image: "pubtool:1", reference: "\(cache)/library/pubtool:1")])

                let applied = try await f.micado(["apply", "-f", path])
                #expect(applied.status == 0 && applied.stdout.contains("which the nodes pull as \(cache)/library/pubtool:1"), "\(applied)")
                try await CloudTests.eventually(120, "the public image runs on an instance") {
                    try await CloudTests.containers(f).contains { $0.name.rawValue == "pub_tool" && $0.state == .running }
                }
                let engine = try await f.engine()
                let image = try await engine.service("pub_tool").spec.taskTemplate.containerSpec.image
                #expect(image.hasPrefix("\(cache)/library/pubtool:1@sha256:"), "\(image)")
                await #expect(throws: MicadoError.self, "the manager's engine never had it") { try await engine.inspectImage("pubtool:1") }
                #expect(try await CloudTests.instances(f).count >= 1)

                // An image no registry has: refused by service, nothing changes.
                try "services:\n  tool:\n    image: nosuch:1\n".write(toFile: path, atomically: true, encoding: .utf8)
                let refused = try await f.micado(["apply", "-f", path])
                #expect(refused.status == 1 && refused.stderr.contains("services.tool: unknown image 'nosuch:1'"), "\(refused)")
                #expect(try await engine.service("pub_tool").spec.taskTemplate.containerSpec.image == image)

                let password = try String(contentsOfFile: f.home + "/registry/password", encoding: .utf8)
                    .trimmingCharacters(in: .whitespacesAndNewlines)
                for pid in try FileManager.default.contentsOfDirectory(atPath: "/proc") where Int(pid) != nil {
                    guard let arguments = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { continue }
                    #expect(!String(decoding: arguments, as: UTF8.self).contains(password), "process \(pid) shows the password")
                }
            } catch {
                await upstream.stop()
                throw error
            }
            await upstream.stop()
        }
    }

    /// A 1 GiB image reaches an instance through the registry; the manager's peak memory
    /// (VmHWM) grows by far less than the image: no byte of it passes through the manager.
    @Test func aLargeImageNeverPassesThroughTheManager() async throws {
        try await ManagerFixture.with(clouds: true) { f in
            func peakMiB() throws -> Int {
                let status = try String(contentsOfFile: "/proc/\(try #require(f.manager).pid)/status", encoding: .utf8)
                let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") })
                return try #require(Int(line.split(separator: " ").dropFirst().first ?? "")) / 1024
            }
            let before = try peakMiB()
            let tarball = f.state + "/big.tar"
            try Data(
                TarArchive(entries: [
                    .init(
                        name: "big/Dockerfile",
                        contents: Array("FROM busybox:local\nRUN dd if=/dev/zero of=/big bs=1M count=1024\n".utf8)
                    )
                ]).bytes()
            ).write(to: URL(fileURLWithPath: tarball))
            let build = try await f.micado(["build", "-n", "container-big", "-f", tarball])
            #expect(build.status == 0, "\(build)")
            let size = try #require(try await f.engine().inspectImage("container-big:latest").size)
            #expect(size >= 1 << 30)
            let launch = try await f.micado(["launch", "-i", "container-big", "-n", "big", "-m", "32m", "-a", "sleep", "3600"])
            #expect(launch.status == 0, "\(launch)")
            let views = try await CloudTests.containers(f)
            #expect(views.first?.state == .running && views.first?.node != nil, "\(views)")
            let after = try peakMiB()
            #expect(after - before < 256, "the manager's peak memory grew from \(before) MiB to \(after) MiB for a \(size >> 20) MiB image")
        }
    }
}
