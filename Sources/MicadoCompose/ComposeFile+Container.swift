import Foundation
import MicadoCore
import Yams

/// The service keys that become the Swarm container spec's options (`ContainerOptions`),
/// `depends_on` and `networks`, read as the Compose specification writes them.
extension ComposeFile.Reader {
    /// A list of text values; `orText` also takes one value on its own (`dns: 1.1.1.1`).
    func strings(_ node: Node, _ path: String, orText: Bool = false, limit: Int = 100) throws(MicadoError) -> [String] {
        var values: [String] = []
        switch node {
        case .sequence(let items):
            for (i, item) in items.enumerated() { values.append(try text(item, "\(path)[\(i)]")) }
        case .scalar where orText:
            values = [try text(node, path)]
        default:
            throw fail(node, "\(path) must be a list\(orText ? " or a text value" : "")")
        }
        guard values.count <= limit else { throw fail(node, "\(path) has \(values.count) entries; at most \(limit)") }
        for value in values {
            do { try Text.requireSafe(value, field: path) } catch { throw fail(node, error.message) }
            guard value.utf8.count <= 4096 else { throw fail(node, "\(path): an entry is longer than 4096 bytes") }
        }
        return values
    }

    /// A value without spaces or controls that the engine takes as is (a user, a signal, a capability).
    func word(_ node: Node, _ path: String, pattern: (Unicode.Scalar) -> Bool, what: String) throws(MicadoError) -> String {
        let value = try text(node, path)
        guard !value.isEmpty, value.count <= 256, value.unicodeScalars.allSatisfy(pattern) else {
            throw fail(node, "\(path) must be \(what)")
        }
        return value
    }

    /// Capabilities that reach past the container's namespaces to the instance's kernel.
    static let instanceCapabilities: Set<String> = [
        "ALL", "CAP_SYS_ADMIN", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_PTRACE", "CAP_SYS_BOOT", "CAP_SYS_TIME",
        "CAP_DAC_READ_SEARCH", "CAP_MAC_ADMIN", "CAP_MAC_OVERRIDE", "CAP_BPF", "CAP_PERFMON", "CAP_SYSLOG",
    ]
    /// Kernel parameters a container has of its own (as the engine allows for containers).
    static let namespacedSysctls = ["net.", "kernel.shm", "kernel.msg", "kernel.sem", "fs.mqueue."]
    /// Log drivers that keep the logs on the instance: others send them where the file says.
    static let localLogDrivers: Set<String> = ["json-file", "local", "journald", "none"]

    static func isPlain(_ c: Unicode.Scalar) -> Bool {
        c.isASCII && (c.properties.isAlphabetic || ("0"..."9").contains(c) || "-_.:".unicodeScalars.contains(c))
    }

