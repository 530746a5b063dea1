import Foundation
import HTTPTypes
import HummingbirdTesting
import MicadoCore
import MicadoTestSupport
import NIOCore
import Testing

@testable import MicadoManager

/// `/v1/events`, and `/v1/events/live` without an upgrade.
@Suite struct EventRoutesTests {
    @Test func eventsAreFilteredBySubjectAndBounded() async throws {
        let w = try await ManagerPartsTests.world(clouds: false)
        try await RouteTesting.app(w).test(.router) { client in
            try await RouteTesting.launch(client, name: "container-a")
            try await RouteTesting.launch(client, name: "container-b")
            try await client.execute(uri: "/v1/events?subject=container-a", method: .get, headers: RouteTesting.auth) { response in
                let events = try RouteTesting.decode([EventView].self, response.body)
                #expect(!events.isEmpty && events.allSatisfy { $0.subject == "container-a" }, "\(events)")
                #expect(events.map(\.kind).contains(.containerLaunch))
            }
            try await client.execute(uri: "/v1/events?limit=1", method: .get, headers: RouteTesting.auth) { response in
                let decoded = try RouteTesting.decode([EventView].self, response.body)
                #expect(decoded.count == 1)
            }
            // Without an upgrade, the live stream's first batch, once, as JSON.
            try await client.execute(uri: "/v1/events/live?subject=container-b", method: .get, headers: RouteTesting.auth) { response in
                #expect(response.status == .ok, "\(String(buffer: response.body))")
            }
        }
    }
}
