import Foundation
import HTTPTypes
import HummingbirdTesting
import MicadoCore
import MicadoTestSupport
import NIOCore
import Testing

@testable import MicadoManager

/// `/v1/containers…` and `/v1/services`: launch, list, one, explain, quit, remove.
@Suite struct ContainerRoutesTests {
    @Test func aContainerIsLaunchedListedExplainedQuitAndRemoved() async throws {
        let w = try await ManagerPartsTests.world(clouds: false)
        try await RouteTesting.app(w).test(.router) { client in
            try await RouteTesting.launch(client, name: "container-web")
            try await client.execute(uri: "/v1/containers", method: .get, headers: RouteTesting.auth) { response in
                let views = try RouteTesting.decode([ContainerView].self, response.body)
                #expect(views.map(\.name.rawValue) == ["container-web"] && views.first?.state == .running)
            }
            try await client.execute(uri: "/v1/containers/container-web/explain", method: .get, headers: RouteTesting.auth) { response in
                #expect(response.status == .ok)
            }
            try await client.execute(
                uri: "/v1/containers/container-web/quit",
                method: .post,
                headers: RouteTesting.auth,
                body: .init(string: #"{"remove":false}"#)
            ) { response in
                let view = try RouteTesting.decode(ContainerView.self, response.body)
                #expect(view.desired == .stopped, "\(view)")
            }
            try await client.execute(uri: "/v1/containers/container-web", method: .delete, headers: RouteTesting.auth) { response in
                #expect(response.status == .noContent, "\(response.status)")
            }
            try await client.execute(uri: "/v1/containers/container-web", method: .get, headers: RouteTesting.auth) { response in
                #expect(response.status == .notFound)
            }
        }
        #expect(await w.swarm.serviceNames().isEmpty)
    }

    @Test func anUnknownOrInvalidNameIsSpecific() async throws {
        let w = try await ManagerPartsTests.world(clouds: false)
        try await RouteTesting.app(w).test(.router) { client in
            try await client.execute(uri: "/v1/containers/container-nobody", method: .get, headers: RouteTesting.auth) { response in
                #expect(response.status == .notFound)
            }
            try await client.execute(uri: "/v1/containers/Bad%20Name/usage", method: .get, headers: RouteTesting.auth) { response in
                #expect(response.status == .badRequest || response.status == .notFound)
            }
            try await client.execute(uri: "/v1/containers/container-nobody/logs", method: .get, headers: RouteTesting.auth) { response in
                #expect(response.status == .notFound, "\(String(buffer: response.body))")
            }
        }
    }
}
