import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import Logging
import MicadoCore
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTPTypes

/// A refused WebSocket upgrade answers what the plain HTTP route would: 401, 403, 404, 400 or
/// 503 with the JSON error body. Hummingbird answers every declined upgrade with an empty
/// 400, so the WebSocket router's refusal is noted here by connection (`RecordRefusal`), and
/// `RefusedUpgradeAnswer`, in the HTTP pipeline that takes over after a declined upgrade,
/// writes it in place of the empty one.
final class RefusedUpgrades: Sendable {
    struct Refusal: Sendable {
        var status: HTTPResponse.Status
        var body: ByteBuffer
    }

    static let shared = RefusedUpgrades()
    private let byChannel = NIOLockedValueBox<[ObjectIdentifier: Refusal]>([:])

    func record(_ refusal: Refusal, for channel: any Channel) {
        let key = ObjectIdentifier(channel)
        byChannel.withLockedValue { $0[key] = refusal }
        // Gone with the connection, whatever happens to the answer.
        channel.closeFuture.whenComplete { _ in self.byChannel.withLockedValue { _ = $0.removeValue(forKey: key) } }
    }

    func take(for channel: any Channel) -> Refusal? {
        byChannel.withLockedValue { $0.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    var count: Int { byChannel.withLockedValue { $0.count } }
}

/// The WebSocket router's context: Hummingbird's, plus the connection (for `RefusedUpgrades`).
public struct APIWebSocketContext: RequestContext, WebSocketRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let webSocket: WebSocketHandlerReference<Self>
    let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        webSocket = .init()
        channel = source.channel
    }
}

/// Innermost in the WebSocket router: a route's refusal (thrown) becomes the answer the HTTP
/// route would give, noted for the connection; the upgrade is then declined.
struct RecordRefusal: RouterMiddleware {
    typealias Context = APIWebSocketContext
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let (status, refusal) = ErrorMiddleware<Context>.refusal(for: error, request, logger: logger)
            let body = ByteBuffer(bytes: (try? WireFormat.encoder().encode(ErrorBody(refusal))) ?? Data())
            RefusedUpgrades.shared.record(.init(status: status, body: body), for: context.channel)
            throw error
        }
    }
}

/// After a declined upgrade: Hummingbird's empty 400 replaced by the refusal noted for this
/// connection. Any other response passes untouched.
final class RefusedUpgradeAnswer: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart
    private var replacing = false

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head) where head.status == .badRequest && head.headerFields[.contentLength] == "0":
            guard let refusal = RefusedUpgrades.shared.take(for: context.channel) else { return context.write(data, promise: promise) }
            replacing = true
            let fields: HTTPFields = [
                .contentType: "application/json", .xContentTypeOptions: "nosniff", .connection: "close",
                .contentLength: String(refusal.body.readableBytes),
            ]
            context.write(wrapOutboundOut(.head(HTTPResponse(status: refusal.status, headerFields: fields))), promise: nil)
            context.write(wrapOutboundOut(.body(refusal.body)), promise: promise)
        case .end where replacing:
            replacing = false
            context.write(data, promise: promise)
        default:
            context.write(data, promise: promise)
        }
    }
}
