import MicadoCore

extension EC2Driver: CloudDriverKind {
    public static let kindName = "ec2"

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
