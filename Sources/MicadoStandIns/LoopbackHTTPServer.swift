import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// An HTTP/1.1 server on 127.0.0.1 for the tests' stand-ins of cloud APIs: each request,
/// whole, goes to `handler`; its answer goes back. Stopped when `withServer`'s body ends.
public final class LoopbackHTTPServer: Sendable {
    public struct Request: Sendable {
        public var method: HTTPMethod
        /// As the client wrote it: path and query.
        public var uri: String
        /// The path without the query.
        public var path: String
        public var query: [String: String]
        public var headers: HTTPHeaders
        public var body: [UInt8]

        public func header(_ name: String) -> String? { headers.first(name: name) }
        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    public struct Response: Sendable {
        public var status: HTTPResponseStatus
        public var headers: [(String, String)]
        public var body: [UInt8]
        /// The head and half the body at once, the rest after this long (a fault to inject).
        public var bodyStall: Duration?
        public init(_ status: HTTPResponseStatus, headers: [(String, String)] = [], body: [UInt8] = [], bodyStall: Duration? = nil) {
            self.status = status
            self.headers = headers
            self.body = body
            self.bodyStall = bodyStall
        }
        public static func json(_ status: HTTPResponseStatus, _ object: Any, headers: [(String, String)] = []) -> Response {
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
            return Response(status, headers: [("Content-Type", "application/json")] + headers, body: Array(data))
        }
        public static func text(_ status: HTTPResponseStatus, _ text: String, contentType: String = "text/plain") -> Response {
            Response(status, headers: [("Content-Type", contentType)], body: Array(text.utf8))
        }
    }

    public typealias Handler = @Sendable (Request) async -> Response

    let handler: Handler
    let portBox = Mutex(0)

    init(handler: @escaping Handler) { self.handler = handler }

    public var port: Int { portBox.withLock { $0 } }
    public var endpoint: String { "http://127.0.0.1:\(port)" }

    public static func withServer<T>(_ handler: @escaping Handler, _ body: (LoopbackHTTPServer) async throws -> T) async throws -> T {
        let server = LoopbackHTTPServer(handler: handler)
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Connection(server: server))
                }
            }
        let channel = try await bootstrap.bind(host: "127.0.0.1", port: 0).get()
        server.portBox.withLock { $0 = channel.localAddress?.port ?? 0 }
        do {
            let result = try await body(server)
            try? await channel.close()
            return result
        } catch {
            try? await channel.close()
            throw error
        }
    }

    final class Connection: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        let server: LoopbackHTTPServer
        var head: HTTPRequestHead?
        var body: [UInt8] = []

        init(server: LoopbackHTTPServer) { self.server = server }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                body = []
            case .body(let buffer):
                body += buffer.readableBytesView
            case .end:
                guard let head else { return }
                let components = URLComponents(string: head.uri)
                var query: [String: String] = [:]
                for item in components?.queryItems ?? [] { query[item.name] = item.value ?? "" }
                let request = Request(
                    method: head.method,
                    uri: head.uri,
                    path: components?.path ?? head.uri,
                    query: query,
                    headers: head.headers,
                    body: body
                )
                let handler = server.handler
                let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
                let keepAlive = head.isKeepAlive
                let promise = context.eventLoop.makePromise(of: Response.self)
                promise.completeWithTask { await handler(request) }
                promise.futureResult.whenSuccess { response in
                    let context = bound.value
                    var headers = HTTPHeaders(response.headers)
                    headers.replaceOrAdd(name: "Content-Length", value: String(response.body.count))
                    if !keepAlive { headers.add(name: "Connection", value: "close") }
                    context.write(
                        NIOAny(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: response.status, headers: headers))),
                        promise: nil
                    )
                    let half = response.bodyStall == nil ? response.body.count : response.body.count / 2
                    context.writeAndFlush(
                        NIOAny(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(bytes: response.body[..<half])))),
                        promise: nil
                    )
                    let rest = Array(response.body[half...])
                    let finish: @Sendable () -> Void = {
                        let context = bound.value
                        context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(bytes: rest)))), promise: nil)
                        context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil))).whenComplete { _ in
                            if !keepAlive { bound.value.close(promise: nil) }
                        }
                    }
                    if let stall = response.bodyStall {
                        context.eventLoop.scheduleTask(in: .nanoseconds(Int64(stall / .nanoseconds(1)))) { finish() }
                    } else {
                        finish()
                    }
                }
            }
        }
    }
}
