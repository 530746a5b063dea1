import DockerEngine
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import MicadoCore
import MicadoStore
import MicadoTestSupport
import NIOCore
import Testing

@testable import MicadoManager

/// The router over a world of in-memory parts (swarm, cloud, store), every answer held to
/// openapi.yaml: what each resource's routes answer when the parts behind them work.
enum RouteTesting {
    static let token = HTTPAPITests.token
    static var auth: HTTPFields { [.authorization: "Bearer \(token)", .contentType: "application/json"] }

    static func app(_ w: ManagerPartsTests.World) -> some ApplicationProtocol {
        let router = HTTPAPI.router(
            orchestrator: w.orchestrator,
            token: token,
            sessions: DashboardSessions(token: token),
            spool: w.home + "/spool",
            logger: Logger(label: "test")
        )
        return Application(responder: ContractCheckingResponder(inner: router.buildResponder()))
    }

    static func decode<T: Decodable>(_ type: T.Type, _ buffer: ByteBuffer) throws -> T {
        try WireFormat.decoder().decode(type, from: Data(buffer.readableBytesView))
    }

    static func body(_ value: some Encodable) throws -> ByteBuffer {
        ByteBuffer(bytes: Array(try WireFormat.encoder().encode(value)))
    }

    /// A container launched through the API, running on the in-memory swarm.
    static func launch(_ client: some TestClientProtocol, name: String) async throws {
        let request = try ManagerPartsTests.request(name, memory: 32)
        try await client.execute(uri: "/v1/containers", method: .post, headers: auth, body: try body(request)) { response in
            #expect(response.status == .created || response.status == .ok, "\(String(buffer: response.body))")
        }
    }
}
