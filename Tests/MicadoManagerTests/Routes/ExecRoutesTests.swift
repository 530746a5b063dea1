import Foundation
import HTTPTypes
import HummingbirdTesting
import MicadoCore
import MicadoTestSupport
import NIOCore
import Testing

@testable import MicadoManager

/// `/v1/containers/{name}/exec` and its attached stream: refused before any engine is asked
/// when the container is not there; the stream without an upgrade says how to reach it.
@Suite struct ExecRoutesTests {
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
            try await client.execute(uri: "/v1/containers/container-none/exec/stream?command=sh", method: .get, headers: RouteTesting.auth)
            {
                response in
                #expect(response.status == .notFound, "\(String(buffer: response.body))")
            }
        }
    }

    @Test func theStreamWithoutAnUpgradeSaysHow() async throws {
        let w = try await ManagerPartsTests.world(clouds: false)
        try await RouteTesting.app(w).test(.router) { client in
            try await RouteTesting.launch(client, name: "container-a")
            try await client.execute(uri: "/v1/containers/container-a/exec/stream?command=sh", method: .get, headers: RouteTesting.auth) {
                response in
                #expect(response.status == .badRequest && String(buffer: response.body).contains("WebSocket"))
            }
        }
    }
}
