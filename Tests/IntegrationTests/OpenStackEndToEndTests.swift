import Foundation
import Logging
import MicadoClouds
import MicadoCore
import MicadoTestSupport
import Synchronization
import Testing

/// What micado sends to Nova is what boots: a stateful Keystone + Nova on loopback (answers
/// built from their recorded samples) hands each server that turns ACTIVE, with the address
/// it gave, to a stand-in hypervisor that boots the user data Nova received, with the local
/// boot path, on the fixture's bridge. The manager finds the address in Nova's answer, joins
/// the engine over mutual TLS (its certificate names the instance, not an address), runs a
/// container there, and deletes the server through Nova when it is idle.
@Suite(.enabled(if: (ManagerFixture.enginesAvailable && CloudFixtures.available) || ManagerFixture.mustRun, ManagerFixture.skipNote))
struct OpenStackEndToEndTests {
    typealias Hypervisor = StandInHypervisor

    /// A manager whose only cloud is the stand-in OpenStack, its login in OS_* (as an openrc sets it).
    static func withOpenStack(_ body: (ManagerFixture, OpenStackStandIn, Hypervisor) async throws -> Void) async throws {
        try await ManagerFixture.withStandIn(
            OpenStackStandIn.self,
            environment: [
                "OS_USERNAME": OpenStackStandIn.username, "OS_PASSWORD": OpenStackStandIn.password,
                "OS_PROJECT_NAME": OpenStackStandIn.project,
            ],
            cloudsFile: { cloud in
                """
                clouds:
                  os:
                    driver: openstack
                    authURL: \(cloud.authURL)
                    region: RegionOne
                    locations:
                      zone-a: {min: 0, max: 2, network: \(OpenStackStandIn.network)}
                    flavours:
                      - {name: m1.tiny, pricePerHour: 0.012}
                      - {name: m1.small, pricePerHour: 0.034}
                    applications: {node: \(OpenStackStandIn.image)}
                    timings: {gracePeriodSeconds: 4, bootTimeoutSeconds: 60, drainTimeoutSeconds: 20}
                """
            },
            body
        )
    }

    @Test func aContainerRunsOnAServerBootedFromWhatMicadoSentNova() async throws {
        try await Self.withOpenStack { f, cloud, hypervisor in
            // micado clouds: the flavours as Nova completes them, with the file's prices.
            let clouds = try WireFormat.decoder().decode(
                [CloudView].self,
                from: Data(try await f.micado(["clouds", "--output", "json"]).stdout.utf8)
            )
            let view = try #require(clouds.first { $0.name == "os" })
            #expect(view.driver == "openstack")
            #expect(
                view.flavours.map { "\($0.name) \($0.memoryMiB) \($0.cpus) \($0.pricePerHour)" } == [
                    "m1.tiny 512 1 0.012", "m1.small 2048 1 0.034",
                ]
            )

            let launch = try await f.micado([
                "launch", "-i", "busybox:local", "-n", "web", "--container", "container-web", "-p", "8080", "-m", "100m", "--timeout", "90",
                "-s", "/bin/httpd", "-a", "-f", "-p", "8080", "-h", "/www",
            ])
            #expect(launch.status == 0, "\(launch)\n\(hypervisor.errors)")
            let servers = cloud.servers
            #expect(servers.count == 1, "\(servers.map(\.id))")
            let server = try #require(servers.first)
            #expect(server.status == "ACTIVE" && server.flavorID == "1" && server.tags == [OpenStackDriver.serverTag])
            #expect(
                server.metadata[CloudTag.tag] == "auto" && server.metadata[CloudTag.manager] != nil
                    && server.metadata[CloudTag.token] != nil
            )
            // The boot document names no address: its certificate names the instance.
            #expect(server.userData.hasPrefix("#cloud-config\n") && server.userData.contains("BEGIN CERTIFICATE"))
            let views = try WireFormat.decoder().decode(
                [InstanceView].self,
                from: Data(try await f.micado(["list", "-i", "--output", "json"]).stdout.utf8)
            )
            let instance = try #require(views.first { $0.cloud == "os" })
            #expect(instance.cloudID == server.id && instance.address == server.address && instance.state == .ready, "\(instance)")
            let address = try #require(server.address)
            #expect(try await f.fetchEventually("http://\(address):8080/").contains("busybox"), "served from the OpenStack server")
            // No key material nor the password in the manager's events or log.
            let events = try await f.micado(["events", "--limit", "200"]).stdout
            let log = (try? String(contentsOfFile: f.state + "/manager.log", encoding: .utf8)) ?? ""
            #expect(!events.contains("PRIVATE KEY") && !log.contains("PRIVATE KEY"))
            #expect(!events.contains(OpenStackStandIn.password) && !log.contains(OpenStackStandIn.password))

            // Idle: drained and deleted through Nova; the machine goes with it.
            #expect(try await f.micado(["quit", "-n", "container-web", "-rm"]).status == 0)
            try await CloudTests.eventually(60, "the idle server is deleted in Nova") { cloud.servers.isEmpty }
            try await CloudTests.eventually(20, "the hypervisor tears the machine down") { hypervisor.machines.isEmpty }
            #expect(try await ManagerFixture.leftovers(of: Hypervisor.machineID(server.id)).isEmpty)
            #expect(hypervisor.errors.isEmpty, "\(hypervisor.errors)")
        }
    }

    /// start and stop by tag drive Nova's calls; Nova's state agrees with micado's after each.
    @Test func startAndStopByTag() async throws {
        try await Self.withOpenStack { f, cloud, hypervisor in
            let start = try await f.micado(["start", "-c", "os", "-a", "node", "-f", "m1.small", "-t", "batch01"])
            #expect(start.status == 0, "\(start)\n\(hypervisor.errors)")
            let id = try #require(start.stdout.split(separator: " ").first.map(String.init))
            let server = try #require(cloud.servers.first)
            #expect(
                cloud.servers.count == 1 && server.flavorID == "2" && server.metadata[CloudTag.tag] == "batch01"
                    && server.metadata[CloudTag.instance] == id
            )
            let stop = try await f.micado(["stop", "-t", "batch01"])
            #expect(stop.status == 0, "\(stop)")
            #expect(cloud.servers.isEmpty, "Nova deleted it before stop answered")
            #expect(hypervisor.errors.isEmpty, "\(hypervisor.errors)")
        }
    }

    /// kill -9 between the record and Nova's create, and between the create and storing its
    /// answer (Nova has no client token: the resumed create finds the first by its metadata).
    @Test(arguments: ["instance.before-create", "instance.after-create"])
    func managerKilledMidCreateLeavesExactlyOneServer(crashAt point: String) async throws {
        try await Self.withOpenStack { f, cloud, hypervisor in
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
            #expect(cloud.servers.count == 1, "exactly one server in Nova")
            #expect(hypervisor.errors.isEmpty, "\(hypervisor.errors)")
        }
    }
}
