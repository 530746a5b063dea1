import Foundation
import MicadoCore
import Yams

/// Reads a Compose file into an `ApplicationSpec`: the part of the Compose specification
/// that `docker stack deploy` honours, plus an `x-micado` block per service. Every error
/// names the line and the field (`compose.yaml:12: services.web.ports[0] …`); a key micado
/// does not support is refused by name, never ignored (only `x-` extension keys are, as
/// the specification says).
public enum ComposeFile {
    /// `name`: `-n`, which wins over the file's `name:`; `folder`: the last resort. `variables`:
    /// the values of the variables the file interpolates (`ComposeInterpolation`).
    public static func parse(
        _ text: String,
        file: String,
        name: String?,
        folder: String?,
        variables: [String: String] = [:]
    ) throws(MicadoError) -> ApplicationSpec {
        let root = try document(text, file: file)
        let reader = Reader(file: file)
        var warnings: [String] = []
        var budget = Self.maximumExpansion.scalarBytes
        let top = try reader.mapping(try reader.interpolated(root, "", variables, &warnings, budget: &budget), "")
        try reader.keys(top, ComposeKeys.topLevelFates, at: "", warnings: &warnings)
        var networks = Set<String>()
        if let node = top["networks"] {
            for (network, value) in try reader.mapping(node, "networks") {
                let npath = "networks.\(Text.escaped(String(network.prefix(64))))"
                do { try ApplicationName.validate(network, what: "network name") } catch {
                    throw reader.fail(value, "\(npath): \(error.message)")
                }
                if !value.isPlainNull {
                    let map = try reader.mapping(value, npath)
                    if let external = map["external"], external.plainBool != false {
                        throw reader.fail(external, "\(npath).external: a network outside the application is not supported")
                    }
                }
                networks.insert(network)
            }
        }
        let secrets = try top["secrets"].map { node throws(MicadoError) in try reader.objects(node, .secrets) } ?? [:]
        let configs = try top["configs"].map { node throws(MicadoError) in try reader.objects(node, .configs) } ?? [:]
        let volumes = try top["volumes"].map { node throws(MicadoError) in try reader.volumes(node, warnings: &warnings) } ?? [:]
        let application: ApplicationName
        if let name {
            application = try ApplicationName.parse(name)
        } else if let node = top["name"] {
            guard let text = node.scalarText else { throw reader.fail(node, "name must be a text value") }
            do { application = try ApplicationName.parse(text) } catch { throw reader.fail(node, error.message) }
        } else if let folder, let fromFolder = ApplicationName.fromFolder(folder) {
            application = try ApplicationName.parse(fromFolder)
        } else {
            throw .badRequest("\(file): no application name: give one with -n NAME or 'name:' in the file")
        }
        guard let servicesNode = top["services"] else { throw reader.fail(root, "services is missing") }
        let services = try reader.mapping(servicesNode, "services")
        let appName = application.rawValue
        guard !services.isEmpty else { throw reader.fail(servicesNode, "services is empty") }
        guard services.count <= 100 else { throw reader.fail(servicesNode, "services has \(services.count) entries; at most 100") }
        var definitions: [ServiceDefinition] = []
        for (serviceName, node) in services.sorted(by: { $0.key < $1.key }) {
            var definition = try reader.service(serviceName, node, app: appName, networks: networks, warnings: &warnings)
            let map = try reader.mapping(node, "services.\(serviceName)")
            if let n = map["secrets"] {
                definition.options.secrets = try reader.mounts(n, "services.\(serviceName).secrets", .secrets, declared: Set(secrets.keys))
            }
            if let n = map["configs"] {
                definition.options.configs = try reader.mounts(n, "services.\(serviceName).configs", .configs, declared: Set(configs.keys))
            }
            if let n = map["env_file"] {
                definition.environmentFiles = try reader.environmentFiles(n, "services.\(serviceName).env_file")
            }
            if let n = map["volumes"] {
                try reader.serviceVolumes(
                    n,
                    "services.\(serviceName).volumes",
                    declared: Set(volumes.keys),
                    into: &definition.options,
                    warnings: &warnings
                )
            }
            definitions.append(definition)
        }
        try reader.checkDependencies(definitions, services)
        // Two services cannot publish one port: only one of them could run on each node.
        var publishers: [Int: String] = [:]
        for definition in definitions {
            for port in definition.ports {
                if let other = publishers[port.published] {
                    throw reader.fail(
                        services[definition.name],
                        "services.\(definition.name).ports: port \(port.published) is already published by services.\(other)"
                    )
                }
                publishers[port.published] = definition.name
            }
        }
        var domains: [String: String] = [:]
        for definition in definitions {
            guard let domain = definition.domain?.lowercased() else { continue }
            if let other = domains[domain] {
                throw reader.fail(
                    services[definition.name],
                    "services.\(definition.name).x-micado.domain: \(domain) is already the domain of services.\(other)"
                )
            }
            domains[domain] = definition.name
        }
        var spec = ApplicationSpec(name: application, services: definitions, warnings: warnings)
        spec.secrets = secrets
        spec.configs = configs
        // Only what a service mounts: an unused volume is made nowhere, as with docker compose.
        let used = Set(definitions.flatMap { ($0.options.volumes ?? []).compactMap(\.source) })
        spec.volumes = volumes.filter { used.contains($0.key) }
        return spec
    }

