import Foundation
import MicadoClouds
import MicadoCore
import MicadoTestSupport
import Testing

/// The ec2 driver against moto's EC2 API server (one per test, on 127.0.0.1).
@Suite(.enabled(if: Moto.runnable, "moto_server not found on PATH: EC2 tests skipped (in CI, with CI set, they fail instead)"))
struct EC2MotoTests {
    typealias Setup = EC2TestSetup

    @Test func createDescribeListDelete() async throws {
        try await Moto.withServer { moto in
            let api = try Setup.api(moto.endpoint)
            let network = try await Setup.network(api)
            let rendered = Setup.Rendered()
            let driver = Setup.driver(api, network, rendered: rendered)
            let request = Setup.request(network, instance: "m00aa11bb22")

            let created = try await driver.create(request)
            #expect(created.id.hasPrefix("i-"))
            #expect(created.state == .booting || created.state == .running)
            #expect(created.engineEndpoint == "tcp://\(created.address):2376")
            #expect(rendered.addresses == [created.address], "the boot document names the address the instance got")
            #expect(created.tags[CloudTag.manager] == "mtest")
            #expect(created.tags[CloudTag.instance] == "m00aa11bb22")
            #expect(created.tags[CloudTag.token] == request.idempotencyToken)
            #expect(created.tags[CloudTag.tag] == "web")

            // moto's own view: one instance, in the subnet, at that address, tagged micado:… and Name.
            let seen = try await Setup.seen(api, [("InstanceId.1", created.id)])
            let instance = try #require(seen.first)
            #expect(seen.count == 1)
            #expect(instance.state == "running" || instance.state == "pending")
            #expect(instance.subnet == network.subnet)
            #expect(instance.privateAddress == created.address)
            #expect(instance.instanceType == "t3.micro")
            #expect(instance.imageId == network.image)
            #expect(instance.groups.contains(network.securityGroup))
            #expect(instance.tags["micado:manager"] == "mtest")
            #expect(instance.tags["micado:instance"] == "m00aa11bb22")
            #expect(instance.tags["micado:token"] == request.idempotencyToken)
            #expect(instance.tags["micado:tag"] == "web")
            #expect(instance.tags["Name"] == "micado-m00aa11bb22")
            #expect(instance.tags.keys.allSatisfy { !$0.hasPrefix("micado.") })

            let described = try #require(try await driver.describe(created.id))
            #expect(described.id == created.id)
            #expect(described.address == created.address)
            #expect(described.state == .running)
            #expect(described.tags[CloudTag.token] == request.idempotencyToken)

            // An instance of someone else (no micado tags) is not listed.
            _ = try await api.call(
                "RunInstances",
                [
                    ("ImageId", network.image), ("InstanceType", "t3.micro"), ("MinCount", "1"), ("MaxCount", "1"),
                    ("SubnetId", network.subnet),
                ],
                as: EC2RunInstancesAnswer.self
            )
            let listed = try await driver.list()
            #expect(listed.map(\.id) == [created.id])
            #expect(listed.first?.tags[CloudTag.instance] == "m00aa11bb22")
            #expect(listed.first?.tags[CloudTag.manager] == "mtest")
            #expect(try await driver.find(token: request.idempotencyToken)?.id == created.id)

            try await driver.delete(created.id)
            let gone = try #require(try await Setup.seen(api, [("InstanceId.1", created.id)]).first)
            #expect(gone.state == "shutting-down" || gone.state == "terminated")
            #expect(try await driver.describe(created.id)?.state == .terminated)
            // Deleting again, and deleting what never was, succeed.
            try await driver.delete(created.id)
            try await driver.delete("i-0123456789abcdef0")
            #expect(try await driver.describe("i-0123456789abcdef0") == nil)
            #expect(try await driver.describe("not an id") == nil)
        }
    }

    /// `address: public`: the manager reaches the instance at its public address; the
    /// private one, chosen by the driver, is still the one the boot document was rendered for.
    @Test func publicAddresses() async throws {
        try await Moto.withServer { moto in
            let api = try Setup.api(moto.endpoint)
            let network = try await Setup.network(api)
            let rendered = Setup.Rendered()
            let driver = Setup.driver(api, network, rendered: rendered, address: .public)
            let created = try await driver.create(Setup.request(network))
            let seen = try #require(try await Setup.seen(api).first)
            let block = try #require(EC2Driver.Block(network.cidr))
            #expect(!created.address.isEmpty)
            #expect(created.address != seen.privateAddress)
            #expect(!block.contains(try #require(IPv4(created.address))))
            #expect(created.engineEndpoint == "tcp://\(created.address):2376")
            #expect(rendered.addresses == [try #require(seen.privateAddress)])
            #expect(seen.subnet == network.subnet)
            #expect(seen.groups.contains(network.securityGroup))
            #expect(try await driver.describe(created.id)?.address == created.address)
        }
    }

