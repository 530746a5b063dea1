import Foundation
import HTTPTypes
import HummingbirdTesting
import MicadoCore
import MicadoTestSupport
import NIOCore
import Testing

@testable import MicadoManager

/// `/v1/images…`: the list of what micado recorded, and removal.
@Suite struct ImageRoutesTests {
    @Test func aPulledImageIsListedAndOneInUseIsNotRemoved() async throws {
        let w = try await ManagerPartsTests.world(clouds: false)
        await w.swarm.setRegistryImage("nginx:1.27", digest: "sha256:" + String(repeating: "d", count: 64))
        _ = try await ApplicationsTests.apply(w, "services:\n  web:\n    image: nginx:1.27\n")
        try await RouteTesting.app(w).test(.router) { client in
            try await client.execute(uri: "/v1/images", method: .get, headers: RouteTesting.auth) { response in
                let views = try RouteTesting.decode([ImageView].self, response.body)
                #expect(views.map(\.name.rawValue) == ["nginx:1.27"] && views.first?.digest?.hasPrefix("sha256:d") == true)
            }
            try await client.execute(uri: "/v1/images/nginx:1.27", method: .delete, headers: RouteTesting.auth) { response in
                #expect(response.status == .conflict, "\(String(buffer: response.body))")
            }
            try await client.execute(uri: "/v1/images/nothing:1", method: .delete, headers: RouteTesting.auth) { response in
                #expect(response.status == .notFound)
            }
        }
    }

    /// A build's archive is checked whole before any engine sees it.
    @Test func aBuildOfAnArchiveThatIsNotOneIsRefused() async throws {
        let w = try await ManagerPartsTests.world(clouds: false)
        try await RouteTesting.app(w).test(.router) { client in
            try await client.execute(
                uri: "/v1/images?name=container-built",
                method: .post,
                headers: [.authorization: "Bearer \(RouteTesting.token)", .contentType: "application/x-tar"],
                body: ByteBuffer(string: "not a tar archive, but long enough to be read as one's first header")
            ) { response in
                #expect(response.status == .badRequest, "\(String(buffer: response.body))")
            }
        }
        #expect(await !w.swarm.calls.contains { $0.hasPrefix("build") })
    }
}
