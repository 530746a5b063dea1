import MicadoCore

extension LocalDriver: CloudDriverKind {
    public static let kindName = "local"
    public static var cloudKeys: Set<String> { ["network"] }

    public static func read(_ section: CloudSection) throws(MicadoError) -> any CloudDriverSettings {
        try section.cloud.require("network", "the local driver needs bridge, bridgeCIDR, first, last, manager")
        guard let nnode = section.cloud.map["network"] else { throw section.cloud.fail("network", "network is missing") }
        let reader = section.cloud.reader
        let npath = "\(section.cloud.path).network"
        let n = CloudKeys(reader: reader, map: try reader.mapping(nnode, npath), path: npath, node: nnode)
        try reader.onlyKeys(n.map, ["bridge", "bridgeCIDR", "first", "last", "manager"], at: npath, node: nnode)
        let local = CloudConfiguration.LocalNetwork(
            bridge: try n.text("bridge"),
            bridgeCIDR: try n.text("bridgeCIDR"),
            firstAddress: try n.text("first"),
            lastAddress: try n.text("last"),
            managerAddress: try n.text("manager")
        )
        guard local.bridge.count <= 15 else { throw n.fail("bridge", "\(npath).bridge must be at most 15 characters") }
        func address(_ key: String, _ text: String) throws(MicadoError) -> IPv4 {
            guard let address = IPv4(text) else { throw n.fail(key, "\(npath).\(key) must be an IPv4 address") }
            return address
        }
        let first = try address("first", local.firstAddress)
        let last = try address("last", local.lastAddress)
        _ = try address("manager", local.managerAddress)
        let cidr = local.bridgeCIDR.split(separator: "/")
        guard cidr.count == 2, IPv4(String(cidr[0])) != nil, let p = Int(cidr[1]), (8...30).contains(p) else {
            throw n.fail("bridgeCIDR", "\(npath).bridgeCIDR must be ADDRESS/PREFIX, e.g. 10.213.0.1/24")
        }
        guard first <= last else { throw n.fail("first", "\(npath).first is after last") }
        return local
    }

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
