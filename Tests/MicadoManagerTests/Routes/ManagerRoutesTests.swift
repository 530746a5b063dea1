import Foundation
import HTTPTypes
import HummingbirdTesting
import MicadoCore
import MicadoTestSupport
import NIOCore
import Testing

@testable import MicadoManager

/// `/v1/health`, `/metrics` and `/openapi.yaml`: answered without a token.
@Suite struct ManagerRoutesTests {
    @Test func healthMetricsAndTheContractNeedNoToken() async throws {
        let w = try await ManagerPartsTests.world(clouds: false)
        try await RouteTesting.app(w).test(.router) { client in
            try await client.execute(uri: "/v1/health", method: .get) { response in
                let decoded = try RouteTesting.decode(HealthView.self, response.body)
                #expect(decoded.status == "ok")
            }
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.status == .ok)
            }
            try await client.execute(uri: "/openapi.yaml", method: .get) { response in
                #expect(String(buffer: response.body).hasPrefix("openapi: 3.0.3"))
            }
        }
    }
}