    func options(_ map: [String: Node], _ path: String, into options: inout ContainerOptions) throws(MicadoError) {
        if let n = map["hostname"] {
            options.hostname = try word(n, "\(path).hostname", pattern: Self.isPlain, what: "a host name (letters, digits, '-', '.')")
        }
        if let n = map["user"] {
            options.user = try word(n, "\(path).user", pattern: Self.isPlain, what: "a user (NAME, UID, NAME:GROUP or UID:GID)")
        }
        if let n = map["group_add"] {
            options.groups = try strings(n, "\(path).group_add")
        }
        if let n = map["working_dir"] {
            let dir = try text(n, "\(path).working_dir")
            guard dir.hasPrefix("/"), dir.utf8.count <= 4096 else { throw fail(n, "\(path).working_dir must be an absolute path") }
            do { try Text.requireSafe(dir, field: "\(path).working_dir") } catch { throw fail(n, error.message) }
            options.workingDirectory = dir
        }
        if let n = map["stop_signal"] {
            options.stopSignal = try word(n, "\(path).stop_signal", pattern: Self.isPlain, what: "a signal such as SIGTERM or SIGQUIT")
        }
        if let n = map["stop_grace_period"] {
            options.stopGracePeriodSeconds = try duration(n, "\(path).stop_grace_period", range: 0...3600)
        }
        for (key, keyPath) in [("cap_add", \ContainerOptions.capabilityAdd), ("cap_drop", \ContainerOptions.capabilityDrop)] {
            guard let n = map[key] else { continue }
            var capabilities: [String] = []
            for (i, item) in (try sequence(n, "\(path).\(key)")).enumerated() {
                var capability = try word(
                    item,
                    "\(path).\(key)[\(i)]",
                    pattern: { $0.isASCII && ($0.properties.isAlphabetic || $0 == "_") },
                    what: "a capability such as NET_ADMIN or ALL"
                ).uppercased()
                if capability != "ALL", !capability.hasPrefix("CAP_") { capability = "CAP_" + capability }
                if key == "cap_add", Self.instanceCapabilities.contains(capability) {
                    throw fail(item, "\(path).cap_add[\(i)]: \(capability) would let the container take its instance (as privileged would)")
                }
                capabilities.append(capability)
            }
            options[keyPath: keyPath] = capabilities
        }
        if let n = map["sysctls"] {
            var sysctls: [String: String] = [:]
            for (key, value, item) in try keyValues(n, "\(path).sysctls") {
                guard !key.isEmpty, key.unicodeScalars.allSatisfy(Self.isPlain) else {
                    throw fail(item, "\(path).sysctls: '\(Text.escaped(String(key.prefix(64))))' is not a kernel parameter")
                }
                guard Self.namespacedSysctls.contains(where: { key.hasPrefix($0) }) else {
                    throw fail(
                        item,
                        "\(path).sysctls: \(key) is the instance's, not the container's (only net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*)"
                    )
                }
                guard !value.contains("="), !value.contains("|") else {
                    throw fail(item, "\(path).sysctls.\(key): '\(Text.escaped(String(value.prefix(64))))' is not a value for it")
                }
                sysctls[key] = value
            }
            options.sysctls = sysctls
        }
        if let n = map["ulimits"] { options.ulimits = try ulimits(n, "\(path).ulimits") }
        if let n = map["init"] { options.initProcess = try bool(n, "\(path).init") }
        if let n = map["tty"] { options.tty = try bool(n, "\(path).tty") }
        if let n = map["stdin_open"] { options.openStdin = try bool(n, "\(path).stdin_open") }
        if let n = map["read_only"] { options.readOnly = try bool(n, "\(path).read_only") }
        if let n = map["extra_hosts"] { options.hosts = try extraHosts(n, "\(path).extra_hosts") }
        if let n = map["dns"] {
            options.nameservers = try strings(n, "\(path).dns", orText: true, limit: 3)
            for server in options.nameservers ?? [] where !HostAddress.isIPv4(server) && !server.contains(":") {
                throw fail(n, "\(path).dns: '\(Text.escaped(server))' is not an IP address")
            }
        }
        if let n = map["dns_search"] {
            options.dnsSearch = try strings(n, "\(path).dns_search", orText: true, limit: 6)
            for domain in options.dnsSearch ?? [] where !domain.unicodeScalars.allSatisfy(Self.isPlain) {
                throw fail(n, "\(path).dns_search: '\(Text.escaped(String(domain.prefix(64))))' is not a domain")
            }
        }
        if let n = map["dns_opt"] { options.dnsOptions = try strings(n, "\(path).dns_opt") }
        if let n = map["logging"] { options.logging = try logging(n, "\(path).logging") }
        if let n = map["healthcheck"] { options.healthcheck = try healthcheck(n, "\(path).healthcheck") }
        if let n = map["restart"] {
            let value = try text(n, "\(path).restart")
            var policy: ContainerOptions.RestartPolicy
            switch value {
            case "no": policy = .init(condition: .none)
            case "always", "unless-stopped": policy = .init(condition: .any)
            case "on-failure": policy = .init(condition: .onFailure)
            default:
                guard value.hasPrefix("on-failure:"), let attempts = Int(value.dropFirst("on-failure:".count)),
                    (1...1000).contains(attempts)
                else { throw fail(n, "\(path).restart must be no, always, on-failure, on-failure:N or unless-stopped") }
                policy = .init(condition: .onFailure)
                policy.maxAttempts = attempts
            }
            options.restart = policy
        }
        var mounts: [ContainerOptions.Tmpfs] = []
        if let n = map["tmpfs"] {
            for (i, target) in try strings(n, "\(path).tmpfs", orText: true, limit: 16).enumerated() {
                guard target.hasPrefix("/"), !target.contains(":"), !target.split(separator: "/").contains("..") else {
                    throw fail(n, "\(path).tmpfs[\(i)] must be an absolute path in the container")
                }
                let top = target.split(separator: "/").first.map(String.init) ?? ""
                guard !["", "proc", "sys", "dev"].contains(top) else {
                    throw fail(n, "\(path).tmpfs[\(i)]: \(target) is the container's own (shm_size sizes /dev/shm)")
                }
                mounts.append(.init(target: target))
            }
        }
        if let n = map["shm_size"] {
            guard let text = n.scalarText, let bytes = ComposeBytes.bytes(text), bytes <= 64 << 30 else {
                throw fail(n, "\(path).shm_size must be a size such as 64m or 1g (at most 64g)")
            }
            mounts.removeAll { $0.target == "/dev/shm" }
            mounts.append(.init(target: "/dev/shm", sizeBytes: bytes))
        }
        if !mounts.isEmpty { options.tmpfs = mounts }
        if let n = map["expose"] {
            var ports: [Int] = []
            for (i, item) in try sequence(n, "\(path).expose").enumerated() {
                var text = try self.text(item, "\(path).expose[\(i)]")
                if text.hasSuffix("/tcp") { text.removeLast(4) }
                guard let port = Int(text), (1...65535).contains(port) else {
                    throw fail(item, "\(path).expose[\(i)] must be a port (1-65535), optionally /tcp")
                }
                ports.append(port)
            }
            options.expose = ports
        }
    }

