import MicadoCore

extension LocalDriver: CloudDriverKind {
    public static let kindName = "local"

    public static func make(_ cloud: CloudConfiguration, context: CloudDriverContext) throws(CloudError) -> any CloudDriver {
        guard let network = cloud.network else { throw CloudError(.badRequest, "the local driver needs a network") }
        return LocalDriver(
            cloud: cloud.name,
            network: network,
            stateDirectory: context.stateDirectory,
            authority: context.authority,
            logger: context.logger
        )
    }
}
