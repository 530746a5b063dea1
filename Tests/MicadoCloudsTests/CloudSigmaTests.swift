import Foundation
import Logging
import MicadoClouds
import MicadoCore
import MicadoTestSupport
import Testing

/// The cloudsigma driver: its decoders against libcloud's recordings of CloudSigma's API
/// 2.0, and the whole cycle (clone, create, start, poll, address, stop, delete) against a
/// stateful stand-in on loopback answering with those recordings.
@Suite(.enabled(if: CloudFixtures.runnable, "\(CloudFixtures.skipNote)"))
struct CloudSigmaTests {
    static let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
    static let credentials = CloudSigmaCredentials(username: CloudSigmaStandIn.username, password: CloudSigmaStandIn.password)

    static func settings(_ endpoint: String) -> CloudSigmaSettings {
        .init(
            endpoint: endpoint,
            currency: "USD",
            cpuMHz: ["small": 2000],
            flavourSources: [
                "small": .init(
                    position: "clouds.yaml:9",
                    path: "clouds.cs.flavours[0]",
                    memoryWritten: true,
                    cpusWritten: true,
                    priceWritten: false
                )
            ]
        )
    }

    static func driver(_ cloud: CloudSigmaStandIn, credentials: CloudSigmaCredentials = credentials) throws -> CloudSigmaDriver {
        let api = try CloudSigmaAPI(
            endpoint: cloud.endpoint,
            credentials: credentials,
            retry: .init(attempts: 4, initialDelay: .milliseconds(10), maximumDelay: .milliseconds(50)),
            logger: logger
        )
        var driver = CloudSigmaDriver(cloud: "cs", settings: settings(cloud.endpoint), apis: ["zrh": api], logger: logger) {
            (userData) throws(CloudError) -> String in
            "#cloud-config\n# micado test instance \(userData.labels[CloudTag.instance] ?? "?")\n"
        }
        driver.pollEvery = .milliseconds(20)
        return driver
    }

    static func request(token: String = EC2TestSetup.randomToken(), instance: String = "m0123456789") -> CreateInstanceRequest {
        CreateInstanceRequest(
            idempotencyToken: token,
            location: "zrh",
            flavour: Flavour(name: "small", cpus: 1, memoryMiB: 1024, pricePerHour: 0.02),
            machineImage: CloudSigmaStandIn.libraryDrive,
            userData: UserData(labels: [CloudTag.instance: instance], capacityMiB: 1024, caCertificatePEM: "-----BEGIN CERTIFICATE-----\n"),
            tags: [CloudTag.manager: "mtest", CloudTag.instance: instance, CloudTag.token: token, CloudTag.tag: "web"]
        )
    }

    // MARK: recorded documents

    @Test func libcloudsRecordingsDecode() throws {
        func data(_ name: String) throws -> Data { try CloudFixtures.data(CloudFixtures.cloudSigma + "/" + name) }
        let server = try JSONDecoder().decode(CloudSigmaServer.self, from: data("servers_get.json"))
        #expect(server.uuid == "3df825cb-9c1b-470d-acbd-03e1a966c046" && server.status == "running")
        #expect(server.runtime?.nics?.first?.ip_v4?.uuid == "162.213.38.202")
        for name in [
            "servers_create.json", "servers_detail_mixed_state.json", "servers_detail_all_stopped.json", "servers_create_with_vlan.json",
        ] {
            let list = try JSONDecoder().decode(CloudSigmaList<CloudSigmaServer>.self, from: data(name))
            #expect(!list.objects.isEmpty, "\(name)")
        }
        let mixed = try JSONDecoder().decode(CloudSigmaList<CloudSigmaServer>.self, from: data("servers_detail_mixed_state.json"))
        #expect(mixed.objects.map(\.status) == ["running", "stopped"] && mixed.meta?.total_count == 2)
        let clone = try JSONDecoder().decode(CloudSigmaList<CloudSigmaDrive>.self, from: data("drives_clone.json"))
        #expect(clone.objects.first?.status == "creating")
        let library = try JSONDecoder().decode(CloudSigmaList<CloudSigmaDrive>.self, from: data("libdrives.json"))
        #expect(library.objects.first?.uuid == CloudSigmaStandIn.libraryDrive && library.meta?.total_count == 89)
        let errors = try JSONDecoder().decode([CloudSigmaError].self, from: data("start_already_started.json"))
        #expect(errors.first?.error_type == "permission")
        // Prices at the account's current level (cpu 5, mem 7), in USD.
        let pricing = try JSONDecoder().decode(CloudSigmaPricing.self, from: data("pricing.json"))
        let cpu = try #require(pricing.hourly("cpu", currency: "USD"))
        let mem = try #require(pricing.hourly("mem", currency: "USD"))
        #expect(pricing.current?["cpu"] == 5 && pricing.current?["mem"] == 7)
        #expect(cpu > 0 && mem > 0 && pricing.hourly("cpu", currency: "XXX") == nil)
        #expect(abs(CloudSigmaDriver.price(cpuMHz: 2000, memoryMiB: 1024, cpuPerGHz: cpu, memoryPerGiB: mem) - (2 * cpu + mem)) < 1e-12)
    }

