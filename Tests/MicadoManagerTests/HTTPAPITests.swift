import AsyncHTTPClient
import DockerEngine
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import MicadoClouds
import MicadoCore
import MicadoStore
import NIOCore
import Testing

@testable import MicadoManager

/// Routes that answer before touching an engine: auth, validation, the event log.
@Suite struct HTTPAPITests {
    static let token = "0123456789abcdef0123456789abcdef"
    static let http = EngineClient.makeHTTPClient()

    static let spool = FileManager.default.temporaryDirectory.appendingPathComponent("micado-spool-\(UUID().uuidString)").path

    /// Without `store`, a fresh in-memory one.
    static func app(store: Store? = nil, configuration: ManagerConfiguration = .init()) throws -> some ApplicationProtocol {
        let store = try store ?? Store.inMemory()
        let logger = Logger(label: "test")
        let engine = EngineClient(
            endpoint: .init(transport: .unix(path: "/nonexistent/docker.sock")),
            http: Self.http,
            assumingAPIVersion: .oldestSupported,
            logger: logger
        )
        let orchestrator = Orchestrator(configuration: configuration, store: store, engine: engine, managerID: "mtest", logger: logger)
        let router = HTTPAPI.router(
            orchestrator: orchestrator,
            token: token,
            sessions: DashboardSessions(token: token),
            spool: spool,
            logger: logger
        )
        // Every answer is held to openapi.yaml (see ContractCheckingResponder).
        return Application(responder: ContractCheckingResponder(inner: router.buildResponder()))
    }

    static func error(_ buffer: ByteBuffer) throws -> MicadoError {
        try WireFormat.decoder().decode(ErrorBody.self, from: Data(buffer.readableBytesView)).micadoError
    }

    @Test func healthNeedsNoToken() async throws {
        try await Self.app().test(.router) { client in
            try await client.execute(uri: "/v1/health", method: .get) { response in
                #expect(response.status == .ok)
                let health = try WireFormat.decoder().decode(HealthView.self, from: Data(response.body.readableBytesView))
                #expect(health.status == "ok")
            }
        }
    }

    @Test(arguments: [nil, "Bearer wrong", "Bearer ", "Basic \(HTTPAPITests.token)", "Bearer \(HTTPAPITests.token)x"])
    func wrongTokenIsRefused(_ header: String?) async throws {
        try await Self.app().test(.router) { client in
            var headers = HTTPFields()
            if let header { headers[.authorization] = header }
            try await client.execute(uri: "/v1/containers", method: .get, headers: headers) { response in
                #expect(response.status == .unauthorized)
                let error = try Self.error(response.body)
                #expect(error.code == .unauthorized)
            }
        }
    }

    /// Without a WebSocket upgrade (or when the upgrade is declined), the exec stream route
    /// answers with the reason, so the CLI can tell the user.
    @Test(arguments: [
        ("/v1/containers/container-x/exec/stream", HTTPResponse.Status.badRequest, "give a command to execute"),
        ("/v1/containers/container-x/exec/stream?command=sh&tty=yes", .badRequest, "tty must be true or false, not 'yes'"),
        (
            "/v1/containers/container-x/exec/stream?command=sh&columns=80&rows=tall", .badRequest,
            "columns and rows must each be a whole number from 1 to 10000"
        ),
        (
            "/v1/containers/container-x/exec/stream?command=sh&columns=0&rows=24", .badRequest,
            "columns and rows must each be a whole number from 1 to 10000"
        ),
        // One alone takes the usual other dimension: the request goes on (to the missing container).
        ("/v1/containers/container-x/exec/stream?command=sh&columns=80", .notFound, "no container named container-x"),
        ("/v1/containers/container-x/exec/stream?command=sh&tty=true&term=xterm;rm", .badRequest, "term must be a terminal type"),
        ("/v1/containers/container-x/exec/stream?command=sh&tty=true&columns=80&rows=24", .notFound, "no container named container-x"),
    ])
    func execStreamExplainsARefusal(_ uri: String, _ status: HTTPResponse.Status, _ message: String) async throws {
        try await Self.app().test(.router) { client in
            try await client.execute(uri: uri, method: .get, headers: [.authorization: "Bearer \(Self.token)"]) { response in
                #expect(response.status == status)
                let error = try Self.error(response.body)
                #expect(error.message.contains(message), "\(error.message)")
            }
            try await client.execute(uri: uri, method: .get) { response in
                #expect(response.status == .unauthorized)
            }
        }
    }

