import Foundation
import MicadoClouds
import MicadoCore
import Testing

@Suite struct CloudsFileTests {
    static let good = """
        clouds:
          local:
            driver: local
            network: {bridge: micado0, bridgeCIDR: 10.213.0.1/24, first: 10.213.0.10, last: 10.213.0.20, manager: 10.213.0.2}
            locations:
              eu: {min: 1, max: 4, headroomMiB: 256}
              us:
            flavours:
              - {name: small, cpus: 1, memoryMiB: 512, pricePerHour: 0.01}
              - {name: large, cpus: 4, memoryMiB: 4096, pricePerHour: 0.07}
            applications:
              Node DSCR: default
            timings: {gracePeriodSeconds: 30}
        """

    @Test func parsesAWholeCloud() throws {
        let clouds = try CloudsFile.parse(Self.good, file: "clouds.yaml")
        #expect(clouds.count == 1)
        let cloud = try #require(clouds.first)
        #expect(cloud.locations["eu"] == LocationBounds(min: 1, max: 4, headroomMiB: 256))
        #expect(cloud.locations["us"] == LocationBounds())
        #expect(cloud.flavours.map(\.name) == ["small", "large"])
        #expect(cloud.flavour(named: "LARGE")?.memoryMiB == 4096)
        #expect(cloud.applications == ["Node DSCR": "default"])
        #expect(cloud.timings.gracePeriodSeconds == 30)
        #expect(cloud.timings.bootTimeoutSeconds == 120)
        #expect(cloud.network?.managerAddress == "10.213.0.2")
    }

    @Test func emptyFileMeansNoCloud() throws {
        #expect(try CloudsFile.parse("", file: "clouds.yaml").isEmpty)
    }

    @Test(arguments: [
        ("memoryMiB: 512", "memoryMiB: lots", "clouds.yaml:9: clouds.local.flavours[0].memoryMiB must be a whole number"),
        (
            "driver: local", "driver: ec9",
            "clouds.yaml:3: clouds.local.driver 'ec9' is not a known driver (known: cloudbroker, cloudsigma, ec2, local, openstack)"
        ),
        ("eu: {min: 1, max: 4", "eu: {min: 5, max: 4", "clouds.yaml:6: clouds.local.locations.eu.min (5) is above max (4)"),
        ("pricePerHour: 0.07", "pricePerHour: cheap", "clouds.yaml:10: clouds.local.flavours[1].pricePerHour must be a number ≥ 0"),
        (
            "timings: {gracePeriodSeconds: 30}", "timings: {gracePeriod: 30}",
            "clouds.yaml:13: unknown field 'clouds.local.timings.gracePeriod' (known: bootTimeoutSeconds, consolidateBelowPercent, drainTimeoutSeconds, gracePeriodSeconds)"
        ),
        ("first: 10.213.0.10", "first: 10.213.0.300", "clouds.yaml:4: clouds.local.network.first must be an IPv4 address"),
        (
            "name: large", "name: small",
            "clouds.yaml:10: clouds.local.flavours[1].name 'small' is used twice (names are compared without case)"
        ),
        // Commands name flavours and applications without case: two that differ only in case would be a coin toss.
        (
            "name: large", "name: Small",
            "clouds.yaml:10: clouds.local.flavours[1].name 'Small' is used twice (names are compared without case)"
        ),
        (
            "  Node DSCR: default", "  Node DSCR: default\n      node dscr: other",
            "clouds.yaml:13: clouds.local.applications.node dscr is used twice (names are compared without case)"
        ),
    ])
    func errorsNameLineAndField(_ edit: (String, String, String)) {
        let text = Self.good.replacingOccurrences(of: edit.0, with: edit.1)
        #expect(throws: MicadoError(.configuration, edit.2)) { try CloudsFile.parse(text, file: "clouds.yaml") }
    }

    @Test func instanceIDsComeFromTheToken() {
        #expect(LocalDriver.instanceID(token: "ABCDEF0123456789") == "iabcdef0123")
    }
}