    @Test(arguments: [
        (UInt(401), "permission", "Authentication failed", CloudError.Kind.auth),
        (402, "billing", "Insufficient funds", .quota),
        (403, "permission", "Resource limit exceeded: cpu", .quota),
        (403, "permission", "Cannot start guest in state \"started\"", .auth),
        (400, "validation", "Invalid mem", .badRequest),
        (500, "backend", "unknown error", .transient),
        (429, "", "slow down", .transient),
    ])
    func errorsMapToKinds(_ case: (UInt, String, String, CloudError.Kind)) {
        #expect(CloudSigmaAPI.kind(status: `case`.0, type: `case`.1, message: `case`.2) == `case`.3)
    }

    // MARK: the cycle against a stateful stand-in

    @Test func cloneCreateStartPollAddressStopDelete() async throws {
        try await CloudSigmaStandIn.withCloud { cloud in
            let driver = try Self.driver(cloud)
            let request = Self.request()
            let created = try await driver.create(request)
            #expect(created.state == .booting && created.address.isEmpty)
            let server = try #require(cloud.servers.first)
            #expect(server.name == "micado-m0123456789" && server.cpu == 2000 && server.mem == 1024 << 20)
            #expect(server.userData == "#cloud-config\n# micado test instance m0123456789\n")
            #expect(server.meta["base64_fields"] == "cloudinit-user-data" && server.meta[CloudTag.token] == request.idempotencyToken)
            #expect(cloud.drives.map(\.uuid) == [server.drive] && cloud.count(.start) == 1)
            var described = try #require(try await driver.describe(created.id))
            #expect(described.state == .booting && described.address.isEmpty)
            described = try #require(try await driver.describe(created.id))
            #expect(described.state == .running && described.address == "10.98.0.10" && described.engineEndpoint == "tcp://10.98.0.10:2376")
            #expect(described.tags[CloudTag.token] == request.idempotencyToken && described.tags["cloudinit-user-data"] == nil)
            #expect(try await driver.list().map(\.id) == [created.id])
            #expect(try await driver.create(request).id == created.id, "the same token finds the same server")
            #expect(cloud.count(.create) == 1 && cloud.count(.clone) == 1)
            try await driver.delete(created.id)
            #expect(cloud.servers.isEmpty && cloud.drives.isEmpty, "stopped, then deleted with its drive")
            try await driver.delete(created.id)
            #expect(try await driver.describe(created.id) == nil)
            #expect(
                cloud.everything.components(separatedBy: CloudSigmaStandIn.password).count == 1,
                "the password only ever travelled in base64"
            )
        }
    }

    @Test func aLostCreateAnswerIsFoundByItsTokenNotMadeTwice() async throws {
        try await CloudSigmaStandIn.withCloud { cloud in
            cloud.inject(.create, .lostAnswer)
            let created = try await Self.driver(cloud).create(Self.request())
            #expect(cloud.servers.map(\.uuid) == [created.id] && cloud.servers.first?.status == "starting")
            #expect(cloud.drives.count == 1)
        }
    }

    /// The clone is sent once: a lost answer is found by the token in the drive's meta (a
    /// retried clone once made four billed drives).
    @Test func aLostCloneAnswerMakesOneDrive() async throws {
        try await CloudSigmaStandIn.withCloud { cloud in
            cloud.inject(.clone, .lostAnswer)
            let created = try await Self.driver(cloud).create(Self.request())
            #expect(cloud.drives.count == 1 && cloud.count(.clone) == 1)
            #expect(cloud.servers.map(\.uuid) == [created.id])
        }
    }

    /// One object micado cannot read (another user's odd server) is skipped, not the list.
    @Test func oneUnreadableServerIsSkippedNotTheList() throws {
        let page = """
            {"meta": {"total_count": 2}, "objects": [
              {"uuid": "3df825cb-9c1b-470d-acbd-03e1a966c046", "status": "running", "meta": {"micado.manager": "m1"}},
              {"uuid": 5, "runtime": {"nics": "x"}}
            ]}
            """
        let list = try JSONDecoder().decode(CloudSigmaList<CloudSigmaServer>.self, from: Data(page.utf8))
        #expect(list.objects.map(\.uuid) == ["3df825cb-9c1b-470d-acbd-03e1a966c046"] && list.count == 2)
        let nova = """
            {"servers": [{"id": "9168b536-cd40-4630-b43f-b259807c6e87", "status": "ACTIVE"}, {"id": 7, "metadata": {"a": 1}}],
             "servers_links": [{"href": "x", "rel": "next"}]}
            """
        let servers = try JSONDecoder().decode(NovaServerList.self, from: Data(nova.utf8))
        #expect(servers.servers.map(\.id) == ["9168b536-cd40-4630-b43f-b259807c6e87"] && servers.hasNext)
    }

    @Test func aRefusedCreateLeavesNoDrive() async throws {
        try await CloudSigmaStandIn.withCloud { cloud in
            cloud.inject(.create, .error(status: 402, type: "billing", message: "Insufficient funds to create this server"))
            let driver = try Self.driver(cloud)
            do throws(CloudError) {
                _ = try await driver.create(Self.request())
                Issue.record("a refused create was taken for success")
            } catch {
                #expect(error.kind == .quota && error.message.contains("Insufficient funds"), "\(error)")
            }
            #expect(cloud.servers.isEmpty && cloud.drives.isEmpty)
        }
    }

    @Test func pricesComeFromThePriceList() async throws {
        try await CloudSigmaStandIn.withCloud { cloud in
            let configuration = CloudConfiguration(
                name: "cs",
                driver: "cloudsigma",
                locations: ["zrh": .init(min: 0, max: 2, headroomMiB: 0)],
                flavours: [Flavour(name: "small", cpus: 1, memoryMiB: 1024, pricePerHour: 0)],
                applications: ["node": CloudSigmaStandIn.libraryDrive],
                timings: .init(),
                network: nil,
                settings: Self.settings(cloud.endpoint)
            )
            let resolved = try await Self.driver(cloud).resolve(configuration)
            let pricing = try JSONDecoder().decode(
                CloudSigmaPricing.self,
                from: CloudFixtures.data(CloudFixtures.cloudSigma + "/pricing.json")
            )
            let expected = CloudSigmaDriver.price(
                cpuMHz: 2000,
                memoryMiB: 1024,
                cpuPerGHz: try #require(pricing.hourly("cpu", currency: "USD")),
                memoryPerGiB: try #require(pricing.hourly("mem", currency: "USD"))
            )
            #expect(resolved.flavours.first?.pricePerHour == expected && expected > 0)
        }
    }

    @Test func aWrongPasswordIsAnAuthErrorThatNeverShowsIt() async throws {
        try await CloudSigmaStandIn.withCloud { cloud in
            let wrong = CloudSigmaCredentials(username: CloudSigmaStandIn.username, password: "wrong-password-5678")
            let driver = try Self.driver(cloud, credentials: wrong)
            do throws(CloudError) {
                _ = try await driver.list()
                Issue.record("a wrong password was accepted")
            } catch {
                #expect(error.kind == .auth && !error.message.contains("wrong-password-5678"), "\(error)")
            }
            #expect(!wrong.description.contains("wrong-password-5678"))
        }
    }

    @Test func credentialsAndCloudsFile() throws {
        #expect(
            try CloudSigmaCredentials.resolve(
                cloud: "cs",
                profile: nil,
                micadoHome: "/nonexistent",
                environment: ["CLOUDSIGMA_USERNAME": "a@b.c", "CLOUDSIGMA_PASSWORD": "pw12"]
            )
                == CloudSigmaCredentials(username: "a@b.c", password: "pw12")
        )
        #expect(throws: CloudError.self) {
            _ = try CloudSigmaCredentials.resolve(
                cloud: "cs",
                profile: nil,
                micadoHome: "/nonexistent",
                environment: ["CLOUDSIGMA_USERNAME": "a:b", "CLOUDSIGMA_PASSWORD": "x"]
            )
        }
        let yaml = """
            clouds:
              cs:
                driver: cloudsigma
                currency: CHF
                locations:
                  zrh: {max: 2}
                flavours:
                  - {name: small, cpus: 1, cpuMHz: 2500, memoryMiB: 1024}
                  - {name: large, cpus: 2, memoryMiB: 4096, pricePerHour: 0.09}
                applications: {node: 6eca8d96-44bc-4637-af97-77ccd7ba4144}
            """
        let cloud = try #require(try CloudsFile.parse(yaml, file: "clouds.yaml").first)
        let settings = try #require(cloud.settings(as: CloudSigmaSettings.self))
        #expect(settings.currency == "CHF" && settings.cpuMHz == ["small": 2500, "large": 4000])
        #expect(settings.endpoint(of: "zrh") == "https://zrh.cloudsigma.com/api/2.0")
        #expect(settings.flavourSources["small"]?.priceWritten == false && settings.flavourSources["large"]?.priceWritten == true)
        for (replacement, message) in [
            ("currency: chf", "clouds.yaml:4: clouds.cs.currency must be a currency code"),
            (
                "endpoint: http://zrh.cloudsigma.com/api/2.0",
                "clouds.yaml:4: clouds.cs.endpoint: the CloudSigma endpoint http://zrh.cloudsigma.com/api/2.0 must be https://"
            ),
            ("currency: CHF\n    keyName: k", "unknown field 'clouds.cs.keyName'"),
        ] {
            do throws(MicadoError) {
                _ = try CloudsFile.parse(yaml.replacingOccurrences(of: "currency: CHF", with: replacement), file: "clouds.yaml")
                Issue.record("accepted: \(replacement)")
            } catch {
                #expect(error.message.contains(message), "\(error.message)")
            }
        }
    }
}
