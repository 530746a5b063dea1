import Foundation
import Logging
import MicadoClouds
import MicadoCore
import MicadoTestSupport
import Testing

/// The cloudbroker driver against a stateful stand-in of the platform that speaks the XML
/// its reference clients send and read (no recording of the real service is public).
struct CloudBrokerTests {
    static let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    static func settings(_ endpoint: String) -> CloudBrokerSettings {
        .init(
            endpoint: endpoint,
            deployments: ["cola": CloudBrokerStandIn.deployment],
            keyPair: "kp-1",
            instanceTypes: ["micro": "Micro - 64 bit"],
            flavourSources: [
                "micro": .init(
                    position: "clouds.yaml:9",
                    path: "clouds.cb.flavours[0]",
                    memoryWritten: false,
                    cpusWritten: false,
                    priceWritten: false
                )
            ]
        )
    }

    static func driver(_ cloud: CloudBrokerStandIn, password: String = CloudBrokerStandIn.password) throws -> CloudBrokerDriver {
        let api = try CloudBrokerAPI(
            endpoint: cloud.endpoint,
            credentials: .init(email: CloudBrokerStandIn.email, password: password),
            retry: .init(attempts: 4, initialDelay: .milliseconds(10), maximumDelay: .milliseconds(50)),
            logger: logger
        )
        return CloudBrokerDriver(cloud: "cb", settings: settings(cloud.endpoint), api: api, logger: logger) {
            (userData) throws(CloudError) -> String in
            "#cloud-config\n# micado test instance \(userData.labels[CloudTag.instance] ?? "?") <&>\n"
        }
    }

    static func request(token: String = EC2TestSetup.randomToken()) -> CreateInstanceRequest {
        let instance = InstanceID(token: token).rawValue
        return CreateInstanceRequest(
            idempotencyToken: token,
            location: "cola",
            flavour: Flavour(name: "micro", cpus: 1, memoryMiB: 512, pricePerHour: 0.011),
            machineImage: "default",
            userData: UserData(labels: [CloudTag.instance: instance], capacityMiB: 512, caCertificatePEM: "-----BEGIN CERTIFICATE-----\n"),
            tags: [CloudTag.manager: "mtest1", CloudTag.instance: instance, CloudTag.token: token, CloudTag.tag: "web"]
        )
    }

    @Test func namesCarryTheTagsAndNothingElseParses() {
        let tags = [
            CloudTag.manager: "m3kb17ut6r7f4v", CloudTag.instance: "m0123456789", CloudTag.token: "0123456789abcdef0123456789abcdef",
        ]
        let name = try! #require(CloudBrokerDriver.name(tags: tags))
        #expect(name == "micado.m3kb17ut6r7f4v.m0123456789.0123456789abcdef0123456789abcdef")
        #expect(CloudBrokerDriver.tags(fromName: name) == tags)
        for other in ["MiCADO-3f2a", "micado.a.b", "micado.a.b.c.d", "micado.A.b.c", "micado..b.c", "micado.a.b.c\u{1B}"] {
            #expect(CloudBrokerDriver.tags(fromName: other) == nil, "\(other)")
        }
        #expect(CloudBrokerDriver.name(tags: [CloudTag.manager: "m.x", CloudTag.instance: "i", CloudTag.token: "t"]) == nil)
    }

