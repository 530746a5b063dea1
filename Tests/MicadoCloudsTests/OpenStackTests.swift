import Foundation
import Logging
import MicadoClouds
import MicadoCore
import MicadoTestSupport
import NIOHTTP1
import Testing

/// The openstack driver: its decoders against Nova's and Keystone's recorded samples, and
/// the whole cycle against a stateful Keystone + Nova on loopback answering with them.
@Suite(.enabled(if: CloudFixtures.runnable, "\(CloudFixtures.skipNote)"))
struct OpenStackTests {
    static let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
    static let credentials = OpenStackCredentials(
        username: OpenStackStandIn.username,
        password: OpenStackStandIn.password,
        projectName: OpenStackStandIn.project
    )

    static func settings(_ authURL: String) -> OpenStackSettings {
        .init(
            authURL: authURL,
            region: "RegionOne",
            networks: ["zone-a": OpenStackStandIn.network],
            zones: ["zone-a": "nova"],
            securityGroups: ["default"],
            keyName: nil,
            flavourSources: [
                "m1.tiny": .init(position: "clouds.yaml:9", path: "clouds.os.flavours[0]", memoryWritten: false, cpusWritten: false)
            ]
        )
    }

    static func driver(
        _ cloud: OpenStackStandIn,
        credentials: OpenStackCredentials = credentials,
        attempts: Int = 4
    ) throws -> OpenStackDriver {
        let api = try OpenStackAPI(
            authURL: cloud.authURL,
            region: "RegionOne",
            credentials: credentials,
            retry: .init(attempts: attempts, initialDelay: .milliseconds(10), maximumDelay: .milliseconds(50)),
            timeout: .seconds(20),
            logger: logger
        )
        return OpenStackDriver(cloud: "os", settings: settings(cloud.authURL), api: api, logger: logger) {
            (userData) throws(CloudError) -> String in
            "#cloud-config\n# micado test instance \(userData.labels[CloudTag.instance] ?? "?")\n"
        }
    }

    static func request(
        token: String = EC2TestSetup.randomToken(),
        instance: String = "m0123456789",
        flavour: String = "m1.tiny"
    ) -> CreateInstanceRequest {
        CreateInstanceRequest(
            idempotencyToken: token,
            location: "zone-a",
            flavour: Flavour(name: flavour, cpus: 1, memoryMiB: 512, pricePerHour: 0.01),
            machineImage: OpenStackStandIn.image,
            userData: UserData(labels: [CloudTag.instance: instance], capacityMiB: 512, caCertificatePEM: "-----BEGIN CERTIFICATE-----\n"),
            tags: [CloudTag.manager: "mtest", CloudTag.instance: instance, CloudTag.token: token, CloudTag.tag: "web"]
        )
    }

    // MARK: recorded documents

    /// Every server document among Nova's samples (each microversion's) decodes; statuses and addresses map.
    @Test func novasServerSamplesDecode() throws {
        let folder = CloudFixtures.nova + "/servers"
        let files = try #require(FileManager.default.enumerator(atPath: folder)?.allObjects as? [String])
        var decoded = 0
        for file in files.sorted() where file.hasSuffix("server-get-resp.json") || file.hasSuffix("servers-details-resp.json") {
            let data = try CloudFixtures.data(folder + "/" + file)
            let servers =
                file.hasSuffix("server-get-resp.json")
                ? [try JSONDecoder().decode(NovaServerAnswer.self, from: data).server]
                : try JSONDecoder().decode(NovaServerList.self, from: data).servers
            #expect(!servers.isEmpty, "\(file)")
            decoded += servers.count
        }
        #expect(decoded >= 20, "the samples of every microversion")
        let sample = try JSONDecoder().decode(
            NovaServerAnswer.self,
            from: CloudFixtures.data(CloudFixtures.nova + "/servers/v2.52/server-get-resp.json")
        ).server
        #expect(sample.status == "ACTIVE" && sample.tags == ["tag1", "tag2"] && sample.metadata == ["My Server Name": "Apache1"])
        #expect(OpenStackDriver.address(sample.addresses ?? [:]) == "192.168.1.30")
        let created = try JSONDecoder().decode(
            NovaCreateAnswer.self,
            from: CloudFixtures.data(CloudFixtures.nova + "/servers/v2.52/server-create-resp.json")
        )
        #expect(created.server.id == "97108291-2fd7-4dc2-a909-eaae0306a6a9")
        let flavors = try JSONDecoder().decode(
            NovaFlavorList.self,
            from: CloudFixtures.data(CloudFixtures.nova + "/flavors/flavors-detail-resp.json")
        ).flavors
        #expect(flavors.first { $0.name == "m1.medium" }.map { ($0.id, $0.ram, $0.vcpus) } ?? ("", 0, 0) == ("3", 4096, 2))
    }

