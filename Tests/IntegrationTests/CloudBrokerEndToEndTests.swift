import Foundation
import MicadoClouds
import MicadoCore
import MicadoTestSupport
import Synchronization
import Testing

/// What micado sends to the CloudBroker Platform is what boots: a stateful stand-in that
/// speaks the reference clients' XML hands each instance that starts running, with the
/// internal address it gave, to the stand-in hypervisor, which boots the base64 `cloud-init`
/// micado sent. The manager joins it, runs a container there, and stops it when idle.
@Suite(.enabled(if: ManagerFixture.enginesAvailable || ManagerFixture.mustRun, ManagerFixture.skipNote))
struct CloudBrokerEndToEndTests {
    /// A manager whose only cloud is the stand-in platform, its login in CLOUDBROKER_*.
    static func withCloudBroker(_ body: (ManagerFixture, CloudBrokerStandIn, StandInHypervisor) async throws -> Void) async throws {
        try await ManagerFixture.withStandIn(
            CloudBrokerStandIn.self,
            environment: ["CLOUDBROKER_EMAIL": CloudBrokerStandIn.email, "CLOUDBROKER_PASSWORD": CloudBrokerStandIn.password],
            cloudsFile: { cloud in
                """
                clouds:
                  cb:
                    driver: cloudbroker
                    endpoint: \(cloud.endpoint)
                    locations:
                      cola: {min: 0, max: 2, deployment: \(CloudBrokerStandIn.deployment)}
                    flavours:
                      - {name: micro, instanceType: Micro - 64 bit}
                    timings: {gracePeriodSeconds: 4, bootTimeoutSeconds: 60, drainTimeoutSeconds: 20}
                """
            },
            body
        )
    }

    @Test func aContainerRunsOnAnInstanceBootedFromItsCloudInit() async throws {
        try await Self.withCloudBroker { f, cloud, hypervisor in
            let clouds = try WireFormat.decoder().decode(
                [CloudView].self,
                from: Data(try await f.micado(["clouds", "--output", "json"]).stdout.utf8)
            )
            let view = try #require(clouds.first { $0.name == "cb" })
            #expect(view.flavours.map { "\($0.name) \($0.memoryMiB) \($0.cpus) \($0.pricePerHour)" } == ["micro 512 1 0.011"])

            let launch = try await f.micado([
                "launch", "-i", "busybox:local", "-n", "web", "--container", "container-web", "-p", "8080", "-m", "100m", "--timeout", "90",
                "-s", "/bin/httpd", "-a", "-f", "-p", "8080", "-h", "/www",
            ])
            #expect(launch.status == 0, "\(launch)\n\(hypervisor.errors)")
            let instance = try #require(cloud.live.first)
            #expect(cloud.live.count == 1 && instance.status == "running" && instance.userData.hasPrefix("#cloud-config\n"))
            let views = try WireFormat.decoder().decode(
                [InstanceView].self,
                from: Data(try await f.micado(["list", "-i", "--output", "json"]).stdout.utf8)
            )
            let listed = try #require(views.first { $0.cloud == "cb" })
            #expect(listed.cloudID == instance.id && listed.address == instance.address && listed.state == .ready, "\(listed)")
            let address = try #require(instance.address)
            #expect(try await f.fetchEventually("http://\(address):8080/").contains("busybox"), "served from the CloudBroker instance")
            let log = (try? String(contentsOfFile: f.state + "/manager.log", encoding: .utf8)) ?? ""
            #expect(!log.contains(CloudBrokerStandIn.password))

            #expect(try await f.micado(["quit", "-n", "container-web", "-rm"]).status == 0)
            try await CloudTests.eventually(60, "the idle instance is stopped") { cloud.live.isEmpty }
            try await CloudTests.eventually(20, "the hypervisor tears the machine down") { hypervisor.machines.isEmpty }
            #expect(hypervisor.errors.isEmpty, "\(hypervisor.errors)")
        }
    }

    /// start and stop by tag drive the platform's calls; its state agrees with micado's after each.
    @Test func startAndStopByTag() async throws {
        try await Self.withCloudBroker { f, cloud, hypervisor in
            let start = try await f.micado(["start", "-c", "cb", "-a", "node", "-f", "micro", "-t", "batch01"])
            #expect(start.status == 0, "\(start)\n\(hypervisor.errors)")
            let id = try #require(start.stdout.split(separator: " ").first.map(String.init))
            let instance = try #require(cloud.live.first)
            #expect(cloud.live.count == 1 && instance.status == "running" && instance.name.contains(".\(id)."))
            #expect(try await f.micado(["stop", "-t", "batch01"]).status == 0)
            #expect(cloud.live.isEmpty, "stopped before stop answered")
            #expect(hypervisor.errors.isEmpty, "\(hypervisor.errors)")
        }
    }

    /// kill -9 between the record and the create, and between the create and storing its
    /// answer: the restarted manager finds the instance by its name (the platform takes no
    /// client token) and makes no second one.
    @Test(arguments: ["instance.before-create", "instance.after-create"])
    func managerKilledMidCreateLeavesExactlyOneInstance(crashAt point: String) async throws {
        try await Self.withCloudBroker { f, cloud, hypervisor in
            try await f.stopManager()
            f.managerEnvironment["MICADO_CRASH_AT"] = point
            try await f.startManager()
            _ = try await f.micado([
                "launch", "-i", "busybox:local", "-n", "c", "--container", "container-c", "-m", "100m", "--detach", "-a", "sleep", "3600",
            ])
            #expect(try await f.managerExit(within: 30) == 128 + SIGKILL)
            #expect(cloud.live.count == (point == "instance.after-create" ? 1 : 0))
            f.managerEnvironment["MICADO_CRASH_AT"] = nil
            try await f.startManager()
            try await CloudTests.eventually(90, "the container runs") { try await CloudTests.containers(f).first?.state == .running }
            #expect(cloud.live.count == 1 && cloud.instances.count == 1, "exactly one instance")
            #expect(hypervisor.errors.isEmpty, "\(hypervisor.errors)")
        }
    }
}
