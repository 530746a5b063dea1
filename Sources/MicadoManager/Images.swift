import AsyncHTTPClient
import DockerEngine
import Foundation
import MicadoClouds
import MicadoCompose
import MicadoCore
import MicadoStore
import NIOCore
import NIOHTTP1
import NIOSSL

/// Images: `micado build` on the manager's engine (pushed to micado's registry when there is
/// one), their records (critical usage from the monitor), and their removal.
public struct Images: RecordsEvents {
    let store: any ImageStore & ContainerStore & SettingsStore
    /// The manager's engine, where images are built.
    let engine: any EngineAPI
    let clouds: CloudSet
    /// For the registry's API (an image's removal).
    let http: HTTPClient
    /// micado's registry, where built images are pushed, when there is one.
    let registry: Registry?
    let eventLog: EventLog

    /// `micado build`: builds the seed's tarball layout (one top folder with a Dockerfile)
    /// on the manager's engine and records the image. The archive is checked whole before
    /// the engine sees it (truncated or malformed: 400), then streamed to the engine
    /// re-rooted, from wherever `tarball` keeps it.
    /// `version` is the tag (`latest` unless given: an application's build is tagged by its
    /// context's digest); `options` are Compose's `build:` ones.
    public func build(
        name: String,
        version: String = "latest",
        options: BuildOptions = BuildOptions(),
        tarball: some TarSource
    ) async throws(MicadoError) -> ImageView {
        let imageName = try ContainerName.parse(name).rawValue
        try Self.validate(version: version, options: options)
        let context = TarStream(
            source: tarball,
            entries: try BuildContext.reroot(TarReader.headers(in: tarball), dockerfile: options.dockerfile ?? "Dockerfile").map(\.1)
        )
        let tag = imageName + ":" + version
        // Marked first: a manager killed mid-build says so at its next start (see `reportInterruptedBuilds`).
        try await store.markInFlight("build", tag)
        await note(.imageBuild, tag, "building \(tag) (\(tarball.count) bytes of context)")
        do {
            return try await build(tag: tag, imageName: imageName, version: version, options: options, context: context)
        } catch {
            // Cut short by a shutdown: left marked, so the next start reports it (events may not be written now).
            if !Task.isCancelled { try? await store.clearInFlight("build", tag) }
            throw error
        }
    }

    /// At start: each build a killed manager left without an outcome gets one, as an event.
    public func reportInterruptedBuilds() async throws(MicadoError) {
        for tag in try await store.inFlight("build") {
            await note(.imageBuildInterrupted, tag, "the build of \(tag) was cut short (the manager stopped); build it again")
            try await store.clearInFlight("build", tag)
        }
    }