    @Test func listLeavesTerminatedOut() async throws {
        try await Moto.withServer { moto in
            let api = try Setup.api(moto.endpoint)
            let network = try await Setup.network(api)
            let driver = Setup.driver(api, network)
            let kept = try await driver.create(Setup.request(network, instance: "m0000000001"))
            let removed = try await driver.create(Setup.request(network, instance: "m0000000002"))
            try await driver.delete(removed.id)
            // moto shows shutting-down first; terminated on the next look.
            _ = try await Setup.seen(api)
            let states = try await Setup.seen(api).filter { $0.id == removed.id }.map(\.state)
            #expect(states == ["terminated"])
            #expect(try await driver.list().map(\.id) == [kept.id])
            #expect(try await driver.find(token: "nothing-has-this-token") == nil)
        }
    }

    @Test func aStoppedInstanceHasFailedWithItsReason() async throws {
        try await Moto.withServer { moto in
            let api = try Setup.api(moto.endpoint)
            let network = try await Setup.network(api)
            let driver = Setup.driver(api, network)
            let created = try await driver.create(Setup.request(network))
            _ = try await api.call("StopInstances", [("InstanceId.1", created.id)], as: EC2AnyAnswer.self)
            let stopped = try #require(try await driver.describe(created.id))
            #expect(stopped.state == .failed)
            #expect(
                stopped.detail?.hasPrefix("stopped") == true || stopped.detail?.hasPrefix("stopping") == true,
                "\(stopped.detail ?? "")"
            )
            // Still listed (the manager deletes it), and found by its token (never started twice).
            #expect(try await driver.list().map(\.id) == [created.id])
            #expect(try await driver.create(Setup.request(network, token: try #require(created.tags[CloudTag.token]))).id == created.id)
        }
    }

    @Test func sameTokenMakesOneInstance() async throws {
        try await Moto.withServer { moto in
            let api = try Setup.api(moto.endpoint)
            let network = try await Setup.network(api)
            let driver = Setup.driver(api, network)
            let request = Setup.request(network)
            let first = try await driver.create(request)
            let second = try await driver.create(request)
            #expect(first.id == second.id)
            #expect(first.address == second.address)
            let tagged = try await Setup.seen(api, [("Filter.1.Name", "tag:micado:token"), ("Filter.1.Value.1", request.idempotencyToken)])
            #expect(tagged.map(\.id) == [first.id])
            #expect(try await Setup.seen(api).count == 1)
        }
    }

    @Test func addressesAreInsideTheSubnetAndNeverReused() async throws {
        try await Moto.withServer { moto in
            let api = try Setup.api(moto.endpoint)
            // A /28: 16 addresses, of which AWS reserves .0-.3 and .15.
            let network = try await Setup.network(api, cidr: "10.7.1.16/28")
            let rendered = Setup.Rendered()
            let driver = Setup.driver(api, network, rendered: rendered)
            // Someone else's instance holds an address first: the driver must not take it.
            _ = try await api.call(
                "RunInstances",
                [
                    ("ImageId", network.image), ("InstanceType", "t3.micro"), ("MinCount", "1"), ("MaxCount", "1"),
                    ("SubnetId", network.subnet),
                    ("PrivateIpAddress", "10.7.1.25"),
                ],
                as: EC2RunInstancesAnswer.self
            )
            var addresses: [String] = []
            for i in 0..<6 {
                let created = try await driver.create(Setup.request(network, instance: "m000000000\(i)"))
                addresses.append(created.address)
            }
            #expect(Set(addresses).count == addresses.count, "no address twice: \(addresses)")
            #expect(Set(rendered.addresses) == Set(addresses))
            let block = try #require(EC2Driver.Block("10.7.1.16/28"))
            for address in addresses {
                let ip = try #require(IPv4(address))
                #expect(block.contains(ip))
                #expect(ip.value >= block.network.value + 4 && ip.value <= block.network.value + 14, "\(address) is reserved by AWS")
                #expect(address != "10.7.1.25")
            }
            let inMoto = try await Setup.seen(api, [("Filter.1.Name", "subnet-id"), ("Filter.1.Value.1", network.subnet)]).compactMap(
                \.privateAddress
            )
            #expect(Set(inMoto) == Set(addresses + ["10.7.1.25"]))
        }
    }

    /// The scaler starts several at once: they never choose the same address.
    @Test func concurrentCreatesGetDistinctAddresses() async throws {
        try await Moto.withServer { moto in
            let api = try Setup.api(moto.endpoint)
            let network = try await Setup.network(api)
            let driver = Setup.driver(api, network)
            let created = try await withThrowingTaskGroup(of: CloudInstance.self) { group in
                for i in 0..<8 { group.addTask { try await driver.create(Setup.request(network, instance: "m00000000c\(i)")) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(Set(created.map(\.address)).count == 8)
            let inMoto = try await Setup.seen(api)
            #expect(inMoto.count == 8)
            #expect(Set(inMoto.compactMap(\.privateAddress)) == Set(created.map(\.address)))
        }
    }

    @Test func aFullSubnetIsAQuotaErrorAndStartsNothing() async throws {
        try await Moto.withServer { moto in
            let api = try Setup.api(moto.endpoint)
            // A /29 has 8 addresses: .4, .5 and .6 are all an instance may have.
            let network = try await Setup.network(api, cidr: "10.7.2.0/29")
            let driver = Setup.driver(api, network)
            for i in 0..<3 { _ = try await driver.create(Setup.request(network, instance: "m00000000f\(i)")) }
            let error = await #expect(throws: CloudError.self) { try await driver.create(Setup.request(network)) }
            #expect(error?.kind == .quota)
            #expect(error?.message.contains("no free address") == true)
            #expect(try await Setup.seen(api).count == 3)
        }
    }

    @Test func resolveTakesMemoryAndCPUsFromDescribeInstanceTypes() async throws {
        try await Moto.withServer { moto in
            let api = try Setup.api(moto.endpoint)
            let network = try await Setup.network(api)
            let yaml = EC2CloudsFileTests.yaml(endpoint: moto.endpoint, subnet: network.subnet)
            let cloud = try #require(try CloudsFile.parse(yaml, file: "clouds.yaml").first)
            #expect(cloud.flavours.map(\.memoryMiB) == [0, 2048], "unwritten until the cloud says")
            let driver = EC2Driver(
                cloud: cloud.name,
                settings: try #require(cloud.settings(as: EC2Settings.self)),
                api: api,
                logger: Setup.quietLogger
            ) { _, _ in "" }
            let resolved = try await CloudDrivers.resolve(cloud, driver: driver)
            #expect(resolved.flavours.map(\.name) == ["t3.micro", "m5.large"])
            #expect(resolved.flavours.map(\.memoryMiB) == [1024, 2048])
            #expect(resolved.flavours.map(\.cpus) == [2, 2])
            #expect(resolved.flavours.map(\.pricePerHour) == [0.0104, 0.096])
        }
    }

    @Test(arguments: [
        (
            "name: t3.micro", "name: t9.nope",
            "clouds.yaml:11: clouds.aws.flavours[0].name 't9.nope' is not an instance type of us-east-1 (DescribeInstanceTypes does not know it)"
        ),
        ("memoryMiB: 2048", "memoryMiB: 9000", "clouds.yaml:12: clouds.aws.flavours[1].memoryMiB (9000) is above the 8192 MiB of m5.large"),
        (
            "subnet: SUBNET", "subnet: subnet-0000000000000000f",
            "clouds.yaml:7: clouds.aws.locations.us-east-1a.subnet 'subnet-0000000000000000f' is not a subnet of us-east-1"
        ),
    ])
    func resolveNamesTheLineAndField(_ edit: (String, String, String)) async throws {
        try await Moto.withServer { moto in
            let api = try Setup.api(moto.endpoint)
            let network = try await Setup.network(api)
            let yaml = EC2CloudsFileTests.yaml(endpoint: moto.endpoint, subnet: edit.0 == "subnet: SUBNET" ? "SUBNET" : network.subnet)
                .replacingOccurrences(of: edit.0, with: edit.1).replacingOccurrences(of: "SUBNET", with: network.subnet)
            let cloud = try #require(try CloudsFile.parse(yaml, file: "clouds.yaml").first)
            let driver = EC2Driver(
                cloud: cloud.name,
                settings: try #require(cloud.settings(as: EC2Settings.self)),
                api: api,
                logger: Setup.quietLogger
            ) { _, _ in "" }
            await #expect(throws: MicadoError(.configuration, edit.2)) { try await CloudDrivers.resolve(cloud, driver: driver) }
        }
    }

    @Test func anUnknownInstanceTypeStartsNothing() async throws {
        try await Moto.withServer { moto in
            let api = try Setup.api(moto.endpoint)
            let network = try await Setup.network(api)
            var settings = Setup.settings(network, endpoint: api.endpoint)
            settings.flavourSources["t9.nope"] = .init(
                position: "clouds.yaml:14",
                path: "clouds.aws.flavours[2]",
                memoryWritten: true,
                cpusWritten: true
            )
            let driver = EC2Driver(cloud: "aws", settings: settings, api: api, logger: Setup.quietLogger) { _, _ in "" }
            let error = await #expect(throws: CloudError.self) { try await driver.create(Setup.request(network, flavour: "t9.nope")) }
            #expect(error?.kind == .badRequest)
            #expect(
                error?.message
                    == "clouds.yaml:14: clouds.aws.flavours[2].name 't9.nope' is not an instance type of us-east-1 (DescribeInstanceTypes does not know it)"
            )
            #expect(try await Setup.seen(api).isEmpty)
        }
    }

    @Test func anUnknownLocationStartsNothing() async throws {
        try await Moto.withServer { moto in
            let api = try Setup.api(moto.endpoint)
            let network = try await Setup.network(api)
            let driver = Setup.driver(api, network)
            var request = Setup.request(network)
            request.location = "eu-west-1a"
            let error = await #expect(throws: CloudError.self) { try await driver.create(request) }
            #expect(error?.kind == .badRequest)
            #expect(error?.message.contains("eu-west-1a") == true)
            #expect(try await Setup.seen(api).isEmpty)
        }
    }

    struct UserDataAttribute: Decodable, Sendable {
        struct Value: Decodable, Sendable { var value: String? }
        var userData: Value?
    }

    /// The real boot document (micado's CA, a server certificate for the chosen address)
    /// fits EC2's 16 KiB and arrives whole, base64 in transit.
    @Test func theBootDocumentArrivesWhole() async throws {
        try await Moto.withServer { moto in
            let api = try Setup.api(moto.endpoint)
            let network = try await Setup.network(api)
            let folder = NSTemporaryDirectory() + "micado-ec2-ca-\(UUID().uuidString)"
            defer { try? FileManager.default.removeItem(atPath: folder) }
            let authority = CertificateAuthority(directory: folder)
            try authority.create()
            let driver = EC2Driver(
                cloud: "aws",
                settings: Setup.settings(network, endpoint: api.endpoint),
                api: api,
                authority: authority,
                logger: Setup.quietLogger
            )
            let created = try await driver.create(Setup.request(network))
            let attribute = try await api.call(
                "DescribeInstanceAttribute",
                [("InstanceId", created.id), ("Attribute", "userData")],
                as: UserDataAttribute.self
            )
            let encoded = try #require(attribute.userData?.value)
            let text = String(decoding: try #require(Data(base64Encoded: encoded)), as: UTF8.self)
            let document = try BootDocument.parse(text)
            let certificate = try #require(document.write_files.first { $0.path.hasSuffix("/server.pem") })
            #expect(certificate.content.contains("BEGIN CERTIFICATE"))
            #expect(text.utf8.count <= EC2Driver.maximumUserDataBytes)
        }
    }

    /// `make` finds credentials and an endpoint in the clouds file and talks to it.
    @Test func makeBuildsAWorkingDriver() async throws {
        try await Moto.withServer { moto in
            let api = try Setup.api(moto.endpoint)
            let network = try await Setup.network(api)
            let yaml = EC2CloudsFileTests.yaml(endpoint: moto.endpoint, subnet: network.subnet)
            let cloud = try #require(try CloudsFile.parse(yaml, file: "clouds.yaml").first)
            let home = MicadoHome(path: NSTemporaryDirectory() + "micado-ec2-home-\(UUID().uuidString)")
            let environment = ["AWS_ACCESS_KEY_ID": "AKIAMAKE", "AWS_SECRET_ACCESS_KEY": TestCredentials.secret, "HOME": home.path]
            let driver = try CloudDrivers.make(
                cloud,
                home: home,
                stateDirectory: home.path + "/instances/aws",
                authority: CertificateAuthority(directory: home.tlsDirectory),
                logger: Setup.quietLogger,
                environment: environment
            )
            #expect(try await driver.list().isEmpty)
            #expect(CloudDrivers.names.contains("ec2"))
        }
    }
}
