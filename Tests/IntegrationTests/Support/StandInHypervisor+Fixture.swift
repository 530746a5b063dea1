import MicadoStandIns

extension StandInHypervisor {
    /// Machines on the fixture's bridge, their engines signed by its manager's CA.
    convenience init(fixture: ManagerFixture) {
        self.init(
            bridge: fixture.bridge, bridgeCIDR: "\(fixture.subnetPrefix).1/24", managerAddress: fixture.engineIP, state: fixture.state + "/hypervisor",
            home: fixture.home)
    }
}