    func sequence(_ node: Node, _ path: String) throws(MicadoError) -> [Node] {
        guard case .sequence(let items) = node else { throw fail(node, "\(path) must be a list") }
        guard items.count <= 100 else { throw fail(node, "\(path) has \(items.count) entries; at most 100") }
        return Array(items)
    }

    func ulimits(_ node: Node, _ path: String) throws(MicadoError) -> [ContainerOptions.Ulimit] {
        var limits: [ContainerOptions.Ulimit] = []
        for (name, value) in try mapping(node, path).sorted(by: { $0.key < $1.key }) {
            let upath = "\(path).\(Text.escaped(String(name.prefix(32))))"
            guard !name.isEmpty, name.count <= 32, name.unicodeScalars.allSatisfy({ $0.isASCII && $0.properties.isLowercase }) else {
                throw fail(value, "\(upath): not a limit's name (nofile, nproc, core, …)")
            }
            if case .mapping = value {
                let map = try mapping(value, upath)
                try onlyKeys(map, ["soft", "hard"], at: upath, node: value)
                guard let soft = map["soft"], let hard = map["hard"] else { throw fail(value, "\(upath) needs soft and hard") }
                let s = try int(soft, "\(upath).soft", range: 0...Int(Int32.max))
                let h = try int(hard, "\(upath).hard", range: 0...Int(Int32.max))
                guard s <= h else { throw fail(value, "\(upath): soft (\(s)) is above hard (\(h))") }
                limits.append(.init(name: name, soft: Int64(s), hard: Int64(h)))
            } else {
                let both = try int(value, upath, range: 0...Int(Int32.max))
                limits.append(.init(name: name, soft: Int64(both), hard: Int64(both)))
            }
        }
        return limits
    }

