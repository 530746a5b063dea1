import Foundation
import MicadoCore
import MicadoTestSupport
import Testing

@testable import MicadoClouds

/// The local cloud hands out addresses as a cloud's DHCP does: round robin, never the one
/// just freed (its old namespace's neighbours and the swarm may still remember it).
@Suite struct LocalAddressTests {
    @Test func anAddressFreedAMomentAgoIsNotGivenAgainAtOnce() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("micado-addr-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let network = CloudConfiguration.LocalNetwork(
            bridge: "mt0",
            bridgeCIDR: "10.250.0.1/24",
            firstAddress: "10.250.0.10",
            lastAddress: "10.250.0.12",
            managerAddress: "10.250.0.2"
        )
        let driver = LocalDriver(
            cloud: "local",
            network: network,
            stateDirectory: root,
            authority: CertificateAuthority(directory: root),
            logger: EC2TestSetup.quietLogger
        )
        func take(_ id: String) throws -> String {
            try driver.withLock { () throws(CloudError) in
                let address = try driver.freeAddress()
                try driver.claim(id, address: address)
                return address
            }
        }
        #expect(try take("i0000000001") == "10.250.0.10")
        #expect(try take("i0000000002") == "10.250.0.11")
        try FileManager.default.removeItem(atPath: driver.directory("i0000000002"))
        // .11 was freed a moment ago: the next is .12, then the range wraps to the free .11.
        #expect(try take("i0000000003") == "10.250.0.12")
        #expect(try take("i0000000004") == "10.250.0.11")
        #expect(throws: CloudError.self) { try take("i0000000005") }
    }
}
