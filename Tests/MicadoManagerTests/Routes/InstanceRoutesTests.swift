import Foundation
import HTTPTypes
import HummingbirdTesting
import MicadoCore
import MicadoTestSupport
import NIOCore
import Testing

@testable import MicadoManager

/// `/v1/instances…` and `/v1/clouds`.
@Suite struct InstanceRoutesTests {
    @Test func theManagersNodeAndTheCloudsAreListed() async throws {
        let w = try await ManagerPartsTests.world(clouds: true)
        try await RouteTesting.app(w).test(.router) { client in
            var managerID: InstanceID?
            try await client.execute(uri: "/v1/instances", method: .get, headers: RouteTesting.auth) { response in
                let views = try RouteTesting.decode([InstanceView].self, response.body)
                #expect(views.count == 1 && views.first?.role == .manager, "\(views)")
                managerID = views.first?.id
            }
            let id = try #require(managerID)
            try await client.execute(uri: "/v1/instances/\(id)", method: .get, headers: RouteTesting.auth) { response in
                let decoded = try RouteTesting.decode(InstanceView.self, response.body)
                #expect(decoded.id == id)
            }
            try await client.execute(uri: "/v1/instances/inothing", method: .get, headers: RouteTesting.auth) { response in
                #expect(response.status == .notFound)
            }
            try await client.execute(uri: "/v1/clouds", method: .get, headers: RouteTesting.auth) { response in
                let decoded = try RouteTesting.decode([CloudView].self, response.body)
                #expect(decoded.map(\.name) == ["mem"])
            }
        }
    }
}
