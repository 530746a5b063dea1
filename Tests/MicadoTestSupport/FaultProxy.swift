import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A loopback port nothing listens on now.
public func closedLoopbackPort() throws -> Int { try Moto.freePort() }

/// An HTTP proxy in front of moto that answers chosen Actions itself (an EC2 error
/// document, a malformed or huge answer, silence) and forwards everything else. It keeps
/// every request it saw, to prove retries and that no secret went over the wire.
public final class FaultProxy: Sendable {
    public enum Fault: Sendable {
        case error(status: UInt, code: String, message: String)
        case raw(status: UInt, body: [UInt8])
        /// No answer for this long.
        case stall(Duration)
        /// moto's answer, its head and half its body at once and the rest after this long.
        case stallBody(Duration)
    }

    let upstream: String
    let faults = Mutex<[String: [Fault]]>([:])
    let requests = Mutex<[(action: String, raw: String)]>([])
    let channel = Mutex<(any Channel)?>(nil)
    let portBox = Mutex(0)

    init(upstream: String) { self.upstream = upstream }

    public var endpoint: String { "http://127.0.0.1:\(portBox.withLock { $0 })" }

    /// The next calls of `action` get these, in order; later ones go to moto.
    public func inject(_ action: String, _ list: Fault...) { faults.withLock { $0[action, default: []] += list } }

    public func count(_ action: String) -> Int { requests.withLock { $0.filter { $0.action == action }.count } }
    public var everything: String { requests.withLock { $0.map(\.raw).joined(separator: "\n") } }

    public static func withProxy<T>(upstream: String, _ body: (FaultProxy) async throws -> T) async throws -> T {
        let proxy = FaultProxy(upstream: upstream)
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(ProxyHandler(proxy: proxy))
                }
            }
        let channel = try await bootstrap.bind(host: "127.0.0.1", port: 0).get()
        proxy.channel.withLock { $0 = channel }
        proxy.portBox.withLock { $0 = channel.localAddress?.port ?? 0 }
        do {
            let result = try await body(proxy)
            try? await channel.close()
            return result
        } catch {
            try? await channel.close()
            throw error
        }
    }

    struct Reply: Sendable {
        var status: HTTPResponseStatus
        var contentType: String
        var body: [UInt8]
        /// Sends the body's second half only after this long.
        var bodyStall: Duration? = nil
    }

    static func errorDocument(code: String, message: String) -> [UInt8] {
        Array(
            """
            <?xml version="1.0" encoding="UTF-8"?>
            <Response><Errors><Error><Code>\(code)</Code><Message>\(message)</Message></Error></Errors><RequestID>fault-proxy</RequestID></Response>
            """.utf8)
    }

    func answer(head: HTTPRequestHead, body: [UInt8]) async -> Reply {
        let text = String(decoding: body, as: UTF8.self)
        let action = Self.formValue("Action", in: text) ?? ""
        let headerText = head.headers.map { "\($0.name): \($0.value)" }.joined(separator: "\n")
        requests.withLock { $0.append((action, headerText + "\n\n" + text)) }
        let fault: Fault? = faults.withLock { pending in
            guard var list = pending[action], !list.isEmpty else { return nil }
            let first = list.removeFirst()
            pending[action] = list
            return first
        }
        switch fault {
        case .error(let status, let code, let message)?:
            return Reply(status: .init(statusCode: Int(status)), contentType: "text/xml", body: Self.errorDocument(code: code, message: message))
        case .raw(let status, let bytes)?:
            return Reply(status: .init(statusCode: Int(status)), contentType: "text/xml", body: bytes)
        case .stall(let duration)?:
            try? await Task.sleep(for: duration)
            return Reply(status: .serviceUnavailable, contentType: "text/plain", body: Array("too late".utf8))
        case .stallBody(let duration)?:
            var reply = await forward(head: head, body: body)
            reply.bodyStall = duration
            return reply
        case nil:
            return await forward(head: head, body: body)
        }
    }

    func forward(head: HTTPRequestHead, body: [UInt8]) async -> Reply {
        var request = HTTPClientRequest(url: upstream + head.uri)
        request.method = head.method
        for (name, value) in head.headers where name.lowercased() != "host" && name.lowercased() != "content-length" {
            request.headers.add(name: name, value: value)
        }
        request.body = .bytes(ByteBuffer(bytes: body))
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
            let bytes = try await response.body.collect(upTo: 64 << 20)
            return Reply(status: response.status, contentType: response.headers.first(name: "content-type") ?? "text/xml", body: Array(bytes.readableBytesView))
        } catch {
            return Reply(status: .badGateway, contentType: "text/plain", body: Array("proxy: \(error)".utf8))
        }
    }

    static func formValue(_ name: String, in form: String) -> String? {
        for pair in form.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2, parts[0] == name { return String(parts[1]).removingPercentEncoding }
        }
        return nil
    }

    final class ProxyHandler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        let proxy: FaultProxy
        var head: HTTPRequestHead?
        var body: [UInt8] = []

        init(proxy: FaultProxy) { self.proxy = proxy }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                body = []
            case .body(let buffer):
                body += buffer.readableBytesView
            case .end:
                guard let head else { return }
                let body = self.body
                let proxy = self.proxy
                let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
                let keepAlive = head.isKeepAlive
                let promise = context.eventLoop.makePromise(of: Reply.self)
                promise.completeWithTask { await proxy.answer(head: head, body: body) }
                promise.futureResult.whenSuccess { reply in
                    let context = bound.value
                    var headers = HTTPHeaders()
                    headers.add(name: "Content-Type", value: reply.contentType)
                    headers.add(name: "Content-Length", value: String(reply.body.count))
                    if !keepAlive { headers.add(name: "Connection", value: "close") }
                    context.write(NIOAny(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: reply.status, headers: headers))), promise: nil)
                    let half = reply.bodyStall == nil ? reply.body.count : reply.body.count / 2
                    context.writeAndFlush(NIOAny(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(bytes: reply.body[..<half])))), promise: nil)
                    let rest = Array(reply.body[half...])
                    let finish = {
                        let context = bound.value
                        context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(bytes: rest)))), promise: nil)
                        context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil))).whenComplete { _ in
                            if !keepAlive { bound.value.close(promise: nil) }
                        }
                    }
                    if let stall = reply.bodyStall {
                        context.eventLoop.scheduleTask(in: .nanoseconds(Int64(stall / .nanoseconds(1)))) { finish() }
                    } else {
                        finish()
                    }
                }
            }
        }
    }
}
