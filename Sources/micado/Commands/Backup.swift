import ArgumentParser
import Foundation
import MicadoClient
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
                """
        )

        @Argument(help: "The file to write (created with mode 0600; an existing file is not overwritten).")
        var file: String

        func run() async throws {
            let client = try ManagerClient.fromHome()
            // Linked in whole at the end and never over an existing file (half a backup is no backup).
            let output = try NewFile(file)
            let (written, _) = try await client.download("/v1/backup", into: output.descriptor, timeout: .seconds(300))
            try output.commit(mode: 0o600, replacing: false)
            Console.err("backed up the store to \(file) (\(written) bytes)")
        }
    }
}
