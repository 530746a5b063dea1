import Foundation
import MicadoCore
import Yams

/// Top-level `volumes:` and a service's `volumes:`, as the Compose specification writes them.
/// A named volume lives on one instance (the manager pins its services there); anonymous
/// volumes and tmpfs mounts live with their task. Bind mounts are refused: no instance holds
/// the user's folders.
extension ComposeFile.Reader {
    /// The file's named volumes: driver `local` only, with labels. `name` is warned (micado
    /// names each volume APP_NAME, so two applications never share one by accident).
    func volumes(_ node: Node, warnings: inout [String]) throws(MicadoError) -> [String: ApplicationSpec.VolumeDefinition] {
        var result: [String: ApplicationSpec.VolumeDefinition] = [:]
        let all = try mapping(node, "volumes")
        guard all.count <= 100 else { throw fail(node, "volumes has \(all.count) entries; at most 100") }
        for (name, value) in all.sorted(by: { $0.key < $1.key }) {
            let path = "volumes.\(Text.escaped(String(name.prefix(64))))"
            do { try ApplicationName.validate(name.replacingOccurrences(of: "_", with: "-"), what: "volume name") } catch {
                throw fail(value, "\(path): \(error.message)")
            }
            var definition = ApplicationSpec.VolumeDefinition()
            if !value.isPlainNull {
                let map = try mapping(value, path)
                try onlyKeys(map, ["driver", "driver_opts", "external", "labels", "name"], at: path, node: value)
                if let n = map["driver"], try text(n, "\(path).driver") != "local" {
                    throw fail(n, "\(path).driver: only the local driver: a volume lives on the instance that runs its service")
                }
                if let n = map["driver_opts"] {
                    throw fail(n, "\(path).driver_opts are not supported: they mount an instance's devices or remote shares")
                }
                if let n = map["external"], n.plainBool != false {
                    throw fail(n, "\(path).external: a volume made outside the application is not supported")
                }
                if let n = map["name"] {
                    warnings.append(
                        "\(file)\(n.mark.map { ":\($0.line)" } ?? ""): \(path).name is not carried out: micado names the volume APPLICATION_\(name)"
                    )
                }
                if let n = map["labels"] {
                    for (key, label, item) in try keyValues(n, "\(path).labels") {
                        try requireLabelKey(key, item, "\(path).labels")
                        definition.labels[key] = label
                    }
                }
            }
            result[name] = definition
        }
        return result
    }

    /// A label key the engine takes and micado does not own.
    func requireLabelKey(_ key: String, _ item: Node, _ path: String) throws(MicadoError) {
        guard !key.isEmpty, key.count <= 128, !key.lowercased().hasPrefix("micado."), !key.lowercased().hasPrefix("com.docker."),
            !key.contains(where: { $0.isWhitespace || $0 == "=" })
        else {
            throw fail(
                item,
                "\(path): '\(Text.escaped(String(key.prefix(64))))' is not a label key micado allows (non-empty, no spaces or '=', not micado.* or com.docker.*)"
            )
        }
        do { try Text.requireSafe(key, field: path) } catch { throw fail(item, error.message) }
    }

    /// A path in the container a mount may cover: absolute, no `..`, not the container's own
    /// /proc, /sys or /dev, nor its root.
    func mountTarget(_ node: Node, _ path: String) throws(MicadoError) -> String {
        try mountTarget(try text(node, path), node, path)
    }

    func mountTarget(_ target: String, _ node: Node, _ path: String) throws(MicadoError) -> String {
        let parts = target.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        guard target.hasPrefix("/"), target.utf8.count <= 1024, !target.contains(":"), !target.contains(","),
            !parts.contains(".."), !parts.contains("."), !parts.contains("")
        else {
            throw fail(node, "\(path) must be an absolute path in the container")
        }
        do { try Text.requireSafe(target, field: path) } catch { throw fail(node, error.message) }
        let top = target.split(separator: "/").first.map(String.init) ?? ""
        guard !["", "proc", "sys", "dev"].contains(top) else {
            throw fail(node, "\(path): \(target) is the container's own")
        }
        return target
    }

