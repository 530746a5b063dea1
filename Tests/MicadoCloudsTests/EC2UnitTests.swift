import Foundation
import MicadoCore
import MicadoTestSupport
import Testing

@testable import MicadoClouds

/// The ec2 driver's parts that need no server: XML, error kinds, addresses, tags, states.
@Suite struct EC2UnitTests {
    /// A DescribeInstances answer as moto writes it (trimmed).
    static let describeAnswer = """
        <?xml version="1.0" encoding="utf-8"?>
        <DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15"><reservationSet><item><reservationId>r-1</reservationId>\
        <groupSet/><instancesSet><item><blockDeviceMapping><item><deviceName>/dev/sda1</deviceName></item></blockDeviceMapping>\
        <stateReason><code/><message/></stateReason><tagSet><item><key>micado:token</key><value>tok1</value></item><item><key>Name</key><value>micado-m1</value></item>\
        <item><key>micado:tag</key><value/></item></tagSet>\
        <instanceId>i-552ffe9a98c209f01</instanceId><instanceState><code>16</code><name>running</name></instanceState>\
        <instanceType>t3.micro</instanceType><placement><availabilityZone>us-east-1a</availabilityZone></placement>\
        <subnetId>subnet-3e1</subnetId><privateIpAddress>10.5.1.7</privateIpAddress><ipAddress>54.1.2.3</ipAddress></item></instancesSet></item>\
        </reservationSet><requestId>request-id</requestId></DescribeInstancesResponse>
        """

    static func driver(address: EC2Settings.AddressKind = .private) throws -> EC2Driver {
        // Never called: port 9 on loopback.
        let api = try EC2API(
            region: "us-east-1",
            endpoint: "http://127.0.0.1:9",
            credentials: TestCredentials.credentials,
            logger: EC2TestSetup.quietLogger
        )
        return EC2Driver(
            cloud: "aws",
            settings: .init(region: "us-east-1", subnets: ["us-east-1a": "subnet-3e1"], address: address),
            api: api,
            logger: EC2TestSetup.quietLogger
        ) { _, _ in "" }
    }

    @Test func readsDescribeInstances() throws {
        let answer = try GuardedXML.decode(
            EC2DescribeInstancesAnswer.self,
            from: Array(Self.describeAnswer.utf8),
            action: "DescribeInstances"
        )
        let found = EC2Driver.instances(answer)
        #expect(found.count == 1)
        let instance = try Self.driver().instance(try #require(found.first))
        #expect(
            instance
                == CloudInstance(
                    id: "i-552ffe9a98c209f01",
                    address: "10.5.1.7",
                    state: .running,
                    engineEndpoint: "tcp://10.5.1.7:2376",
                    tags: [CloudTag.token: "tok1", "Name": "micado-m1", CloudTag.tag: ""]
                )
        )
        let public_ = try Self.driver(address: .public).instance(try #require(found.first))
        #expect(public_.address == "54.1.2.3")
        #expect(public_.engineEndpoint == "tcp://54.1.2.3:2376")
    }

    @Test func emptyListsAndMissingFields() throws {
        let empty = try GuardedXML.decode(
            EC2DescribeInstancesAnswer.self,
            from: Array("<DescribeInstancesResponse><reservationSet/></DescribeInstancesResponse>".utf8),
            action: "x"
        )
        #expect(EC2Driver.instances(empty).isEmpty)
        let absent = try GuardedXML.decode(EC2DescribeInstancesAnswer.self, from: Array("<DescribeInstancesResponse/>".utf8), action: "x")
        #expect(EC2Driver.instances(absent).isEmpty)
        // An instance without an ID is refused, not stored.
        let noID = try GuardedXML.decode(
            EC2DescribeInstancesAnswer.self,
            from: Array(
                "<r><reservationSet><item><instancesSet><item><instanceState><name>running</name></instanceState></item></instancesSet></item></reservationSet></r>"
                    .utf8
            ),
            action: "x"
        )
        #expect(throws: CloudError.self) { try Self.driver().instance(try #require(EC2Driver.instances(noID).first)) }
        // Without an address yet: no engine endpoint either.
        let pending = EC2Instance(instanceId: "i-1", instanceState: .init(code: 0, name: "pending"))
        #expect(
            try Self.driver().instance(pending) == CloudInstance(id: "i-1", address: "", state: .booting, engineEndpoint: "", tags: [:])
        )
    }

