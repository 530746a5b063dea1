import Foundation
import HummingbirdCore
import Logging
import MicadoCore
import NIOCore
import NIOHTTP1
import NIOWebSocket

/// Closes a connection whose first request head has not arrived whole within `deadline`:
/// silence after connecting, headers trickled a line at a time, or a head the parser never
/// finishes. Hummingbird's idle timeout only starts once a request head has been parsed
/// (its handlers join the pipeline then), so without this a local user could hold
/// connections, and with them the manager's file descriptors, for good (an attack ran it
/// out of them). It reads raw bytes, first in the pipeline, and steps aside at the first
/// blank line; later requests on a kept-alive connection are the idle timeout's.
final class RequestHeadDeadline: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    let deadline: TimeAmount
    /// Told when the first head is whole: the connection is then busy (a WebSocket stays so).
    let budget: ConnectionBudget?
    private var timer: Scheduled<Void>?
    /// How much of "\r\n\r\n" the bytes so far end with.
    private var matched = 0
    private var done = false
    private static let blankLine: [UInt8] = [13, 10, 13, 10]

    init(deadline: TimeAmount, budget: ConnectionBudget? = nil) {
        self.deadline = deadline
        self.budget = budget
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arm(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        arm(context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if !done {
            for byte in unwrapInboundIn(data).readableBytesView {
                if byte == Self.blankLine[matched] {
                    matched += 1
                } else {
                    matched = byte == Self.blankLine[0] ? 1 : 0
                }
                if matched == Self.blankLine.count {
                    done = true
                    budget?.setBusy(context.channel, true)
                    timer?.cancel()
                    timer = nil
                    break
                }
            }
        }
        context.fireChannelRead(data)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    private func arm(_ context: ChannelHandlerContext) {
        guard timer == nil, !done else { return }
        let channel = context.channel
        timer = context.eventLoop.scheduleTask(in: deadline) { channel.close(promise: nil) }
    }
}

/// Answers and closes a connection whose first request head the HTTP decoder refused (two
/// Content-Lengths, a head over the decoder's 80 KiB), or whose WebSocket upgrade NIO's
/// upgrader refused (no Sec-WebSocket-Key, a version other than 13: that once left the
/// connection open and unanswered). Hummingbird answers such errors with
/// 400 once a request has started; one in the head, before its handlers join the pipeline,
/// went nowhere: first it held the connection open for good, then it was closed unanswered,
/// which a client reads as "the manager is down". Now the client learns why: 431 for a head
/// too large, 400 for any other. The answer is raw bytes written from the first handler (the
/// HTTP encoders after it take response parts, not bytes), then the output is closed and what
/// the client still sends is read and dropped for a moment, so that closing with unread bytes
/// does not reset the connection before the answer is read. Placed last at setup: it sees the
/// head's errors, and lets everything after the first request through untouched.
final class CloseOnHeadError: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    private var requestStarted = false
    private var refused = false
    /// How long a refused connection's remaining bytes are read and dropped before it is closed.
    static let drain = TimeAmount.seconds(2)

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if refused { return }
        requestStarted = true
        context.fireChannelRead(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // The decoder's before the first request, and the upgrader's; a route's refusal of an
        // upgrade passes an error here too, and is answered by `RefusedUpgradeAnswer`.
        let answer: ByteBuffer
        if !requestStarted, let error = error as? HTTPParserError {
            answer = Self.answer(to: error)
        } else if (error as? NIOWebSocketUpgradeError) == .invalidUpgradeHeader {
            answer = Self.answer(
                .badRequest,
                "400 Bad Request",
                "the WebSocket upgrade is malformed: it needs one Sec-WebSocket-Key and Sec-WebSocket-Version: 13"
            )
        } else {
            context.fireErrorCaught(error)
            return
        }
        guard !refused else { return }
        refused = true
        let channel = context.channel
        guard let first = try? channel.pipeline.syncOperations.context(handlerType: RequestHeadDeadline.self) else {
            channel.close(promise: nil)
            return
        }
        first.writeAndFlush(NIOAny(answer)).whenComplete { _ in channel.close(mode: .output, promise: nil) }
        channel.eventLoop.scheduleTask(in: Self.drain) { channel.close(promise: nil) }
    }

    static func answer(to error: HTTPParserError) -> ByteBuffer {
        let tooLarge = error == .headerOverflow
        let status = tooLarge ? "431 Request Header Fields Too Large" : "400 Bad Request"
        let message =
            tooLarge
            ? "the request's head (its address and headers) is over the 80 KiB the manager reads: an argument is too long"
            : "the request's head is malformed: \(error)"
        return answer(tooLarge ? .tooLarge : .badRequest, status, message)
    }

    static func answer(_ code: MicadoError.Code, _ status: String, _ message: String) -> ByteBuffer {
        let body = String(decoding: (try? WireFormat.encoder().encode(ErrorBody(MicadoError(code, message)))) ?? Data(), as: UTF8.self)
        return ByteBuffer(
            string:
                "HTTP/1.1 \(status)\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n"
                + body
        )
    }
}

/// A server child channel within the `ConnectionBudget` (a connection past it is answered
/// 503 and closed before any handler is set up), with `RequestHeadDeadline` first in every
/// connection's pipeline and `CloseOnHeadError` after the HTTP decoder.
struct HeadDeadlineChannel<Inner: ServerChildChannel>: ServerChildChannel {
    typealias Value = Inner.Value
    let inner: Inner
    let deadline: TimeAmount
    let budget: ConnectionBudget

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let deadline = deadline
        let budget = budget
        let admitted = budget.admit(channel)
        return channel.eventLoop.makeCompletedFuture {
            // A shed connection still goes through the usual set-up, so that its life ends the
            // usual way: answered and closed by `ShedConnection` once active. Failing the set-up
            // instead wrote to a channel not yet active (the answer went nowhere) and never
            // closed it: every refused connection held a descriptor for good.
            let first: any ChannelHandler =
                admitted ? RequestHeadDeadline(deadline: deadline, budget: budget) : ShedConnection()
            try channel.pipeline.syncOperations.addHandler(first, position: .first)
        }.flatMap { inner.setup(channel: channel, logger: logger) }.flatMap { value in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(CloseOnHeadError(), position: .last)
                return value
            }
        }
    }

    func handle(value: Value, logger: Logger) async {
        var logger = logger
        logger.handler = ConnectionLogHandler(wrapped: logger.handler)
        await inner.handle(value: value, logger: logger)
    }
}

