import AsyncHTTPClient
import DockerEngine
import Foundation
import Logging
import MicadoClouds
import MicadoCore
import MicadoStore
import NIOCore
import NIOHTTP1
import NIOSSL

extension Containers {
    /// `micado quit`: scales the service to zero; with `remove`, removes the container too;
    /// with `kill`, kills the tasks that ignored the stop signal.
    public func quit(_ name: String, remove: Bool, kill: Bool = false) async throws(MicadoError) -> ContainerView? {
        var record = try await record(named: name)
        try Self.refuseApplicationService(record, "quit")
        let alreadyQuit = record.desired == .stopped
        if !alreadyQuit {
            record.desired = .stopped
            record.updatedAt = now
            try await store.updateContainer(record, event: event(.containerQuit, name, "\(name) quit (scaled to 0)"))
        }
        if let serviceID = record.serviceID {
            // Scaled once: a second update of a service already at zero makes Swarm drop the
            // tasks it is shutting down from its list while their containers still run (the
            // view would say stopped, and a kill would find nothing). Drift is the reconciler's.
            if !alreadyQuit {
                do { try await engine.scaleService(serviceID, replicas: 0) } catch  where error.code == .notFound {}
                await swarm.invalidate()
            }
            if kill { try await killLingeringTasks(of: record, serviceID: serviceID) }
        }
        if remove {
            // Asked for both: the service goes at once, and the engine stops its task with it.
            try await self.remove(record)
            return nil
        }
        return try await view(of: record)
    }

    /// SIGKILLs every task of a quit service that still runs, on the engine of its node.
    func killLingeringTasks(of record: ContainerRecord, serviceID: String) async throws(MicadoError) {
        let tasks = try await snapshot(serviceID: serviceID).tasksByService[serviceID] ?? []
        logger.info(
            "quit with kill",
            metadata: [
                "container": "\(record.name)",
                "tasks": "\(tasks.map { "\($0.status.state)/\($0.desiredState)/\($0.status.containerStatus?.containerID ?? "-")" })",
            ]
        )
        for task in tasks where task.status.state == .running && task.desiredState != .running {
            guard let containerID = task.status.containerStatus?.containerID else { continue }
            try await engines.engine(forNode: task.nodeID).killContainer(containerID)
            await note(
                .containerKilled,
                record.name,
                "\(record.name): its task outlived the stop signal and was killed (SIGKILL)"
            )
        }
        await swarm.invalidate()
    }

    /// `micado remove`: forgets a quit container and removes its service. Refuses a running
    /// one, and one whose task is still shutting down (it would outlive the record).
    public func remove(_ name: String) async throws(MicadoError) {
        let record = try await record(named: name)
        try Self.refuseApplicationService(record, "remove")
        guard record.desired == .stopped else {
            throw .conflict("\(name) is running; quit it first ('micado quit -n \(name)', or 'micado quit -n \(name) -rm' to do both)")
        }
        if try await view(of: record).state == .stopping {
            throw .conflict(
                "\(name) is still stopping; remove it once 'micado list -c -a' shows it stopped (or use 'micado quit -n \(name) -rm')"
            )
        }
        try await self.remove(record)
    }

    func remove(_ record: ContainerRecord) async throws(MicadoError) {
        let name = record.name
        // The record goes first: a crash before the service is gone leaves an orphan that the reconciler removes.
        try await store.deleteContainer(name, event: event(.containerRemoved, name, "\(name) removed"))
        if let serviceID = record.serviceID {
            do { try await engine.removeService(serviceID) } catch  where error.code == .notFound {}
            await swarm.invalidate()
        }
    }

    /// An application's service changes with its file, so that the file stays the truth.
    static func refuseApplicationService(_ record: ContainerRecord, _ verb: String) throws(MicadoError) {
        guard let application = record.application else { return }
        throw .conflict(
            "\(record.name) is a service of application \(application): change the file and 'micado apply' it, or 'micado apps rm \(application)' (not '\(verb)')"
        )
    }

    /// The task container of a running container, and the engine that runs it.
    func runningTask(of name: String) async throws(MicadoError) -> (any EngineAPI, String) {
        let record = try await record(named: name)
        let snapshot = try await snapshot(serviceID: record.serviceID ?? "-")
        // A task being shut down (after quit) still runs for a moment; it is not the container's any more.
        guard let task = snapshot.currentTask(of: record.serviceID), task.status.state == .running, task.desiredState == .running,
            let containerID = task.status.containerStatus?.containerID
        else {
            throw .conflict("\(name) has no running task; see 'micado info -s \(name)'")
        }
        return (try await engines.engine(forNode: task.nodeID), containerID)
    }

