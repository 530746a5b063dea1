import MicadoClouds
import MicadoCore
import MicadoStandIns
import Synchronization
import Testing

extension StandInHypervisor {
    /// Machines on the fixture's bridge, their engines signed by its manager's CA.
    convenience init(fixture: ManagerFixture) {
        self.init(
            bridge: fixture.bridge,
            bridgeCIDR: "\(fixture.subnetPrefix).1/24",
            managerAddress: fixture.engineIP,
            state: fixture.state + "/hypervisor",
            home: fixture.home
        )
    }
}

extension ManagerFixture {
    final class HypervisorSlot: Sendable { let hypervisor = Mutex<StandInHypervisor?>(nil) }

    /// A manager whose only cloud is a stand-in of `Cloud` (clouds.yaml from `cloudsFile`, its
    /// login in `environment`, never on a command line); servers get addresses on the
    /// fixture's bridge and boot there; every machine is torn down at the end.
    static func withStandIn<Cloud: StandInCloud>(
        _ cloud: Cloud.Type,
        environment: [String: String],
        cloudsFile: @escaping (Cloud) -> String,
        _ body: (ManagerFixture, Cloud, StandInHypervisor) async throws -> Void
    ) async throws {
        let slot = HypervisorSlot()
        try await Cloud.serve(
            addresses: IPv4("10.99.0.10")!...IPv4("10.99.0.250")!,  // replaced once the fixture's subnet is known
            onActive: { boot in await slot.hypervisor.withLock { $0 }?.boot(boot.id, address: boot.address, userData: boot.userData) },
            onDeleted: { id in await slot.hypervisor.withLock { $0 }?.delete(id) }
        ) { cloud in
            try await ManagerFixture.with(
                cloudsFile: { f in
                    cloud.setAddresses(IPv4("\(f.subnetPrefix).100")!...IPv4("\(f.subnetPrefix).200")!)
                    slot.hypervisor.withLock { $0 = StandInHypervisor(fixture: f) }
                    return cloudsFile(cloud)
                },
                environment: environment
            ) { f in
                let hypervisor = try #require(slot.hypervisor.withLock { $0 })
                do { try await body(f, cloud, hypervisor) } catch {
                    await hypervisor.shutdown()
                    throw error
                }
                await hypervisor.shutdown()
            }
        }
    }
}