    /// Puts each service's `env_file` variables into its environment, before those it gives
    /// itself (which win; a later file wins over an earlier one). `content` answers a file's
    /// text as the CLI sent it, nil when the CLI found none (refused unless `required: false`).
    public static func applyEnvironmentFiles(
        _ spec: inout ApplicationSpec,
        file: String,
        content: (EnvironmentFileReference) throws(MicadoError) -> String?
    ) throws(MicadoError) {
        for index in spec.services.indices where !spec.services[index].environmentFiles.isEmpty {
            let service = spec.services[index]
            var merged: [String: String] = [:]
            var order: [String] = []
            for reference in service.environmentFiles {
                let field = "services.\(service.name).env_file \(Text.escaped(String(reference.path.prefix(256))))"
                guard let text = try content(reference) else {
                    if reference.required {
                        throw .badRequest("\(file): \(field): no such file beside the Compose file (required: false allows that)")
                    }
                    continue
                }
                let values: [(String, String)]
                do throws(MicadoError) {
                    values =
                        try reference.raw
                        ? EnvironmentFile.parseRaw(text, file: reference.path) : EnvironmentFile.parsePairs(text, file: reference.path)
                } catch {
                    throw .init(error.code, "\(field): \(error.message)")
                }
                for (key, value) in values {
                    do throws(MicadoError) {
                        try Text.requireSafe(value, field: "\(field): \(key)")
                    } catch {
                        throw .badRequest(error.message)
                    }
                    if merged[key] == nil { order.append(key) }
                    merged[key] = value
                }
            }
            let own = Set(service.environment.map(\.key))
            let fromFiles = order.filter { !own.contains($0) }.map { EnvironmentVariable(key: $0, value: merged[$0] ?? "") }
            spec.services[index].environment = fromFiles + service.environment
            let size = spec.services[index].commandBytes
            guard size <= LaunchRequest.maximumCommandBytes else {
                throw .init(
                    .tooLarge,
                    "\(file): services.\(service.name): command, entrypoint, environment (with env_file) and labels together take \(size) bytes; at most \(LaunchRequest.maximumCommandBytes)"
                )
            }
        }
    }

    /// Gives each service with `build:` the image the CLI built for it (`builds`, by service),
    /// which must be the application's own name for it.
    public static func applyBuilds(_ spec: inout ApplicationSpec, _ builds: [String: String], file: String) throws(MicadoError) {
        for index in spec.services.indices where spec.services[index].build != nil {
            let service = spec.services[index].name
            let name = ServiceBuild.imageName(application: spec.name.rawValue, service: service)
            guard let tag = builds[service] else {
                throw .badRequest("\(file): services.\(service).build: no image came with the apply (the CLI builds it: micado apply -f)")
            }
            let version = tag.hasPrefix(name + ":") ? String(tag.dropFirst(name.count + 1)) : ""
            guard (12...64).contains(version.count), version.allSatisfy(\.isHexDigit) else {
                throw .badRequest(
                    "\(file): services.\(service).build: the image must be \(name):DIGEST, not '\(Text.escaped(String(tag.prefix(80))))'"
                )
            }
            spec.services[index].image = tag
        }
    }

    /// The file's tree, bounded before anything reads it: its size, its nesting, and what its
    /// aliases expand to.
    static func document(_ text: String, file: String) throws(MicadoError) -> Node {
        guard text.utf8.count <= ApplyRequest.maximumFileBytes else {
            throw .init(.tooLarge, "\(file) has \(text.utf8.count) bytes; a Compose file may have at most \(ApplyRequest.maximumFileBytes)")
        }
        try Text.requireSafe(
            text.replacingOccurrences(of: "\n", with: "").replacingOccurrences(of: "\t", with: "").replacingOccurrences(of: "\r", with: ""),
            field: file
        )
        // The YAML composer recurses once per nesting level: a file of brackets would exhaust the stack.
        if let line = FlowNesting.firstLineDeeperThan(Self.maximumNesting, in: text) {
            throw .badRequest("\(file):\(line): nested more than \(Self.maximumNesting) levels deep")
        }
        let composed: Node?
        do { composed = try YAMLDocument.compose(text) } catch {
            // Yams quotes the file back after its first line; the first line and the position say it.
            let description = "\(error)"
            var first = description.split(separator: "\n").first.map(String.init) ?? description
            if let at = description.range(of: " in line ", options: .backwards) {
                first += description[at.lowerBound...].split(separator: "\n").first.map(String.init) ?? ""
            }
            throw .badRequest("\(file): not valid YAML: \(Text.escaped(String(first.prefix(300))))")
        }
        guard let root = composed else { throw .badRequest("\(file) is empty: it needs 'services'") }
        // Counted before anything reads the tree: the reader walks an alias once per use.
        do { try YAMLDocument.requireExpansion(of: root, atMost: Self.maximumExpansion) } catch {
            throw .init(
                .tooLarge,
                "\(file):\(error.line): \(error.reason); a Compose file may expand to \(Self.maximumExpansion.nodes) nodes and \(Self.maximumExpansion.scalarBytes >> 20) MiB of text"
            )
        }
        return root
    }

    /// The variables the file's values interpolate (defaults' included): the CLI sends the
    /// values of these, and of no other variable of the user's environment.
    public static func variableNames(in text: String, file: String) throws(MicadoError) -> Set<String> {
        var names = Set<String>()
        func walk(_ node: Node) {
            switch node {
            case .scalar(let scalar): names.formUnion(ComposeInterpolation.names(in: scalar.string))
            case .mapping(let mapping): for (_, value) in mapping { walk(value) }
            case .sequence(let sequence): for item in sequence { walk(item) }
            case .alias: break
            }
        }
        walk(try document(text, file: file))
        return names
    }