    /// `HOST:IP`, `HOST=IP` or a mapping `HOST: IP`, as the engine's `IP HOST`.
    func extraHosts(_ node: Node, _ path: String) throws(MicadoError) -> [String] {
        var pairs: [(String, String, Node)] = []
        if case .mapping = node {
            for (host, value) in try mapping(node, path).sorted(by: { $0.key < $1.key }) {
                pairs.append((host, try text(value, "\(path).\(Text.escaped(host))"), value))
            }
        } else {
            for (i, item) in try sequence(node, path).enumerated() {
                let entry = try text(item, "\(path)[\(i)]")
                guard let split = entry.firstIndex(where: { $0 == "=" || $0 == ":" }) else {
                    throw fail(item, "\(path)[\(i)] must be HOST:IP or HOST=IP")
                }
                pairs.append((String(entry[..<split]), String(entry[entry.index(after: split)...]), item))
            }
        }
        return try pairs.map { (host, address, item) throws(MicadoError) -> String in
            let ip = address.hasPrefix("[") && address.hasSuffix("]") ? String(address.dropFirst().dropLast()) : address
            guard !host.isEmpty, host.unicodeScalars.allSatisfy(Self.isPlain), HostAddress.isIPv4(ip) || ip.contains(":"),
                ip.unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isHexDigit || $0 == ":" || $0 == ".") })
            else {
                throw fail(item, "\(path): '\(Text.escaped(String(host.prefix(64))))' must map a host name to an IP address")
            }
            return "\(ip) \(host)"
        }
    }

    func logging(_ node: Node, _ path: String) throws(MicadoError) -> ContainerOptions.Logging {
        let map = try mapping(node, path)
        try onlyKeys(map, ["driver", "options"], at: path, node: node)
        guard let d = map["driver"] else { throw fail(node, "\(path).driver is missing") }
        var logging = ContainerOptions.Logging(
            driver: try word(d, "\(path).driver", pattern: Self.isPlain, what: "a log driver such as json-file or local")
        )
        guard Self.localLogDrivers.contains(logging.driver) else {
            throw fail(
                d,
                "\(path).driver: \(logging.driver) would send the logs where the file says; micado keeps them on the instance (json-file, local, journald, none) for 'micado logs'"
            )
        }
        if let o = map["options"] {
            for (key, value, _) in try keyValues(o, "\(path).options") { logging.options[key] = value }
        }
        return logging
    }

    func healthcheck(_ node: Node, _ path: String) throws(MicadoError) -> ContainerOptions.Healthcheck {
        let map = try mapping(node, path)
        try onlyKeys(map, ["test", "interval", "timeout", "retries", "start_period", "start_interval", "disable"], at: path, node: node)
        if let d = map["disable"], try bool(d, "\(path).disable") { return .init(test: ["NONE"]) }
        guard let t = map["test"] else { throw fail(node, "\(path).test is missing (or give disable: true)") }
        var test: [String]
        if case .scalar = t {
            test = ["CMD-SHELL", try text(t, "\(path).test")]
        } else {
            test = try strings(t, "\(path).test", limit: 1000)
            guard let first = test.first, ["CMD", "CMD-SHELL", "NONE"].contains(first) else {
                throw fail(t, "\(path).test must start with CMD, CMD-SHELL or NONE (or be one line for the shell)")
            }
            guard first == "NONE" || test.count > 1 else { throw fail(t, "\(path).test: \(first) needs a command") }
        }
        var check = ContainerOptions.Healthcheck(test: test)
        if let n = map["interval"] { check.intervalSeconds = try duration(n, "\(path).interval", range: 0.001...86400) }
        if let n = map["timeout"] { check.timeoutSeconds = try duration(n, "\(path).timeout", range: 0.001...86400) }
        if let n = map["start_period"] { check.startPeriodSeconds = try duration(n, "\(path).start_period", range: 0...86400) }
        if let n = map["retries"] { check.retries = try int(n, "\(path).retries", range: 0...1000) }
        return check
    }

    /// `deploy.restart_policy`.
    func restartPolicy(_ node: Node, _ path: String) throws(MicadoError) -> ContainerOptions.RestartPolicy {
        let map = try mapping(node, path)
        try onlyKeys(map, ["condition", "delay", "max_attempts", "window"], at: path, node: node)
        var policy = ContainerOptions.RestartPolicy(condition: .any)
        if let n = map["condition"] {
            guard let condition = n.scalarText.flatMap(ContainerOptions.RestartPolicy.Condition.init(rawValue:)) else {
                throw fail(n, "\(path).condition must be none, on-failure or any")
            }
            policy.condition = condition
        }
        if let n = map["delay"] { policy.delaySeconds = try duration(n, "\(path).delay", range: 0...3600) }
        if let n = map["max_attempts"] { policy.maxAttempts = try int(n, "\(path).max_attempts", range: 0...1000) }
        if let n = map["window"] { policy.windowSeconds = try duration(n, "\(path).window", range: 0...86400) }
        return policy
    }

    /// `depends_on`: a list of services, or a mapping of each to its condition.
    func dependencies(_ node: Node, _ path: String) throws(MicadoError) -> [ServiceDependency] {
        if case .mapping = node {
            var result: [ServiceDependency] = []
            for (service, value) in try mapping(node, path).sorted(by: { $0.key < $1.key }) {
                let dpath = "\(path).\(Text.escaped(String(service.prefix(64))))"
                let map = try mapping(value, dpath)
                try onlyKeys(map, ["condition", "restart", "required"], at: dpath, node: value)
                guard let c = map["condition"] else { throw fail(value, "\(dpath).condition is missing") }
                guard let condition = c.scalarText.flatMap(ServiceDependency.Condition.init(rawValue:)) else {
                    throw fail(c, "\(dpath).condition must be service_started, service_healthy or service_completed_successfully")
                }
                if let r = map["required"], try !bool(r, "\(dpath).required") {
                    throw fail(r, "\(dpath).required: false is not supported (every dependency of the file is part of it)")
                }
                if let r = map["restart"] { _ = try bool(r, "\(dpath).restart") }
                result.append(.init(service: service, condition: condition))
            }
            return result
        }
        return try strings(node, path).map { ServiceDependency(service: $0) }
    }

    /// A service's `networks`: names of the file's networks (or `default`), each maybe with
    /// `aliases`: the networks it joins, and the more names it answers to on each.
    func networks(_ node: Node, _ path: String, declared: Set<String>) throws(MicadoError) -> [String: [String]] {
        var joined: [String: [String]] = [:]
        var names: [(String, Node)] = []
        if case .mapping = node {
            for (name, value) in try mapping(node, path).sorted(by: { $0.key < $1.key }) {
                names.append((name, value))
                joined[name] = []
                let npath = "\(path).\(Text.escaped(String(name.prefix(64))))"
                guard !value.isPlainNull else { continue }
                let map = try mapping(value, npath)
                try onlyKeys(map, ["aliases"], at: npath, node: value)
                if let a = map["aliases"] {
                    for alias in try strings(a, "\(npath).aliases") {
                        do { try ApplicationName.validate(alias, what: "network alias") } catch {
                            throw fail(a, "\(npath).aliases: \(error.message)")
                        }
                        joined[name, default: []].append(alias)
                    }
                }
            }
        } else {
            for (i, item) in try sequence(node, path).enumerated() {
                let name = try text(item, "\(path)[\(i)]")
                names.append((name, item))
                joined[name] = []
            }
        }
        for (name, item) in names where name != "default" && !declared.contains(name) {
            throw fail(item, "\(path): network '\(Text.escaped(String(name.prefix(64))))' is not declared in the file's networks")
        }
        guard !joined.isEmpty else { throw fail(node, "\(path) is empty: a service joins at least one network") }
        return joined
    }
}