    /// Query parameters are taken once and as documented; a method a path does not have is 405
    /// with the methods it has (from openapi.yaml); the contract is served without a token.
    @Test(arguments: [
        ("/v1/containers?all=null", HTTPRequest.Method.get, HTTPResponse.Status.badRequest, "must be true or false"),
        ("/v1/containers?all=true&all=true", .get, .badRequest, "is given 2 times"),
        ("/v1/events?limit=10001", .get, .badRequest, "from 1 to 10000"),
        ("/v1/events?limit=ten", .get, .badRequest, "from 1 to 10000"),
        ("/v1/containers/container-x/logs?tail=-1", .get, .badRequest, "from 0 to 1000000"),
        ("/v1/containers", .put, .methodNotAllowed, "PUT is not allowed on /v1/containers; it takes GET, POST"),
        ("/v1/applications/shop", .get, .methodNotAllowed, "it takes DELETE"),
        ("/v1/nothing", .get, .notFound, "no such route"),
        ("/v1/applications/..%2Fx%01", .delete, .badRequest, "control character"),
    ])
    func queriesAndMethodsFollowTheContract(
        _ uri: String,
        _ method: HTTPRequest.Method,
        _ status: HTTPResponse.Status,
        _ message: String
    ) async throws {
        try await Self.app().test(.router) { client in
            try await client.execute(uri: uri, method: method, headers: [.authorization: "Bearer \(Self.token)"]) { response in
                #expect(response.status == status)
                let error = try Self.error(response.body)
                #expect(error.message.contains(message), "\(error.message)")
                if status == .methodNotAllowed { #expect(response.headers[.allow] != nil) }
            }
            try await client.execute(uri: "/openapi.yaml", method: .get) { response in
                #expect(response.status == .ok && String(buffer: response.body).hasPrefix("openapi: 3.0.3"))
            }
        }
    }

    @Test func badBodiesAreSpecificAndChangeNothing() async throws {
        let store = try Store.inMemory()
        try await Self.app(store: store).test(.router) { client in
            let headers: HTTPFields = [.authorization: "Bearer \(Self.token)", .contentType: "application/json"]
            let cases: [(String, String)] = [
                ("{", "invalid request body: not valid JSON"),
                (#"{"client":"web","arguments":[],"environment":[],"detach":false}"#, "invalid request body: missing field 'image'"),
                (
                    #"{"image":"busybox","client":"web","arguments":[],"environment":[],"detach":false,"port":{"published":0,"target":80}}"#,
                    "invalid port '0:80': 0 is out of range 1-65535"
                ),
                (#"{"image":"busybox","client":"web","arguments":[],"environment":[],"detach":false,"name":"web"}"#, ""),
            ]
            for (body, message) in cases {
                try await client.execute(uri: "/v1/containers", method: .post, headers: headers, body: ByteBuffer(string: body)) {
                    response in
                    #expect(response.status == .badRequest)
                    let error = try Self.error(response.body)
                    #expect(error.code == .badRequest)
                    if !message.isEmpty { #expect(error.message == message) }
                }
            }
        }
        #expect(try await store.containers().isEmpty)
        #expect(try await store.events().isEmpty)
    }

    /// Each kind of cloud error has its own code and status, as the API contract says.
    @Test(arguments: [
        (CloudError.Kind.capacity, "cloud_capacity", 503), (.quota, "cloud_quota", 429), (.auth, "cloud_auth", 502),
        (.transient, "cloud_transient", 503),
        (.badRequest, "cloud_bad_request", 400),
    ])
    func cloudErrorKindsHaveTheirCodeAndStatus(_ case: (CloudError.Kind, String, Int)) {
        #expect(`case`.0.code.rawValue == `case`.1)
        #expect(`case`.0.code.httpStatus.code == `case`.2)
    }

    @Test func unknownRouteIsJSON404() async throws {
        try await Self.app().test(.router) { client in
            try await client.execute(uri: "/v1/nothing", method: .get, headers: [.authorization: "Bearer \(Self.token)"]) { response in
                #expect(response.status == .notFound)
            }
        }
    }

    @Test func eventsComeFromTheStore() async throws {
        let store = try Store.inMemory()
        try await store.record(EventRecord(time: Date(), kind: .containerRemoved, subject: "container-a", message: "hello"))
        try await Self.app(store: store).test(.router) { client in
            try await client.execute(uri: "/v1/events?subject=container-a", method: .get, headers: [.authorization: "Bearer \(Self.token)"])
            { response in
                #expect(response.status == .ok)
                let events = try WireFormat.decoder().decode([EventView].self, from: Data(response.body.readableBytesView))
                #expect(events.map(\.message) == ["hello"])
            }
        }
    }

    @Test func unreachableEngineIsAnEngineError() async throws {
        try await Self.app().test(.router) { client in
            try await client.execute(uri: "/v1/instances", method: .get, headers: [.authorization: "Bearer \(Self.token)"]) { response in
                #expect(response.status == .badGateway)
                let error = try Self.error(response.body)
                #expect(error.code == .engine)
                #expect(error.message.contains("/nonexistent/docker.sock"))
            }
        }
    }

    static let auth: HTTPFields = [.authorization: "Bearer \(HTTPAPITests.token)"]

    /// Over a limit: 413 with the limit in the message, whether the length is declared or not.
    @Test func bodiesOverTheLimitsAre413() async throws {
        var configuration = ManagerConfiguration()
        configuration.limits.jsonBodyBytes = 1024
        configuration.limits.uploadBytes = 1 << 20
        let store = try Store.inMemory()
        try await Self.app(store: store, configuration: configuration).test(.router) { client in
            let big = ByteBuffer(repeating: 0x20, count: 4096)
            try await client.execute(uri: "/v1/containers", method: .post, headers: Self.auth, body: big) { response in
                #expect(response.status == .contentTooLarge)
                let error = try Self.error(response.body)
                #expect(error.code == .tooLarge)
                #expect(error.message.contains("1024 bytes"), "\(error.message)")
            }
            try await client.execute(
                uri: "/v1/images?name=container-big",
                method: .post,
                headers: Self.auth,
                body: ByteBuffer(repeating: 0, count: (1 << 20) + 1)
            ) {
                response in
                #expect(response.status == .contentTooLarge)
                let error = try Self.error(response.body)
                #expect(error.message.contains("\(1 << 20) bytes"))
            }
        }
        #expect(try await store.events().isEmpty)
    }

    /// A launch the swarm could not store, or with characters a terminal would obey, is refused.
    @Test(arguments: [
        (
            #"{"image":"busybox","client":"web","arguments":["\u001b]0;owned\u0007"],"environment":[],"detach":false}"#,
            HTTPResponse.Status.badRequest
        ),
        (#"{"image":"busybox","client":"web","arguments":[],"environment":[{"key":"A","value":"x\u0000y"}],"detach":false}"#, .badRequest),
        (#"{"image":"busybox","client":"web","script":"/run\u202e.sh","arguments":[],"environment":[],"detach":false}"#, .badRequest),
        (
            #"{"image":"busybox","client":"web","arguments":["\#(String(repeating: "a", count: 70_000))"],"environment":[],"detach":false}"#,
            .contentTooLarge
        ),
    ])
    func unsafeLaunchesAreRefused(_ body: String, _ status: HTTPResponse.Status) async throws {
        let store = try Store.inMemory()
        try await Self.app(store: store).test(.router) { client in
            try await client.execute(uri: "/v1/containers", method: .post, headers: Self.auth, body: ByteBuffer(string: body)) { response in
                #expect(response.status == status)
            }
        }
        #expect(try await store.containers().isEmpty)
        #expect(try await store.events().isEmpty)
    }

    /// A bad build context is refused with the reason before any engine is asked.
    @Test(arguments: [
        (
            [UInt8](TarArchive(entries: [.init(name: "app/Dockerfile", contents: Array("FROM x\n".utf8))]).bytes().dropLast(1024)),
            "truncated"
        ),
        (Array(TarArchive(entries: [.init(name: "app/Dockerfile", contents: Array("FROM x\n".utf8))]).bytes().prefix(700)), "truncated"),
        (Array(repeating: 0x41, count: 2048), "not a tar archive"),
        (TarArchive(entries: [.init(name: "app/Dockerfile"), .init(name: "app/../../etc/passwd")]).bytes(), "outside its folder"),
    ])
    func badBuildContextsAre400(_ tarball: [UInt8], _ message: String) async throws {
        try await Self.app().test(.router) { client in
            try await client.execute(
                uri: "/v1/images?name=container-bad",
                method: .post,
                headers: Self.auth,
                body: ByteBuffer(bytes: tarball)
            ) { response in
                #expect(response.status == .badRequest)
                let error = try Self.error(response.body)
                #expect(error.message.contains(message), "\(error.message)")
            }
        }
    }
}