    /// Deeper than any Compose file needs.
    static let maximumNesting = 64

    /// What a Compose file may expand to through its aliases: sixteen times its largest size
    /// in text, far more than anchors shared among a hundred services take.
    public static let maximumExpansion = YAMLDocument.Expansion(nodes: 200_000, scalarBytes: 4 << 20)

    struct Reader {
        let file: String

        func fail(_ node: Node?, _ message: String) -> MicadoError {
            .badRequest("\(file)\(node?.mark.map { ":\($0.line)" } ?? ""): \(message)")
        }

        func mapping(_ node: Node, _ path: String) throws(MicadoError) -> [String: Node] {
            guard case .mapping(let mapping) = node else {
                throw fail(node, "\(path.isEmpty ? "the file" : path) must be a mapping of keys")
            }
            var result: [String: Node] = [:]
            var merged: [(String, Node)] = []
            for (key, value) in mapping {
                guard let k = key.scalarText else { throw fail(key, "\(path): keys must be names") }
                // YAML's merge key (`<<: *common`), a Compose idiom: the keys written here win.
                if k == "<<" {
                    let sources: [Node]
                    switch value {
                    case .mapping: sources = [value]
                    case .sequence(let items): sources = Array(items)
                    default: throw fail(key, "\(path.isEmpty ? "" : path + ".")<< must merge a mapping (or a list of them)")
                    }
                    // Merges of merges through aliases are bounded by `maximumExpansion`.
                    for source in sources {
                        for (mergedKey, mergedValue) in try self.mapping(source, path).sorted(by: { $0.key < $1.key }) {
                            merged.append((mergedKey, mergedValue))
                        }
                    }
                    continue
                }
                guard result[k] == nil else { throw fail(key, "\(path.isEmpty ? "" : path + ".")\(Text.escaped(k)) is given twice") }
                result[k] = value
            }
            for (key, value) in merged where result[key] == nil { result[key] = value }
            return result
        }

        /// Checks a mapping's keys against their fates: a refused key fails by line and field, a
        /// warned one adds its warning, a key the specification does not have fails by name.
        func keys(
            _ map: [String: Node],
            _ fates: [String: ComposeKeyFate],
            at path: String,
            warnings: inout [String]
        ) throws(MicadoError) {
            for key in map.keys.sorted() where !key.hasPrefix("x-") || fates[key] != nil {
                let field = (path.isEmpty ? "" : path + ".") + Text.escaped(String(key.prefix(64)))
                switch fates[key] {
                case .honoured: continue
                case .warned(let reason):
                    warnings.append("\(file)\(map[key]?.mark.map { ":\($0.line)" } ?? ""): \(field) is not carried out: \(reason)")
                case .refused(let reason): throw fail(map[key], "\(field) is not supported by micado: \(reason)")
                case nil:
                    throw fail(
                        map[key],
                        "'\(field)' is not a Compose key (see the Compose specification; micado's table is in docs/compose.md)"
                    )
                }
            }
        }

        /// The tree with every value interpolated (keys are not, as the specification says);
        /// `budget`: the bytes variables may still add, over the whole file.
        func interpolated(
            _ node: Node,
            _ path: String,
            _ variables: [String: String],
            _ warnings: inout [String],
            budget: inout Int
        ) throws(MicadoError) -> Node {
            switch node {
            case .scalar(var scalar):
                guard scalar.string.contains("$") else { return node }
                let before = scalar.string.utf8.count
                let result: (value: String, unset: [String])
                do { result = try ComposeInterpolation.interpolate(scalar.string, limit: max(budget, 0)) { variables[$0] } } catch {
                    let failure = fail(node, "\(path.isEmpty ? "the file" : path): \(error.message)")
                    throw error.tooLarge ? MicadoError(.tooLarge, failure.message) : failure
                }
                budget -= max(result.value.utf8.count - before, 0)
                guard budget >= 0 else {
                    throw .init(.tooLarge, "\(file)\(node.mark.map { ":\($0.line)" } ?? ""): the variables' values make the file too large")
                }
                for name in result.unset {
                    warnings.append(
                        "\(file)\(node.mark.map { ":\($0.line)" } ?? ""): \(path): the variable \(name) is not set; it reads as an empty string"
                    )
                }
                let tag = scalar.tag
                scalar.string = result.value
                scalar.tag = tag
                return .scalar(scalar)
            case .mapping(let mapping):
                var pairs: [(Node, Node)] = []
                for (key, value) in mapping {
                    let name = Text.escaped(String((key.scalarText ?? "?").prefix(64)))
                    pairs.append(
                        (key, try interpolated(value, path.isEmpty ? name : "\(path).\(name)", variables, &warnings, budget: &budget))
                    )
                }
                return .mapping(.init(pairs, mapping.tag, mapping.style, mapping.mark))
            case .sequence(let sequence):
                var items: [Node] = []
                for (i, item) in sequence.enumerated() {
                    items.append(try interpolated(item, "\(path)[\(i)]", variables, &warnings, budget: &budget))
                }
                return .sequence(.init(items, sequence.tag, sequence.style, sequence.mark))
            case .alias:
                return node
            }
        }

