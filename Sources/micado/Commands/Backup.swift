import ArgumentParser
import Foundation
import MicadoCore
import NIOCore
import NIOHTTP1

#if canImport(Glibc)
import Glibc
#endif

extension Micado {
    struct Backup: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write an online backup of the manager's store to a file.",
            discussion: """
                The manager keeps working while the copy is taken. To restore: stop the manager, copy the file over the store (store.path in config.yaml, default micado.sqlite in the home; remove micado.sqlite-wal and -shm beside it), and start it again.
                """)

        @Argument(help: "The file to write (created with mode 0600; an existing file is not overwritten).")
        var file: String

        func run() async throws {
            let client = try ManagerClient.fromHome()
            let bytes = try await client.send(.GET, "/v1/backup", timeout: .seconds(300))
            let fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw MicadoError(.badRequest, "cannot create \(file): \(String(cString: strerror(errno)))") }
            defer { close(fd) }
            let written = bytes.withUnsafeReadableBytes { write(fd, $0.baseAddress, $0.count) }
            guard written == bytes.readableBytes, fsync(fd) == 0 else { throw MicadoError(.internal, "cannot write \(file)") }
            Console.err("backed up the store to \(file) (\(bytes.readableBytes) bytes)")
        }
    }
}