    /// A tag, a Dockerfile path inside the context, a stage name and `ARG` names the engine takes as they are.
    static func validate(version: String, options: BuildOptions) throws(MicadoError) {
        func plain(_ text: String, extra: String = "") -> Bool {
            !text.isEmpty && text.utf8.count <= 128
                && text.unicodeScalars.allSatisfy {
                    $0.isASCII
                        && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "-_.".unicodeScalars.contains($0)
                            || extra.unicodeScalars.contains($0))
                }
        }
        guard plain(version), !version.hasPrefix("."), !version.hasPrefix("-") else {
            throw .badRequest(
                "the tag '\(Text.escaped(String(version.prefix(64))))' must be letters, digits, '-', '_' and '.' (at most 128)"
            )
        }
        if let dockerfile = options.dockerfile {
            guard plain(dockerfile, extra: "/"), !dockerfile.hasPrefix("/"), !dockerfile.split(separator: "/").contains("..") else {
                throw .badRequest("the Dockerfile '\(Text.escaped(String(dockerfile.prefix(64))))' must be a path inside the context")
            }
        }
        if let target = options.target, !plain(target) {
            throw .badRequest("the build target '\(Text.escaped(String(target.prefix(64))))' must be a stage name")
        }
        guard options.arguments.count <= 100 else { throw .badRequest("a build takes at most 100 arguments") }
        for (key, value) in options.arguments {
            guard ComposeInterpolation.isName(key), key.utf8.count <= 128 else {
                throw .badRequest("'\(Text.escaped(String(key.prefix(64))))' is not a build argument name")
            }
            try Text.requireSafe(value, field: "the build argument \(key)")
            guard value.utf8.count <= 4096 else { throw .badRequest("the build argument \(key) is longer than 4096 bytes") }
        }
    }

    func build(
        tag: String,
        imageName: String,
        version: String,
        options: BuildOptions,
        context: TarStream
    ) async throws(MicadoError)
        -> ImageView
    {
        let result: EngineClient.BuildResult
        let inspect: ImageInspect
        do {
            result = try await engine.build(context: context.engineBody, tag: tag, options: options, timeout: .seconds(600))
            // By the ID the build reported: the tag may still name an older image.
            inspect = try await engine.inspectImage(result.imageID)
        } catch {
            guard !Task.isCancelled else {
                throw MicadoError(.busy, "the manager is stopping; the build of \(tag) was cut short (its next start says so)")
            }
            await note(.imageBuildFailed, tag, error.message)
            throw error
        }
        let previous = try await store.image(tag)
        var record = ImageRecord(
            name: tag,
            imageID: inspect.id,
            sizeBytes: inspect.size,
            criticalMemoryMiB: previous?.criticalMemoryMiB,
            createdAt: Date()
        )
        var pushNote = ""
        if let registry {
            // Pushed to micado's registry: whatever instance a container lands on pulls it from there.
            let repository = "\(registry.address)/\(imageName)"
            do {
                try await engine.tagImage(tag, repository: repository, tag: version)
                let started = ContinuousClock.now
                let pushed = try await registry.push(repository, tag: version, from: engine)
                let digests = try await engine.inspectImage(repository + ":" + version).repoDigests ?? []
                record.digest =
                    pushed.digest ?? digests.first { $0.hasPrefix(repository + "@") }.map { String($0.dropFirst(repository.count + 1)) }
                record.reference = repository + ":" + version
                let seconds = String(format: "%.1f", (ContinuousClock.now - started).inSeconds)
                pushNote = ", pushed as \(repository):\(version) (\(record.digest ?? "?")) in \(seconds) s"
                if !pushed.retries.isEmpty { pushNote += " after the engine retried: " + pushed.retries.joined(separator: "; ") }
            } catch {
                await note(.imageBuildFailed, tag, "built \(result.imageID), but the push to micado's registry failed: \(error.message)")
                throw error
            }
        }
        try await store.upsertImage(record)
        try await store.clearInFlight("build", tag)
        await note(.imageBuilt, tag, "built \(tag) as \(result.imageID)" + pushNote)
        return Self.view(of: record)
    }

    static func view(of record: ImageRecord) -> ImageView {
        var view = ImageView(
            name: ImageReference(stored: record.name),
            imageID: record.imageID,
            sizeBytes: record.sizeBytes,
            criticalMemoryMiB: record.criticalMemoryMiB,
            createdAt: record.createdAt
        )
        view.reference = record.reference
        view.digest = record.digest
        return view
    }

    public func list() async throws(MicadoError) -> [ImageView] {
        try await store.images().map(Self.view(of:))
    }

    /// `micado images rm`: only an image no container uses; removed from the registry and the manager's engine.
    public func remove(_ name: String) async throws(MicadoError) {
        let normalized = ImageReference.normalized(name)
        guard let record = try await store.image(normalized) else { throw .notFound("no image \(normalized); see 'micado images'") }
        if let user = try await store.containers().first(where: { $0.image == normalized || $0.image == record.reference }) {
            throw .conflict("\(normalized) is used by \(user.name); remove that container first")
        }
        if let registry, let reference = record.reference, reference.hasPrefix(registry.address + "/"), let digest = record.digest {
            let repository = String(reference.dropFirst(registry.address.count + 1).split(separator: ":")[0])
            var request = HTTPClientRequest(url: "https://\(registry.address)/v2/\(repository)/manifests/\(digest)")
            request.method = .DELETE
            request.headers.add(
                name: "Authorization",
                value: "Basic " + Data("\(registry.username):\(registry.password)".utf8).base64EncodedString()
            )
            request.tlsConfiguration = registry.clientTLS(clouds.authority)
            do {
                let response = try await http.execute(request, timeout: .seconds(10))
                guard [202, 404].contains(response.status.code) else {
                    throw MicadoError(.engine, "the registry answered \(response.status) to the delete")
                }
            } catch let error as MicadoError { throw error } catch {
                throw .init(.engine, "the registry at \(registry.address) cannot be reached: \(error)")
            }
            do { try await engine.removeImage(reference) } catch  where error.code == .notFound {}
        }
        do { try await engine.removeImage(normalized) } catch  where error.code == .notFound {}
        try await store.deleteImage(normalized, event: event(.imageRemoved, normalized, "removed \(normalized)"))
    }
}
