import Foundation
import MicadoClouds
import MicadoCore
import MicadoTestSupport
import Synchronization
import Testing

/// What micado sends to CloudSigma is what boots: a stateful stand-in of its API 2.0 on
/// loopback (answers built from libcloud's recordings) hands each server that starts running,
/// with the address its DHCP gave, to the stand-in hypervisor, which boots the cloud-init
/// document from the server's meta. The manager joins it, runs a container there, and stops
/// and deletes the server with its drive when it is idle.
@Suite(.enabled(if: (ManagerFixture.enginesAvailable && CloudFixtures.available) || ManagerFixture.mustRun, ManagerFixture.skipNote))
struct CloudSigmaEndToEndTests {
    /// A manager whose only cloud is the stand-in CloudSigma, its login in CLOUDSIGMA_*;
    /// flavours priced from the recorded price list.
    static func withCloudSigma(_ body: (ManagerFixture, CloudSigmaStandIn, StandInHypervisor) async throws -> Void) async throws {
        try await ManagerFixture.withStandIn(
            CloudSigmaStandIn.self,
            environment: ["CLOUDSIGMA_USERNAME": CloudSigmaStandIn.username, "CLOUDSIGMA_PASSWORD": CloudSigmaStandIn.password],
            cloudsFile: { cloud in
                """
                clouds:
                  cs:
                    driver: cloudsigma
                    endpoint: \(cloud.endpoint)
                    locations:
                      zrh: {min: 0, max: 2}
                    flavours:
                      - {name: small, cpus: 1, cpuMHz: 2000, memoryMiB: 512}
                    applications: {node: \(CloudSigmaStandIn.libraryDrive)}
                    timings: {gracePeriodSeconds: 4, bootTimeoutSeconds: 60, drainTimeoutSeconds: 20}
                """
            },
            body
        )
    }

    @Test func aContainerRunsOnAServerBootedFromItsMeta() async throws {
        try await Self.withCloudSigma { f, cloud, hypervisor in
            let clouds = try WireFormat.decoder().decode(
                [CloudView].self,
                from: Data(try await f.micado(["clouds", "--output", "json"]).stdout.utf8)
            )
            let view = try #require(clouds.first { $0.name == "cs" })
            #expect(
                view.driver == "cloudsigma" && (view.flavours.first?.pricePerHour ?? 0) > 0,
                "priced from the price list: \(view.flavours)"
            )

            let launch = try await f.micado([
                "launch", "-i", "busybox:local", "-n", "web", "--container", "container-web", "-p", "8080", "-m", "100m", "--timeout", "90",
                "-s", "/bin/httpd", "-a", "-f", "-p", "8080", "-h", "/www",
            ])
            #expect(launch.status == 0, "\(launch)\n\(hypervisor.errors)")
            let server = try #require(cloud.servers.first)
            #expect(cloud.servers.count == 1 && server.status == "running" && server.cpu == 2000 && server.mem == 512 << 20)
            #expect(server.meta[CloudTag.tag] == "auto" && server.userData.hasPrefix("#cloud-config\n"))
            let views = try WireFormat.decoder().decode(
                [InstanceView].self,
                from: Data(try await f.micado(["list", "-i", "--output", "json"]).stdout.utf8)
            )
            let instance = try #require(views.first { $0.cloud == "cs" })
            #expect(instance.cloudID == server.uuid && instance.address == server.address && instance.state == .ready, "\(instance)")
            let address = try #require(server.address)
            #expect(try await f.fetchEventually("http://\(address):8080/").contains("busybox"), "served from the CloudSigma server")
            let log = (try? String(contentsOfFile: f.state + "/manager.log", encoding: .utf8)) ?? ""
            let events = try await f.micado(["events", "--limit", "200"]).stdout
            #expect(!log.contains(CloudSigmaStandIn.password) && !events.contains(CloudSigmaStandIn.password))

            #expect(try await f.micado(["quit", "-n", "container-web", "-rm"]).status == 0)
            try await CloudTests.eventually(60, "the idle server is stopped and deleted with its drive") {
                cloud.servers.isEmpty && cloud.drives.isEmpty
            }
            try await CloudTests.eventually(20, "the hypervisor tears the machine down") { hypervisor.machines.isEmpty }
            #expect(hypervisor.errors.isEmpty, "\(hypervisor.errors)")
        }
    }

    /// start and stop by tag drive CloudSigma's calls; its state agrees with micado's after each.
    @Test func startAndStopByTag() async throws {
        try await Self.withCloudSigma { f, cloud, hypervisor in
            let start = try await f.micado(["start", "-c", "cs", "-a", "node", "-f", "small", "-t", "batch01"])
            #expect(start.status == 0, "\(start)\n\(hypervisor.errors)")
            let id = try #require(start.stdout.split(separator: " ").first.map(String.init))
            let server = try #require(cloud.servers.first)
            #expect(
                cloud.servers.count == 1 && server.status == "running" && server.meta[CloudTag.tag] == "batch01"
                    && server.meta[CloudTag.instance] == id
            )
            #expect(try await f.micado(["stop", "-t", "batch01"]).status == 0)
            #expect(cloud.servers.isEmpty && cloud.drives.isEmpty, "stopped and deleted with its drive before stop answered")
            #expect(hypervisor.errors.isEmpty, "\(hypervisor.errors)")
        }
    }

    /// kill -9 between the record and the create, and between the create and storing its
    /// answer: after a restart exactly one server (and one drive) exists, and the container runs.
    @Test(arguments: ["instance.before-create", "instance.after-create"])
    func managerKilledMidCreateLeavesExactlyOneServer(crashAt point: String) async throws {
        try await Self.withCloudSigma { f, cloud, hypervisor in
            try await f.stopManager()
            f.managerEnvironment["MICADO_CRASH_AT"] = point
            try await f.startManager()
            _ = try await f.micado([
                "launch", "-i", "busybox:local", "-n", "c", "--container", "container-c", "-m", "100m", "--detach", "-a", "sleep", "3600",
            ])
            #expect(try await f.managerExit(within: 30) == 128 + SIGKILL, "the manager died at \(point)")
            #expect(cloud.servers.count == (point == "instance.after-create" ? 1 : 0))
            f.managerEnvironment["MICADO_CRASH_AT"] = nil
            try await f.startManager()
            try await CloudTests.eventually(90, "the container runs") { try await CloudTests.containers(f).first?.state == .running }
            #expect(cloud.servers.count == 1 && cloud.drives.count == 1, "exactly one server and one drive")
            #expect(hypervisor.errors.isEmpty, "\(hypervisor.errors)")
        }
    }
}
