import DockerEngine
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import Logging
import MicadoCore
import MicadoStore
import NIOCore
import NIOHTTP1
import Prometheus

/// The manager's HTTP API: the CLI's only way in.
///
/// Every route but `/v1/health` needs `Authorization: Bearer <token>`. Errors are
/// `{"error":{"code","message"}}` with a status that matches the code.
public enum HTTPAPI {
    /// A copied-out file's permission bits, octal: `micado copy` keeps them.
    static let fileModeHeader = HTTPField.Name("X-Micado-File-Mode")!
    /// `spool` is the folder where uploads are received (see `SpooledUpload`).
    /// `sessions` are the dashboard's logins, shared with `webSocketRouter`.
    public static func router(
        orchestrator: Orchestrator,
        token: String,
        sessions: DashboardSessions,
        spool: String,
        logger: Logger
    ) -> Router<APIRequestContext> {
        let limits = orchestrator.configuration.limits
        let router = Router(context: APIRequestContext.self)
        // Metrics outside errors: it counts the status the client got (a 404, not the 500 of a thrown error).
        router.add(middleware: MetricsMiddleware())
        router.add(middleware: ErrorMiddleware(logger: logger))
        // Outside the token: the manager's own (metrics, contract, health), the dashboard's
        // files, and the login.
        ManagerRoutes.add(to: router, metrics: orchestrator.metrics, engine: orchestrator.engine)
        Dashboard.addRoutes(to: router)
        SessionRoutes.addLogin(to: router, sessions: sessions, jsonBodyBytes: limits.jsonBodyBytes)
        // Each resource's routes, behind the token or a session, in a file of their own.
        let kit = RouteKit(
            api: router.group("/v1").add(middleware: APIAuthMiddleware(token: token, sessions: sessions)),
            jsonBodyBytes: limits.jsonBodyBytes
        )
        SessionRoutes.add(to: kit, sessions: sessions)
        ContainerRoutes.add(to: kit, containers: orchestrator.containers, scaler: orchestrator.scaler)
        FileRoutes.add(to: kit, containers: orchestrator.containers, spool: spool, uploadBytes: limits.uploadBytes)
        ExecRoutes.add(to: kit, containers: orchestrator.containers)
        ApplicationRoutes.add(to: kit, applications: orchestrator.applications, routes: orchestrator.routes)
        InstanceRoutes.add(to: kit, instances: orchestrator.instances, clouds: orchestrator.clouds)
        ImageRoutes.add(to: kit, images: orchestrator.images, spool: spool, uploadBytes: limits.uploadBytes)
        EventRoutes.add(to: kit, store: orchestrator.store)
        BackupRoutes.add(
            to: kit,
            backups: Backups(store: orchestrator.store, eventLog: orchestrator.eventLog, managerID: orchestrator.managerID),
            spool: spool
        )
        return router
    }

    /// The routes that upgrade to a WebSocket, checked before the upgrade as `router` checks
    /// (token or session, query, state); a refused upgrade is declined and falls through to
    /// `router`, which answers with the reason as JSON.
    public static func webSocketRouter(
        orchestrator: Orchestrator,
        token: String,
        sessions: DashboardSessions,
        logger: Logger
    ) -> Router<APIWebSocketContext> {
        let router = Router(context: APIWebSocketContext.self)
        // A refusal is thrown, noted for the connection and answered as the HTTP route would (RefusedUpgrades).
        router.add(middleware: RecordRefusal(logger: logger))
        let kit = WebSocketRouteKit(router: router, auth: APIAuthMiddleware<APIWebSocketContext>(token: token, sessions: sessions))
        EventRoutes.addLive(to: kit, store: orchestrator.store)
        ExecRoutes.addStream(to: kit, containers: orchestrator.containers, eventLog: orchestrator.eventLog)
        return router
    }

