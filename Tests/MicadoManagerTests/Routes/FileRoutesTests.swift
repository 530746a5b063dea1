import Foundation
import HTTPTypes
import HummingbirdTesting
import MicadoCore
import MicadoTestSupport
import NIOCore
import Testing

@testable import MicadoManager

/// `/v1/containers/{name}/files`: refused before any engine is asked when the container or
/// the path is wrong.
@Suite struct FileRoutesTests {
    @Test func filesNeedAContainerAndAnAbsolutePath() async throws {
        let w = try await ManagerPartsTests.world(clouds: false)
        try await RouteTesting.app(w).test(.router) { client in
            try await client.execute(uri: "/v1/containers/container-none/files?path=/etc/hosts", method: .get, headers: RouteTesting.auth) {
                response in
                #expect(response.status == .notFound, "\(String(buffer: response.body))")
            }
            try await client.execute(uri: "/v1/containers/container-none/files?path=relative", method: .get, headers: RouteTesting.auth) {
                response in
                #expect(response.status == .badRequest, "\(String(buffer: response.body))")
            }
            try await client.execute(
                uri: "/v1/containers/container-none/files?path=/tmp",
                method: .put,
                headers: [.authorization: "Bearer \(RouteTesting.token)", .contentType: "application/x-tar"],
                body: ByteBuffer(bytes: [UInt8](repeating: 0, count: 1024))
            ) { response in
                #expect(response.status == .notFound, "\(String(buffer: response.body))")
            }
        }
    }
}
