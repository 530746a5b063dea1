import AsyncHTTPClient
import DockerEngine
import Foundation
import MicadoClouds
import MicadoCore
import NIOCore
import NIOHTTP1

/// A registry the test stands up as "the internet": Debian's docker-registry over plain HTTP
/// on loopback, holding what the test pushes through the registry API itself (the manager's
/// engine never sees it, so a node can only get it by pulling). Stopped by pid.
struct UpstreamRegistry {
    let process: ChildProcess
    let url: String

    static func start(in folder: String, port: Int) async throws -> UpstreamRegistry {
        try FileManager.default.createDirectory(atPath: folder + "/data", withIntermediateDirectories: true)
        let config = """
            version: 0.1
            log: {level: warn}
            storage:
              filesystem: {rootdirectory: \(folder)/data}
            http:
              addr: 127.0.0.1:\(port)

            """
        try config.write(toFile: folder + "/config.yml", atomically: true, encoding: .utf8)
        let process = try ChildProcess.start(
            "/usr/bin/docker-registry",
            ["serve", folder + "/config.yml"],
            environment: ["PATH": "/usr/bin:/bin"],
            output: folder + "/registry.log"
        )
        let registry = UpstreamRegistry(process: process, url: "http://127.0.0.1:\(port)")
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if let status = process.poll() { throw MicadoError(.internal, "the upstream registry exited with \(status)") }
            if (try? await HTTPClient.shared.execute(HTTPClientRequest(url: registry.url + "/v2/"), timeout: .seconds(1)))?.status.code
                == 200
            {
                return registry
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        await registry.stop()
        throw MicadoError(.timeout, "the upstream registry did not answer on port \(port)")
    }

    func stop() async {
        process.signal(SIGKILL)
        _ = await process.exit()
    }

    /// Pushes `image` of `engine` as `repository:tag`: the engine's saved layers, gzipped, as
    /// blobs, and a schema 2 manifest naming them. Returns the manifest's digest.
    @discardableResult
    func push(_ image: String, of engine: any EngineAPI, as repository: String, tag: String, scratch: String) async throws -> String {
        let saved = scratch + "/saved.tar"
        FileManager.default.createFile(atPath: saved, contents: nil)
        guard let handle = FileHandle(forWritingAtPath: saved) else { throw MicadoError(.internal, "cannot write \(saved)") }
        try await engine.saveImages([image], into: handle.fileDescriptor)
        try handle.close()
        let archive = try TarArchive(bytes: Array(try Data(contentsOf: URL(fileURLWithPath: saved))))
        func entry(_ name: String) throws -> [UInt8] {
            guard let found = archive.entries.first(where: { $0.name == name }) else {
                throw MicadoError(.internal, "\(name) is not in the saved image")
            }
            return found.contents
        }
        struct Saved: Decodable {
            var Config: String
            var Layers: [String]
        }
        let manifest = try JSONDecoder().decode([Saved].self, from: Data(try entry("manifest.json")))[0]
        let config = try entry(manifest.Config)
        var layers: [(digest: String, size: Int)] = []
        for (index, layer) in manifest.Layers.enumerated() {
            let plain = scratch + "/layer-\(index).tar"
            try Data(try entry(layer)).write(to: URL(fileURLWithPath: plain))
            let gzip = try await CommandResult.run("/bin/gzip", ["-n", "-f", plain])
            guard gzip.status == 0 else { throw MicadoError(.internal, "gzip failed: \(gzip)") }
            let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: plain + ".gz")))
            layers.append((try await upload(bytes, to: repository), bytes.count))
        }
        let configDigest = try await upload(config, to: repository)
        let document: [String: Any] = [
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": ["mediaType": "application/vnd.docker.container.image.v1+json", "size": config.count, "digest": configDigest],
            "layers": layers.map {
                ["mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": $0.size, "digest": $0.digest] as [String: Any]
            },
        ]
        let body = Array(try JSONSerialization.data(withJSONObject: document, options: [.sortedKeys]))
        var request = HTTPClientRequest(url: "\(url)/v2/\(repository)/manifests/\(tag)")
        request.method = .PUT
        request.headers.add(name: "Content-Type", value: "application/vnd.docker.distribution.manifest.v2+json")
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        guard response.status.code == 201 else { throw MicadoError(.internal, "the manifest push answered \(response.status)") }
        return try await Self.sha256(body)
    }

    /// A monolithic blob upload: POST for a location, PUT the bytes with their digest.
    func upload(_ bytes: [UInt8], to repository: String) async throws -> String {
        let digest = try await Self.sha256(bytes)
        var start = HTTPClientRequest(url: "\(url)/v2/\(repository)/blobs/uploads/")
        start.method = .POST
        let started = try await HTTPClient.shared.execute(start, timeout: .seconds(30))
        guard started.status.code == 202, var location = started.headers.first(name: "Location") else {
            throw MicadoError(.internal, "the blob upload answered \(started.status)")
        }
        if location.hasPrefix("/") { location = url + location }
        var put = HTTPClientRequest(url: location + (location.contains("?") ? "&" : "?") + "digest=" + digest)
        put.method = .PUT
        put.headers.add(name: "Content-Type", value: "application/octet-stream")
        put.body = .bytes(ByteBuffer(bytes: bytes))
        let response = try await HTTPClient.shared.execute(put, timeout: .seconds(60))
        guard response.status.code == 201 else { throw MicadoError(.internal, "the blob put answered \(response.status)") }
        return digest
    }

    static func sha256(_ bytes: [UInt8]) async throws -> String {
        let file = FileManager.default.temporaryDirectory.path + "/micado-sum-\(UUID().uuidString)"
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let result = try await CommandResult.run("/usr/bin/sha256sum", [file])
        guard result.status == 0, let hex = result.stdout.split(separator: " ").first, hex.count == 64 else {
            throw MicadoError(.internal, "sha256sum failed: \(result)")
        }
        return "sha256:" + hex
    }
}
