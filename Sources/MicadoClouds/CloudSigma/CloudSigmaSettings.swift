import MicadoCore

/// The `cloudsigma` driver's settings: its API (one per location unless `endpoint` says),
/// the currency its prices are read in, and each flavour's CPU in MHz.
public struct CloudSigmaSettings: CloudDriverSettings, Equatable {
    /// One API for every location (`https://zrh.cloudsigma.com/api/2.0`, or a test's);
    /// nil: `https://{location}.cloudsigma.com/api/2.0` per location.
    public var endpoint: String?
    public var currency: String
    /// The section of micado's credentials file (else `default`), when the environment has no login.
    public var profile: String?
    /// Flavour name → its CPU in MHz (CloudSigma sells CPU by the MHz).
    public var cpuMHz: [String: Int]
    public var flavourSources: [String: CloudConfiguration.FlavourSource]

    public init(
        endpoint: String? = nil,
        currency: String = "USD",
        profile: String? = nil,
        cpuMHz: [String: Int],
        flavourSources: [String: CloudConfiguration.FlavourSource] = [:]
    ) {
        self.endpoint = endpoint
        self.currency = currency
        self.profile = profile
        self.cpuMHz = cpuMHz
        self.flavourSources = flavourSources
    }

    /// The API of a location.
    public func endpoint(of location: String) -> String { endpoint ?? "https://\(location).cloudsigma.com/api/2.0" }
}
