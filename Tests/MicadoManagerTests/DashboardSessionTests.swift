import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import MicadoCore
import MicadoStore
import NIOCore
import Testing

@testable import MicadoManager

/// The dashboard's way in: its files with a strict policy, the token once for a session,
/// and a session that is its cookie *and* its CSRF token (a cookie for 127.0.0.1 reaches
/// every port of it: alone it opens nothing).
@Suite struct DashboardSessionTests {
    static let token = HTTPAPITests.token

    struct Session: Decodable {
        var authenticatedBy: String
        var csrf: String?
    }

    static func logIn(_ client: some TestClientProtocol) async throws -> (cookie: String, csrf: String) {
        try await client.execute(
            uri: "/v1/session",
            method: .post,
            headers: [.contentType: "application/json"],
            body: ByteBuffer(string: #"{"token":"\#(token)"}"#)
        ) { response in
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
            for (uri, type) in [
                ("/", "text/html"), ("/assets/app.js", "text/javascript"), ("/assets/app.css", "text/css"),
                ("/assets/chart.min.js", "text/javascript"),
            ] {
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
                try await client.execute(
                    uri: "/v1/session",
                    method: .post,
                    headers: [.contentType: "application/json"],
                    body: ByteBuffer(string: body)
                ) { response in
                    #expect(response.status == .unauthorized, "\(body)")
                    #expect(response.headers[.setCookie] == nil)
                }
            }
            try await client.execute(uri: "/v1/session", method: .post, body: ByteBuffer(string: "{}")) { response in
                #expect(response.status == .badRequest)
            }
            // A made-up cookie is no session.
            try await client.execute(
                uri: "/v1/containers",
                method: .get,
                headers: [.cookie: "micado_session=\(String(repeating: "a", count: 64))"]
            ) { response in
                #expect(response.status == .unauthorized)
            }
        }
    }

    @Test func aSessionIsItsCookieAndItsCSRFTokenFromItsOwnOrigin() async throws {
        let store = try Store.inMemory()
        try await store.record(EventRecord(time: Date(), kind: .containerRemoved, subject: "container-a", message: "hello"))
        try await HTTPAPITests.app(store: store).test(.router) { client in
            let (cookie, csrf) = try await Self.logIn(client)
            let csrfHeader = HTTPField.Name("X-CSRF-Token")!
            // The cookie alone (what a server on another port of 127.0.0.1 receives) reads nothing,
            // and the CSRF token is never handed out again.
            for uri in ["/v1/session", "/v1/events", "/v1/containers"] {
                try await client.execute(uri: uri, method: .get, headers: [.cookie: cookie]) { response in
                    #expect(response.status == .forbidden, "\(uri)")
                    #expect(!String(buffer: response.body).contains(csrf))
                }
            }
            try await client.execute(uri: "/v1/session", method: .get, headers: [.cookie: cookie, csrfHeader: csrf]) { response in
                #expect(response.status == .ok)
                let session = try JSONDecoder().decode(Session.self, from: Data(response.body.readableBytesView))
                #expect(session.authenticatedBy == "session" && session.csrf == nil)
            }
            try await client.execute(uri: "/v1/events", method: .get, headers: [.cookie: "other=1; \(cookie)", csrfHeader: csrf]) {
                response in
                #expect(response.status == .ok)
            }
            // A WebSocket upgrade on the session: the token as the offered subprotocol, and an origin.
            let upgrade: HTTPFields = [.cookie: cookie, .upgrade: "websocket", .secWebSocketProtocol: "micado.csrf.\(csrf)"]
            try await client.execute(uri: "/v1/events/live", method: .get, headers: upgrade) { response in
                #expect(response.status == .forbidden, "no Origin")
            }
            var wrong = upgrade
            wrong[.secWebSocketProtocol] = "micado.csrf.\(String(repeating: "0", count: 64))"
            wrong[.origin] = "http://localhost"
            try await client.execute(uri: "/v1/events/live", method: .get, headers: wrong) { response in
                #expect(response.status == .forbidden, "wrong token, foreign origin")
            }
            // A change with the cookie alone, or with a wrong CSRF token: 403, nothing done.
            let change = "/v1/containers/container-x/quit"
            for headers: HTTPFields in [
                [.cookie: cookie, .contentType: "application/json"],
                [
                    .cookie: cookie, .contentType: "application/json",
                    HTTPField.Name("X-CSRF-Token")!: String(csrf.dropLast()) + (csrf.hasSuffix("0") ? "1" : "0"),
                ],
                [.cookie: cookie, .contentType: "application/json", HTTPField.Name("X-CSRF-Token")!: csrf, .origin: "http://evil.example"],
            ] {
                try await client.execute(uri: change, method: .post, headers: headers, body: ByteBuffer(string: #"{"remove":false}"#)) {
                    response in
                    #expect(response.status == .forbidden)
                    let error = try HTTPAPITests.error(response.body)
                    #expect(error.code == .forbidden)
                }
            }
            // With it, the request goes on (to the container that does not exist).
            try await client.execute(
                uri: change,
                method: .post,
                headers: [.cookie: cookie, .contentType: "application/json", HTTPField.Name("X-CSRF-Token")!: csrf],
                body: ByteBuffer(string: #"{"remove":false}"#)
            ) { response in
                #expect(response.status == .notFound)
            }
            // Logging out ends the session for good.
            try await client.execute(
                uri: "/v1/session",
                method: .delete,
                headers: [.cookie: cookie, HTTPField.Name("X-CSRF-Token")!: csrf]
            ) { response in
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

    /// Logging in again and again keeps at most `limit` sessions, evicting the least
    /// recently used: an open dashboard (it asks every few seconds) is never logged out.
    @Test func sessionsAreBoundedAndAnOpenDashboardStays() throws {
        let sessions = DashboardSessions(token: Self.token)
        func at(_ i: Int) -> Date { Date(timeIntervalSince1970: 1_000_000 + Double(i)) }
        let open = try sessions.open(token: Self.token, now: at(0))
        let idle = try sessions.open(token: Self.token, now: at(0))
        for i in 1...(DashboardSessions.limit + 10) {
            _ = try sessions.open(token: Self.token, now: at(i))
            #expect(sessions.csrf(of: open.id, now: at(i)) == open.csrf, "the dashboard in use stays logged in")
        }
        #expect(sessions.csrf(of: idle.id, now: at(DashboardSessions.limit + 11)) == nil, "the idle one went first")
        // Expired: gone.
        let late = try sessions.open(token: Self.token, now: Date(timeIntervalSince1970: 0))
        #expect(sessions.csrf(of: late.id, now: Date(timeIntervalSince1970: DashboardSessions.lifetime + 1)) == nil)
    }

    /// Wrong tokens cannot lock the dashboard: the right token gets in from any peer while
    /// another peer (or the same address: local users share 127.0.0.1) sends wrong ones as
    /// fast as it can; the wrong ones are slowed per peer, with the wait reported.
    @Test func wrongTokensAreSlowedButNeverLockTheRightOneOut() throws {
        let sessions = DashboardSessions(token: Self.token)
        let now = Date(timeIntervalSince1970: 2_000_000)
        for _ in 0..<LoginThrottle.freeFailures {
            #expect(throws: MicadoError(.unauthorized, "wrong API token; it is in the micado home's token file")) {
                try sessions.open(token: "guess", peer: "10.0.0.9", now: now)
            }
        }
        #expect { try sessions.open(token: "guess", peer: "10.0.0.9", now: now) } throws: { ($0 as? MicadoError)?.code == .tooManyRequests }
        #expect(sessions.throttle.retryAfter(peer: "10.0.0.9", now: now) == 1)
        // A thousand more in the same second, from that peer and from the address everyone shares:
        for i in 0..<1000 {
            _ = try? sessions.open(token: "guess", peer: i.isMultiple(of: 2) ? "10.0.0.9" : "127.0.0.1", now: now)
        }
        // the right token still gets in, from both, at once.
        #expect(throws: Never.self) { try sessions.open(token: Self.token, peer: "127.0.0.1", now: now) }
        #expect(throws: Never.self) { try sessions.open(token: Self.token, peer: "10.0.0.9", now: now) }
        // Waits grow per peer, to the maximum; another peer starts with its free failures.
        let slow = DashboardSessions(token: Self.token)
        var waits: [Int] = []
        var at = now
        for _ in 0..<20 {
            // Each try as soon as the last wait is over.
            let wait = slow.throttle.failed(peer: "p", now: at)
            if let wait { waits.append(wait) }
            at = at.addingTimeInterval(TimeInterval(wait ?? 0) + 0.01)
        }
        #expect(waits.count >= 15 && waits.max() == LoginThrottle.maximumWait, "\(waits)")
        #expect(slow.throttle.failed(peer: "q", now: now) == nil)
        // Past the global budget, wrong tokens wait for the minute's end; the right one does not.
        let flooded = DashboardSessions(token: Self.token)
        for i in 0...LoginThrottle.globalFailuresPerMinute { _ = flooded.throttle.failed(peer: "peer-\(i)", now: now) }
        #expect(flooded.throttle.failed(peer: "fresh", now: now) != nil)
        #expect(throws: Never.self) { try flooded.open(token: Self.token, peer: "fresh", now: now) }
        // Memory is bounded whatever the number of peers.
        for i in 0..<(LoginThrottle.peerLimit + 100) { _ = flooded.throttle.failed(peer: "many-\(i)", now: now) }
        #expect(flooded.throttle.peerCount <= LoginThrottle.peerLimit)
    }

    /// An event's message is cut to `messageLimit` characters, saying how much was cut: the
    /// log's readers (the live view, `micado events`) stay small whatever a user sent.
    @Test func longEventMessagesAreCut() {
        let event = EventRecord(
            time: Date(),
            kind: .containerExecute,
            subject: "container-a",
            message: String(repeating: "x", count: 120_000)
        )
        #expect(event.message.count < EventRecord.messageLimit + 40)
        #expect(event.message.hasSuffix("… (\(120_000 - EventRecord.messageLimit) more characters)"))
    }

    @Test func eventsAfterAnIdAreTheOnesNotSeen() async throws {
        let store = try Store.inMemory()
        for i in 1...5 {
            try await store.record(EventRecord(time: Date(), kind: .containerRemoved, subject: "s\(i % 2)", message: "m\(i)"))
        }
        try await HTTPAPITests.app(store: store).test(.router) { client in
            try await client.execute(
                uri: "/v1/events?after=2&limit=2&subject=",
                method: .get,
                headers: [.authorization: "Bearer \(Self.token)"]
            ) { response in
                let events = try WireFormat.decoder().decode([EventView].self, from: Data(response.body.readableBytesView))
                #expect(events.map(\.message) == ["m3", "m4"])
            }
            try await client.execute(uri: "/v1/events/live?after=x", method: .get, headers: [.authorization: "Bearer \(Self.token)"]) {
                response in
                #expect(response.status == .badRequest)
            }
            // Without an upgrade, the first batch once.
            try await client.execute(uri: "/v1/events/live?after=3", method: .get, headers: [.authorization: "Bearer \(Self.token)"]) {
                response in
                #expect(response.status == .ok)
                let events = try WireFormat.decoder().decode([EventView].self, from: Data(response.body.readableBytesView))
                #expect(events.map(\.message) == ["m4", "m5"])
            }
            try await client.execute(
                uri: "/v1/events/live?backlog=1&subject=s0",
                method: .get,
                headers: [.authorization: "Bearer \(Self.token)"]
            ) { response in
                let events = try WireFormat.decoder().decode([EventView].self, from: Data(response.body.readableBytesView))
                #expect(events.map(\.message) == ["m4"])
            }
            // A path the browser would never ask for: 404, whatever it holds.
            try await client.execute(uri: "/assets/%19app.js", method: .get) { response in
                #expect(response.status == .notFound)
            }
            // A file path splits on the byte '/', even before an emoji modifier: the request goes on (to the missing container).
            try await client.execute(
                uri: "/v1/containers/container-x/files?path=/%F0%9F%8F%BBx",
                method: .put,
                headers: [.authorization: "Bearer \(Self.token)"],
                body: ByteBuffer(string: "x")
            ) { response in
                #expect(response.status == .notFound)
            }
        }
    }
}
