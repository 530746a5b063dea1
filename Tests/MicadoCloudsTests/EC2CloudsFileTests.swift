import Foundation
import MicadoClouds
import MicadoCore
import MicadoTestSupport
import Testing

/// The ec2 part of clouds.yaml: errors name the line and the field.
@Suite struct EC2CloudsFileTests {
    static func yaml(endpoint: String = "http://127.0.0.1:4566", subnet: String = "subnet-0abc") -> String {
        """
        clouds:
          aws:
            driver: ec2
            region: us-east-1
            endpoint: \(endpoint)
            locations:
              us-east-1a: {min: 0, max: 4, subnet: \(subnet)}
            securityGroups: [sg-0123]
            address: private
            flavours:
              - {name: t3.micro, pricePerHour: 0.0104}
              - {name: m5.large, memoryMiB: 2048, pricePerHour: 0.096}
            applications:
              node: ami-0abc
        """
    }

    @Test func parsesAnEC2Cloud() throws {
        let text = Self.yaml() + "\n    keyName: micado-admin\n    profile: work\n"
        let cloud = try #require(try CloudsFile.parse(text, file: "clouds.yaml").first)
        let ec2 = try #require(cloud.settings(as: EC2Settings.self))
        #expect(cloud.driver == "ec2")
        #expect(cloud.network == nil)
        #expect(ec2.region == "us-east-1")
        #expect(ec2.endpoint == "http://127.0.0.1:4566")
        #expect(ec2.subnets == ["us-east-1a": "subnet-0abc"])
        #expect(ec2.subnetPositions == ["us-east-1a": "clouds.yaml:7"])
        #expect(ec2.securityGroups == ["sg-0123"])
        #expect(ec2.keyName == "micado-admin")
        #expect(ec2.profile == "work")
        #expect(ec2.address == .private)
        #expect(cloud.applications == ["node": "ami-0abc"])
        #expect(cloud.locations["us-east-1a"] == LocationBounds(min: 0, max: 4, headroomMiB: 0))
        // What the file does not say of a flavour, DescribeInstanceTypes will.
        #expect(cloud.flavours.map(\.memoryMiB) == [0, 2048])
        #expect(
            ec2.flavourSources["t3.micro"]
                == .init(position: "clouds.yaml:11", path: "clouds.aws.flavours[0]", memoryWritten: false, cpusWritten: false)
        )
        #expect(ec2.flavourSources["m5.large"]?.memoryWritten == true)
    }

    @Test func defaultsAreAWSAndPrivateAddresses() throws {
        let text = Self.yaml().replacingOccurrences(of: "    endpoint: http://127.0.0.1:4566\n", with: "").replacingOccurrences(
            of: "    address: private\n",
            with: ""
        )
        let ec2 = try #require(try CloudsFile.parse(text, file: "clouds.yaml").first?.settings(as: EC2Settings.self))
        #expect(ec2.endpoint == nil)
        #expect(ec2.address == .private)
        let credentials = AWSCredentials(accessKeyID: "AKIA", secretAccessKey: "x")
        let api = try EC2API(region: ec2.region, endpoint: ec2.endpoint, credentials: credentials, logger: EC2TestSetup.quietLogger)
        #expect(api.endpoint == "https://ec2.us-east-1.amazonaws.com")
    }

    @Test(arguments: [
        (
            "    region: us-east-1\n", "",
            "clouds.yaml:3: clouds.aws.region is missing (the ec2 driver needs the AWS region, e.g. eu-west-1)"
        ),
        ("region: us-east-1", "region: us east", "clouds.yaml:4: clouds.aws.region must be a name without spaces or control characters"),
        (
            "{min: 0, max: 4, subnet: subnet-0abc}", "{min: 0, max: 4}",
            "clouds.yaml:7: clouds.aws.locations.us-east-1a.subnet is missing (the ec2 driver starts a location's instances in a subnet of that availability zone)"
        ),
        (
            "{min: 0, max: 4, subnet: subnet-0abc}", "",
            "clouds.yaml:7: clouds.aws.locations.us-east-1a.subnet is missing (the ec2 driver starts a location's instances in a subnet of that availability zone)"
        ),
        ("address: private", "address: both", "clouds.yaml:9: clouds.aws.address must be private or public, not 'both'"),
        (
            "endpoint: http://127.0.0.1:4566", "endpoint: ftp://127.0.0.1",
            "clouds.yaml:5: clouds.aws.endpoint must be http(s)://HOST[:PORT] of an EC2-compatible API"
        ),
        (
            "endpoint: http://127.0.0.1:4566", "endpoint: http://ec2.example.org",
            "clouds.yaml:5: clouds.aws.endpoint must be https:// (plain http only to this machine: 127.0.0.1, ::1, localhost)"
        ),
        (
            "securityGroups: [sg-0123]", "securityGroups: sg-0123",
            "clouds.yaml:8: clouds.aws.securityGroups must be a list of security group IDs"
        ),
        (
            "securityGroups: [sg-0123]", "network: {bridge: micado0}",
            "clouds.yaml:8: unknown field 'clouds.aws.network' (known: address, applications, driver, endpoint, flavours, keyName, locations, profile, region, securityGroups, timings)"
        ),
        (
            "    applications:\n      node: ami-0abc", "",
            "clouds.yaml:3: clouds.aws.applications is missing (the ec2 driver needs application name → AMI ID, e.g. node: ami-0abc…)"
        ),
        ("{name: t3.micro, pricePerHour: 0.0104}", "{name: t3.micro}", "clouds.yaml:11: clouds.aws.flavours[0].pricePerHour is missing"),
    ])
    func errorsNameLineAndField(_ edit: (String, String, String)) {
        let text = Self.yaml().replacingOccurrences(of: edit.0, with: edit.1)
        #expect(text != Self.yaml())
        #expect(throws: MicadoError(.configuration, edit.2)) { try CloudsFile.parse(text, file: "clouds.yaml") }
    }

    @Test func theLocalDriverTakesNoSubnet() {
        let text = """
            clouds:
              local:
                driver: local
                network: {bridge: micado0, bridgeCIDR: 10.213.0.1/24, first: 10.213.0.10, last: 10.213.0.20, manager: 10.213.0.2}
                locations:
                  eu: {subnet: subnet-0abc}
                flavours:
                  - {name: small, memoryMiB: 512, pricePerHour: 0.01}
            """
        #expect(
            throws: MicadoError(
                .configuration,
                "clouds.yaml:6: unknown field 'clouds.local.locations.eu.subnet' (known: headroomMiB, max, min)"
            )
        ) {
            try CloudsFile.parse(text, file: "clouds.yaml")
        }
    }
}
