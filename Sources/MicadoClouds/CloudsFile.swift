import Foundation
import MicadoCore
import Yams

/// Reads `clouds.yaml`. Every error names the line and the field, e.g.
/// `clouds.yaml:12: clouds.local.flavours[1].memoryMiB must be a whole number`.
public enum CloudsFile {
    public static var drivers: Set<String> { Set(CloudDrivers.names) }

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
            guard let kind = CloudDrivers.kind(named: driver) else {
                throw fail(
                    map["driver"],
                    "\(path).driver '\(driver)' is not a known driver (known: \(drivers.sorted().joined(separator: ", ")))"
                )
            }
            try onlyKeys(map, kind.cloudKeys.union(["driver", "locations", "flavours", "applications", "timings"]), at: path, node: node)
            guard let locationsNode = map["locations"] else { throw fail(node, "\(path).locations is missing") }
            var locations: [String: LocationBounds] = [:]
            var locationKeys: [(name: String, keys: CloudKeys)] = []
            for (location, lnode) in try mapping(locationsNode, "\(path).locations").sorted(by: { $0.key < $1.key }) {
                let lpath = "\(path).locations.\(location)"
                do { try LocationName.validate(location) } catch { throw fail(lnode, "\(lpath): \(error.message)") }
                let l = lnode.mapping == nil && lnode.null != nil ? [:] : try mapping(lnode, lpath)
                try onlyKeys(l, kind.locationKeys.union(["min", "max", "headroomMiB"]), at: lpath, node: lnode)
                let bounds = LocationBounds(
                    min: try int(l, "min", lpath, parent: lnode, default: 0, range: 0...1000),
                    max: try int(l, "max", lpath, parent: lnode, default: 3, range: 0...1000),
                    headroomMiB: try int(l, "headroomMiB", lpath, parent: lnode, default: 0, range: 0...1_048_576)
                )
                guard bounds.min <= bounds.max else { throw fail(lnode, "\(lpath).min (\(bounds.min)) is above max (\(bounds.max))") }
                locations[location] = bounds
                locationKeys.append((location, CloudKeys(reader: self, map: l, path: lpath, node: lnode)))
            }
            guard !locations.isEmpty else { throw fail(locationsNode, "\(path).locations is empty") }
            guard case .sequence(let flavourNodes)? = map["flavours"] else {
                throw fail(map["flavours"] ?? node, "\(path).flavours must be a list")
            }
            var flavours: [Flavour] = []
            var flavourKeys: [(flavour: Flavour, keys: CloudKeys)] = []
            var flavourSources: [String: CloudConfiguration.FlavourSource] = [:]
            for (i, fnode) in flavourNodes.enumerated() {
                let fpath = "\(path).flavours[\(i)]"
                let f = try mapping(fnode, fpath)
                try onlyKeys(f, kind.flavourKeys.union(["name", "cpus", "memoryMiB", "pricePerHour"]), at: fpath, node: fnode)
                // A cloud with a price list prices a flavour when the file does not.
                var price = 0.0
                if let priceNode = f["pricePerHour"] {
                    guard let written = priceNode.float, written >= 0, written.isFinite else {
                        throw fail(priceNode, "\(fpath).pricePerHour must be a number ≥ 0")
                    }
                    price = written
                } else if !kind.pricesFromCloud {
                    throw fail(fnode, "\(fpath).pricePerHour is missing")
                }
                // An instance type: what is not written, the cloud says later (0 until then,
                // which the planner never offers).
                let fromCloud = kind.flavoursFromCloud ? 0 : nil
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
                // Commands name flavours and applications without regard to case: two that differ only in case would be a coin toss.
                guard !flavours.contains(where: { $0.name.lowercased() == flavour.name.lowercased() }) else {
                    throw fail(fnode, "\(fpath).name '\(flavour.name)' is used twice (names are compared without case)")
                }
                flavours.append(flavour)
                flavourKeys.append((flavour, CloudKeys(reader: self, map: f, path: fpath, node: fnode)))
                flavourSources[flavour.name] = .init(
                    position: position(f["name"]),
                    path: fpath,
                    memoryWritten: f["memoryMiB"] != nil,
                    cpusWritten: f["cpus"] != nil,
                    priceWritten: f["pricePerHour"] != nil
                )
            }
            guard !flavours.isEmpty else { throw fail(map["flavours"], "\(path).flavours is empty") }
            var applications = ["node": "default"]
            if let example = kind.machineImageExample, map["applications"] == nil {
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
            let timings = try self.timings(map, path: path)
            // What only the driver reads, as its own type.
            let settings = try kind.read(
                CloudSection(
                    name: name,
                    cloud: CloudKeys(reader: self, map: map, path: path, node: node),
                    locations: locationKeys,
                    flavours: flavourKeys,
                    flavourSources: flavourSources
                )
            )
            return CloudConfiguration(
                name: name,
                driver: driver,
                locations: locations,
                flavours: flavours,
                applications: applications,
                timings: timings,
                settings: settings
            )
        }

        func timings(_ map: [String: Node], path: String) throws(MicadoError) -> CloudConfiguration.Timings {
            var timings = CloudConfiguration.Timings()
            guard let tnode = map["timings"] else { return timings }
            let t = try mapping(tnode, "\(path).timings")
            let tpath = "\(path).timings"
            try onlyKeys(
                t,
                ["gracePeriodSeconds", "bootTimeoutSeconds", "drainTimeoutSeconds", "consolidateBelowPercent"],
                at: tpath,
                node: tnode
            )
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
            timings.consolidateBelowPercent = try int(
                t,
                "consolidateBelowPercent",
                tpath,
                parent: tnode,
                default: timings.consolidateBelowPercent,
                range: 0...100
            )
            return timings
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
