import Foundation
import HTTPTypes
import HummingbirdTesting
import MicadoCore
import MicadoTestSupport
import NIOCore
import Testing

@testable import MicadoManager

/// `/v1/containers/{name}/files` and `/v1/containers/{name}/exec`: refused before any engine
/// is asked when the container or the path is wrong.
@Suite struct FileAndExecRoutesTests {
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
        }
    }

    @Test func anExecNeedsAContainer() async throws {
        let w = try await ManagerPartsTests.world(clouds: false)
        try await RouteTesting.app(w).test(.router) { client in
            try await client.execute(
                uri: "/v1/containers/container-none/exec",
                method: .post,
                headers: RouteTesting.auth,
                body: .init(string: #"{"command":"true"}"#)
            ) { response in
                #expect(response.status == .notFound, "\(String(buffer: response.body))")
            }
        }
    }
}
