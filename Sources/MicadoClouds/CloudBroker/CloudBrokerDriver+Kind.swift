import Foundation
import MicadoCore

extension CloudBrokerDriver: CloudDriverKind {
    public static let kindName = "cloudbroker"
    public static var cloudKeys: Set<String> { ["endpoint", "keyPair", "openedPorts", "address", "profile"] }
    public static var locationKeys: Set<String> { ["deployment"] }
    public static var flavourKeys: Set<String> { ["instanceType"] }
    public static var flavoursFromCloud: Bool { true }
    public static var pricesFromCloud: Bool { true }

    public static func read(_ section: CloudSection) throws(MicadoError) -> any CloudDriverSettings {
        let c = section.cloud
        // A location is a deployment.
        var deployments: [String: String] = [:]
        for (location, l) in section.locations {
            try l.require("deployment", "the cloudbroker driver starts a location's instances from that deployment: its ID")
            deployments[location] = try l.identifier("deployment")
        }
        // A flavour may name the platform's own instance type.
        var instanceTypes: [String: String] = [:]
        for (flavour, f) in section.flavours where f.has("instanceType") {
            instanceTypes[flavour.name] = try f.text("instanceType")
        }
        try c.require("endpoint", "the platform's address, e.g. https://cola-prototype.cloudbroker.com")
        let endpoint = try c.endpoint("endpoint", of: "CloudBroker")
        let ports = try c.text("openedPorts", default: "2376,2377,7946,4789")
        guard
            ports.split(separator: ",").allSatisfy({
                Int($0.trimmingCharacters(in: .whitespaces)).map { (1...65535).contains($0) } ?? false
            })
        else {
            throw c.fail("openedPorts", "\(c.path).openedPorts must be port numbers separated by commas, e.g. 2376,2377,7946,4789")
        }
        let address = try c.text("address", default: "private")
        guard let kind = EC2Settings.AddressKind(rawValue: address) else {
            throw c.fail(
                "address",
                "\(c.path).address must be private (internal-ip-address) or public (external-ip-address), not '\(Text.escaped(address))'"
            )
        }
        return CloudBrokerSettings(
            endpoint: endpoint,
            deployments: deployments,
            keyPair: try c.optionalIdentifier("keyPair"),
            openedPorts: ports,
            address: kind,
            profile: try c.optionalIdentifier("profile"),
            instanceTypes: instanceTypes,
            flavourSources: section.flavourSources
        )
    }

    public static func make(_ cloud: CloudConfiguration, context: CloudDriverContext) throws(CloudError) -> any CloudDriver {
        let settings = try settings(CloudBrokerSettings.self, of: cloud, needs: "an endpoint and a deployment per location")
        let credentials = try CloudBrokerCredentials.resolve(
            cloud: cloud.name,
            profile: settings.profile,
            micadoHome: context.home.path,
            environment: context.environment
        )
        let api = try CloudBrokerAPI(endpoint: settings.endpoint, credentials: credentials, logger: context.logger)
        return CloudBrokerDriver(cloud: cloud.name, settings: settings, api: api, authority: context.authority, logger: context.logger)
    }
}