extension ComposeFile.Reader {
    /// A service's `build:`: a context path, or `context`, `dockerfile`, `args`, `target`.
    /// What only concerns a build's cache or its output is warned; what would change what
    /// is built without micado doing it is refused.
    func build(_ node: Node, _ path: String, warnings: inout [String]) throws(MicadoError) -> ServiceBuild {
        func context(_ n: Node, _ p: String) throws(MicadoError) -> String {
            let value = try text(n, p)
            guard !value.isEmpty, value.utf8.count <= 4096, !value.contains("\0") else { throw fail(n, "\(p) must be a folder") }
            guard !value.contains("://"), !value.hasPrefix("git@") else {
                throw fail(n, "\(p): a remote context is not supported: give a folder beside the Compose file")
            }
            do { try Text.requireSafe(value, field: p) } catch { throw fail(n, error.message) }
            return value
        }
        if case .scalar = node { return ServiceBuild(context: try context(node, path)) }
        let map = try mapping(node, path)
        let warned = [
            "cache_from", "cache_to", "labels", "no_cache", "pull", "shm_size", "tags",
        ]
        let refusedHere = [
            "additional_contexts": "more contexts than one", "dockerfile_inline": "an inline Dockerfile (put it in the context)",
            "entitlements": "entitlements", "extra_hosts": "a build's extra hosts", "isolation": "isolation",
            "network": "a build's network", "platforms": "platforms (the instances are linux/amd64)",
            "privileged": "privileged builds", "provenance": "attestations", "sbom": "attestations", "secrets": "build secrets",
            "ssh": "SSH agents in builds", "ulimits": "a build's ulimits",
        ]
        try onlyKeys(map, Set(["context", "dockerfile", "args", "target"] + warned + refusedHere.keys), at: path, node: node)
        for (key, what) in refusedHere.sorted(by: { $0.key < $1.key }) {
            if let n = map[key] { throw fail(n, "\(path).\(key): micado's builds take no \(what)") }
        }
        for key in warned.sorted() {
            if let n = map[key] {
                warnings.append(
                    "\(file)\(n.mark.map { ":\($0.line)" } ?? ""): \(path).\(key) is not carried out: micado builds on the manager's engine with its cache and tags the image by its content"
                )
            }
        }
        var build = ServiceBuild(context: try map["context"].map { n throws(MicadoError) in try context(n, "\(path).context") } ?? ".")
        if let n = map["dockerfile"] {
            let dockerfile = try text(n, "\(path).dockerfile")
            guard !dockerfile.isEmpty, !dockerfile.hasPrefix("/"), !dockerfile.split(separator: "/").contains(".."),
                dockerfile.utf8.count <= 128, dockerfile.unicodeScalars.allSatisfy({ Self.isPlain($0) || $0 == "/" })
            else {
                throw fail(n, "\(path).dockerfile must be a path inside the context")
            }
            build.dockerfile = dockerfile
        }
        if let n = map["target"] {
            build.target = try word(n, "\(path).target", pattern: Self.isPlain, what: "a stage name")
        }
        if let n = map["args"] {
            for (key, value, item) in try keyValues(n, "\(path).args") {
                guard ComposeInterpolation.isName(key) else {
                    throw fail(item, "\(path).args: '\(Text.escaped(String(key.prefix(64))))' is not an argument name")
                }
                build.arguments[key] = value
            }
            guard build.arguments.count <= 100 else { throw fail(n, "\(path).args has more than 100 entries") }
        }
        return build
    }