        /// Every dependency is a service of the file, and they form no cycle.
        func checkDependencies(_ definitions: [ServiceDefinition], _ nodes: [String: Node]) throws(MicadoError) {
            let names = Set(definitions.map(\.name))
            let byName = Dictionary(uniqueKeysWithValues: definitions.map { ($0.name, $0) })
            for definition in definitions {
                for dependency in definition.dependsOn where !names.contains(dependency.service) || dependency.service == definition.name {
                    throw fail(
                        nodes[definition.name],
                        "services.\(definition.name).depends_on: '\(Text.escaped(String(dependency.service.prefix(64))))' is \(dependency.service == definition.name ? "the service itself" : "not a service of the file")"
                    )
                }
                for dependency in definition.dependsOn where dependency.condition == .healthy {
                    let check = byName[dependency.service]?.options.healthcheck
                    guard let check, check.test != ["NONE"] else {
                        throw fail(
                            nodes[definition.name],
                            "services.\(definition.name).depends_on.\(dependency.service): service_healthy needs a healthcheck on services.\(dependency.service)"
                        )
                    }
                }
            }
            // Depth-first: a service met again on its own path closes a cycle.
            var done = Set<String>()
            func visit(_ name: String, _ path: [String]) throws(MicadoError) {
                if done.contains(name) { return }
                if path.contains(name) {
                    throw fail(
                        nodes[name],
                        "services: depends_on makes a cycle: \((path.drop { $0 != name } + [name]).joined(separator: " → "))"
                    )
                }
                for dependency in byName[name]?.dependsOn ?? [] { try visit(dependency.service, path + [name]) }
                done.insert(name)
            }
            for definition in definitions { try visit(definition.name, []) }
        }

        /// Refuses keys outside `allowed`; `x-` extension keys are the specification's own escape hatch.
        func onlyKeys(
            _ map: [String: Node],
            _ allowed: Set<String>,
            at path: String,
            node: Node,
            extensions: Bool = true
        ) throws(MicadoError) {
            for key in map.keys.sorted() where !allowed.contains(key) && !(extensions && key.hasPrefix("x-")) {
                throw fail(
                    map[key],
                    "'\(path.isEmpty ? "" : path + ".")\(Text.escaped(String(key.prefix(64))))' is not supported by micado (supported here: \(allowed.sorted().joined(separator: ", ")))"
                )
            }
        }

        func text(_ node: Node, _ path: String) throws(MicadoError) -> String {
            guard let text = node.scalarText else { throw fail(node, "\(path) must be a text value") }
            return text
        }

        func int(_ node: Node, _ path: String, range: ClosedRange<Int>) throws(MicadoError) -> Int {
            guard let n = node.intValue else { throw fail(node, "\(path) must be a whole number") }
            guard range.contains(n) else {
                throw fail(node, "\(path) must be between \(range.lowerBound) and \(range.upperBound), not \(n)")
            }
            return n
        }

