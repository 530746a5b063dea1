import DockerEngine
import Foundation
import MicadoCore
import MicadoStore

extension Orchestrator {
    /// `micado quit`: scales the service to zero; with `remove`, removes the container too.
    public func quit(_ name: String, remove: Bool) async throws(MicadoError) -> ContainerView? {
        var record = try await record(named: name)
        if record.desired != .stopped {
            record.desired = .stopped
            record.updatedAt = Date()
            try await store.updateContainer(record, event: event("container.quit", name, "\(name) quit (scaled to 0)"))
        }
        if let serviceID = record.serviceID {
            do { try await engine.scaleService(serviceID, replicas: 0) } catch where error.code == .notFound {}
        }
        if remove {
            try await self.remove(name)
            return nil
        }
        return try await view(of: record)
    }

    /// `micado remove`: forgets a quit container and removes its service. Refuses a running one.
    public func remove(_ name: String) async throws(MicadoError) {
        let record = try await record(named: name)
        guard record.desired == .stopped else {
            throw .conflict("\(name) is running; quit it first ('micado quit -n \(name)', or 'micado quit -n \(name) -rm' to do both)")
        }
        // The record goes first: a crash before the service is gone leaves an orphan that the reconciler removes.
        try await store.deleteContainer(name, event: event("container.removed", name, "\(name) removed"))
        if let serviceID = record.serviceID {
            do { try await engine.removeService(serviceID) } catch where error.code == .notFound {}
        }
    }

    /// The task container of a running container, and the engine that runs it.
    func runningTask(of name: String) async throws(MicadoError) -> (EngineClient, String) {
        let record = try await record(named: name)
        let snapshot = try await snapshot(serviceID: record.serviceID ?? "-")
        guard let task = snapshot.currentTask(of: record.serviceID), task.status.state == "running",
            let containerID = task.status.containerStatus?.containerID
        else {
            throw .conflict("\(name) has no running task; see 'micado info -s \(name)'")
        }
        return (try await engine(forNode: task.nodeID), containerID)
    }

    /// `micado logs`.
    public func logs(_ name: String, tail: Int?) async throws(MicadoError) -> [LogLine] {
        let record = try await record(named: name)
        guard let serviceID = record.serviceID else { return [] }
        return try await engine.serviceLogs(serviceID, tail: tail)
    }

    /// `micado execute`: runs `command` with `sh -c` in the container's running task.
    public func execute(_ name: String, command: String) async throws(MicadoError) -> ExecResult {
        guard !command.isEmpty else { throw .badRequest("give a command to execute, e.g. -c 'ls /'") }
        let (engine, containerID) = try await runningTask(of: name)
        let output = try await engine.exec(container: containerID, command: ["sh", "-c", command])
        await note("container.execute", name, "executed a command in \(name) (exit \(output.exitCode))")
        return ExecResult(
            exitCode: output.exitCode, stdout: String(decoding: output.stdout, as: UTF8.self), stderr: String(decoding: output.stderr, as: UTF8.self))
    }

    /// `micado copy` out of a container: the contents of the regular file at `path`.
    public func readFile(_ name: String, path: String) async throws(MicadoError) -> [UInt8] {
        try Self.validateContainerPath(path)
        let (engine, containerID) = try await runningTask(of: name)
        let archive = try TarArchive(bytes: try await engine.archive(container: containerID, path: path))
        guard let entry = archive.entries.first, entry.kind == .file, archive.entries.count == 1 else {
            throw .badRequest("\(path) in \(name) is not a regular file; micado copies single files")
        }
        await note("container.copy", name, "copied \(path) out of \(name) (\(entry.contents.count) bytes)")
        return entry.contents
    }

    /// `micado copy` into a container: writes `contents` to `path` (its folder must exist).
    public func writeFile(_ name: String, path: String, contents: [UInt8], mode: Int = 0o644) async throws(MicadoError) {
        try Self.validateContainerPath(path)
        guard !path.hasSuffix("/") else { throw .badRequest("give the destination file's full path, not a folder: \(path)") }
        let slash = path.lastIndex(of: "/")!
        let folder = slash == path.startIndex ? "/" : String(path[..<slash])
        let file = String(path[path.index(after: slash)...])
        let (engine, containerID) = try await runningTask(of: name)
        let tar = TarArchive(entries: [.init(name: file, mode: mode, contents: contents, modificationTime: Int(Date().timeIntervalSince1970))])
        try await engine.putArchive(container: containerID, path: folder, tar: tar.bytes())
        await note("container.copy", name, "copied \(contents.count) bytes into \(name) at \(path)")
    }

    static func validateContainerPath(_ path: String) throws(MicadoError) {
        guard path.hasPrefix("/"), !path.split(separator: "/").contains("..") else {
            throw .badRequest("give an absolute path inside the container without '..', e.g. /www/index.html")
        }
    }

    /// `micado build`: builds the seed's tarball layout (one top folder with a Dockerfile)
    /// on the manager's engine and records the image.
    public func build(name: String, tarball: [UInt8]) async throws(MicadoError) -> ImageView {
        let imageName = try ContainerName.parse(name).rawValue
        let context = try TarArchive(bytes: tarball).rerootedBuildContext()
        let tag = imageName + ":latest"
        await note("image.build", tag, "building \(tag) (\(tarball.count) bytes of context)")
        let result: EngineClient.BuildResult
        do { result = try await engine.build(context: context.bytes(), tag: tag) } catch {
            await note("image.build-failed", tag, error.message)
            throw error
        }
        let inspect = try await engine.inspectImage(tag)
        let previous = try await store.image(tag)
        let record = ImageRecord(
            name: tag, imageID: inspect.id, sizeBytes: inspect.size, criticalMemoryMiB: previous?.criticalMemoryMiB, createdAt: Date())
        try await store.upsertImage(record)
        await note("image.built", tag, "built \(tag) as \(result.imageID ?? inspect.id)")
        return ImageView(name: tag, imageID: inspect.id, sizeBytes: inspect.size, criticalMemoryMiB: record.criticalMemoryMiB, createdAt: record.createdAt)
    }

    public func images() async throws(MicadoError) -> [ImageView] {
        try await store.images().map {
            ImageView(name: $0.name, imageID: $0.imageID, sizeBytes: $0.sizeBytes, criticalMemoryMiB: $0.criticalMemoryMiB, createdAt: $0.createdAt)
        }
    }

    public func events(subject: String?, limit: Int) async throws(MicadoError) -> [EventView] {
        try await store.events(subject: subject, limit: limit).map {
            EventView(id: $0.id ?? 0, time: $0.time, kind: $0.kind, subject: $0.subject, message: $0.message)
        }
    }
}
