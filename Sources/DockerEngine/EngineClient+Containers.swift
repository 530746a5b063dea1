import AsyncHTTPClient
import Foundation
import MicadoCore
import NIOCore
import NIOHTTP1

#if canImport(Glibc)
import Glibc
#endif

// Containers, archives, images and builds on one engine.
extension EngineClient {
    public struct Usage: Sendable {
        /// Memory in use, without the page cache the kernel can drop.
        public var memoryBytes: Int64
        public var memoryLimitBytes: Int64?
        /// Percent of one CPU (100 = one full core) over the engine's sampling window; 0 for
        /// a one-shot sample, whose CPU the caller derives from `cpu` of two samples.
        public var cpuPercent: Double
        /// Cumulative CPU time of the container and of the machine (ns), and its CPUs.
        public var cpu: CPUReading

        public init(memoryBytes: Int64, memoryLimitBytes: Int64?, cpuPercent: Double, cpu: CPUReading) {
            self.memoryBytes = memoryBytes
            self.memoryLimitBytes = memoryLimitBytes
            self.cpuPercent = cpuPercent
            self.cpu = cpu
        }

        public struct CPUReading: Sendable {
            public var container: Double
            public var system: Double
            public var cpus: Double

            public init(container: Double, system: Double, cpus: Double) {
                self.container = container
                self.system = system
                self.cpus = cpus
            }

            /// Percent of one CPU used between `earlier` and this reading.
            public func percent(since earlier: CPUReading) -> Double? {
                guard system > earlier.system, container >= earlier.container else { return nil }
                return (container - earlier.container) / (system - earlier.system) * cpus * 100
            }
        }
    }

    /// `POST /containers/{id}/kill`: SIGKILL, for a task that outlived its stop grace (one
    /// already gone is not an error: that is what was wanted).
    public func killContainer(_ id: String) async throws(MicadoError) {
        do { _ = try await send(.POST, "/containers/\(id)/kill", query: [("signal", "KILL")]) } catch
            where error.code == .notFound || error.code == .conflict
        {}
    }

    /// `GET /containers/{id}/stats?stream=false`: one sample. The engine takes ~1 s for the
    /// CPU figure unless `oneShot` (API 1.41+), which answers at once without it.
    public func usage(container: String, oneShot: Bool) async throws(MicadoError) -> Usage {
        let response = try await send(
            .GET,
            "/containers/\(container)/stats",
            query: [("stream", "false")] + (oneShot ? [("one-shot", "true")] : []),
            timeout: .seconds(10)
        )
        guard let object = (try? JSONSerialization.jsonObject(with: Data(response.body.readableBytesView))) as? [String: Any] else {
            throw .init(.engine, "unreadable stats for container \(container)")
        }
        let memory = object["memory_stats"] as? [String: Any] ?? [:]
        let stats = memory["stats"] as? [String: Any] ?? [:]
        let usage = (memory["usage"] as? NSNumber)?.int64Value ?? 0
        // cgroup v1 reports the page cache as "cache" (or total_inactive_file), v2 as "inactive_file".
        let cache = ((stats["total_inactive_file"] ?? stats["inactive_file"] ?? stats["cache"]) as? NSNumber)?.int64Value ?? 0
        func cpu(_ key: String) -> (Double, Double, Double) {
            let c = object[key] as? [String: Any] ?? [:]
            let total = ((c["cpu_usage"] as? [String: Any])?["total_usage"] as? NSNumber)?.doubleValue ?? 0
            let system = (c["system_cpu_usage"] as? NSNumber)?.doubleValue ?? 0
            let cpus = (c["online_cpus"] as? NSNumber)?.doubleValue ?? 1
            return (total, system, cpus)
        }
        let (total, system, cpus) = cpu("cpu_stats")
        let (preTotal, preSystem, _) = cpu("precpu_stats")
        let cpuPercent = system > preSystem && preSystem > 0 ? (total - preTotal) / (system - preSystem) * cpus * 100 : 0
        return Usage(
            memoryBytes: max(0, usage - cache),
            memoryLimitBytes: (memory["limit"] as? NSNumber)?.int64Value,
            cpuPercent: max(0, cpuPercent),
            cpu: .init(container: total, system: system, cpus: cpus)
        )
    }

