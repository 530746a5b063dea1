import Foundation
import HTTPTypes
import HummingbirdTesting
import MicadoCore
import MicadoTestSupport
import NIOCore
import Testing

@testable import MicadoManager

/// `/v1/session`: the dashboard's login for a cookie, who asks, logout.
@Suite struct SessionRoutesTests {
    @Test func theTokenBuysASessionAndAWrongOneDoesNot() async throws {
        let w = try await ManagerPartsTests.world(clouds: false)
        try await RouteTesting.app(w).test(.router) { client in
            try await client.execute(
                uri: "/v1/session",
                method: .post,
                headers: [.contentType: "application/json"],
                body: .init(string: #"{"token":"wrong"}"#)
            ) { response in
                #expect(response.status == .unauthorized)
                #expect(response.headers[.setCookie] == nil)
            }
            var cookie = ""
            var csrf = ""
            try await client.execute(
                uri: "/v1/session",
                method: .post,
                headers: [.contentType: "application/json"],
                body: .init(string: #"{"token":"\#(RouteTesting.token)"}"#)
            ) { response in
                #expect(response.status == .created)
                cookie = String(response.headers[.setCookie]?.split(separator: ";").first ?? "")
                let decoded = try RouteTesting.decode(SessionRoutes.SessionView.self, response.body)
                csrf = try #require(decoded.csrf)
            }
            // The cookie alone is not enough: the page sends its CSRF token with every request.
            try await client.execute(uri: "/v1/session", method: .get, headers: [.cookie: cookie]) { response in
                #expect(response.status == .forbidden)
            }
            try await client.execute(uri: "/v1/session", method: .get, headers: [.cookie: cookie, DashboardSessions.csrfHeader: csrf]) {
                response in
                let decoded = try RouteTesting.decode(SessionRoutes.SessionView.self, response.body)
                #expect(decoded.authenticatedBy == "session")
            }
            try await client.execute(uri: "/v1/session", method: .get, headers: RouteTesting.auth) { response in
                let decoded = try RouteTesting.decode(SessionRoutes.SessionView.self, response.body)
                #expect(decoded.authenticatedBy == "token")
            }
        }
    }
}
