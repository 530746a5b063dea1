import DockerEngine
import Foundation
import MicadoCore
import MicadoStore

/// Where the nodes get a container's image from. An image the manager's engine holds (built,
/// loaded, imported) is put into micado's registry once and pulled from there; any other
/// (`nginx:1.27`) is pulled by the nodes from its own registry, as `docker stack deploy`
/// would, or through micado's pull-through cache when one runs. Either way every node pulls
/// by digest, so all run the same bytes, and no byte of an image passes through the manager.
extension Containers {
    /// An image a launch or an apply may run.
    struct RequiredImage: Sendable, Equatable {
        /// Normalised (`:latest`), as records and `micado images` name it.
        var name: String
        /// What the nodes pull when the manager's engine does not hold it: the reference
        /// (through the cache, if one runs); nil when the image comes from the manager's engine.
        var pulled: String?
    }

    /// The image, normalised, once it is known to exist: on the manager's engine, in micado's
    /// registry, or (not on a dry run, which plans without images) in the registry the nodes
    /// will pull it from, whose digest is then recorded so that every node pulls that one.
    func requireImage(_ written: String, dryRun: Bool = false) async throws(MicadoError) -> RequiredImage {
        let image = ImageReference.normalized(written)
        let stored = try await store.image(image)
        let inRegistry = { [registry] (record: ImageRecord?) -> Bool in
            guard let registry, let reference = record?.reference else { return false }
            return reference.hasPrefix(registry.address + "/")
        }
        do {
            _ = try await engine.inspectImage(image)
            // Held by the manager's engine now (loaded or pulled there after a pull was recorded):
            // that image is the one to run, not the digest a registry gave before.
            if let stored, stored.reference != nil, !inRegistry(stored), !dryRun {
                try await store.updateImage(image) {
                    $0.reference = nil
                    $0.digest = nil
                }
            }
            return RequiredImage(name: image)
        } catch  where error.code == .notFound {}
        // Built or mirrored before, and since pruned from the manager's engine: the registry has it.
        if inRegistry(stored) { return RequiredImage(name: image) }
        // Known as the manager's own and gone from it: never looked for under that name elsewhere,
        // where anyone may have published one.
        if stored?.imageID != nil {
            throw .notFound(
                "unknown image '\(written)': it was on the manager's engine and is gone from it; build it with 'micado build' or load it into the engine again"
            )
        }
        // A node pulls from its own loopback, not the manager's: such an image could never run.
        if let host = ImageReference.registry(of: image).map({ String($0.split(separator: ":")[0]) }),
            host == "localhost" || host.hasPrefix("127.")
        {
            throw .notFound(
                "unknown image '\(written)': the manager's engine has none, and each node would pull it from its own \(host), not the manager's; load it into the engine instead"
            )
        }
        let reference = registry?.pullReference(of: image) ?? image
        if dryRun { return RequiredImage(name: image, pulled: reference) }
        let digest: String
        do { digest = try await engine.distributionDigest(of: reference, auth: registry?.auth(for: reference)) } catch {
            // Pinned already: a registry that is down or rate-limited does not stop an apply.
            if stored?.reference == reference, stored?.digest != nil { return RequiredImage(name: image, pulled: reference) }
            let source = reference == image ? "its registry" : "micado's pull-through cache (\(reference))"
            throw .notFound(
                "unknown image '\(written)': the manager's engine has none, and \(source) cannot give it: \(Text.escaped(String(error.message.prefix(300)))). Build it with 'micado build' or load it into the engine first"
            )
        }
        if stored?.reference != reference || stored?.digest != digest {
            try await store.updateImage(image) {
                $0.reference = reference
                $0.digest = digest
            }
        }
        return RequiredImage(name: image, pulled: reference)
    }

    /// With clouds, an image not yet in micado's registry is put there once, from the manager's
    /// engine (the engine pushes: no byte of it passes through the manager), and every instance
    /// pulls it by digest. Without a registry (no cloud with a local network), it is loaded into
    /// the location's ready instances. An image the nodes pull from elsewhere needs neither.
    func distributeImage(of record: ContainerRecord) async throws(MicadoError) {
        guard !clouds.isEmpty else { return }
        let stored = try await store.image(record.image)
        if let stored, stored.reference != nil {
            // Pushed already, unless the engine's image of that name has changed since (loaded anew).
            guard registry != nil, let current = try? await engine.inspectImage(record.image), current.id != stored.imageID else { return }
        }
        guard let registry else {
            try await instances.distributeImage(record.image, location: record.location ?? defaultLocation)
            return
        }
        try await mirror(record.image, to: registry)
    }

    /// Pushes an image of the manager's engine to micado's registry as `mirror/NAME:TAG` and
    /// records where it is, with its digest.
    func mirror(_ image: String, to registry: Registry) async throws(MicadoError) {
        let (path, tag) = Self.repositoryAndTag(of: image)
        let repository = "\(registry.address)/mirror/\(path)"
        let inspect = try await engine.inspectImage(image)
        let started = ContinuousClock.now
        try await engine.tagImage(image, repository: repository, tag: tag)
        let pushed = try await registry.push(repository, tag: tag, from: engine)
        var digest = pushed.digest
        if digest == nil {
            let digests = try await engine.inspectImage(repository + ":" + tag).repoDigests ?? []
            digest = digests.first { $0.hasPrefix(repository + "@") }.map { String($0.dropFirst(repository.count + 1)) }
        }
        try await store.updateImage(image) { [digest] in
            $0.imageID = inspect.id
            $0.sizeBytes = inspect.size
            $0.reference = repository + ":" + tag
            $0.digest = digest
        }
        let seconds = String(format: "%.1f", (ContinuousClock.now - started).inSeconds)
        await note(
            .imageMirrored,
            image,
            "put \(image) into micado's registry as \(repository):\(tag) (\(digest ?? "no digest")) in \(seconds) s: instances pull it from there"
        )
    }

    /// `busybox:local` → (`busybox`, `local`); a name without a tag is `latest`, one by digest
    /// only is tagged by its digest.
    static func repositoryAndTag(of image: String) -> (String, String) {
        if let at = image.firstIndex(of: "@") {
            let digest = image[image.index(after: at)...].split(separator: ":").last.map { String($0.prefix(32)) } ?? "digest"
            return (String(image[..<at]).lowercased(), "digest-" + digest)
        }
        let lastSlash = image.lastIndex(of: "/")
        if let colon = image.lastIndex(of: ":"), lastSlash.map({ colon > $0 }) ?? true {
            return (String(image[..<colon]).lowercased(), String(image[image.index(after: colon)...]))
        }
        return (image.lowercased(), "latest")
    }

    /// How the nodes name an image they pull (from micado's registry, its cache or the
    /// image's own): by tag and digest, so that each pulls exactly the recorded one.
    func pulledReference(_ image: String) async throws(MicadoError) -> String? {
        guard let record = try await store.image(image), let reference = record.reference else { return nil }
        guard let digest = record.digest else { return reference }
        // A reference written with a digest already names it.
        return reference.contains("@") ? reference : reference + "@" + digest
    }
}