    /// A service's `env_file`: a path, a list of paths, or of `{path, required, format}`.
    func environmentFiles(_ node: Node, _ path: String) throws(MicadoError) -> [EnvironmentFileReference] {
        let items: [Node]
        if case .scalar = node { items = [node] } else { items = try sequence(node, path) }
        guard items.count <= 16 else { throw fail(node, "\(path) has \(items.count) entries; at most 16") }
        var references: [EnvironmentFileReference] = []
        for (i, item) in items.enumerated() {
            let ipath = "\(path)[\(i)]"
            var reference: EnvironmentFileReference
            if case .mapping = item {
                let map = try mapping(item, ipath)
                try onlyKeys(map, ["path", "required", "format"], at: ipath, node: item)
                guard let p = map["path"] else { throw fail(item, "\(ipath).path is missing") }
                reference = .init(path: try text(p, "\(ipath).path"))
                if let n = map["required"] { reference.required = try bool(n, "\(ipath).required") }
                if let n = map["format"] {
                    guard try text(n, "\(ipath).format") == "raw" else { throw fail(n, "\(ipath).format must be raw (or absent)") }
                    reference.raw = true
                }
            } else {
                reference = .init(path: try text(item, ipath))
            }
            guard !reference.path.isEmpty, reference.path.utf8.count <= 4096, !reference.path.contains("\0") else {
                throw fail(item, "\(ipath) must be a path")
            }
            do { try Text.requireSafe(reference.path, field: ipath) } catch { throw fail(item, error.message) }
            references.append(reference)
        }
        return references
    }

    /// A top-level `secrets:` or `configs:`: each a `file:` beside the Compose file, an
    /// `environment:` variable of the CLI, or (configs) `content:`. Outside ones are refused.
    func objects(_ node: Node, _ kind: FileMountKind) throws(MicadoError) -> [String: ApplicationSpec.ObjectSource] {
        var result: [String: ApplicationSpec.ObjectSource] = [:]
        let all = try mapping(node, kind.rawValue)
        guard all.count <= 100 else { throw fail(node, "\(kind.rawValue) has \(all.count) entries; at most 100") }
        for (name, value) in all.sorted(by: { $0.key < $1.key }) {
            let path = "\(kind.rawValue).\(Text.escaped(String(name.prefix(64))))"
            do { try ApplicationName.validate(name.replacingOccurrences(of: "_", with: "-"), what: "\(kind.rawValue) name") } catch {
                throw fail(value, "\(path): \(error.message)")
            }
            let map = try mapping(value, path)
            let allowed: Set<String> =
                kind == .configs ? ["file", "environment", "content", "external", "name"] : ["file", "environment", "external", "name"]
            try onlyKeys(map, allowed, at: path, node: value)
            if let external = map["external"], external.plainBool != false {
                throw fail(
                    external,
                    "\(path).external: a \(kind == .secrets ? "secret" : "config") made outside the application is not supported"
                )
            }
            if let n = map["name"] { throw fail(n, "\(path).name is not supported: micado names the Swarm object itself") }
            let sources = ["file", "environment", "content"].filter { map[$0] != nil }
            guard sources.count == 1 else {
                throw fail(
                    value,
                    "\(path) needs exactly one of \(kind == .configs ? "file, environment or content" : "file or environment")"
                )
            }
            switch sources[0] {
            case "file":
                let file = try text(map["file"]!, "\(path).file")
                guard !file.isEmpty, file.utf8.count <= 4096, !file.contains("\0") else {
                    throw fail(map["file"], "\(path).file must be a path")
                }
                result[name] = .file(file)
            case "environment":
                let variable = try text(map["environment"]!, "\(path).environment")
                guard ComposeInterpolation.isName(variable) else {
                    throw fail(map["environment"], "\(path).environment must name a variable")
                }
                result[name] = .environment(variable)
            default:
                let content = try text(map["content"]!, "\(path).content")
                guard content.utf8.count <= ApplyRequest.maximumObjectBytes else {
                    throw .init(.tooLarge, "\(file): \(path).content is over \(ApplyRequest.maximumObjectBytes) bytes")
                }
                result[name] = .content(content)
            }
        }
        return result
    }