    /// `GET /containers/{id}/archive`: a tar of the file or folder at `path`, written as it
    /// comes to the open file `descriptor` (never held in memory), at most `maxBytes`.
    public func archive(container: String, path: String, maxBytes: Int, into descriptor: Int32) async throws(MicadoError) {
        let request = try request(.GET, "/containers/\(container)/archive", query: [("path", path)], versioned: true)
        do {
            let response = try await http.execute(request, timeout: .seconds(120))
            guard (200..<300).contains(response.status.code) else {
                throw Self.engineError(status: response.status, body: try await response.body.collect(upTo: 64 << 10), what: "GET archive")
            }
            var written = 0
            for try await piece in response.body {
                written += piece.readableBytes
                guard written <= maxBytes else { throw MicadoError(.tooLarge, "\(path) is larger than \(maxBytes) bytes") }
                try piece.writeAll(to: descriptor)
            }
        } catch let error as MicadoError {
            throw error
        } catch {
            throw Self.transportError(error, endpoint: endpoint)
        }
    }

    /// Whether `path` in the container is a folder (`HEAD /containers/{id}/archive`); nil
    /// when nothing is there.
    public func isFolder(container: String, path: String) async throws(MicadoError) -> Bool? {
        let response: Response
        do { response = try await send(.HEAD, "/containers/\(container)/archive", query: [("path", path)], timeout: .seconds(30)) } catch
            where error.code == .notFound
        {
            return nil
        }
        struct Stat: Decodable { var mode: UInt32 }
        guard let header = response.headers.first(name: "X-Docker-Container-Path-Stat"), let data = Data(base64Encoded: header),
            let stat = try? JSONDecoder().decode(Stat.self, from: data)
        else { throw .init(.engine, "the engine did not say what \(path) is") }
        return stat.mode & (1 << 31) != 0  // Go's os.ModeDir
    }

    /// `PUT /containers/{id}/archive`: unpacks `tar` into the folder `path`.
    public func putArchive(container: String, path: String, tar: OutgoingBody) async throws(MicadoError) {
        _ = try await send(
            .PUT,
            "/containers/\(container)/archive",
            query: [("path", path)],
            body: tar,
            contentType: "application/x-tar",
            timeout: .seconds(120)
        )
    }

    public func inspectImage(_ name: String) async throws(MicadoError) -> ImageInspect {
        try await get("/images/\(name)/json")
    }

    public func removeImage(_ name: String, force: Bool) async throws(MicadoError) {
        _ = try await send(.DELETE, "/images/\(name)", query: [("force", force ? "true" : "false")])
    }

    /// `GET /images/get`: the images as a tarball, written to the open file `descriptor` as it
    /// arrives (an image of any size costs disk, not memory), to load into another engine.
    public func saveImages(_ names: [String], into descriptor: Int32) async throws(MicadoError) {
        let request = try request(.GET, "/images/get", query: names.map { ("names", $0) }, versioned: true)
        do {
            let response = try await http.execute(request, timeout: .seconds(600))
            guard (200..<300).contains(response.status.code) else {
                throw Self.engineError(
                    status: response.status,
                    body: try await response.body.collect(upTo: 64 << 10),
                    what: "GET images/get"
                )
            }
            for try await piece in response.body { try piece.writeAll(to: descriptor) }
        } catch let error as MicadoError {
            throw error
        } catch {
            throw Self.transportError(error, endpoint: endpoint)
        }
    }

    /// `POST /images/load`, streamed.
    public func loadImages(_ tarball: OutgoingBody) async throws(MicadoError) {
        _ = try await send(
            .POST,
            "/images/load",
            query: [("quiet", "1")],
            body: tarball,
            contentType: "application/x-tar",
            timeout: .seconds(600)
        )
    }

    /// `GET /distribution/{name}/json`: the digest a registry gives for `reference`, asked
    /// through the engine (which holds the trust for the registries it pulls from), without
    /// pulling anything. `auth` is the X-Registry-Auth value, if the registry wants one.
    public func distributionDigest(of reference: String, auth: String?) async throws(MicadoError) -> String {
        struct Answer: Decodable {
            struct Descriptor: Decodable { var digest: String }
            var Descriptor: Descriptor
        }
        let response = try await send(
            .GET,
            "/distribution/\(reference)/json",
            headers: auth.map { [("X-Registry-Auth", $0)] } ?? [],
            timeout: .seconds(30),
            maxBytes: 1 << 20
        )
        let answer = try decode(Answer.self, response.body, what: "the registry's answer for \(reference)")
        guard ImageReference.isDigest(answer.Descriptor.digest) else {
            throw .init(.engine, "the registry gave \(reference) an invalid digest")
        }
        return answer.Descriptor.digest
    }

