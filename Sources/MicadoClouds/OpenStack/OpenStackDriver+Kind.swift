import MicadoCore

extension OpenStackDriver: CloudDriverKind {
    public static let kindName = "openstack"
    public static var cloudKeys: Set<String> { ["authURL", "region", "securityGroups", "keyName", "profile"] }
    public static var locationKeys: Set<String> { ["network", "zone"] }
    public static var flavoursFromCloud: Bool { true }
    public static var machineImageExample: String? { "image ID, e.g. node: 70a599e0-31e7-49b7-b260-868f441e862b" }

    public static func read(_ section: CloudSection) throws(MicadoError) -> any CloudDriverSettings {
        let c = section.cloud
        // A location is a network (and maybe an availability zone).
        var networks: [String: String] = [:]
        var zones: [String: String] = [:]
        for (location, l) in section.locations {
            try l.require("network", "the openstack driver gives a location's servers an address on that network: its ID")
            networks[location] = try l.identifier("network")
            zones[location] = try l.optionalIdentifier("zone")
        }
        try c.require("authURL", "Keystone v3, e.g. https://keystone.example.org:5000/v3")
        return OpenStackSettings(
            authURL: try c.endpoint("authURL", of: "Keystone"),
            region: try c.optionalIdentifier("region"),
            networks: networks,
            zones: zones,
            securityGroups: try c.names("securityGroups", what: "security group names"),
            keyName: try c.optionalIdentifier("keyName"),
            profile: try c.optionalIdentifier("profile"),
            flavourSources: section.flavourSources
        )
    }

    public static func make(_ cloud: CloudConfiguration, context: CloudDriverContext) throws(CloudError) -> any CloudDriver {
        let settings = try settings(OpenStackSettings.self, of: cloud, needs: "authURL and a network per location")
        let credentials = try OpenStackCredentials.resolve(
            cloud: cloud.name,
            profile: settings.profile,
            micadoHome: context.home.path,
            environment: context.environment
        )
        let api = try OpenStackAPI(authURL: settings.authURL, region: settings.region, credentials: credentials, logger: context.logger)
        return OpenStackDriver(cloud: cloud.name, settings: settings, api: api, authority: context.authority, logger: context.logger)
    }
}
