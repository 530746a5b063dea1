import Foundation
import HTTPTypes
import HummingbirdTesting
import MicadoCore
import MicadoTestSupport
import NIOCore
import Testing

@testable import MicadoManager

/// `/v1/applications…` and `/v1/routes`: plan, apply, list, remove.
@Suite struct ApplicationRoutesTests {
    @Test func aFileIsPlannedAppliedListedAndRemoved() async throws {
        let w = try await ManagerPartsTests.world(clouds: false)
        let file = "services:\n  web:\n    image: busybox:local\n    command: sleep 3600\n"
        try await RouteTesting.app(w).test(.router) { client in
            for dryRun in [true, false] {
                let request = ApplyRequest(name: "shop", folderName: "x", file: file, fileName: "compose.yaml", dryRun: dryRun)
                try await client.execute(
                    uri: "/v1/applications",
                    method: .post,
                    headers: RouteTesting.auth,
                    body: try RouteTesting.body(request)
                ) {
                    response in
                    let plan = try RouteTesting.decode(ApplyPlanView.self, response.body)
                    #expect(plan.dryRun == dryRun && plan.steps.map(\.action) == [.create], "\(plan)")
                }
            }
            try await client.execute(uri: "/v1/applications", method: .get, headers: RouteTesting.auth) { response in
                let decoded = try RouteTesting.decode([ApplicationView].self, response.body)
                #expect(decoded.map(\.name.rawValue) == ["shop"])
            }
            try await client.execute(uri: "/v1/applications/shop?volumes=true", method: .delete, headers: RouteTesting.auth) { response in
                let decoded = try RouteTesting.decode(ApplicationRemovalView.self, response.body)
                #expect(decoded.application.rawValue == "shop" && decoded.removedVolumes.isEmpty)
            }
            try await client.execute(uri: "/v1/applications/shop", method: .delete, headers: RouteTesting.auth) { response in
                #expect(response.status == .notFound)
            }
        }
        #expect(await w.swarm.serviceNames().isEmpty)
    }
}