    public func tagImage(_ name: String, repository: String, tag: String) async throws(MicadoError) {
        _ = try await send(.POST, "/images/\(name)/tag", query: [("repo", repository), ("tag", tag)])
    }

    /// `POST /images/{name}/push`; returns the pushed digest. `auth` is the X-Registry-Auth value.
    public struct PushResult: Sendable {
        public var digest: String?
        /// The engine's own "Retrying in N seconds" notes: a push that succeeded slowly says why.
        public var retries: [String]

        public init(digest: String?, retries: [String]) {
            self.digest = digest
            self.retries = retries
        }
    }

    public func pushImage(repository: String, tag: String, auth: String) async throws(MicadoError) -> PushResult {
        let response = try await send(
            .POST,
            "/images/\(repository)/push",
            query: [("tag", tag)],
            headers: [("X-Registry-Auth", auth)],
            timeout: .seconds(300)
        )
        var result = PushResult(digest: nil, retries: [])
        for message in JSONMessage.decodeAll(response.body) {
            if let failure = message.failure { throw .init(.engine, "push of \(repository):\(tag) failed: \(failure)") }
            if let digest = message.aux?.Digest { result.digest = digest }
            if let status = message.status, status.hasPrefix("Retrying") { result.retries.append(status) }
        }
        return result
    }

    /// The X-Registry-Auth header value for a registry login.
    public static func registryAuth(username: String, password: String, server: String) -> String {
        let fields = [("password", password), ("serveraddress", server), ("username", username)]
        let json = "{" + fields.map { jsonString($0) + ":" + jsonString($1) }.joined(separator: ",") + "}"
        return Data(json.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
    }

    /// `POST /images/create?fromSrc=-`: imports a root filesystem tarball as an image.
    public func importImage(rootfs: [UInt8], reference: String, changes: [String]) async throws(MicadoError) {
        let colon = reference.lastIndex(of: ":")
        let repo = colon.map { String(reference[..<$0]) } ?? reference
        let tag = colon.map { String(reference[reference.index(after: $0)...]) } ?? "latest"
        var query = [("fromSrc", "-"), ("repo", repo), ("tag", tag)]
        for change in changes { query.append(("changes", change)) }
        _ = try await send(.POST, "/images/create", query: query, body: rootfs, contentType: "application/x-tar", timeout: .seconds(120))
    }

    public struct BuildResult: Sendable {
        public var imageID: String
        public var log: [String]
    }

    /// Builds `context` (a tar with the Dockerfile at its root) and tags it `tag`.
    /// A failed step becomes an error with the engine's message and the last log lines; a
    /// stream that ends without naming the built image is a failure too, never the old
    /// image under the same tag.
    public func build(
        context: OutgoingBody,
        tag: String,
        options: BuildOptions,
        timeout: TimeAmount
    ) async throws(MicadoError) -> BuildResult {
        var query = [("t", tag), ("rm", "1"), ("forcerm", "1"), ("pull", "0")]
        if let dockerfile = options.dockerfile { query.append(("dockerfile", dockerfile)) }
        if let target = options.target { query.append(("target", target)) }
        if !options.arguments.isEmpty {
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            guard let data = try? encoder.encode(options.arguments) else { throw .badRequest("cannot encode the build's arguments") }
            query.append(("buildargs", String(decoding: data, as: UTF8.self)))
        }
        let response = try await send(
            .POST,
            "/build",
            query: query,
            body: context,
            contentType: "application/x-tar",
            timeout: timeout,
            maxBytes: 64 << 20
        )
        return try Self.buildResult(JSONMessage.decodeAll(response.body))
    }

    public static func buildResult(_ messages: [JSONMessage]) throws(MicadoError) -> BuildResult {
        var log: [String] = []
        var imageID: String?
        for message in messages {
            if let stream = message.stream {
                log += stream.split(whereSeparator: \.isNewline).map(String.init).filter {
                    !$0.trimmingCharacters(in: .whitespaces).isEmpty
                }
            }
            if let failure = message.failure {
                let tail = log.suffix(5).joined(separator: "\n")
                throw .init(.buildFailed, "the build failed: \(failure)" + (tail.isEmpty ? "" : "\n" + tail))
            }
            if let id = message.aux?.ID { imageID = id }
        }
        guard let imageID else {
            throw .init(
                .buildFailed,
                "the build ended without the engine naming the image it built"
                    + (log.isEmpty ? "" : ":\n" + log.suffix(5).joined(separator: "\n"))
            )
        }
        return BuildResult(imageID: imageID, log: log)
    }
}
