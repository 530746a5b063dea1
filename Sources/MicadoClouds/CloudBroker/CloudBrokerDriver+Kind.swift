import MicadoCore

extension CloudBrokerDriver: CloudDriverKind {
    public static let kindName = "cloudbroker"

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
