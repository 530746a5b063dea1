import MicadoCore

extension CloudSigmaDriver: CloudDriverKind {
    public static let kindName = "cloudsigma"
    public static var cloudKeys: Set<String> { ["endpoint", "currency", "profile"] }
    public static var flavourKeys: Set<String> { ["cpuMHz"] }
    public static var pricesFromCloud: Bool { true }
    public static var machineImageExample: String? { "library drive UUID, e.g. node: 6eca8d96-44bc-4637-af97-77ccd7ba4144" }

    public static func read(_ section: CloudSection) throws(MicadoError) -> any CloudDriverSettings {
        let c = section.cloud
        // A flavour is micado's own: its CPUs' speed is written, or 2,000 MHz each.
        var cpuMHz: [String: Int] = [:]
        for (flavour, f) in section.flavours {
            let mhz = try f.int("cpuMHz", default: flavour.cpus * 2000, range: 250...200_000)
            guard (250...200_000).contains(mhz) else {
                throw f.fail("cpuMHz", "\(f.path).cpuMHz (\(mhz), 2,000 per CPU) must be between 250 and 200000: write it")
            }
            cpuMHz[flavour.name] = mhz
        }
        let currency = try c.identifier("currency", default: "USD")
        guard currency.count == 3, currency.allSatisfy({ $0.isASCII && $0.isUppercase }) else {
            throw c.fail("currency", "\(c.path).currency must be a currency code such as USD, EUR or CHF")
        }
        return CloudSigmaSettings(
            endpoint: c.has("endpoint") ? try c.endpoint("endpoint", of: "CloudSigma") : nil,
            currency: currency,
            profile: try c.optionalIdentifier("profile"),
            cpuMHz: cpuMHz,
            flavourSources: section.flavourSources
        )
    }

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
