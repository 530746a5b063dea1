import MicadoCore

extension CloudSigmaDriver: CloudDriverKind {
    public static let kindName = "cloudsigma"

    public static func make(_ cloud: CloudConfiguration, context: CloudDriverContext) throws(CloudError) -> any CloudDriver {
        let settings = try settings(CloudSigmaSettings.self, of: cloud, needs: "its settings")
        let credentials = try CloudSigmaCredentials.resolve(
            cloud: cloud.name,
            profile: settings.profile,
            micadoHome: context.home.path,
            environment: context.environment
        )
        var apis: [String: CloudSigmaAPI] = [:]
        for location in cloud.locations.keys {
            apis[location] = try CloudSigmaAPI(endpoint: settings.endpoint(of: location), credentials: credentials, logger: context.logger)
        }
        return CloudSigmaDriver(cloud: cloud.name, settings: settings, apis: apis, authority: context.authority, logger: context.logger)
    }
}