    /// A service's `secrets:` or `configs:`: names of the file's, or `source`, `target`, `uid`,
    /// `gid`, `mode`. A secret goes to /run/secrets/TARGET (TARGET: its name unless given), a
    /// config to /TARGET.
    func mounts(
        _ node: Node,
        _ path: String,
        _ kind: FileMountKind,
        declared: Set<String>
    ) throws(MicadoError) -> [ContainerOptions.FileMount] {
        var mounts: [ContainerOptions.FileMount] = []
        for (i, item) in try sequence(node, path).enumerated() {
            let ipath = "\(path)[\(i)]"
            var mount: ContainerOptions.FileMount
            if case .mapping = item {
                let map = try mapping(item, ipath)
                try onlyKeys(map, ["source", "target", "uid", "gid", "mode"], at: ipath, node: item)
                guard let s = map["source"] else { throw fail(item, "\(ipath).source is missing") }
                let source = try text(s, "\(ipath).source")
                mount = .init(source: source, target: kind == .secrets ? source : "/" + source)
                if let t = map["target"] {
                    let target = try text(t, "\(ipath).target")
                    let parts = target.split(separator: "/")
                    guard !target.isEmpty, target.utf8.count <= 1024, !parts.contains(".."), !target.contains("\0"),
                        kind == .secrets || target.hasPrefix("/")
                    else {
                        throw fail(t, "\(ipath).target must be \(kind == .secrets ? "a name or an absolute path" : "an absolute path")")
                    }
                    do { try Text.requireSafe(target, field: "\(ipath).target") } catch { throw fail(t, error.message) }
                    mount.target = target
                }
                for (key, keyPath) in [("uid", \ContainerOptions.FileMount.uid), ("gid", \ContainerOptions.FileMount.gid)] {
                    guard let n = map[key] else { continue }
                    let value = try text(n, "\(ipath).\(key)")
                    guard let number = UInt32(value), number < 1 << 31 else { throw fail(n, "\(ipath).\(key) must be a number") }
                    mount[keyPath: keyPath] = String(number)
                }
                if let n = map["mode"] {
                    // Octal as the specification writes it (0440), or a decimal number.
                    let value = try text(n, "\(ipath).mode")
                    let digits = value.hasPrefix("0o") ? String(value.dropFirst(2)) : value
                    guard let mode = UInt32(digits, radix: value.hasPrefix("0") ? 8 : 10), mode <= 0o777 else {
                        throw fail(n, "\(ipath).mode must be permission bits such as 0440")
                    }
                    mount.mode = mode
                }
            } else {
                let source = try text(item, ipath)
                mount = .init(source: source, target: kind == .secrets ? source : "/" + source)
            }
            guard declared.contains(mount.source) else {
                throw fail(
                    item,
                    "\(ipath): '\(Text.escaped(String(mount.source.prefix(64))))' is not declared in the file's \(kind.rawValue)"
                )
            }
            guard !mounts.contains(where: { $0.target == mount.target }) else {
                throw fail(item, "\(ipath): \(mount.target) is mounted twice")
            }
            mounts.append(mount)
        }
        return mounts
    }
}