    /// The dashboard's WebSocket offers its CSRF token as a subprotocol; the upgrade must
    /// accept it (a browser drops a socket whose offered protocol was not accepted).
    static func acceptedSubprotocol(_ request: Request) -> HTTPFields {
        guard let csrf = DashboardSessions.subprotocolToken(request) else { return [:] }
        return [.secWebSocketProtocol: DashboardSessions.subprotocolPrefix + csrf]
    }

    /// `range` of a spooled file as a response body, 256 KiB at a time (the file lives until it is sent).
    static func streamed(_ file: SpooledUpload, _ range: Range<Int>) -> ResponseBody {
        ResponseBody { writer in
            var offset = range.lowerBound
            while offset < range.upperBound {
                let piece = try file.read(offset..<min(range.upperBound, offset + (256 << 10)))
                try await writer.write(ByteBuffer(bytes: piece))
                offset += piece.count
            }
            try await writer.finish(nil)
        }
    }

    static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try WireFormat.encoder().encode(value)
        return Response(
            status: status,
            headers: [.contentType: "application/json", .xContentTypeOptions: "nosniff"],
            body: .init(byteBuffer: ByteBuffer(bytes: data))
        )
    }

    /// A JSON body of at most `limit` bytes (413 over it, before reading when the length is declared).
    /// Decoded on the parsing threads (`ParsingPool`), so that no body holds up other requests.
    static func decode<T: Decodable & Sendable>(_ type: T.Type, _ request: Request, limit: Int) async throws -> T {
        if let declared = request.headers[.contentLength].flatMap({ Int($0) }), declared > limit {
            throw tooLarge(limit, what: "a JSON body")
        }
        var body = ByteBuffer()
        for try await piece in request.body {
            guard body.readableBytes + piece.readableBytes <= limit else { throw tooLarge(limit, what: "a JSON body") }
            body.writeImmutableBuffer(piece)
        }
        let data = Data(body.readableBytesView)
        do {
            return try await ParsingPool.run { try WireFormat.decoder().decode(T.self, from: data) }
        } catch let error as DecodingError {
            throw MicadoError.badRequest("invalid request body: \(describe(error))")
        }
    }

    static func tooLarge(_ limit: Int, what: String) -> MicadoError {
        MicadoError(.tooLarge, "\(what) may have at most \(limit) bytes (limits in config.yaml)")
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String { keys.map(\.stringValue).joined(separator: ".") }
        switch error {
        case .keyNotFound(let key, let c): return "missing field '\(path(c.codingPath + [key] as [any CodingKey]))'"
        case .typeMismatch(_, let c), .valueNotFound(_, let c): return "wrong type for field '\(path(c.codingPath))'"
        case .dataCorrupted(let c):
            return c.codingPath.isEmpty ? "not valid JSON" : "bad value for '\(path(c.codingPath))': \(c.debugDescription)"
        @unknown default: return "\(error)"
        }
    }

    static func requiredQuery(_ request: Request, _ key: String) throws -> String {
        guard let value = try query(request, key), !value.isEmpty else {
            throw MicadoError.badRequest("missing query parameter '\(key)'")
        }
        return value
    }

    /// A query parameter given at most once (nil when absent). Lookups take any text (a
    /// name with control characters finds nothing; messages escape it); what is kept or acted
    /// on is checked where it is used.
    static func query(_ request: Request, _ key: String) throws -> String? {
        let values = request.uri.queryParameters.getAll(key)
        guard values.count <= 1 else { throw MicadoError.badRequest("query parameter '\(key)' is given \(values.count) times") }
        return values.first.map { String($0) }
    }

    /// The events' `subject` filter; empty is no filter.
    static func eventSubject(_ request: Request) throws -> String? {
        try query(request, "subject").flatMap { $0.isEmpty ? nil : $0 }
    }

    /// `true` or `false`, nothing else.
    static func queryBool(_ request: Request, _ key: String) throws -> Bool? {
        switch try query(request, key) {
        case nil: return nil
        case "true": return true
        case "false": return false
        case let other?: throw MicadoError.badRequest("query parameter '\(key)' must be true or false, not '\(other.prefix(32))'")
        }
    }

    /// A whole number within `range`.
    static func queryInt(_ request: Request, _ key: String, _ range: ClosedRange<Int>) throws -> Int? {
        guard let text = try query(request, key) else { return nil }
        guard let value = Int(text), range.contains(value) else {
            throw MicadoError.badRequest("query parameter '\(key)' must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }
}

extension MicadoError.Code {
    var httpStatus: HTTPResponse.Status {
        switch self {
        case .badRequest, .configuration, .cloudBadRequest: .badRequest
        case .notFound: .notFound
        case .cloudCapacity, .cloudTransient: .serviceUnavailable
        case .cloudQuota, .tooManyRequests: .tooManyRequests
        case .cloudAuth: .badGateway
        case .alreadyExists, .conflict: .conflict
        case .unauthorized: .unauthorized
        case .forbidden: .forbidden
        case .tooLarge: .contentTooLarge
        case .busy, .deposed: .serviceUnavailable
        // No cloud: a state of this manager, not a flaw of the request.
        case .noCloud: .conflict
        case .methodNotAllowed: .methodNotAllowed
        case .buildFailed: .unprocessableContent
        case .engine: .badGateway
        case .timeout: .gatewayTimeout
        default: .internalServerError
        }
    }
}

/// Turns every error into the JSON error body; unexpected ones are logged and hidden.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPParserError {
            // A body that breaks HTTP (a malformed chunk, say): Hummingbird answers 400 and
            // closes the connection, which is all such a client can be told.
            throw error
        } catch {
            let (status, refusal) = Self.refusal(for: error, request, logger: logger)
            var response = Self.response(refusal, status: status)
            if refusal.code == .methodNotAllowed, let methods = APIContract.methods(of: request.uri.path) {
                response.headers[.allow] = methods.sorted().joined(separator: ", ")
            }
            return response
        }
    }

    /// The status and error a request's failure is answered with (the WebSocket router's
    /// refusals too); unexpected errors are logged and hidden.
    static func refusal(for error: any Error, _ request: Request, logger: Logger) -> (HTTPResponse.Status, MicadoError) {
        switch error {
        case let error as MicadoError:
            return (error.code.httpStatus, error)
        case let error as HTTPError where error.status == .notFound:
            // A path the contract has, with another method: 405, and the methods it has.
            if let methods = APIContract.methods(of: request.uri.path), !methods.contains(request.method.rawValue) {
                let refusal = MicadoError(
                    .methodNotAllowed,
                    "\(request.method) is not allowed on \(request.uri.path); it takes \(methods.sorted().joined(separator: ", "))"
                )
                return (refusal.code.httpStatus, refusal)
            }
            return (.notFound, MicadoError(.notFound, "no such route: \(request.method) \(request.uri.path)"))
        case let error as HTTPError:
            return (error.status, MicadoError(.badRequest, "\(error.body ?? "\(error.status)")"))
        default:
            logger.error("request failed", metadata: ["http.path": "\(request.uri.path)", "error": "\(error)"])
            return (.internalServerError, MicadoError(.internal, "internal error; see the manager's log"))
        }
    }

    static func response(_ error: MicadoError, status: HTTPResponse.Status? = nil) -> Response {
        let data = (try? WireFormat.encoder().encode(ErrorBody(error))) ?? Data()
        return Response(
            status: status ?? error.code.httpStatus,
            headers: [.contentType: "application/json", .xContentTypeOptions: "nosniff"],
            body: .init(byteBuffer: ByteBuffer(bytes: data))
        )
    }
}

extension Request {
    /// Whether this asks to become a WebSocket.
    var isWebSocketUpgrade: Bool { headers[.upgrade]?.lowercased() == "websocket" }
}

extension RequestContext {
    /// A path parameter as the client meant it: percent-decoded (`..%2Fx` is `../x`).
    func pathParameter(_ name: String) throws -> String {
        let raw = try parameters.require(name)
        let decoded = raw.removingPercentEncoding ?? raw
        try Text.requireSafe(decoded, field: "the \(name) in the path")
        return decoded
    }
}