    /// A service's `volumes:`: `[SOURCE:]TARGET[:MODE]` or the long syntax. Volumes go to
    /// `options.volumes`, tmpfs mounts to `options.tmpfs`.
    func serviceVolumes(
        _ node: Node,
        _ path: String,
        declared: Set<String>,
        into options: inout ContainerOptions,
        warnings: inout [String]
    ) throws(MicadoError) {
        var volumes: [ContainerOptions.VolumeMount] = []
        var tmpfs = options.tmpfs ?? []
        let items = try sequence(node, path)
        guard items.count <= 32 else { throw fail(node, "\(path) has \(items.count) entries; at most 32") }
        func refuseBind(_ item: Node, _ ipath: String) -> MicadoError {
            fail(
                item,
                "\(ipath): bind mounts of the host's folders are not supported: no instance holds the user's folders; declare a named volume"
            )
        }
        func named(_ source: String, _ item: Node, _ ipath: String) throws(MicadoError) -> String {
            guard declared.contains(source) else {
                throw fail(item, "\(ipath): '\(Text.escaped(String(source.prefix(64))))' is not declared in the file's volumes")
            }
            return source
        }
        for (i, item) in items.enumerated() {
            let ipath = "\(path)[\(i)]"
            if case .mapping = item {
                let map = try mapping(item, ipath)
                try onlyKeys(
                    map,
                    ["type", "source", "target", "read_only", "bind", "volume", "tmpfs", "consistency"],
                    at: ipath,
                    node: item
                )
                guard let t = map["type"] else { throw fail(item, "\(ipath).type is missing (volume or tmpfs)") }
                let type = try text(t, "\(ipath).type")
                guard let targetNode = map["target"] else { throw fail(item, "\(ipath).target is missing") }
                let target = try mountTarget(targetNode, "\(ipath).target")
                let readOnly = try map["read_only"].map { n throws(MicadoError) in try bool(n, "\(ipath).read_only") } ?? false
                if let n = map["consistency"] {
                    warnings.append(
                        "\(file)\(n.mark.map { ":\($0.line)" } ?? ""): \(ipath).consistency is not carried out: it only concerns Docker Desktop"
                    )
                }
                switch type {
                case "volume":
                    if let n = map["tmpfs"] { throw fail(n, "\(ipath).tmpfs is for type tmpfs") }
                    if let n = map["bind"] { throw fail(n, "\(ipath).bind is for type bind") }
                    var mount = ContainerOptions.VolumeMount(target: target, readOnly: readOnly)
                    if let s = map["source"], !s.isPlainNull { mount.source = try named(try text(s, "\(ipath).source"), s, ipath) }
                    if let v = map["volume"] {
                        let vmap = try mapping(v, "\(ipath).volume")
                        try onlyKeys(vmap, ["nocopy", "subpath"], at: "\(ipath).volume", node: v)
                        if let n = vmap["nocopy"] { mount.noCopy = try bool(n, "\(ipath).volume.nocopy") }
                        if let n = vmap["subpath"] {
                            throw fail(n, "\(ipath).volume.subpath needs Engine API 1.45; this engine speaks 1.41")
                        }
                    }
                    volumes.append(mount)
                case "tmpfs":
                    if let n = map["source"] { throw fail(n, "\(ipath).source: a tmpfs has no source") }
                    if let n = map["volume"] { throw fail(n, "\(ipath).volume is for type volume") }
                    var mount = ContainerOptions.Tmpfs(target: target)
                    if let n = map["tmpfs"] {
                        let tmap = try mapping(n, "\(ipath).tmpfs")
                        try onlyKeys(tmap, ["size", "mode"], at: "\(ipath).tmpfs", node: n)
                        if let s = tmap["size"] {
                            guard let text = s.scalarText, let bytes = ComposeBytes.bytes(text), bytes > 0, bytes <= 64 << 30 else {
                                throw fail(s, "\(ipath).tmpfs.size must be a size such as 64m (at most 64g)")
                            }
                            mount.sizeBytes = bytes
                        }
                        if let m = tmap["mode"] {
                            // Octal, as the specification says (1777, 01777 or 0o1777).
                            let value = try text(m, "\(ipath).tmpfs.mode")
                            let digits = value.hasPrefix("0o") ? String(value.dropFirst(2)) : value
                            guard let mode = UInt32(digits, radix: 8), mode <= 0o7777 else {
                                throw fail(m, "\(ipath).tmpfs.mode must be permission bits such as 1777")
                            }
                            mount.mode = mode
                        }
                    }
                    if readOnly { throw fail(map["read_only"], "\(ipath).read_only: a read-only tmpfs holds nothing") }
                    tmpfs.append(mount)
                case "bind":
                    throw refuseBind(item, ipath)
                default:
                    throw fail(t, "\(ipath).type \(Text.escaped(String(type.prefix(32)))) is not supported (volume or tmpfs)")
                }
            } else {
                let entry = try text(item, ipath)
                let parts = entry.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
                guard (1...3).contains(parts.count), !parts.contains(where: \.isEmpty) else {
                    throw fail(item, "\(ipath) must be [SOURCE:]TARGET[:MODE]")
                }
                if parts.count == 1 {
                    volumes.append(.init(target: try mountTarget(item, ipath)))
                    continue
                }
                let source = parts[0]
                if source.hasPrefix("/") || source.hasPrefix(".") || source.hasPrefix("~") || source.contains("/") {
                    throw refuseBind(item, ipath)
                }
                var mount = ContainerOptions.VolumeMount(target: try mountTarget(parts[1], item, ipath))
                mount.source = try named(source, item, ipath)
                if parts.count == 3 {
                    for mode in parts[2].split(separator: ",") {
                        switch mode {
                        case "ro": mount.readOnly = true
                        case "rw": mount.readOnly = false
                        case "nocopy": mount.noCopy = true
                        default:
                            throw fail(
                                item,
                                "\(ipath): mode \(Text.escaped(String(mode.prefix(16)))) is not supported for a volume (ro, rw, nocopy)"
                            )
                        }
                    }
                }
                volumes.append(mount)
            }
        }
        let targets = volumes.map(\.target) + tmpfs.map(\.target)
        if let twice = Dictionary(grouping: targets, by: { $0 }).first(where: { $0.value.count > 1 })?.key {
            throw fail(node, "\(path): \(twice) is mounted twice")
        }
        options.volumes = volumes.isEmpty ? nil : volumes
        options.tmpfs = tmpfs.isEmpty ? nil : tmpfs
    }
}