    @Test(arguments: [
        ("pending", CloudInstance.State.booting, nil as String?),
        ("running", .running, nil),
        ("shutting-down", .terminated, nil),
        ("terminated", .terminated, nil),
        ("stopping", .failed, "stopping: Client.UserInitiatedShutdown: User initiated shutdown"),
        ("stopped", .failed, "stopped: Client.UserInitiatedShutdown: User initiated shutdown"),
        ("rebooting\u{1B}", .failed, "EC2 state 'rebooting\\u{1B}'"),
    ])
    func statesMap(_ state: (String, CloudInstance.State, String?)) throws {
        let found = EC2Instance(
            instanceId: "i-1",
            instanceState: .init(code: 0, name: state.0),
            stateReason: .init(code: "Client.UserInitiatedShutdown", message: "User initiated shutdown"),
            privateIpAddress: "10.0.0.9"
        )
        let instance = try Self.driver().instance(found)
        #expect(instance.state == state.1)
        #expect(instance.detail == state.2)
    }

    @Test func errorDocumentsInBothForms() throws {
        let ec2 =
            "<Response><Errors><Error><Code>AuthFailure</Code><Message>no</Message></Error></Errors><RequestID>1</RequestID></Response>"
        let other = "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>slow</Message></Error></ErrorResponse>"
        let a = try GuardedXML.decode(EC2ErrorDocument.self, from: Array(ec2.utf8), action: "x").first
        let b = try GuardedXML.decode(EC2ErrorDocument.self, from: Array(other.utf8), action: "x").first
        #expect(a?.code == "AuthFailure" && a?.message == "no")
        #expect(b?.code == "Throttling" && b?.message == "slow")
    }

    @Test(arguments: [
        ("InsufficientInstanceCapacity", UInt(400), CloudError.Kind.capacity), ("Unsupported", 400, .capacity),
        ("InstanceLimitExceeded", 400, .quota), ("VcpuLimitExceeded", 400, .quota),
        ("AuthFailure", 401, .auth), ("UnauthorizedOperation", 403, .auth),
        ("RequestLimitExceeded", 503, .transient), ("ServiceUnavailable", 503, .transient), ("Unavailable", 503, .transient),
        ("InternalError", 500, .transient), ("Whatever", 502, .transient),
        ("InvalidAMIID.NotFound", 400, .badRequest), ("InvalidParameterValue", 400, .badRequest),
        ("InsufficientInstanceCapacity", 500, .capacity),
    ])
    func codesMapToKinds(_ mapping: (String, UInt, CloudError.Kind)) {
        #expect(EC2API.kind(code: mapping.0, status: mapping.1) == mapping.2)
    }