/// A connection's log as Hummingbird writes it, with the one line that every shed, closed or
/// malformed upgrade connection produced ("Error handling upgrade result": each is answered
/// here) demoted to debug: a local user opening connections in a loop filled the log, one
/// error line each.
struct ConnectionLogHandler: LogHandler {
    var wrapped: any LogHandler
    static let demoted = "Error handling upgrade result"

    var logLevel: Logger.Level {
        get { wrapped.logLevel }
        set { wrapped.logLevel = newValue }
    }

    var metadata: Logger.Metadata {
        get { wrapped.metadata }
        set { wrapped.metadata = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { wrapped[metadataKey: key] }
        set { wrapped[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) {
        var event = event
        if event.level > .debug && event.message.description == Self.demoted {
            guard wrapped.logLevel <= .debug else { return }
            event.level = .debug
        }
        wrapped.log(event: event)
    }
}

/// A connection past the `ConnectionBudget`: answered 503 (raw bytes, straight to the socket)
/// as soon as it is active, then closed; whatever it sends is dropped.
final class ShedConnection: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private var answered = false

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { answer(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        answer(context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    private func answer(_ context: ChannelHandlerContext) {
        guard !answered else { return }
        answered = true
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(ConnectionBudget.shedAnswer)).whenComplete { _ in channel.close(promise: nil) }
    }
}