        func number(_ node: Node, _ path: String, range: ClosedRange<Double>) throws(MicadoError) -> Double {
            // Decimal only: Swift's Double also reads `0x10` and `1e3`.
            guard let text = node.scalarText, text.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }), let n = Double(text),
                n.isFinite
            else { throw fail(node, "\(path) must be a decimal number") }
            guard range.contains(n) else {
                throw fail(node, "\(path) must be between \(range.lowerBound) and \(range.upperBound), not \(text)")
            }
            return n
        }

        func bool(_ node: Node, _ path: String) throws(MicadoError) -> Bool {
            guard let value = node.plainBool else { throw fail(node, "\(path) must be true or false") }
            return value
        }

        func duration(_ node: Node, _ path: String, range: ClosedRange<Double>) throws(MicadoError) -> Double {
            guard let text = node.scalarText, let seconds = ComposeDuration.seconds(text) else {
                throw fail(node, "\(path) must be a duration such as 30s, 5m or 1m30s")
            }
            guard range.contains(seconds) else {
                throw fail(
                    node,
                    "\(path) must be between \(ComposeDuration.text(range.lowerBound)) and \(ComposeDuration.text(range.upperBound)), not \(text)"
                )
            }
            return seconds
        }

        func memory(_ node: Node, _ path: String) throws(MicadoError) -> Int {
            guard let text = node.scalarText, let bytes = ComposeBytes.bytes(text) else {
                throw fail(node, "\(path) must be a size such as 64M or 1G")
            }
            let mib = Int((Double(bytes) / 1_048_576).rounded(.up))
            guard (6...1_048_576).contains(mib) else { throw fail(node, "\(path) must be between 6 MiB and 1 TiB, not \(text)") }
            return mib
        }

        /// A command as Compose writes it: a list, or one line split as a shell would.
        func words(_ node: Node, _ path: String) throws(MicadoError) -> [String] {
            let words: [String]
            switch node {
            case .sequence(let items):
                var list: [String] = []
                for (i, item) in items.enumerated() { list.append(try text(item, "\(path)[\(i)]")) }
                words = list
            case .scalar:
                guard let split = ShellWords.split(try text(node, path)) else { throw fail(node, "\(path) has an unclosed quote") }
                words = split
            default: throw fail(node, "\(path) must be a list or a line of text")
            }
            guard words.count <= 1000 else { throw fail(node, "\(path) has \(words.count) words; at most 1000") }
            for (i, word) in words.enumerated() {
                do { try Text.requireSafe(word, field: "\(path)[\(i)]") } catch { throw fail(node, error.message) }
            }
            return words
        }

        /// A list of `KEY=VALUE` or a mapping `KEY: VALUE` (environment, labels).
        func keyValues(_ node: Node, _ path: String) throws(MicadoError) -> [(String, String, Node)] {
            var pairs: [(String, String, Node)] = []
            switch node {
            case .sequence(let items):
                for (i, item) in items.enumerated() {
                    let entry = try text(item, "\(path)[\(i)]")
                    guard let eq = entry.firstIndex(of: "=") else { throw fail(item, "\(path)[\(i)] must be KEY=VALUE") }
                    pairs.append((String(entry[..<eq]), String(entry[entry.index(after: eq)...]), item))
                }
            case .mapping:
                for (key, value) in try mapping(node, path).sorted(by: { $0.key < $1.key }) {
                    guard let text = value.scalarText else {
                        if case .scalar = value {
                            throw fail(
                                value,
                                "\(path).\(Text.escaped(key)) must have a value (micado does not read the caller's environment)"
                            )
                        }
                        throw fail(value, "\(path).\(Text.escaped(key)) must be a text value")
                    }
                    pairs.append((key, text, value))
                }
            default: throw fail(node, "\(path) must be a list of KEY=VALUE or a mapping")
            }
            guard pairs.count <= 1000 else { throw fail(node, "\(path) has \(pairs.count) entries; at most 1000") }
            var seen = Set<String>()
            for (key, value, node) in pairs {
                guard seen.insert(key).inserted else { throw fail(node, "\(path): \(Text.escaped(key)) is given twice") }
                do { try Text.requireSafe(value, field: "\(path).\(Text.escaped(key))") } catch { throw fail(node, error.message) }
            }
            return pairs
        }

        func service(
            _ name: String,
            _ node: Node,
            app: String,
            networks: Set<String>,
            warnings: inout [String]
        ) throws(MicadoError) -> ServiceDefinition {
            let path = "services.\(Text.escaped(String(name.prefix(64))))"
            do { try ApplicationName.validate(name, what: "service name") } catch { throw fail(node, "\(path): \(error.message)") }
            guard app.count + 1 + name.count <= 63 else {
                throw fail(node, "\(path): the service's full name \(app)_\(name) is longer than 63 characters")
            }
            let map = try mapping(node, path)
            try keys(map, ComposeKeys.serviceFates, at: path, warnings: &warnings)
            var definition: ServiceDefinition
            if let buildNode = map["build"] {
                let built = ServiceBuild.imageName(application: app, service: name)
                guard ContainerName(rawValue: built) != nil else {
                    throw fail(buildNode, "\(path).build: the image's name \(built) is longer than 63 characters")
                }
                definition = ServiceDefinition(name: name, image: "")
                definition.build = try build(buildNode, "\(path).build", warnings: &warnings)
                if let imageNode = map["image"] {
                    warnings.append(
                        "\(file)\(imageNode.mark.map { ":\($0.line)" } ?? ""): \(path).image is not carried out with build: micado tags the build \(built):DIGEST"
                    )
                }
            } else {
                guard let imageNode = map["image"] else {
                    throw fail(node, "\(path).image is missing (or give build:)")
                }
                let image = try text(imageNode, "\(path).image")
                do { try ImageReference.validate(image) } catch { throw fail(imageNode, "\(path).image: \(error.message)") }
                definition = ServiceDefinition(name: name, image: image)
            }
            if let n = map["command"] { definition.command = try words(n, "\(path).command") }
            if let n = map["entrypoint"] { definition.entrypoint = try words(n, "\(path).entrypoint") }
            if let n = map["environment"] {
                for (key, value, item) in try keyValues(n, "\(path).environment") {
                    do { try EnvironmentVariable.validateKey(key, in: Text.escaped("\(key)=")) } catch {
                        throw fail(item, "\(path).environment: \(error.message)")
                    }
                    definition.environment.append(EnvironmentVariable(key: key, value: value))
                }
            }
            if let n = map["labels"] {
                for (key, value, item) in try keyValues(n, "\(path).labels") {
                    guard !key.isEmpty, key.count <= 128, !key.lowercased().hasPrefix("micado."),
                        !key.contains(where: { $0.isWhitespace || $0 == "=" })
                    else {
                        throw fail(
                            item,
                            "\(path).labels: '\(Text.escaped(String(key.prefix(64))))' is not a label key micado allows (non-empty, no spaces, not micado.*)"
                        )
                    }
                    do { try Text.requireSafe(key, field: "\(path).labels") } catch { throw fail(item, error.message) }
                    definition.labels[key] = value
                }
            }
            if let n = map["ports"] { definition.ports = try ports(n, "\(path).ports") }
            try options(map, path, into: &definition.options)
            if let n = map["depends_on"] {
                definition.dependsOn = try dependencies(n, "\(path).depends_on")
            }
            if let n = map["networks"] {
                let joined = try self.networks(n, "\(path).networks", declared: networks)
                // Only the default network, without aliases, is what no key says.
                if joined != ["default": []] { definition.options.networks = joined }
            }
            if let n = map["deploy"] { try deploy(n, "\(path).deploy", into: &definition) }
            if let n = map["x-micado"] { try micado(n, "\(path).x-micado", into: &definition) }
            let size = definition.commandBytes
            guard size <= LaunchRequest.maximumCommandBytes else {
                throw fail(
                    node,
                    "\(path): command, entrypoint, environment and labels together take \(size) bytes; at most \(LaunchRequest.maximumCommandBytes)"
                )
            }
            if definition.domain != nil, definition.ports.count != 1 {
                throw fail(
                    map["x-micado"],
                    "\(path).x-micado.domain needs exactly one published port to route to (the service has \(definition.ports.count))"
                )
            }
            if let scaling = definition.scaling, let replicas = definition.replicas, !(scaling.min...scaling.max).contains(replicas) {
                throw fail(
                    map["deploy"],
                    "\(path).deploy.replicas \(replicas) is outside x-micado.scaling's \(scaling.min)...\(scaling.max)"
                )
            }
            return definition
        }

        func ports(_ node: Node, _ path: String) throws(MicadoError) -> [PortMapping] {
            guard case .sequence(let items) = node else { throw fail(node, "\(path) must be a list") }
            guard items.count <= 16 else { throw fail(node, "\(path) has \(items.count) ports; at most 16") }
            var result: [PortMapping] = []
            for (i, item) in items.enumerated() {
                let ipath = "\(path)[\(i)]"
                let port: PortMapping
                if case .mapping = item {
                    let map = try mapping(item, ipath)
                    try onlyKeys(map, ["target", "published", "protocol", "mode"], at: ipath, node: item)
                    guard let t = map["target"] else { throw fail(item, "\(ipath).target is missing") }
                    guard let p = map["published"] else {
                        throw fail(item, "\(ipath).published is missing (micado publishes on the node's port in host mode)")
                    }
                    if let proto = map["protocol"], proto.scalarText != "tcp" {
                        throw fail(proto, "\(ipath).protocol: only tcp is supported")
                    }
                    if let mode = map["mode"], mode.scalarText != "host" {
                        throw fail(mode, "\(ipath).mode: only host is supported (this kernel has no IPVS for Swarm's routing mesh)")
                    }
                    port = PortMapping(
                        published: try int(p, "\(ipath).published", range: 1...65535),
                        target: try int(t, "\(ipath).target", range: 1...65535)
                    )
                } else {
                    var text = try self.text(item, ipath)
                    if text.hasSuffix("/tcp") { text.removeLast(4) }
                    let parts = text.split(separator: ":", omittingEmptySubsequences: false)
                    guard parts.count == 2, let published = Int(parts[0]), let target = Int(parts[1]) else {
                        throw fail(
                            item,
                            "\(ipath) must be PUBLISHED:TARGET, e.g. \"8080:80\" (a host-mode port needs its published number)"
                        )
                    }
                    guard (1...65535).contains(published), (1...65535).contains(target) else {
                        throw fail(item, "\(ipath): ports are 1-65535")
                    }
                    port = PortMapping(published: published, target: target)
                }
                guard !result.contains(where: { $0.published == port.published }) else {
                    throw fail(item, "\(ipath): port \(port.published) is published twice")
                }
                result.append(port)
            }
            return result
        }

        func deploy(_ node: Node, _ path: String, into definition: inout ServiceDefinition) throws(MicadoError) {
            let map = try mapping(node, path)
            try onlyKeys(
                map,
                ["mode", "replicas", "resources", "placement", "update_config", "restart_policy", "labels"],
                at: path,
                node: node
            )
            if let n = map["restart_policy"] { definition.options.restart = try restartPolicy(n, "\(path).restart_policy") }
            if let n = map["labels"] {
                var labels: [String: String] = [:]
                defer { definition.options.serviceLabels = labels }
                for (key, value, item) in try keyValues(n, "\(path).labels") {
                    guard !key.isEmpty, key.count <= 128, !key.lowercased().hasPrefix("micado."),
                        !key.lowercased().hasPrefix("com.docker."), !key.contains(where: { $0.isWhitespace || $0 == "=" })
                    else {
                        throw fail(
                            item,
                            "\(path).labels: '\(Text.escaped(String(key.prefix(64))))' is not a label key micado allows (non-empty, no spaces, not micado.*)"
                        )
                    }
                    labels[key] = value
                }
            }
            if let n = map["mode"], n.scalarText != "replicated" { throw fail(n, "\(path).mode: only replicated is supported") }
            if let n = map["replicas"] { definition.replicas = try int(n, "\(path).replicas", range: 0...1000) }
            if let resourcesNode = map["resources"] {
                let resources = try mapping(resourcesNode, "\(path).resources")
                try onlyKeys(resources, ["reservations", "limits"], at: "\(path).resources", node: resourcesNode)
                if let n = resources["reservations"] {
                    let rpath = "\(path).resources.reservations"
                    let reservations = try mapping(n, rpath)
                    try onlyKeys(reservations, ["memory"], at: rpath, node: n)
                    if let m = reservations["memory"] { definition.memoryReservationMiB = try memory(m, "\(rpath).memory") }
                }
                if let n = resources["limits"] {
                    let lpath = "\(path).resources.limits"
                    let limits = try mapping(n, lpath)
                    try onlyKeys(limits, ["memory", "cpus"], at: lpath, node: n)
                    if let m = limits["memory"] { definition.memoryLimitMiB = try memory(m, "\(lpath).memory") }
                    if let c = limits["cpus"] { definition.cpuLimit = try number(c, "\(lpath).cpus", range: 0.01...256) }
                }
                if let limit = definition.memoryLimitMiB, let reservation = definition.memoryReservationMiB, limit < reservation {
                    throw fail(
                        resourcesNode,
                        "\(path).resources: the memory limit (\(limit) MiB) is below the reservation (\(reservation) MiB)"
                    )
                }
            }
            if let placementNode = map["placement"] {
                let placement = try mapping(placementNode, "\(path).placement")
                try onlyKeys(placement, ["constraints"], at: "\(path).placement", node: placementNode)
                if let n = placement["constraints"] {
                    guard case .sequence(let items) = n else { throw fail(n, "\(path).placement.constraints must be a list") }
                    for (i, item) in items.enumerated() {
                        let cpath = "\(path).placement.constraints[\(i)]"
                        let constraint = try text(item, cpath)
                        let parts = constraint.components(separatedBy: "==").map { $0.trimmingCharacters(in: .whitespaces) }
                        guard parts.count == 2, parts[0] == "node.labels.micado.location" else {
                            throw fail(item, "\(cpath): only 'node.labels.micado.location == LOCATION' is supported")
                        }
                        do { try LocationName.validate(parts[1]) } catch { throw fail(item, "\(cpath): \(error.message)") }
                        if let other = definition.location, other != parts[1] { throw fail(item, "\(cpath): a second, different location") }
                        definition.location = parts[1]
                    }
                }
            }
            if let n = map["update_config"] { definition.update = try update(n, "\(path).update_config") }
        }

        func update(_ node: Node, _ path: String) throws(MicadoError) -> UpdatePolicy {
            let map = try mapping(node, path)
            try onlyKeys(map, ["parallelism", "delay", "failure_action", "monitor", "max_failure_ratio", "order"], at: path, node: node)
            var policy = UpdatePolicy()
            if let n = map["parallelism"] { policy.parallelism = try int(n, "\(path).parallelism", range: 0...1000) }
            if let n = map["delay"] { policy.delaySeconds = try duration(n, "\(path).delay", range: 0...3600) }
            if let n = map["monitor"] { policy.monitorSeconds = try duration(n, "\(path).monitor", range: 0...3600) }
            if let n = map["max_failure_ratio"] { policy.maxFailureRatio = try number(n, "\(path).max_failure_ratio", range: 0...1) }
            if let n = map["failure_action"] {
                guard let action = n.scalarText.flatMap(UpdatePolicy.FailureAction.init(rawValue:)) else {
                    throw fail(n, "\(path).failure_action must be one of rollback, pause, continue")
                }
                policy.failureAction = action
            }
            if let n = map["order"] {
                guard let order = n.scalarText.flatMap(UpdatePolicy.Order.init(rawValue:)) else {
                    throw fail(n, "\(path).order must be stop-first or start-first")
                }
                policy.order = order
            }
            return policy
        }

        func micado(_ node: Node, _ path: String, into definition: inout ServiceDefinition) throws(MicadoError) {
            let map = try mapping(node, path)
            try onlyKeys(map, ["domain", "tls", "scaling"], at: path, node: node, extensions: false)
            if let n = map["domain"] {
                let domain = try text(n, "\(path).domain")
                do { try DomainName.validate(domain) } catch { throw fail(n, "\(path).domain: \(error.message)") }
                definition.domain = domain
            }
            if let n = map["tls"] {
                definition.tls = try bool(n, "\(path).tls")
                if definition.tls, definition.domain == nil {
                    throw fail(n, "\(path).tls serves the domain over HTTPS: give the domain too")
                }
            }
            if let n = map["scaling"] { definition.scaling = try scaling(n, "\(path).scaling") }
        }

        func scaling(_ node: Node, _ path: String) throws(MicadoError) -> ScalingPolicy {
            let map = try mapping(node, path)
            try onlyKeys(
                map,
                ["min", "max", "metric", "target", "targets", "upCooldown", "downStabilization", "tolerance"],
                at: path,
                node: node,
                extensions: false
            )
            guard let minNode = map["min"], let maxNode = map["max"] else { throw fail(node, "\(path) needs min and max") }
            // At least 1: a service at 0 replicas has no usage to scale back up on.
            let low = try int(minNode, "\(path).min", range: 1...1000)
            let high = try int(maxNode, "\(path).max", range: 1...1000)
            guard low <= high else { throw fail(maxNode, "\(path).max (\(high)) is below min (\(low))") }
            var targets: [ScalingPolicy.Target] = []
            func metric(_ n: Node, _ p: String) throws(MicadoError) -> ScalingPolicy.Metric {
                guard let m = n.scalarText.flatMap(ScalingPolicy.Metric.init(rawValue:)) else {
                    throw fail(n, "\(p) must be cpu or memory")
                }
                return m
            }
            if let targetsNode = map["targets"] {
                guard map["metric"] == nil, map["target"] == nil else {
                    throw fail(targetsNode, "\(path): give either metric and target, or targets")
                }
                for (key, value) in try mapping(targetsNode, "\(path).targets").sorted(by: { $0.key < $1.key }) {
                    guard let m = ScalingPolicy.Metric(rawValue: key) else {
                        throw fail(value, "\(path).targets.\(Text.escaped(key)): metrics are cpu and memory")
                    }
                    targets.append(.init(metric: m, percent: try number(value, "\(path).targets.\(key)", range: 1...1000)))
                }
            } else {
                guard let m = map["metric"], let t = map["target"] else {
                    throw fail(node, "\(path) needs metric and target (e.g. metric: cpu, target: 60)")
                }
                targets.append(.init(metric: try metric(m, "\(path).metric"), percent: try number(t, "\(path).target", range: 1...1000)))
            }
            guard !targets.isEmpty else { throw fail(node, "\(path).targets is empty") }
            var policy = ScalingPolicy(min: low, max: high, targets: targets)
            if let n = map["upCooldown"] { policy.upCooldownSeconds = try duration(n, "\(path).upCooldown", range: 0...86400) }
            if let n = map["downStabilization"] {
                policy.downStabilizationSeconds = try duration(n, "\(path).downStabilization", range: 0...86400)
            }
            if let n = map["tolerance"] { policy.tolerance = try number(n, "\(path).tolerance", range: 0...0.9) }
            return policy
        }
    }
}

