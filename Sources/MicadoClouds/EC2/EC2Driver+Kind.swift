import Foundation
import MicadoCore

extension EC2Driver: CloudDriverKind {
    public static let kindName = "ec2"
    public static var cloudKeys: Set<String> { ["region", "endpoint", "securityGroups", "keyName", "address", "profile"] }
    public static var locationKeys: Set<String> { ["subnet"] }
    public static var flavoursFromCloud: Bool { true }
    public static var machineImageExample: String? { "AMI ID, e.g. node: ami-0abc…" }

    public static func read(_ section: CloudSection) throws(MicadoError) -> any CloudDriverSettings {
        let c = section.cloud
        // A location is an availability zone and needs a subnet there.
        var subnets: [String: String] = [:]
        var subnetPositions: [String: String] = [:]
        for (location, l) in section.locations {
            try l.require("subnet", "the ec2 driver starts a location's instances in a subnet of that availability zone")
            subnets[location] = try l.identifier("subnet")
            subnetPositions[location] = l.position("subnet")
        }
        try c.require("region", "the ec2 driver needs the AWS region, e.g. eu-west-1")
        let region = try c.identifier("region")
        guard region.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else {
            throw c.fail("region", "\(c.path).region must be a region name such as eu-west-1")
        }
        var endpoint: String?
        if c.has("endpoint") {
            let text = try c.text("endpoint")
            guard let url = URL(string: text), let scheme = url.scheme, ["http", "https"].contains(scheme), let host = url.host,
                !host.isEmpty,
                url.query == nil, url.user == nil, url.path.isEmpty || url.path == "/"
            else {
                throw c.fail("endpoint", "\(c.path).endpoint must be http(s)://HOST[:PORT] of an EC2-compatible API")
            }
            // A session token travels in a header: in clear text only to this machine.
            guard scheme == "https" || CloudHTTP.isLoopback(host) else {
                throw c.fail(
                    "endpoint",
                    "\(c.path).endpoint must be https:// (plain http only to this machine: 127.0.0.1, ::1, localhost)"
                )
            }
            endpoint = text.hasSuffix("/") ? String(text.dropLast()) : text
        }
        let address = try c.text("address", default: "private")
        guard let kind = EC2Settings.AddressKind(rawValue: address) else {
            throw c.fail("address", "\(c.path).address must be private or public, not '\(Text.escaped(address))'")
        }
        return EC2Settings(
            region: region,
            endpoint: endpoint,
            subnets: subnets,
            securityGroups: try c.names("securityGroups", what: "security group IDs"),
            keyName: try c.optionalIdentifier("keyName"),
            address: kind,
            profile: try c.optionalIdentifier("profile"),
            flavourSources: section.flavourSources,
            subnetPositions: subnetPositions
        )
    }

    public static func make(_ cloud: CloudConfiguration, context: CloudDriverContext) throws(CloudError) -> any CloudDriver {
        let settings = try settings(EC2Settings.self, of: cloud, needs: "a region and a subnet per location")
        let credentials = try EC2Credentials.resolve(
            cloud: cloud.name,
            profile: settings.profile,
            micadoHome: context.home.path,
            environment: context.environment
        )
        let api = try EC2API(region: settings.region, endpoint: settings.endpoint, credentials: credentials, logger: context.logger)
        return EC2Driver(cloud: cloud.name, settings: settings, api: api, authority: context.authority, logger: context.logger)
    }
}
