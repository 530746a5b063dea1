import Foundation
import MicadoCore
import Yams

/// Reads `clouds.yaml`. Every error names the line and the field, e.g.
/// `clouds.yaml:12: clouds.local.flavours[1].memoryMiB must be a whole number`.
public enum CloudsFile {
    public static var drivers: Set<String> { Set(CloudDrivers.names) }
    /// Each driver's own keys, besides driver, locations, flavours, applications and timings.
    static let driverKeys: [String: Set<String>] = [
        "local": ["network"],
        "ec2": ["region", "endpoint", "securityGroups", "keyName", "address", "profile"],
        "openstack": ["authURL", "region", "securityGroups", "keyName", "profile"],
        "cloudsigma": ["endpoint", "currency", "profile"],
        "cloudbroker": ["endpoint", "keyPair", "openedPorts", "address", "profile"],
    ]
    /// Each driver's keys of a location, besides min, max and headroomMiB.
    static let locationKeys: [String: Set<String>] = [
        "local": [], "ec2": ["subnet"], "openstack": ["network", "zone"], "cloudsigma": [], "cloudbroker": ["deployment"],
    ]
    /// Drivers whose flavours the cloud completes (memory, CPUs) and whose applications are the cloud's machine images.
    static let cloudFlavourDrivers: Set<String> = ["ec2", "openstack", "cloudbroker"]
    /// Drivers whose applications are the cloud's machine images (a library drive on CloudSigma).
    static let machineImageDrivers: Set<String> = ["ec2", "openstack", "cloudsigma"]

