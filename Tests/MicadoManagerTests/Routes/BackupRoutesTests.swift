import Foundation
import HTTPTypes
import HummingbirdTesting
import MicadoCore
import MicadoTestSupport
import NIOCore
import Testing

@testable import MicadoManager

/// `/v1/backup`: the store, whole, as a file SQLite opens.
@Suite struct BackupRoutesTests {
    @Test func aBackupIsTheStore() async throws {
        let w = try await ManagerPartsTests.world(clouds: false)
        try await RouteTesting.app(w).test(.router) { client in
            try await RouteTesting.launch(client, name: "container-a")
            try await client.execute(uri: "/v1/backup", method: .get, headers: RouteTesting.auth) { response in
                #expect(response.status == .ok && response.headers[.contentType] == "application/vnd.sqlite3")
                #expect(Array(response.body.readableBytesView.prefix(16)) == Array("SQLite format 3\0".utf8))
            }
        }
    }
}
