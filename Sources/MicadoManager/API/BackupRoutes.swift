import Hummingbird
import MicadoCore

/// `/v1/backup`: an online backup of the store, streamed from a file that is unlinked once open.
enum BackupRoutes {
    static func add(to kit: RouteKit, backups: Backups, spool: String) {
        kit.api.get("/backup") { _, _ in
            let backup = try await backups.take(spool: spool)
            return Response(
                status: .ok,
                headers: [.contentType: "application/vnd.sqlite3", .contentLength: String(backup.count)],
                body: HTTPAPI.streamed(backup, 0..<backup.count)
            )
        }
    }
}
