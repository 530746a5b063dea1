import DockerEngine
import Foundation
import Logging
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
            let image = try #require(images.first { $0.name == "container-reg:latest" })
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
}