extension Node {
    /// The text of a scalar (nil for a mapping, a list, or a null).
    var scalarText: String? {
        guard case .scalar(let scalar) = self, !isPlainNull else { return nil }
        return scalar.string
    }

    /// A whole number written as one (not `1.5`, not `"12abc"`).
    var intValue: Int? {
        guard case .scalar(let scalar) = self else { return nil }
        return Int(scalar.string)
    }
}

/// Compose durations: `1h`, `5m`, `30s`, `100ms`, `1m30s`, `1.5s`.
public enum ComposeDuration {
    public static func seconds(_ text: String) -> Double? {
        guard !text.isEmpty, text.count <= 32 else { return nil }
        let units: [(String, Double)] = [("ms", 0.001), ("us", 0.000_001), ("h", 3600), ("m", 60), ("s", 1)]
        var rest = Substring(text)
        var total = 0.0
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isNumber || $0 == "." }
            guard !digits.isEmpty, let value = Double(digits) else { return nil }
            rest = rest.dropFirst(digits.count)
            guard let (unit, factor) = units.first(where: { rest.hasPrefix($0.0) }) else { return nil }
            rest = rest.dropFirst(unit.count)
            total += value * factor
        }
        return total.isFinite ? total : nil
    }

    public static func text(_ seconds: Double) -> String {
        if seconds >= 3600, seconds.truncatingRemainder(dividingBy: 3600) == 0 { return "\(Int(seconds / 3600))h" }
        if seconds >= 60, seconds.truncatingRemainder(dividingBy: 60) == 0 { return "\(Int(seconds / 60))m" }
        return seconds == seconds.rounded() ? "\(Int(seconds))s" : "\(seconds)s"
    }
}