    @Test func createPollAddressListStop() async throws {
        try await CloudBrokerStandIn.withCloud { cloud in
            let driver = try Self.driver(cloud)
            let request = Self.request()
            let created = try await driver.create(request)
            #expect(created.state == .booting && created.address.isEmpty)
            let instance = try #require(cloud.instances.first)
            #expect(instance.deployment == CloudBrokerStandIn.deployment && instance.instanceType == CloudBrokerStandIn.instanceTypes[0].id)
            #expect(
                instance.userData == "#cloud-config\n# micado test instance \(request.tags[CloudTag.instance]!) <&>\n",
                "escaped in the XML, whole after it"
            )
            #expect(instance.openedPort == "2376,2377,7946,4789" && instance.name == CloudBrokerDriver.name(tags: request.tags))
            // What MiCADO's launcher sends, in its order.
            let sent = try #require(cloud.everything.components(separatedBy: "POST /instances.xml").last)
            let order = [
                "<deployment_id>", "<instance_type_id>", "<key_pair_id>", "<opened_port>", "<disable_autostop>", "<isolated>", "<name>",
                "<cloud-init>", "<cloud-init-b64>",
            ]
            let positions = order.compactMap { sent.range(of: $0)?.lowerBound }
            #expect(positions.count == order.count && positions == positions.sorted(), "\(sent)")
            // starting → preparing → running with an address.
            #expect(try await driver.describe(created.id)?.state == .booting)
            let running = try #require(try await driver.describe(created.id))
            #expect(
                running.state == .running && running.address == "10.97.0.10" && running.tags[CloudTag.token] == request.idempotencyToken
            )
            #expect(try await driver.list().map(\.id) == [created.id])
            #expect(try await driver.create(request).id == created.id, "the same token finds the same instance")
            #expect(cloud.count(.create) == 1)
            try await driver.delete(created.id)
            try await driver.delete(created.id)  // stopping already: fine
            #expect(try await driver.list().isEmpty, "a stopped instance is no longer listed")
            #expect(!cloud.everything.contains(CloudBrokerStandIn.password))
        }
    }

    @Test func flavoursAndPricesComeFromThePlatform() async throws {
        try await CloudBrokerStandIn.withCloud { cloud in
            let configuration = CloudConfiguration(
                name: "cb",
                driver: "cloudbroker",
                locations: ["cola": .init(min: 0, max: 2, headroomMiB: 0)],
                flavours: [Flavour(name: "micro", cpus: 1, memoryMiB: 0, pricePerHour: 0)],
                applications: ["node": "default"],
                timings: .init(),
                network: nil,
                settings: Self.settings(cloud.endpoint)
            )
            let resolved = try await Self.driver(cloud).resolve(configuration)
            #expect(resolved.flavours.map { "\($0.memoryMiB) \($0.cpus) \($0.pricePerHour)" } == ["512 1 0.011"])
        }
    }

    @Test func aLostCreateAnswerIsFoundByItsNameNotMadeTwice() async throws {
        try await CloudBrokerStandIn.withCloud { cloud in
            cloud.inject(.create, .lostAnswer)
            let created = try await Self.driver(cloud).create(Self.request())
            #expect(cloud.instances.map(\.id) == [created.id])
        }
    }

    @Test func errorsAreTypedAndNeverShowThePassword() async throws {
        try await CloudBrokerStandIn.withCloud { cloud in
            let wrong = try Self.driver(cloud, password: "not-the-password-42")
            do throws(CloudError) {
                _ = try await wrong.list()
                Issue.record("a wrong password was accepted")
            } catch {
                #expect(
                    error.kind == .auth && error.message.contains("Invalid email or password")
                        && !error.message.contains("not-the-password-42")
                )
            }
            let driver = try Self.driver(cloud)
            // The Java client's point: a failed POST may come with 200, and <errors> says so.
            cloud.inject(.create, .error(status: 200, type: nil, message: "Credit limit reached for this account"))
            do throws(CloudError) {
                _ = try await driver.create(Self.request())
                Issue.record("an <errors> answer was taken for success")
            } catch { #expect(error.kind == .quota && error.message.contains("Credit limit reached"), "\(error)") }
            cloud.inject(
                .list,
                .error(status: 503, type: nil, message: "maintenance"),
                .error(status: 503, type: nil, message: "maintenance")
            )
            #expect(try await driver.list().isEmpty, "retried through a short outage")
            #expect(cloud.instances.isEmpty)
        }
    }

    @Test(arguments: [
        ("authentication", UInt(401), "Invalid email or password.", CloudError.Kind.auth),
        ("missing rights", 403, "You may not use this deployment", .auth),
        ("wrong status", 422, "Instance can not be stopped", .badRequest),
        ("", 422, "Deployment can't be blank", .badRequest),
        ("", 200, "Credit limit reached", .quota),
        ("", 503, "maintenance", .transient),
    ])
    func errorsMapToKinds(_ case: (String, UInt, String, CloudError.Kind)) {
        #expect(CloudBrokerAPI.kind(status: `case`.1, type: `case`.0, message: `case`.2) == `case`.3)
    }

    @Test func cloudsFileReadsACloudBrokerCloud() throws {
        let yaml = """
            clouds:
              cb:
                driver: cloudbroker
                endpoint: https://cola-prototype.cloudbroker.com
                keyPair: kp-1
                locations:
                  cola: {max: 2, deployment: 2e4b9e3e-4a52-4bd5-8f39-1c5b8bd7c0a1}
                flavours:
                  - {name: micro, instanceType: Micro - 64 bit}
            """
        let cloud = try #require(try CloudsFile.parse(yaml, file: "clouds.yaml").first)
        let settings = try #require(cloud.settings(as: CloudBrokerSettings.self))
        #expect(
            settings.endpoint == "https://cola-prototype.cloudbroker.com"
                && settings.deployments == ["cola": "2e4b9e3e-4a52-4bd5-8f39-1c5b8bd7c0a1"]
        )
        #expect(settings.keyPair == "kp-1" && settings.openedPorts == "2376,2377,7946,4789" && settings.address == .private)
        #expect(settings.instanceType(of: "micro") == "Micro - 64 bit")
        for (from, to, message) in [
            (
                "{max: 2, deployment: 2e4b9e3e-4a52-4bd5-8f39-1c5b8bd7c0a1}", "{max: 2}",
                "clouds.yaml:7: clouds.cb.locations.cola.deployment is missing"
            ),
            ("keyPair: kp-1", "openedPorts: 22,http", "clouds.yaml:5: clouds.cb.openedPorts must be port numbers"),
            (
                "https://cola", "http://cola",
                "clouds.cb.endpoint: the CloudBroker endpoint http://cola-prototype.cloudbroker.com must be https://"
            ),
            (
                "{name: micro, instanceType: Micro - 64 bit}", "{name: Micro - 64 bit}",
                "clouds.yaml:9: clouds.cb.flavours[0].name 'Micro - 64 bit' must be 1 to 63 letters"
            ),
        ] {
            do throws(MicadoError) {
                _ = try CloudsFile.parse(yaml.replacingOccurrences(of: from, with: to), file: "clouds.yaml")
                Issue.record("accepted: \(to)")
            } catch { #expect(error.message.contains(message), "\(error.message)") }
        }
    }
}