    @Test func refusesWhatTheParserCannotTake() {
        func refusal(_ text: String) -> String? { GuardedXML.refusal(Array(text.utf8)) }
        #expect(refusal(Self.describeAnswer) == nil)
        #expect(refusal(String(repeating: "<a>", count: 64) + String(repeating: "</a>", count: 64)) == nil)
        #expect(refusal(String(repeating: "<a>", count: 65)) == "it nests deeper than 64 elements")
        // Self-closing elements do not add up; text and quoted attributes cannot fake a closing.
        #expect(refusal("<r>" + String(repeating: "<a/>", count: 1000) + "</r>") == nil)
        #expect(
            refusal(String(repeating: "<a>/></a>", count: 1) + String(repeating: "<a>x/>", count: 65)) == "it nests deeper than 64 elements"
        )
        #expect(refusal(String(repeating: "<a b=\"/>\">", count: 65)) == "it nests deeper than 64 elements")
        // Broken structure the parser would recover from, nesting as deep as the answer is long
        // (an attack sent 200,000 levels through `</x/>`, which an earlier count took for two end tags).
        let bypass =
            "<DescribeInstancesResponse><reservationSet>" + String(repeating: "<item><x></x/>", count: 2000)
            + "</reservationSet></DescribeInstancesResponse>"
        #expect(refusal(bypass) == "it has a malformed end tag")
        #expect(refusal("<r><a></b></r>") == "its end tags do not match its start tags")
        #expect(refusal("<r><a></a>") == "it ends before its elements are closed")
        #expect(refusal("<r></r></r>") == "its end tags do not match its start tags")
        #expect(refusal("<r><a x=\"1\"></a x=\"1\"></r>") == "it has an end tag with attributes")
        #expect(refusal("<r><a") == "it ends inside a tag")
        #expect(refusal("<r>1 > 0 and <a>b</a></r>") == nil)
        #expect(refusal("<!DOCTYPE x [<!ENTITY a \"b\">]><x>&a;</x>") == "it has a declaration (<!…)")
        #expect(refusal("<x><![CDATA[a]]></x>") == "it has a declaration (<!…)")
        #expect(refusal("<x>\u{0}</x>") == "it has control characters")
        #expect(GuardedXML.refusal([0x3C, 0x78, 0xEE, 0x65, 0x3E]) == "it is not UTF-8")
        #expect(refusal("\u{FEFF}<?xml version=\"1.0\" encoding=\"UTF-16\"?><x/>") == "it declares an encoding other than UTF-8")
        #expect(refusal("<?xml version=\"1.0\" encoding=\"utf-8\"?><x/>") == nil)
    }

    /// Random damage to a valid answer is an error or a reading, never a crash.
    @Test func mutatedAnswersNeverCrash() {
        let valid = Array(Self.describeAnswer.utf8)
        var generator = SystemRandomNumberGenerator()
        // What makes XML: a mutation with these keeps the answer UTF-8 and reaches the parser.
        let markup = Array("<>/=\"'&;:?! abc#x0".utf8)
        for round in 0..<3000 {
            var bytes = valid
            if round % 3 == 0 {
                bytes = Array(valid.prefix(Int.random(in: 0..<valid.count, using: &generator)))
            } else {
                for _ in 0..<Int.random(in: 1...8, using: &generator) {
                    let byte = round % 3 == 1 ? UInt8.random(in: 0...255, using: &generator) : markup.randomElement(using: &generator) ?? 0
                    bytes[Int.random(in: 0..<bytes.count, using: &generator)] = byte
                }
            }
            do {
                _ = try GuardedXML.decode(EC2DescribeInstancesAnswer.self, from: bytes, action: "DescribeInstances")
            } catch {
                #expect(error.kind == .badRequest)
                #expect(error.message.hasPrefix("EC2 DescribeInstances: the answer is not EC2's XML"))
            }
        }
    }

    @Test func theFormIsPercentEncoded() {
        let form = EC2API.form(
            "RunInstances",
            [("TagSpecification.1.Tag.1.Key", "micado:token"), ("UserData", "a+b/c=="), ("Name", "a b&c")]
        )
        #expect(
            form
                == "Action=RunInstances&Version=2016-11-15&TagSpecification.1.Tag.1.Key=micado%3Atoken&UserData=a%2Bb%2Fc%3D%3D&Name=a%20b%26c"
        )
    }

    @Test func tagKeysTravelAsMicadoColon() {
        #expect(EC2Driver.cloudTagKey(CloudTag.manager) == "micado:manager")
        #expect(EC2Driver.cloudTagKey(CloudTag.instance) == "micado:instance")
        #expect(EC2Driver.cloudTagKey("Name") == "Name")
        for tag in [CloudTag.manager, CloudTag.instance, CloudTag.token, CloudTag.tag] {
            #expect(EC2Driver.micadoTagKey(EC2Driver.cloudTagKey(tag)) == tag)
        }
    }

    @Test func addressesSkipWhatAWSReserves() throws {
        let block = try #require(EC2Driver.Block("10.7.1.16/28"))
        #expect(block.network.description == "10.7.1.16")
        #expect(block.usable == (try #require(IPv4("10.7.1.20"))).value...(try #require(IPv4("10.7.1.30"))).value)
        #expect(EC2Driver.Block("10.7.1.21/28")?.network.description == "10.7.1.16")
        var seen = Set<IPv4>()
        for _ in 0..<2000 {
            let address = try EC2Driver.freeAddress(in: block, taken: [])
            #expect(block.usable?.contains(address.value) == true)
            seen.insert(address)
        }
        #expect(seen.count == 11, "random over the whole usable range")
        // Nearly full: the one left is found.
        let usable = try #require(block.usable)
        let taken = Set(usable.map { IPv4(value: $0) }.filter { $0.description != "10.7.1.27" })
        #expect(try EC2Driver.freeAddress(in: block, taken: taken).description == "10.7.1.27")
        let full = taken.union([IPv4(value: try #require(IPv4("10.7.1.27")).value)])
        #expect(throws: CloudError(.quota, "subnet 10.7.1.16/28 has no free address left")) {
            try EC2Driver.freeAddress(in: block, taken: full)
        }
        #expect(EC2Driver.Block("10.0.0.0/30")?.usable == nil)
        #expect(EC2Driver.Block("10.0.0.0") == nil)
        #expect(EC2Driver.Block("10.0.0.0/33") == nil)
    }

    @Test func aClosedPortIsTransientAfterTheAttempts() async throws {
        let port = try closedLoopbackPort()
        let api = try EC2TestSetup.api("http://127.0.0.1:\(port)", retry: .init(attempts: 3, initialDelay: .milliseconds(10)))
        let error = await #expect(throws: CloudError.self) { try await api.call("DescribeInstances", as: EC2DescribeInstancesAnswer.self) }
        #expect(error?.kind == .transient)
        #expect(error?.message.hasSuffix("(3 attempts)") == true, "\(error?.message ?? "")")
        #expect(!TestCredentials.leaks(error?.message ?? ""))
    }

    @Test func concurrentCreatesNeverChooseTheSameAddress() async throws {
        let facts = EC2Facts()
        let block = try #require(EC2Driver.Block("10.7.1.16/28"))
        var chosen: [IPv4] = []
        for i in 0..<11 { chosen.append(try await facts.reserveAddress(in: block, taken: [], for: "t\(i % 2)")) }
        #expect(Set(chosen).count == 11)
        await #expect(throws: CloudError.self) { try await facts.reserveAddress(in: block, taken: [], for: "t2") }
        // A create that failed gives its addresses back.
        await facts.release(for: "t1")
        for _ in 0..<5 { chosen.append(try await facts.reserveAddress(in: block, taken: [], for: "t2")) }
        #expect(Set(chosen).count == 11)
    }

    @Test func endpointsAreChecked() {
        #expect(throws: CloudError.self) {
            try EC2API(
                region: "us-east-1",
                endpoint: "http://ec2.example.org",
                credentials: TestCredentials.credentials,
                logger: EC2TestSetup.quietLogger
            )
        }
        #expect(
            EC2API.isLoopback("127.0.0.1") && EC2API.isLoopback("127.1.2.3") && EC2API.isLoopback("[::1]") && EC2API.isLoopback("localhost")
        )
        #expect(!EC2API.isLoopback("128.0.0.1") && !EC2API.isLoopback("localhost.example.org"))
        #expect(throws: CloudError.self) {
            try EC2API(
                region: "us-east-1",
                endpoint: "file:///etc/passwd",
                credentials: TestCredentials.credentials,
                logger: EC2TestSetup.quietLogger
            )
        }
        #expect(
            (try? EC2API(
                region: "eu-west-1",
                endpoint: "http://127.0.0.1:80",
                credentials: TestCredentials.credentials,
                logger: EC2TestSetup.quietLogger
            ))?.host == "127.0.0.1"
        )
        #expect(
            (try? EC2API(
                region: "eu-west-1",
                endpoint: "http://127.0.0.1:5000/",
                credentials: TestCredentials.credentials,
                logger: EC2TestSetup.quietLogger
            ))?.endpoint == "http://127.0.0.1:5000"
        )
    }
}