/// Compose byte sizes: `64M`, `1g`, `512mb`, `1024k`, `2048` (bytes).
public enum ComposeBytes {
    public static func bytes(_ text: String) -> Int64? {
        let lower = text.lowercased()
        guard !lower.isEmpty, lower.count <= 24 else { return nil }
        for (suffix, factor) in [
            ("gb", 1_073_741_824), ("mb", 1_048_576), ("kb", 1024), ("g", 1_073_741_824), ("m", 1_048_576), ("k", 1024), ("b", 1),
        ] as [(String, Double)] {
            if lower.hasSuffix(suffix) {
                let digits = lower.dropLast(suffix.count)
                guard digits.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }), let value = Double(digits), value.isFinite,
                    value > 0,
                    value * factor < 9e18
                else { return nil }
                return Int64((value * factor).rounded(.up))
            }
        }
        guard let value = Int64(lower), value > 0 else { return nil }
        return value
    }
}

/// Splits a command line as a POSIX shell does for words: spaces separate, quotes group,
/// a backslash escapes (outside single quotes). Nil for an unclosed quote.
public enum ShellWords {
    public static func split(_ line: String) -> [String]? {
        var words: [String] = []
        var current = ""
        var inWord = false
        var quote: Character?
        var escaped = false
        for c in line {
            if escaped {
                current.append(c)
                escaped = false
                continue
            }
            if let q = quote {
                if c == q {
                    quote = nil
                } else if c == "\\" && q == "\"" {
                    escaped = true
                } else {
                    current.append(c)
                }
                continue
            }
            switch c {
            case "\\":
                escaped = true
                inWord = true
            case "'", "\"":
                quote = c
                inWord = true
            case " ", "\t", "\n":
                if inWord { words.append(current) }
                current = ""
                inWord = false
            default:
                current.append(c)
                inWord = true
            }
        }
        guard quote == nil, !escaped else { return nil }
        if inWord { words.append(current) }
        return words
    }
}