    public static func load(path: String) throws(MicadoError) -> [CloudConfiguration] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        return try parse(String(decoding: data, as: UTF8.self), file: (path as NSString).lastPathComponent)
    }

    public static func parse(_ text: String, file: String) throws(MicadoError) -> [CloudConfiguration] {
        let root: Node?
        do { root = try YAMLDocument.compose(text) } catch {
            throw .init(.configuration, "\(file): not valid YAML: \(error)")
        }
        guard let root else { return [] }
        let reader = Reader(file: file)
        let top = try reader.mapping(root, "")
        try reader.onlyKeys(top, ["clouds"], at: "", node: root)
        guard let cloudsNode = top["clouds"] else { return [] }
        var clouds: [CloudConfiguration] = []
        for (name, node) in try reader.mapping(cloudsNode, "clouds").sorted(by: { $0.key < $1.key }) {
            clouds.append(try reader.cloud(name: name, node))
        }
        return clouds
    }

    struct Reader {
        let file: String

        func fail(_ node: Node?, _ message: String) -> MicadoError {
            .init(.configuration, "\(position(node)): \(message)")
        }

        /// `clouds.yaml:12`: where `node` was written.
        func position(_ node: Node?) -> String {
            file + (node?.mark.map { ":\($0.line)" } ?? "")
        }

        func mapping(_ node: Node, _ path: String) throws(MicadoError) -> [String: Node] {
            guard case .mapping(let mapping) = node else {
                throw fail(node, "\(path.isEmpty ? "the file" : path) must be a mapping of keys")
            }
            var result: [String: Node] = [:]
            for (key, value) in mapping {
                guard let k = key.string else { throw fail(key, "\(path): keys must be names") }
                result[k] = value
            }
            return result
        }

        func onlyKeys(_ map: [String: Node], _ allowed: Set<String>, at path: String, node: Node) throws(MicadoError) {
            for key in map.keys.sorted() where !allowed.contains(key) {
                throw fail(
                    map[key],
                    "unknown field '\(path.isEmpty ? "" : path + ".")\(key)' (known: \(allowed.sorted().joined(separator: ", ")))"
                )
            }
        }

        func string(
            _ map: [String: Node],
            _ key: String,
            _ path: String,
            parent: Node,
            default value: String? = nil
        ) throws(MicadoError) -> String {
            guard let node = map[key] else {
                if let value { return value }
                throw fail(parent, "\(path).\(key) is missing")
            }
            guard case .scalar(let scalar) = node, !scalar.string.isEmpty else { throw fail(node, "\(path).\(key) must be a text value") }
            return scalar.string
        }

        func int(
            _ map: [String: Node],
            _ key: String,
            _ path: String,
            parent: Node,
            default value: Int? = nil,
            range: ClosedRange<Int>
        ) throws(MicadoError) -> Int {
            guard let node = map[key] else {
                if let value { return value }
                throw fail(parent, "\(path).\(key) is missing")
            }
            guard let n = node.int else { throw fail(node, "\(path).\(key) must be a whole number") }
            guard range.contains(n) else {
                throw fail(node, "\(path).\(key) must be between \(range.lowerBound) and \(range.upperBound), not \(n)")
            }
            return n
        }

        func cloud(name: String, _ node: Node) throws(MicadoError) -> CloudConfiguration {
            // Commands name it (start -c), and it names micado's credentials file for it.
            guard StartInstanceRequest.isName(name) else {
                throw fail(node, "clouds.\(Text.escaped(name)): a cloud's name must be 1 to 63 letters, digits, '.', '_' and '-'")
            }
            let path = "clouds.\(name)"
            let map = try mapping(node, path)
            let driver = try string(map, "driver", path, parent: node)
            guard drivers.contains(driver) else {
                throw fail(
                    map["driver"],
                    "\(path).driver '\(driver)' is not a known driver (known: \(drivers.sorted().joined(separator: ", ")))"
                )
            }
            try onlyKeys(
                map,
                (driverKeys[driver] ?? []).union(["driver", "locations", "flavours", "applications", "timings"]),
                at: path,
                node: node
            )
            // An EC2 location is an availability zone and needs a subnet there.
            var subnets: [String: String] = [:]
            var subnetPositions: [String: String] = [:]
            // An OpenStack location is a network (and maybe an availability zone).
            var networks: [String: String] = [:]
            var zones: [String: String] = [:]
            // A CloudBroker location is a deployment.
            var deployments: [String: String] = [:]
            guard let locationsNode = map["locations"] else { throw fail(node, "\(path).locations is missing") }
            var locations: [String: LocationBounds] = [:]
            for (location, lnode) in try mapping(locationsNode, "\(path).locations") {
                let lpath = "\(path).locations.\(location)"
                do { try LocationName.validate(location) } catch { throw fail(lnode, "\(lpath): \(error.message)") }
                let l = lnode.mapping == nil && lnode.null != nil ? [:] : try mapping(lnode, lpath)
                try onlyKeys(l, (locationKeys[driver] ?? []).union(["min", "max", "headroomMiB"]), at: lpath, node: lnode)
                if driver == "ec2" {
                    guard l["subnet"] != nil else {
                        throw fail(
                            lnode,
                            "\(lpath).subnet is missing (the ec2 driver starts a location's instances in a subnet of that availability zone)"
                        )
                    }
                    subnets[location] = try identifier(l, "subnet", lpath, parent: lnode)
                    subnetPositions[location] = position(l["subnet"])
                }
                if driver == "openstack" {
                    guard l["network"] != nil else {
                        throw fail(
                            lnode,
                            "\(lpath).network is missing (the openstack driver gives a location's servers an address on that network: its ID)"
                        )
                    }
                    networks[location] = try identifier(l, "network", lpath, parent: lnode)
                    if l["zone"] != nil { zones[location] = try identifier(l, "zone", lpath, parent: lnode) }
                }
                if driver == "cloudbroker" {
                    guard l["deployment"] != nil else {
                        throw fail(
                            lnode,
                            "\(lpath).deployment is missing (the cloudbroker driver starts a location's instances from that deployment: its ID)"
                        )
                    }
                    deployments[location] = try identifier(l, "deployment", lpath, parent: lnode)
                }
                let bounds = LocationBounds(
                    min: try int(l, "min", lpath, parent: lnode, default: 0, range: 0...1000),
                    max: try int(l, "max", lpath, parent: lnode, default: 3, range: 0...1000),
                    headroomMiB: try int(l, "headroomMiB", lpath, parent: lnode, default: 0, range: 0...1_048_576)
                )
                guard bounds.min <= bounds.max else { throw fail(lnode, "\(lpath).min (\(bounds.min)) is above max (\(bounds.max))") }
                locations[location] = bounds
            }
            guard !locations.isEmpty else { throw fail(locationsNode, "\(path).locations is empty") }
            guard case .sequence(let flavourNodes)? = map["flavours"] else {
                throw fail(map["flavours"] ?? node, "\(path).flavours must be a list")
            }
            var flavours: [Flavour] = []
            var flavourSources: [String: EC2Settings.FlavourSource] = [:]
            var cpuMHz: [String: Int] = [:]
            var cloudBrokerTypes: [String: String] = [:]
            for (i, fnode) in flavourNodes.enumerated() {
                let fpath = "\(path).flavours[\(i)]"
                let f = try mapping(fnode, fpath)
                try onlyKeys(
                    f,
                    Set(["name", "cpus", "memoryMiB", "pricePerHour"]).union(
                        driver == "cloudsigma" ? ["cpuMHz"] : driver == "cloudbroker" ? ["instanceType"] : []
                    ),
                    at: fpath,
                    node: fnode
                )
                // CloudSigma prices a flavour from its price list when the file does not.
                var price = 0.0
                if let priceNode = f["pricePerHour"] {
                    guard let written = priceNode.float, written >= 0, written.isFinite else {
                        throw fail(priceNode, "\(fpath).pricePerHour must be a number ≥ 0")
                    }
                    price = written
                } else if driver != "cloudsigma" && driver != "cloudbroker" {
                    throw fail(fnode, "\(fpath).pricePerHour is missing")
                }
                // An EC2 flavour is an instance type: what is not written, DescribeInstanceTypes
                // says later (0 until then, which the planner never offers).
                let fromCloud = cloudFlavourDrivers.contains(driver) ? 0 : nil
                let flavour = Flavour(
                    name: try string(f, "name", fpath, parent: fnode),
                    cpus: try int(f, "cpus", fpath, parent: fnode, default: fromCloud ?? 1, range: 1...512),
                    memoryMiB: try int(f, "memoryMiB", fpath, parent: fnode, default: fromCloud, range: 64...4_194_304),
                    pricePerHour: price
                )
                guard StartInstanceRequest.isName(flavour.name) else {
                    throw fail(
                        f["name"],
                        "\(fpath).name '\(Text.escaped(flavour.name))' must be 1 to 63 letters, digits, '.', '_' and '-' (start -f names it)"
                    )
                }
                if driver == "cloudbroker" && f["instanceType"] != nil {
                    cloudBrokerTypes[flavour.name] = try string(f, "instanceType", fpath, parent: fnode)
                }
                // Commands name flavours and applications without regard to case: two that differ only in case would be a coin toss.
                guard !flavours.contains(where: { $0.name.lowercased() == flavour.name.lowercased() }) else {
                    throw fail(fnode, "\(fpath).name '\(flavour.name)' is used twice (names are compared without case)")
                }
                flavours.append(flavour)
                flavourSources[flavour.name] = .init(
                    position: position(f["name"]),
                    path: fpath,
                    memoryWritten: f["memoryMiB"] != nil,
                    cpusWritten: f["cpus"] != nil,
                    priceWritten: f["pricePerHour"] != nil
                )
                if driver == "cloudsigma" {
                    let mhz = try int(f, "cpuMHz", fpath, parent: fnode, default: flavour.cpus * 2000, range: 250...200_000)
                    guard (250...200_000).contains(mhz) else {
                        throw fail(fnode, "\(fpath).cpuMHz (\(mhz), 2,000 per CPU) must be between 250 and 200000: write it")
                    }
                    cpuMHz[flavour.name] = mhz
                }
            }
            guard !flavours.isEmpty else { throw fail(map["flavours"], "\(path).flavours is empty") }
            var applications = ["node": "default"]
            if machineImageDrivers.contains(driver) && map["applications"] == nil {
                let example =
                    switch driver {
                    case "ec2": "AMI ID, e.g. node: ami-0abc…"
                    case "cloudsigma": "library drive UUID, e.g. node: 6eca8d96-44bc-4637-af97-77ccd7ba4144"
                    default: "image ID, e.g. node: 70a599e0-31e7-49b7-b260-868f441e862b"
                    }
                throw fail(node, "\(path).applications is missing (the \(driver) driver needs application name → \(example))")
            }
            if let anode = map["applications"] {
                applications = [:]
                // In the file's order, so that an error names the later of two entries.
                let entries = try mapping(anode, "\(path).applications").sorted {
                    ($0.value.mark?.line ?? 0, $0.value.mark?.column ?? 0) < ($1.value.mark?.line ?? 0, $1.value.mark?.column ?? 0)
                }
                for (app, image) in entries {
                    guard let value = image.string, !value.isEmpty else {
                        throw fail(image, "\(path).applications.\(app) must name a machine image")
                    }
                    guard !applications.keys.contains(where: { $0.lowercased() == app.lowercased() }) else {
                        throw fail(image, "\(path).applications.\(app) is used twice (names are compared without case)")
                    }
                    applications[app] = value
                }
            }
            var timings = CloudConfiguration.Timings()
            if let tnode = map["timings"] {
                let t = try mapping(tnode, "\(path).timings")
                let tpath = "\(path).timings"
                try onlyKeys(t, ["gracePeriodSeconds", "bootTimeoutSeconds", "drainTimeoutSeconds"], at: tpath, node: tnode)
                timings.gracePeriodSeconds = try int(
                    t,
                    "gracePeriodSeconds",
                    tpath,
                    parent: tnode,
                    default: timings.gracePeriodSeconds,
                    range: 0...86400
                )
                timings.bootTimeoutSeconds = try int(
                    t,
                    "bootTimeoutSeconds",
                    tpath,
                    parent: tnode,
                    default: timings.bootTimeoutSeconds,
                    range: 5...3600
                )
                timings.drainTimeoutSeconds = try int(
                    t,
                    "drainTimeoutSeconds",
                    tpath,
                    parent: tnode,
                    default: timings.drainTimeoutSeconds,
                    range: 1...3600
                )
            }
            var network: CloudConfiguration.LocalNetwork?
            if driver == "local" {
                guard let nnode = map["network"] else {
                    throw fail(node, "\(path).network is missing (the local driver needs bridge, bridgeCIDR, first, last, manager)")
                }
                let n = try mapping(nnode, "\(path).network")
                let npath = "\(path).network"
                try onlyKeys(n, ["bridge", "bridgeCIDR", "first", "last", "manager"], at: npath, node: nnode)
                let local = CloudConfiguration.LocalNetwork(
                    bridge: try string(n, "bridge", npath, parent: nnode),
                    bridgeCIDR: try string(n, "bridgeCIDR", npath, parent: nnode),
                    firstAddress: try string(n, "first", npath, parent: nnode),
                    lastAddress: try string(n, "last", npath, parent: nnode),
                    managerAddress: try string(n, "manager", npath, parent: nnode)
                )
                guard local.bridge.count <= 15 else { throw fail(n["bridge"], "\(npath).bridge must be at most 15 characters") }
                func address(_ key: String, _ text: String) throws(MicadoError) -> IPv4 {
                    guard let address = IPv4(text) else { throw fail(n[key], "\(npath).\(key) must be an IPv4 address") }
                    return address
                }
                let first = try address("first", local.firstAddress)
                let last = try address("last", local.lastAddress)
                _ = try address("manager", local.managerAddress)
                let cidr = local.bridgeCIDR.split(separator: "/")
                guard cidr.count == 2, IPv4(String(cidr[0])) != nil, let p = Int(cidr[1]), (8...30).contains(p) else {
                    throw fail(n["bridgeCIDR"], "\(npath).bridgeCIDR must be ADDRESS/PREFIX, e.g. 10.213.0.1/24")
                }
                guard first <= last else { throw fail(n["first"], "\(npath).first is after last") }
                network = local
            }
            // What only the driver reads, as its own type.
            var settings: (any CloudDriverSettings)?
            if driver == "ec2" {
                settings = try ec2Settings(
                    map,
                    path: path,
                    node: node,
                    subnets: subnets,
                    subnetPositions: subnetPositions,
                    flavourSources: flavourSources
                )
            }
            if driver == "openstack" {
                settings = try openStackSettings(
                    map,
                    path: path,
                    node: node,
                    networks: networks,
                    zones: zones,
                    flavourSources: flavourSources
                )
            }
            if driver == "cloudsigma" {
                var endpoint: String?
                if map["endpoint"] != nil {
                    let text = try string(map, "endpoint", path, parent: node)
                    do { endpoint = try CloudHTTP.endpoint(text, of: "CloudSigma") } catch {
                        throw fail(map["endpoint"], "\(path).endpoint: \(error.message)")
                    }
                }
                let currency = try identifier(map, "currency", path, parent: node, default: "USD")
                guard currency.count == 3, currency.allSatisfy({ $0.isASCII && $0.isUppercase }) else {
                    throw fail(map["currency"], "\(path).currency must be a currency code such as USD, EUR or CHF")
                }
                settings = CloudSigmaSettings(
                    endpoint: endpoint,
                    currency: currency,
                    profile: map["profile"] == nil ? nil : try identifier(map, "profile", path, parent: node),
                    cpuMHz: cpuMHz,
                    flavourSources: flavourSources
                )
            }
            if driver == "cloudbroker" {
                guard map["endpoint"] != nil else {
                    throw fail(node, "\(path).endpoint is missing (the platform's address, e.g. https://cola-prototype.cloudbroker.com)")
                }
                let text = try string(map, "endpoint", path, parent: node)
                let endpoint: String
                do { endpoint = try CloudHTTP.endpoint(text, of: "CloudBroker") } catch {
                    throw fail(map["endpoint"], "\(path).endpoint: \(error.message)")
                }
                let ports = try string(map, "openedPorts", path, parent: node, default: "2376,2377,7946,4789")
                guard
                    ports.split(separator: ",").allSatisfy({
                        Int($0.trimmingCharacters(in: .whitespaces)).map { (1...65535).contains($0) } ?? false
                    })
                else {
                    throw fail(map["openedPorts"], "\(path).openedPorts must be port numbers separated by commas, e.g. 2376,2377,7946,4789")
                }
                let address = try string(map, "address", path, parent: node, default: "private")
                guard let kind = EC2Settings.AddressKind(rawValue: address) else {
                    throw fail(
                        map["address"],
                        "\(path).address must be private (internal-ip-address) or public (external-ip-address), not '\(Text.escaped(address))'"
                    )
                }
                settings = CloudBrokerSettings(
                    endpoint: endpoint,
                    deployments: deployments,
                    keyPair: map["keyPair"] == nil ? nil : try identifier(map, "keyPair", path, parent: node),
                    openedPorts: ports,
                    address: kind,
                    profile: map["profile"] == nil ? nil : try identifier(map, "profile", path, parent: node),
                    instanceTypes: cloudBrokerTypes,
                    flavourSources: flavourSources
                )
            }
            return CloudConfiguration(
                name: name,
                driver: driver,
                locations: locations,
                flavours: flavours,
                applications: applications,
                timings: timings,
                network: network,
                settings: settings
            )
        }

        /// A cloud ID or name (region, subnet, security group, key pair): printable, no spaces.
        func identifier(
            _ map: [String: Node],
            _ key: String,
            _ path: String,
            parent: Node,
            default value: String? = nil
        ) throws(MicadoError) -> String {
            let text = try string(map, key, path, parent: parent, default: value)
            guard text.count <= 255, text.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F }) else {
                throw fail(map[key], "\(path).\(key) must be a name without spaces or control characters")
            }
            return text
        }

        /// A list of names (security groups): printable, no spaces.
        func names(_ map: [String: Node], _ key: String, _ path: String, what: String) throws(MicadoError) -> [String] {
            guard let gnode = map[key] else { return [] }
            guard case .sequence(let items) = gnode else { throw fail(gnode, "\(path).\(key) must be a list of \(what)") }
            var result: [String] = []
            for (i, item) in items.enumerated() {
                guard case .scalar(let scalar) = item, !scalar.string.isEmpty, scalar.string.count <= 255,
                    scalar.string.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F })
                else { throw fail(item, "\(path).\(key)[\(i)] must be one of \(what), without spaces or control characters") }
                result.append(scalar.string)
            }
            return result
        }

        func openStackSettings(
            _ map: [String: Node],
            path: String,
            node: Node,
            networks: [String: String],
            zones: [String: String],
            flavourSources: [String: CloudConfiguration.FlavourSource]
        ) throws(MicadoError) -> OpenStackSettings {
            guard map["authURL"] != nil else {
                throw fail(node, "\(path).authURL is missing (Keystone v3, e.g. https://keystone.example.org:5000/v3)")
            }
            let text = try string(map, "authURL", path, parent: node)
            let authURL: String
            do { authURL = try CloudHTTP.endpoint(text, of: "Keystone") } catch {
                throw fail(map["authURL"], "\(path).authURL: \(error.message)")
            }
            return OpenStackSettings(
                authURL: authURL,
                region: map["region"] == nil ? nil : try identifier(map, "region", path, parent: node),
                networks: networks,
                zones: zones,
                securityGroups: try names(map, "securityGroups", path, what: "security group names"),
                keyName: map["keyName"] == nil ? nil : try identifier(map, "keyName", path, parent: node),
                profile: map["profile"] == nil ? nil : try identifier(map, "profile", path, parent: node),
                flavourSources: flavourSources
            )
        }

        func ec2Settings(
            _ map: [String: Node],
            path: String,
            node: Node,
            subnets: [String: String],
            subnetPositions: [String: String],
            flavourSources: [String: EC2Settings.FlavourSource]
        ) throws(MicadoError) -> EC2Settings {
            guard map["region"] != nil else {
                throw fail(node, "\(path).region is missing (the ec2 driver needs the AWS region, e.g. eu-west-1)")
            }
            let region = try identifier(map, "region", path, parent: node)
            guard region.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else {
                throw fail(map["region"], "\(path).region must be a region name such as eu-west-1")
            }
            var endpoint: String?
            if map["endpoint"] != nil {
                let text = try string(map, "endpoint", path, parent: node)
                guard let url = URL(string: text), let scheme = url.scheme, ["http", "https"].contains(scheme), let host = url.host,
                    !host.isEmpty,
                    url.query == nil, url.user == nil, url.path.isEmpty || url.path == "/"
                else {
                    throw fail(map["endpoint"], "\(path).endpoint must be http(s)://HOST[:PORT] of an EC2-compatible API")
                }
                // A session token travels in a header: in clear text only to this machine.
                guard scheme == "https" || CloudHTTP.isLoopback(host) else {
                    throw fail(
                        map["endpoint"],
                        "\(path).endpoint must be https:// (plain http only to this machine: 127.0.0.1, ::1, localhost)"
                    )
                }
                endpoint = text.hasSuffix("/") ? String(text.dropLast()) : text
            }
            var groups: [String] = []
            if let gnode = map["securityGroups"] {
                guard case .sequence(let items) = gnode else {
                    throw fail(gnode, "\(path).securityGroups must be a list of security group IDs")
                }
                for (i, item) in items.enumerated() {
                    guard case .scalar(let scalar) = item, !scalar.string.isEmpty,
                        scalar.string.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F })
                    else { throw fail(item, "\(path).securityGroups[\(i)] must be a security group ID (sg-…)") }
                    groups.append(scalar.string)
                }
            }
            let address = try string(map, "address", path, parent: node, default: "private")
            guard let kind = EC2Settings.AddressKind(rawValue: address) else {
                throw fail(map["address"], "\(path).address must be private or public, not '\(Text.escaped(address))'")
            }
            return EC2Settings(
                region: region,
                endpoint: endpoint,
                subnets: subnets,
                securityGroups: groups,
                keyName: map["keyName"] == nil ? nil : try identifier(map, "keyName", path, parent: node),
                address: kind,
                profile: map["profile"] == nil ? nil : try identifier(map, "profile", path, parent: node),
                flavourSources: flavourSources,
                subnetPositions: subnetPositions
            )
        }
    }
}

/// An IPv4 address as a number, for ranges.
public struct IPv4: Comparable, Sendable, Hashable, CustomStringConvertible {
    public var value: UInt32
    public init?(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var v: UInt32 = 0
        for p in parts {
            guard let n = UInt32(p), n <= 255, String(n) == p else { return nil }
            v = v << 8 | n
        }
        value = v
    }
    public init(value: UInt32) { self.value = value }
    public var description: String { "\(value >> 24).\(value >> 16 & 255).\(value >> 8 & 255).\(value & 255)" }
    public static func < (a: Self, b: Self) -> Bool { a.value < b.value }
}
