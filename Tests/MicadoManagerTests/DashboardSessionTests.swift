import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import MicadoCore
@testable import MicadoManager
import MicadoStore
import NIOCore
import Testing

/// The dashboard's way in: its files with a strict policy, the token once for a session
/// cookie, and a cookie that alone never changes state.
@Suite struct DashboardSessionTests {
    static let token = HTTPAPITests.token

    struct Session: Decodable {
        var authenticatedBy: String
        var csrf: String?
    }

    static func logIn(_ client: some TestClientProtocol) async throws -> (cookie: String, csrf: String) {
        try await client.execute(uri: "/v1/session", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: #"{"token":"\#(token)"}"#)) { response in
            #expect(response.status == .created)
            let setCookie = try #require(response.headers[.setCookie])
            #expect(setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Strict") && setCookie.contains("Path=/"))
            let session = try JSONDecoder().decode(Session.self, from: Data(response.body.readableBytesView))
            let cookie = String(try #require(setCookie.split(separator: ";").first))
            return (cookie, try #require(session.csrf))
        }
    }

    @Test func pageAndAssetsComeWithAStrictPolicy() async throws {
        try await HTTPAPITests.app().test(.router) { client in
            for (uri, type) in [("/", "text/html"), ("/assets/app.js", "text/javascript"), ("/assets/app.css", "text/css"), ("/assets/chart.min.js", "text/javascript")] {
                try await client.execute(uri: uri, method: .get) { response in
                    #expect(response.status == .ok, "\(uri)")
                    #expect(response.headers[.contentType]?.hasPrefix(type) == true, "\(uri)")
                    let policy = try #require(response.headers[.contentSecurityPolicy])
                    #expect(policy.contains("default-src 'none'") && policy.contains("script-src 'self'") && !policy.contains("unsafe"))
                    #expect(response.headers[.xContentTypeOptions] == "nosniff")
                    #expect(response.body.readableBytes > 0)
                }
            }
            // Chart.js is Debian's, embedded whole.
            try await client.execute(uri: "/assets/chart.min.js", method: .get) { response in
                #expect(String(buffer: response.body).contains("Chart.js v3"))
            }
            try await client.execute(uri: "/assets/..%2Fapp.js", method: .get) { response in
                #expect(response.status == .notFound)
            }
            try await client.execute(uri: "/", method: .post) { response in
                #expect(response.status == .methodNotAllowed)
            }
        }
    }

    @Test func aWrongTokenGetsNoSession() async throws {
        try await HTTPAPITests.app().test(.router) { client in
            for body in [#"{"token":"wrong"}"#, #"{"token":"\#(Self.token)\u0000"}"#, #"{"token":""}"#] {
                try await client.execute(uri: "/v1/session", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: body)) { response in
                    #expect(response.status == .unauthorized, "\(body)")
                    #expect(response.headers[.setCookie] == nil)
                }
            }
            try await client.execute(uri: "/v1/session", method: .post, body: ByteBuffer(string: "{}")) { response in
                #expect(response.status == .badRequest)
            }
            // A made-up cookie is no session.
            try await client.execute(uri: "/v1/containers", method: .get, headers: [.cookie: "micado_session=\(String(repeating: "a", count: 64))"]) { response in
                #expect(response.status == .unauthorized)
            }
        }
    }

    @Test func aSessionReadsButChangesOnlyWithItsCSRFTokenFromItsOwnOrigin() async throws {
        let store = try Store.inMemory()
        try await store.record(EventRecord(time: Date(), kind: "k", subject: "container-a", message: "hello"))
        try await HTTPAPITests.app(store: store).test(.router) { client in
            let (cookie, csrf) = try await Self.logIn(client)
            try await client.execute(uri: "/v1/session", method: .get, headers: [.cookie: cookie]) { response in
                #expect(response.status == .ok)
                let session = try JSONDecoder().decode(Session.self, from: Data(response.body.readableBytesView))
                #expect(session.csrf == csrf)
            }
            try await client.execute(uri: "/v1/events", method: .get, headers: [.cookie: "other=1; \(cookie)"]) { response in
                #expect(response.status == .ok)
            }
            // A change with the cookie alone, or with a wrong CSRF token: 403, nothing done.
            let change = "/v1/containers/container-x/quit"
            for headers: HTTPFields in [
                [.cookie: cookie, .contentType: "application/json"],
                [.cookie: cookie, .contentType: "application/json", HTTPField.Name("X-CSRF-Token")!: String(csrf.dropLast()) + "0"],
                [.cookie: cookie, .contentType: "application/json", HTTPField.Name("X-CSRF-Token")!: csrf, .origin: "http://evil.example"],
            ] {
                try await client.execute(uri: change, method: .post, headers: headers, body: ByteBuffer(string: #"{"remove":false}"#)) { response in
                    #expect(response.status == .forbidden)
                    let error = try HTTPAPITests.error(response.body)
                    #expect(error.code == .forbidden)
                }
            }
            // With it, the request goes on (to the container that does not exist).
            try await client.execute(
                uri: change, method: .post, headers: [.cookie: cookie, .contentType: "application/json", HTTPField.Name("X-CSRF-Token")!: csrf],
                body: ByteBuffer(string: #"{"remove":false}"#)
            ) { response in
                #expect(response.status == .notFound)
            }
            // Logging out ends the session for good.
            try await client.execute(uri: "/v1/session", method: .delete, headers: [.cookie: cookie, HTTPField.Name("X-CSRF-Token")!: csrf]) { response in
                #expect(response.status == .noContent)
                #expect(response.headers[.setCookie]?.contains("Max-Age=0") == true)
            }
            try await client.execute(uri: "/v1/events", method: .get, headers: [.cookie: cookie]) { response in
                #expect(response.status == .unauthorized)
            }
            // The bearer token needs neither cookie nor CSRF token.
            try await client.execute(uri: "/v1/session", method: .get, headers: [.authorization: "Bearer \(Self.token)"]) { response in
                let session = try JSONDecoder().decode(Session.self, from: Data(response.body.readableBytesView))
                #expect(session.authenticatedBy == "token")
            }
        }
    }

    /// Logging in again and again keeps at most `limit` sessions; the newest always works.
    @Test func sessionsAreBounded() throws {
        let sessions = DashboardSessions(token: Self.token)
        var first: String?
        for i in 0..<(DashboardSessions.limit + 10) {
            let session = try sessions.open(token: Self.token, now: Date(timeIntervalSince1970: 1_000_000 + Double(i)))
            if i == 0 { first = session.id }
            #expect(sessions.csrf(of: session.id, now: Date(timeIntervalSince1970: 1_000_000 + Double(i))) == session.csrf)
        }
        #expect(sessions.csrf(of: try #require(first), now: Date(timeIntervalSince1970: 1_000_000)) == nil)
        // Expired: gone.
        let late = try sessions.open(token: Self.token, now: Date(timeIntervalSince1970: 0))
        #expect(sessions.csrf(of: late.id, now: Date(timeIntervalSince1970: DashboardSessions.lifetime + 1)) == nil)
    }

    @Test func eventsAfterAnIdAreTheOnesNotSeen() async throws {
        let store = try Store.inMemory()
        for i in 1...5 { try await store.record(EventRecord(time: Date(), kind: "k", subject: "s\(i % 2)", message: "m\(i)")) }
        try await HTTPAPITests.app(store: store).test(.router) { client in
            try await client.execute(uri: "/v1/events?after=2&limit=2", method: .get, headers: [.authorization: "Bearer \(Self.token)"]) { response in
                let events = try WireFormat.decoder().decode([EventView].self, from: Data(response.body.readableBytesView))
                #expect(events.map(\.message) == ["m3", "m4"])
            }
            try await client.execute(uri: "/v1/events/live?after=x", method: .get, headers: [.authorization: "Bearer \(Self.token)"]) { response in
                #expect(response.status == .badRequest)
            }
            // Without an upgrade, the first batch once.
            try await client.execute(uri: "/v1/events/live?after=3", method: .get, headers: [.authorization: "Bearer \(Self.token)"]) { response in
                #expect(response.status == .ok)
                let events = try WireFormat.decoder().decode([EventView].self, from: Data(response.body.readableBytesView))
                #expect(events.map(\.message) == ["m4", "m5"])
            }
            try await client.execute(uri: "/v1/events/live?backlog=1&subject=s0", method: .get, headers: [.authorization: "Bearer \(Self.token)"]) { response in
                let events = try WireFormat.decoder().decode([EventView].self, from: Data(response.body.readableBytesView))
                #expect(events.map(\.message) == ["m4"])
            }
            // A path the browser would never ask for: 404, whatever it holds.
            try await client.execute(uri: "/assets/%19app.js", method: .get) { response in
                #expect(response.status == .notFound)
            }
            // A file path splits on the byte '/', even before an emoji modifier: the request goes on (to the missing container).
            try await client.execute(uri: "/v1/containers/container-x/files?path=/%F0%9F%8F%BBx", method: .put, headers: [.authorization: "Bearer \(Self.token)"], body: ByteBuffer(string: "x")) { response in
                #expect(response.status == .notFound)
            }
        }
    }
}