/// How deep a YAML text nests: flow collections (`[`, `{`) and block indentation, outside
/// quotes and comments. Conservative: it may count a bracket of a block scalar.
enum FlowNesting {
    /// The line where nesting first exceeds `limit`, if it does.
    static func firstLineDeeperThan(_ limit: Int, in text: String) -> Int? {
        var line = 1
        var flow = 0
        var quote: UInt8?
        var comment = false
        var atLineStart = true
        var indent = 0
        for byte in text.utf8 {
            if byte == UInt8(ascii: "\n") {
                line += 1
                comment = false
                atLineStart = true
                indent = 0
                if quote == UInt8(ascii: "'") || quote == UInt8(ascii: "\"") { continue }
                continue
            }
            if atLineStart {
                if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "-") {
                    indent += 1
                    // Block nesting: two columns a level, at the least.
                    if indent / 2 > limit { return line }
                    continue
                }
                atLineStart = false
            }
            if comment { continue }
            if let q = quote {
                if byte == q { quote = nil }
                continue
            }
            switch byte {
            case UInt8(ascii: "#"): comment = true
            case UInt8(ascii: "'"), UInt8(ascii: "\""): quote = byte
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                flow += 1
                if flow > limit { return line }
            case UInt8(ascii: "]"), UInt8(ascii: "}"): flow = max(0, flow - 1)
            default: break
            }
        }
        return nil
    }
}