    /// `micado logs`.
    public func logs(_ name: String, tail: Int?) async throws(MicadoError) -> [LogLine] {
        let record = try await record(named: name)
        guard let serviceID = record.serviceID else { return [] }
        return try await engine.serviceLogs(serviceID, tail: tail)
    }

    /// `micado copy` out of a container: the contents of the regular file at `path`.
    /// A file copied out of a container: where its bytes are in the spooled archive.
    struct CopiedFile: Sendable {
        let archive: SpooledUpload
        let range: Range<Int>
        /// Its permission bits in the container (the copy out keeps them).
        let mode: Int
    }

    /// `micado copy` out of a container: the engine's archive of `path` goes to a spooled
    /// file in `spool` (disk, never memory), and the answer streams the one file in it.
    func readFile(_ name: String, path: String, spool: String) async throws(MicadoError) -> CopiedFile {
        try Self.validateContainerPath(path)
        let (engine, containerID) = try await runningTask(of: name)
        // Bounded like an upload: a file a container wrote is outside data too.
        let archive = try await SpooledUpload.filling(directory: spool) { (descriptor) throws(MicadoError) in
            try await engine.archive(
                container: containerID,
                path: path,
                maxBytes: configuration.limits.uploadBytes + 64 << 10,
                into: descriptor
            )
        }
        let headers = try TarReader.headers(in: archive)
        guard let entry = headers.first, entry.kind == .file, headers.count == 1 else {
            throw .badRequest("\(path) in \(name) is not a regular file; micado copies single files")
        }
        await note(.containerCopy, name, "copied \(path) out of \(name) (\(entry.size) bytes)")
        return CopiedFile(archive: archive, range: entry.dataOffset..<(entry.dataOffset + entry.size), mode: entry.mode & 0o777)
    }

    /// `micado copy` into a container: writes `contents` to `path` (its folder must exist),
    /// streamed to the engine as a one-file archive.
    public func writeFile(_ name: String, path: String, contents: some TarSource, mode: Int = 0o644) async throws(MicadoError) {
        try Self.validateContainerPath(path)
        // Split on the byte '/', not on characters: "/" followed by a combining mark or an
        // emoji modifier is one Character that is not "/".
        let bytes = Array(path.utf8)
        guard bytes.last != 0x2F, let slash = bytes.lastIndex(of: 0x2F) else {
            throw .badRequest("give the destination file's full path, not a folder: \(Text.escaped(path))")
        }
        guard (0...0o7777).contains(mode) else {
            throw .badRequest("invalid mode \(String(mode, radix: 8)): give an octal mode up to 7777")
        }
        let folder = slash == 0 ? "/" : String(decoding: bytes[..<slash], as: UTF8.self)
        let file = String(decoding: bytes[(slash + 1)...], as: UTF8.self)
        let (engine, containerID) = try await runningTask(of: name)
        // A folder at the destination would be replaced by the file, with all it holds.
        if try await engine.isFolder(container: containerID, path: path) == true {
            throw .badRequest(
                "\(Text.escaped(path)) in \(name) is a folder; give the file's path inside it, e.g. \(Text.escaped(path))/index.html"
            )
        }
        let entry = TarHeader(
            name: file,
            kind: .file,
            mode: mode,
            linkName: "",
            size: contents.count,
            modificationTime: Int(Date().timeIntervalSince1970),
            dataOffset: 0
        )
        try await engine.putArchive(container: containerID, path: folder, tar: TarStream(source: contents, entries: [entry]).engineBody)
        await note(.containerCopy, name, "copied \(contents.count) bytes into \(name) at \(path)")
    }

    static func validateContainerPath(_ path: String) throws(MicadoError) {
        guard path.utf8.first == 0x2F, !path.utf8.split(separator: 0x2F).contains(where: { $0.elementsEqual("..".utf8) }),
            path.utf8.count <= 4096
        else {
            throw .badRequest("give an absolute path inside the container without '..' (at most 4096 bytes), e.g. /www/index.html")
        }
        try Text.requireSafe(path, field: "the path")
    }
}
