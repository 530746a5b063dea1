import Foundation
import MicadoClouds
import MicadoCore
import MicadoTestSupport
import Testing

/// The factory is a list of driver types, each of which makes itself from its typed settings.
@Suite struct CloudDriverKindTests {
    static func cloud(_ driver: String, settings: (any CloudDriverSettings)? = nil) -> CloudConfiguration {
        CloudConfiguration(
            name: "c",
            driver: driver,
            locations: ["l": .init(min: 0, max: 1, headroomMiB: 0)],
            flavours: [Flavour(name: "f", cpus: 1, memoryMiB: 512, pricePerHour: 0)],
            applications: ["node": "image"],
            timings: .init(),
            network: nil,
            settings: settings
        )
    }

    static func make(_ cloud: CloudConfiguration) throws(CloudError) -> any CloudDriver {
        try CloudDrivers.make(
            cloud,
            home: MicadoHome(path: "/nonexistent"),
            stateDirectory: "/nonexistent",
            authority: CertificateAuthority(directory: "/nonexistent"),
            logger: EC2TestSetup.quietLogger,
            environment: [:]
        )
    }

    @Test func everyKindIsFoundByItsOwnName() {
        #expect(CloudDrivers.names == ["local", "ec2", "openstack", "cloudsigma", "cloudbroker"])
        #expect(Set(CloudDrivers.names).count == CloudDrivers.kinds.count)
        for name in CloudDrivers.names { #expect(CloudDrivers.kind(named: name)?.kindName == name) }
        #expect(CloudDrivers.kind(named: "EC2") == nil && CloudDrivers.kind(named: "") == nil)
    }

    /// The clouds file takes, at each level, the common keys and the kind's own, and gives the
    /// kind's own to the kind to read: an unknown key's error lists exactly those.
    @Test func theFileTakesEachKindsOwnKeys() {
        for kind in CloudDrivers.kinds {
            let text = """
                clouds:
                  c:
                    driver: \(kind.kindName)
                    bogus: 1
                """
            do {
                _ = try CloudsFile.parse(text, file: "clouds.yaml")
                Issue.record("\(kind.kindName): an unknown key was taken")
            } catch {
                let known = kind.cloudKeys.union(["driver", "locations", "flavours", "applications", "timings"]).sorted()
                #expect(error.message == "clouds.yaml:4: unknown field 'clouds.c.bogus' (known: \(known.joined(separator: ", ")))")
            }
        }
    }

    /// A kind refuses settings of another kind, or none, saying what it needs.
    @Test func aKindNeedsItsOwnSettings() {
        let wrong = OpenStackSettings(authURL: "https://keystone.example/v3", networks: ["l": "n"])
        for (driver, needs) in [
            ("local", "a network"), ("ec2", "a region"), ("openstack", "authURL"), ("cloudsigma", "its settings"),
            ("cloudbroker", "an endpoint"),
        ] {
            for settings in [nil, driver == "openstack" ? EC2Settings(region: "r", subnets: [:]) : wrong] as [(any CloudDriverSettings)?] {
                #expect(throws: CloudError.self, "\(driver)") { try Self.make(Self.cloud(driver, settings: settings)) }
                do {
                    _ = try Self.make(Self.cloud(driver, settings: settings))
                } catch {
                    #expect(error.message.contains("the \(driver) driver needs \(needs)"), "\(error.message)")
                }
            }
        }
        #expect(throws: CloudError.self) { try Self.make(Self.cloud("vsphere")) }
    }

    /// Configurations compare their settings by value, whatever the type.
    @Test func configurationsCompareTheirSettings() {
        let a = Self.cloud("ec2", settings: EC2Settings(region: "eu-west-1", subnets: ["l": "s"]))
        #expect(a == Self.cloud("ec2", settings: EC2Settings(region: "eu-west-1", subnets: ["l": "s"])))
        #expect(a != Self.cloud("ec2", settings: EC2Settings(region: "eu-west-2", subnets: ["l": "s"])))
        #expect(a != Self.cloud("ec2", settings: OpenStackSettings(authURL: "https://k/v3", networks: [:])))
        #expect(a != Self.cloud("ec2"))
        #expect(Self.cloud("local") == Self.cloud("local"))
    }
}