    /// Keystone's recorded token answer: its catalog's compute endpoint is plain http to
    /// another machine, which would carry the token in clear: refused; the same over https is taken.
    @Test func keystonesCatalogGivesTheComputeEndpoint() throws {
        let answer = try JSONDecoder().decode(
            KeystoneTokenAnswer.self,
            from: CloudFixtures.data(CloudFixtures.keystone + "/admin/auth-password-project-scoped-response.json")
        )
        #expect(answer.token.expiresAt == "2015-11-07T02:58:43.578887Z")
        let catalog = try #require(answer.token.catalog)
        #expect(throws: CloudError.self) {
            _ = try OpenStackAPI.computeEndpoint(catalog, region: "RegionOne", authURL: "https://keystone.example/v3")
        }
        let https = catalog.map { service in
            var service = service
            service.endpoints = service.endpoints?.map { endpoint in
                var endpoint = endpoint
                endpoint.url = endpoint.url?.replacingOccurrences(of: "http://", with: "https://")
                return endpoint
            }
            return service
        }
        #expect(
            try OpenStackAPI.computeEndpoint(https, region: "RegionOne", authURL: "https://keystone.example/v3")
                == "https://23.253.248.171:8774/v2.1/a6944d763bf64ee6a275f1263fae0352"
        )
        // A Keystone elsewhere may not send the token to a port of this machine in clear.
        let local = https.map { service in
            var service = service
            service.endpoints = service.endpoints?.map { endpoint in
                var endpoint = endpoint
                endpoint.url = "http://127.0.0.1:6379/x"
                return endpoint
            }
            return service
        }
        #expect(throws: CloudError.self) {
            _ = try OpenStackAPI.computeEndpoint(local, region: "RegionOne", authURL: "https://keystone.example/v3")
        }
        #expect(
            try OpenStackAPI.computeEndpoint(local, region: "RegionOne", authURL: "http://127.0.0.1:5000/v3") == "http://127.0.0.1:6379/x"
        )
        do throws(CloudError) {
            _ = try OpenStackAPI.computeEndpoint(https, region: "RegionTwo", authURL: "https://keystone.example/v3")
            Issue.record("an unknown region was accepted")
        } catch {
            #expect(error.message.contains("no public compute endpoint in region RegionTwo (regions: RegionOne)"), "\(error.message)")
        }
    }

    @Test(arguments: [
        (UInt(403), "Quota exceeded for instances: Requested 1, but already used 10 of 10 instances", CloudError.Kind.quota),
        (403, "Policy doesn't allow os_compute_api:servers:create to be performed.", .auth),
        (413, "Quota exceeded for cores", .quota),
        (429, "This request was rate-limited.", .transient),
        (409, "Cannot 'delete' instance while it is in task_state spawning", .transient),
        (500, "No valid host was found. There are not enough hosts available.", .capacity),
        (503, "Service Unavailable", .transient),
        (400, "Invalid flavorRef provided.", .badRequest),
    ])
    func errorsMapToKinds(_ case: (UInt, String, CloudError.Kind)) {
        #expect(OpenStackAPI.kind(status: `case`.0, message: `case`.1) == `case`.2)
    }

    // MARK: the cycle against a stateful Keystone + Nova

    @Test func createPollAddressListDelete() async throws {
        try await OpenStackStandIn.withCloud { cloud in
            let driver = try Self.driver(cloud)
            let request = Self.request()
            let created = try await driver.create(request)
            #expect(created.state == .booting && created.address.isEmpty)
            let server = try #require(cloud.servers.first)
            #expect(server.name == "micado-m0123456789" && server.tags == [OpenStackDriver.serverTag] && server.metadata == request.tags)
            #expect(server.flavorID == "1" && server.network == OpenStackStandIn.network && server.zone == "nova")
            #expect(server.userData == "#cloud-config\n# micado test instance m0123456789\n")
            // BUILD, then ACTIVE with the address Nova gave.
            var described = try #require(try await driver.describe(created.id))
            #expect(described.state == .booting && described.address.isEmpty)
            described = try #require(try await driver.describe(created.id))
            #expect(described.state == .running && described.address == "10.99.0.10" && described.engineEndpoint == "tcp://10.99.0.10:2376")
            #expect(described.tags[CloudTag.token] == request.idempotencyToken)
            #expect(try await driver.list().map(\.id) == [created.id])
            #expect(try await driver.find(token: request.idempotencyToken)?.id == created.id)
            // The same token again: the same server, no second create.
            #expect(try await driver.create(request).id == created.id)
            #expect(cloud.count(.create) == 1)
            try await driver.delete(created.id)
            #expect(try await driver.describe(created.id) == nil)
            try await driver.delete(created.id)  // already gone: fine
            #expect(try await driver.list().isEmpty)
            #expect(
                cloud.everything.components(separatedBy: OpenStackStandIn.password).count == 2,
                "the password was sent once, in the one login"
            )
        }
    }

    @Test func flavoursComeFromNovaAndUnknownOnesNameTheLine() async throws {
        try await OpenStackStandIn.withCloud { cloud in
            let driver = try Self.driver(cloud)
            let configuration = CloudConfiguration(
                name: "os",
                driver: "openstack",
                locations: ["zone-a": .init(min: 0, max: 2, headroomMiB: 0)],
                flavours: [Flavour(name: "m1.tiny", cpus: 1, memoryMiB: 0, pricePerHour: 0.01)],
                applications: ["node": OpenStackStandIn.image],
                timings: .init(),
                network: nil,
                settings: Self.settings(cloud.authURL)
            )
            let resolved = try await driver.resolve(configuration)
            #expect(resolved.flavours.map(\.memoryMiB) == [512] && resolved.flavours.map(\.cpus) == [1])
            var unknown = configuration
            unknown.flavours = [Flavour(name: "m9.huge", cpus: 1, memoryMiB: 0, pricePerHour: 0.01)]
            do throws(MicadoError) {
                _ = try await driver.resolve(unknown)
                Issue.record("an unknown flavour was accepted")
            } catch {
                #expect(error.message.contains("'m9.huge' is not a flavour of this OpenStack"), "\(error.message)")
            }
        }
    }

    @Test func aLostCreateAnswerIsFoundByItsTokenNotMadeTwice() async throws {
        try await OpenStackStandIn.withCloud { cloud in
            cloud.inject(.create, .lostAnswer)
            let created = try await Self.driver(cloud).create(Self.request())
            #expect(cloud.servers.map(\.id) == [created.id], "exactly one server")
            #expect(cloud.count(.create) == 1)
        }
    }

    @Test func anExpiredTokenLogsInAgainOnce() async throws {
        try await OpenStackStandIn.withCloud { cloud in
            let driver = try Self.driver(cloud)
            #expect(try await driver.list().isEmpty)
            cloud.revokeTokens()
            #expect(try await driver.list().isEmpty)
            #expect(cloud.count(.login) == 2)
        }
    }

    @Test func errorsAreTypedAndSayWhatNovaSaid() async throws {
        try await OpenStackStandIn.withCloud { cloud in
            let driver = try Self.driver(cloud)
            cloud.inject(
                .create,
                .error(
                    status: 403,
                    kind: "forbidden",
                    message: "Quota exceeded for instances: Requested 1, but already used 10 of 10 instances"
                )
            )
            do throws(CloudError) {
                _ = try await driver.create(Self.request())
                Issue.record("a quota error was taken for success")
            } catch {
                #expect(error.kind == .quota && error.message.contains("Quota exceeded for instances"), "\(error)")
            }
            // Rate limited twice, then through: retried with backoff.
            cloud.inject(
                .list,
                .error(status: 429, kind: "overLimit", message: "This request was rate-limited."),
                .error(status: 429, kind: "overLimit", message: "again")
            )
            #expect(try await driver.list().isEmpty)
            // Always unavailable: given up after the attempts, saying how many.
            cloud.inject(
                .get,
                .error(status: 503, kind: "computeFault", message: "down"),
                .error(status: 503, kind: "computeFault", message: "down"),
                .error(status: 503, kind: "computeFault", message: "down"),
                .error(status: 503, kind: "computeFault", message: "down")
            )
            do throws(CloudError) {
                _ = try await driver.describe(UUID().uuidString.lowercased())
                Issue.record("an unavailable cloud was taken for an answer")
            } catch {
                #expect(error.kind == .transient && error.message.hasSuffix("(4 attempts)"), "\(error)")
            }
            #expect(cloud.servers.isEmpty, "nothing was created")
        }
    }

    @Test func aWrongPasswordIsAnAuthErrorThatNeverShowsIt() async throws {
        try await OpenStackStandIn.withCloud { cloud in
            let wrong = OpenStackCredentials(
                username: OpenStackStandIn.username,
                password: "not-the-password-1234",
                projectName: OpenStackStandIn.project
            )
            let driver = try Self.driver(cloud, credentials: wrong)
            do throws(CloudError) {
                _ = try await driver.list()
                Issue.record("a wrong password was accepted")
            } catch {
                #expect(error.kind == .auth && !error.message.contains("not-the-password-1234"), "\(error)")
            }
            #expect(!wrong.description.contains("not-the-password-1234"))
        }
    }

    @Test func hostileAnswersAreErrorsNotCrashes() async throws {
        try await LoopbackHTTPServer.withServer({ request in
            if request.path.hasSuffix("/auth/tokens") {
                return .json(.created, ["token": ["catalog": "not a list"]], headers: [("X-Subject-Token", "t")])
            }
            return .text(.ok, "{")
        }) { server in
            let api = try OpenStackAPI(
                authURL: server.endpoint + "/v3",
                region: nil,
                credentials: Self.credentials,
                retry: .init(attempts: 1),
                logger: Self.logger
            )
            let driver = OpenStackDriver(cloud: "os", settings: Self.settings(server.endpoint + "/v3"), api: api, logger: Self.logger) {
                _ throws(CloudError) in ""
            }
            do throws(CloudError) {
                _ = try await driver.list()
                Issue.record("a malformed catalog was accepted")
            } catch {
                #expect(error.kind == .badRequest && error.message.contains("not Keystone's JSON"), "\(error)")
            }
        }
    }

    // MARK: credentials and clouds.yaml

    @Test func credentialsComeFromOSVariablesElseMicadosFile() throws {
        let home = NSTemporaryDirectory() + "micado-os-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: home + "/credentials", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: home) }
        let fromEnvironment = try OpenStackCredentials.resolve(
            cloud: "os",
            profile: nil,
            micadoHome: home,
            environment: ["OS_USERNAME": "u", "OS_PASSWORD": "p4ssw0rd", "OS_PROJECT_NAME": "proj", "OS_USER_DOMAIN_NAME": "ud"]
        )
        #expect(fromEnvironment == OpenStackCredentials(username: "u", password: "p4ssw0rd", projectName: "proj", userDomain: "ud"))
        #expect(throws: CloudError.self) {
            _ = try OpenStackCredentials.resolve(cloud: "os", profile: nil, micadoHome: home, environment: ["OS_USERNAME": "u"])
        }
        #expect(throws: CloudError.self) {
            _ = try OpenStackCredentials.resolve(cloud: "os", profile: nil, micadoHome: home, environment: [:])
        }
        let file = home + "/credentials/os"
        try "[default]\nusername = admin\npassword = s3cret-pass\nproject_id = 6f70\n".write(
            toFile: file,
            atomically: true,
            encoding: .utf8
        )
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: file)
        do throws(CloudError) {
            _ = try OpenStackCredentials.resolve(cloud: "os", profile: nil, micadoHome: home, environment: [:])
            Issue.record("a credentials file others can read was accepted")
        } catch { #expect(error.message.contains("must be 0600") && !error.message.contains("s3cret-pass"), "\(error)") }
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file)
        #expect(
            try OpenStackCredentials.resolve(cloud: "os", profile: nil, micadoHome: home, environment: [:])
                == OpenStackCredentials(username: "admin", password: "s3cret-pass", projectID: "6f70")
        )
        // A FIFO (or a link) in its place is refused at once, never waited on.
        try FileManager.default.removeItem(atPath: file)
        #expect(mkfifo(file, 0o600) == 0)
        do throws(CloudError) {
            _ = try OpenStackCredentials.resolve(cloud: "os", profile: nil, micadoHome: home, environment: [:])
            Issue.record("a FIFO was read as a credentials file")
        } catch { #expect(error.message.contains("is not a regular file"), "\(error)") }
        try FileManager.default.removeItem(atPath: file)
        try FileManager.default.createSymbolicLink(atPath: file, withDestinationPath: "/etc/hostname")
        do throws(CloudError) {
            _ = try OpenStackCredentials.resolve(cloud: "os", profile: nil, micadoHome: home, environment: [:])
            Issue.record("a symbolic link was followed")
        } catch { #expect(error.message.contains("is a symbolic link"), "\(error)") }
    }

    static let yaml = """
        clouds:
          os:
            driver: openstack
            authURL: https://keystone.example.org:5000/v3
            region: RegionOne
            locations:
              zone-a: {max: 3, network: 3cb9bc59-5699-4588-a4b1-b87f96708bc6, zone: nova}
            flavours:
              - {name: m1.tiny, pricePerHour: 0.01}
              - {name: m1.small, memoryMiB: 2048, cpus: 1, pricePerHour: 0.03}
            applications: {node: 70a599e0-31e7-49b7-b260-868f441e862b}
            securityGroups: [default, micado]
        """

    @Test func cloudsFileReadsAnOpenStackCloud() throws {
        let cloud = try #require(try CloudsFile.parse(Self.yaml, file: "clouds.yaml").first)
        let settings = try #require(cloud.settings(as: OpenStackSettings.self))
        #expect(settings.authURL == "https://keystone.example.org:5000/v3" && settings.region == "RegionOne")
        #expect(settings.networks == ["zone-a": "3cb9bc59-5699-4588-a4b1-b87f96708bc6"] && settings.zones == ["zone-a": "nova"])
        #expect(settings.securityGroups == ["default", "micado"])
        #expect(cloud.flavours.map(\.memoryMiB) == [0, 2048], "m1.tiny's memory comes from Nova")
        #expect(settings.flavourSources["m1.tiny"]?.memoryWritten == false)
    }

    @Test(arguments: [
        (
            "authURL: https://keystone.example.org:5000/v3", "authURL: http://keystone.example.org:5000/v3",
            "clouds.yaml:4: clouds.os.authURL: the Keystone endpoint http://keystone.example.org:5000/v3 must be https://"
        ),
        ("network: 3cb9bc59-5699-4588-a4b1-b87f96708bc6, ", "", "clouds.yaml:7: clouds.os.locations.zone-a.network is missing"),
        ("applications: {node: 70a599e0-31e7-49b7-b260-868f441e862b}", "", "clouds.os.applications is missing (the openstack driver needs"),
        ("region: RegionOne", "subnet: x", "unknown field 'clouds.os.subnet'"),
    ])
    func cloudsFileErrorsNameTheLineAndField(_ change: (String, String, String)) {
        let text = Self.yaml.replacingOccurrences(of: change.0, with: change.1)
        do throws(MicadoError) {
            _ = try CloudsFile.parse(text, file: "clouds.yaml")
            Issue.record("accepted: \(change)")
        } catch {
            #expect(error.message.contains(change.2), "\(error.message)")
        }
    }
}
