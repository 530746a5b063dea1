import ArgumentParser
import Foundation
import MicadoClient
import MicadoCompose
import MicadoCore
import NIOCore
import NIOHTTP1

extension Micado {
    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Deploy an application from a Compose file, or change it to match the file.",
            discussion: """
                Services are created, rolled (a changed image or environment, by the file's update_config, rolled back on failure), \
                or removed to match the file; an unchanged file touches nothing. A service with x-micado.scaling sets its own \
                replica count from its usage. Example: micado apply -f shop/compose.yaml --dry-run
                """
        )

        @Option(name: .shortAndLong, help: "The Compose file.")
        var file: String

        @Option(name: .shortAndLong, help: "The application's name (default: the file's name:, else its folder).")
        var name: String?

        @Flag(name: .long, help: "Print the plan without changing anything.")
        var dryRun = false

        @Option(name: .long, help: "Variables for ${VAR} in the file, KEY=VALUE lines (default: .env beside the file, if there is one).")
        var envFile: String?

        @Option(help: "Refuse a service's build context larger than this many bytes.")
        var maxContextBytes = 1 << 30

        @OptionGroup var output: OutputOptions

        /// The values of the variables the file's values use, and only those: the CLI's
        /// environment first, then the environment file. Nothing else of the environment leaves.
        func variables(for text: String, beside url: URL) throws -> (used: [String: String], file: [String: String]) {
            let names = try ComposeFile.variableNames(in: text, file: url.lastPathComponent)
            var fromFile: [String: String] = [:]
            let path = envFile ?? url.standardizedFileURL.deletingLastPathComponent().appendingPathComponent(".env").path
            var info = stat()
            if stat(path, &info) == 0 || envFile != nil {
                guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
                    throw MicadoError.badRequest("cannot read the environment file \(Text.escaped(path)): not a regular file")
                }
                guard info.st_size <= EnvironmentFile.maximumBytes else {
                    throw MicadoError(.tooLarge, "\(Text.escaped(path)) is larger than \(EnvironmentFile.maximumBytes) bytes")
                }
                guard let data = FileManager.default.contents(atPath: path), let content = String(data: data, encoding: .utf8) else {
                    throw MicadoError.badRequest("cannot read \(Text.escaped(path)) as UTF-8 text")
                }
                fromFile = try EnvironmentFile.parse(content, file: Text.escaped((path as NSString).lastPathComponent))
            }
            let environment = ProcessInfo.processInfo.environment
            var values: [String: String] = [:]
            for name in names { if let value = environment[name] ?? fromFile[name] { values[name] = value } }
            return (values, fromFile)
        }

        /// The content of every secret and config a service mounts, read here (the manager has
        /// no access to the user's files or environment): a regular file beside the Compose file
        /// (never a FIFO or a device: opened without blocking, then checked), or a variable.
        func objects(of spec: ApplicationSpec, beside url: URL, fromFile: [String: String]) throws -> [String: String]? {
            var objects: [String: String] = [:]
            let base = url.standardizedFileURL.deletingLastPathComponent().path
            for (kind, sources) in [(FileMountKind.secrets, spec.secrets), (.configs, spec.configs)] {
                let used = Set(spec.services.flatMap { (kind == .secrets ? $0.options.secrets : $0.options.configs) ?? [] }.map(\.source))
                for name in used.sorted() {
                    guard let source = sources[name] else { continue }
                    let bytes: [UInt8]
                    switch source {
                    case .content(let content): bytes = Array(content.utf8)
                    case .environment(let variable):
                        guard let value = ProcessInfo.processInfo.environment[variable] ?? fromFile[variable] else {
                            throw MicadoError.badRequest("\(kind.rawValue).\(name): the variable \(variable) is not set")
                        }
                        bytes = Array(value.utf8)
                    case .file(let file):
                        bytes = try Self.readObject(file.hasPrefix("/") ? file : base + "/" + file, what: "\(kind.rawValue).\(name)")
                    }
                    guard bytes.count <= ApplyRequest.maximumObjectBytes else {
                        throw MicadoError(
                            .tooLarge,
                            "\(kind.rawValue).\(name) is over \(ApplyRequest.maximumObjectBytes) bytes, Swarm's bound"
                        )
                    }
                    objects[ApplicationSpec.objectKey(kind, name)] = Data(bytes).base64EncodedString()
                }
            }
            // Each env_file that exists (one that is missing is the manager's to refuse, unless not required).
            for reference in Set(spec.services.flatMap(\.environmentFiles).map(\.path)).sorted() {
                let path = reference.hasPrefix("/") ? reference : base + "/" + reference
                var info = stat()
                guard stat(path, &info) == 0 else { continue }
                let bytes = try Self.readObject(path, what: "env_file \(reference)", limit: EnvironmentFile.maximumBytes)
                objects[EnvironmentFileReference(path: reference).objectKey] = Data(bytes).base64EncodedString()
            }
            return objects.isEmpty ? nil : objects
        }

        /// Each service with `build:`: its context packed and its digest taken; built by micado
        /// (pushed to its registry) unless an image of that digest is there already. A dry run
        /// builds nothing and sends the tags it would make.
        func builds(of spec: ApplicationSpec, beside url: URL, client: ManagerClient) async throws -> [String: String]? {
            let services = spec.services.filter { $0.build != nil }
            guard !services.isEmpty else { return nil }
            let base = url.standardizedFileURL.deletingLastPathComponent().path
            let known = Set(try await client.json([ImageView].self, .GET, "/v1/images").map(\.name.rawValue))
            var builds: [String: String] = [:]
            for service in services {
                guard let build = service.build else { continue }
                let folder = build.context.hasPrefix("/") ? build.context : base + "/" + build.context
                let packer = ContextPacker(folder: folder, dockerfile: build.dockerfile ?? "Dockerfile", maximumBytes: maxContextBytes)
                let packed = try packer.pack(options: build)
                defer { close(packed.body.descriptor) }
                let name = ServiceBuild.imageName(application: spec.name.rawValue, service: service.name)
                let version = String(packed.digest.prefix(16))
                let tag = "\(name):\(version)"
                builds[service.name] = tag
                let what = "\(spec.name)_\(service.name) from \(Text.escaped(build.context))"
                if packed.skipped > 0 { Console.err("\(what): \(packed.skipped) socket(s), FIFO(s) or device(s) left out of the context") }
                if known.contains(tag) {
                    Console.err("\(what): unchanged, \(tag) is built already")
                    continue
                }
                if dryRun {
                    Console.err("\(what): would build \(tag) (\(packed.body.length) bytes of context)")
                    continue
                }
                Console.err("building \(what) as \(tag) (\(packed.body.length) bytes of context)…")
                var query = [("name", name), ("tag", version)]
                if let dockerfile = build.dockerfile { query.append(("dockerfile", dockerfile)) }
                if let target = build.target { query.append(("target", target)) }
                var headers: [(String, String)] = []
                if !build.arguments.isEmpty {
                    headers.append(("X-Micado-Build-Args", try JSONEncoder().encode(build.arguments).base64EncodedString()))
                }
                _ = try await client.send(
                    .POST,
                    "/v1/images",
                    query: query,
                    body: packed.body.requestBody,
                    contentType: "application/x-tar",
                    headers: headers,
                    timeout: .seconds(900)
                )
                Console.err("built \(tag)")
            }
            return builds
        }

        static func readObject(_ path: String, what: String, limit: Int = ApplyRequest.maximumObjectBytes) throws -> [UInt8] {
            try BoundedFile.read(path, what: what, limit: limit)
        }

        func run() async throws {
            let url = URL(fileURLWithPath: file)
            let attributes: [FileAttributeKey: Any]
            do { attributes = try FileManager.default.attributesOfItem(atPath: file) } catch {
                throw MicadoError.badRequest("cannot read \(Text.escaped(file)): no such file")
            }
            guard attributes[.type] as? FileAttributeType == .typeRegular else {
                throw MicadoError.badRequest("\(Text.escaped(file)) is not a regular file")
            }
            guard (attributes[.size] as? Int ?? 0) <= ApplyRequest.maximumFileBytes else {
                throw MicadoError(
                    .tooLarge,
                    "\(Text.escaped(file)) is larger than \(ApplyRequest.maximumFileBytes) bytes; a Compose file is small"
                )
            }
            guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8) else {
                throw MicadoError.badRequest("cannot read \(Text.escaped(file)) as UTF-8 text")
            }
            let folder = url.standardizedFileURL.deletingLastPathComponent().lastPathComponent
            let (variables, fromFile) = try variables(for: text, beside: url)
            let spec = try ComposeFile.parse(text, file: url.lastPathComponent, name: name, folder: folder, variables: variables)
            var request = ApplyRequest(
                name: name,
                folderName: folder,
                file: text,
                fileName: url.lastPathComponent,
                dryRun: dryRun,
                variables: variables,
                objects: try objects(of: spec, beside: url, fromFile: fromFile)
            )
            let client = try ManagerClient.fromHome()
            request.builds = try await builds(of: spec, beside: url, client: client)
            let plan = try await client.json(ApplyPlanView.self, .POST, "/v1/applications", body: request, timeout: .seconds(300))
            if output.output == .json { return try Console.printJSON(plan) }
            Console.table(
                ["SERVICE", "ACTION", "FIELDS"],
                plan.steps.map { [$0.service, $0.action.rawValue, $0.fields.joined(separator: ", ")] }
            )
            for warning in plan.warnings { print("warning: \(Text.escaped(warning))") }
            for pull in plan.pulls {
                let through = pull.reference == pull.image ? "" : " as \(Text.escaped(pull.reference))"
                print("pull: \(Text.escaped(pull.service)) runs \(Text.escaped(pull.image)), which the nodes pull\(through)")
            }
            let changed = plan.steps.contains { $0.action != .unchanged }
            if plan.dryRun {
                let command = (["micado", "apply", "-f", file] + (name.map { ["-n", $0] } ?? [])).map { Micado.shellQuoted($0) }.joined(
                    separator: " "
                )
                print(
                    changed
                        ? "dry run: nothing changed; \(command) makes revision \(plan.revision) of \(plan.application)"
                        : "dry run: \(plan.application) matches the file"
                )
            } else {
                print(
                    changed
                        ? "\(plan.application) is at revision \(plan.revision)"
                        : "\(plan.application) matches the file (revision \(plan.revision)); nothing touched"
                )
            }
        }
    }

    /// A word as a shell takes it back: bare when it is plain, else in single quotes.
    static func shellQuoted(_ word: String) -> String {
        let plain =
            !word.isEmpty
            && word.unicodeScalars.allSatisfy {
                CharacterSet.alphanumerics.contains($0) && $0.isASCII || "-_./:=@%+,".unicodeScalars.contains($0)
            }
        return plain ? word : "'" + Text.escaped(word).replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    struct Apps: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "apps",
            abstract: "List the applications deployed with 'micado apply'.",
            discussion: "Example: micado apps; micado apps rm shop",
            subcommands: [List.self, RemoveApp.self],
            defaultSubcommand: List.self
        )

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(commandName: "ls", abstract: "List the applications.")
            @OptionGroup var output: OutputOptions

            func run() async throws {
                let apps = try await ManagerClient.fromHome().json([ApplicationView].self, .GET, "/v1/applications")
                if output.output == .json { return try Console.printJSON(apps) }
                Console.table(
                    ["APPLICATION", "REVISION", "SERVICE", "IMAGE", "REPLICAS", "MEMORY(MiB)", "DOMAIN", "POLICY"],
                    apps.flatMap { app in
                        app.services.map {
                            [
                                app.name.rawValue, "\(app.revision)", $0.name, $0.image, "\($0.runningReplicas)/\($0.desiredReplicas)",
                                "\($0.memoryMiB)",
                                $0.domain ?? "", $0.policy ?? "",
                            ]
                        }
                    }
                )
            }
        }

        struct RemoveApp: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "rm",
                abstract: "Remove an application with all its services and routes."
            )
            @Argument(help: "The application's name.")
            var application: String

            @Flag(name: .long, help: "Also remove its named volumes, with their data (without it they stay for the next apply).")
            var volumes = false

            @OptionGroup var output: OutputOptions

            func run() async throws {
                let client = try ManagerClient.fromHome()
                let path = "/v1/applications/\(ManagerClient.escape(application))"
                guard volumes else {
                    try await client.send(.DELETE, path)
                    if output.output == .json {
                        return try Console.printJSON(
                            ApplicationRemovalView(
                                application: ApplicationName(stored: application),
                                removedVolumes: [],
                                pendingVolumes: []
                            )
                        )
                    }
                    return print("\(application) removed; its volumes, if any, stay for its next apply ('--volumes' removes them)")
                }
                let removal = try await client.json(
                    ApplicationRemovalView.self,
                    .DELETE,
                    path,
                    query: [("volumes", "true")],
                    timeout: .seconds(120)
                )
                if output.output == .json { return try Console.printJSON(removal) }
                print("\(application) removed")
                for volume in removal.removedVolumes { print("volume \(volume) removed with its data") }
                for volume in removal.pendingVolumes { print("volume \(volume) is removed once its last task has stopped") }
            }
        }
    }
}
