import Foundation
import MicadoCore
import MicadoStore

/// `micado backup`: a consistent copy of the store, taken while the manager works, into a
/// file of the spool that the caller streams and that is unlinked once open.
struct Backups: RecordsEvents {
    let store: any BackupStore
    let eventLog: EventLog
    let managerID: String

    func take(spool: String) async throws(MicadoError) -> SpooledUpload {
        do {
            try FileManager.default.createDirectory(
                atPath: spool,
                withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700]
            )
        } catch {
            throw .init(.internal, "cannot create \(spool): \(error)")
        }
        let path = spool + "/backup-\(UUID().uuidString).sqlite"
        do { try await store.backup(to: path) } catch {
            unlink(path)
            throw error
        }
        let file = try SpooledUpload.adopting(path: path)
        await note(.storeBackup, managerID, "backed up the store (\(file.count) bytes)")
        return file
    }
}
