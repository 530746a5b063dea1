import MicadoCore

extension OpenStackDriver: CloudDriverKind {
    public static let kindName = "openstack"

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
