import Foundation
import HTTPTypes
import HummingbirdCore
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTPTypes

#if canImport(Glibc)
import Glibc
#endif

/// The API's connections, bounded in all and per peer address. A connection is *busy* from
/// the end of a request head until its response ends (a WebSocket stays busy), else *idle*
/// (kept alive between requests, or not yet sent a whole head). At a bound, the oldest idle
/// connection (of that peer, for the per-peer bound) is closed to make room, so idle
/// connections cannot hold the API, however many a local user opens; with none idle, the new
/// connection is answered 503 and closed at once, and requests in flight finish. When a storm
/// has passed, the heap's free pages go back to the system (`malloc_trim`): the manager's
/// memory returns near its idle figure.
final class ConnectionBudget: Sendable {
    struct Limits: Sendable {
        var total: Int
        var perPeer: Int
    }

    struct Entry {
        let channel: any Channel
        let peer: String
        let opened: UInt64
        var busy: Bool
        /// When it last became idle (its place in the eviction order).
        var idleSince: UInt64
    }

    struct State {
        var entries: [ObjectIdentifier: Entry] = [:]
        var perPeer: [String: Int] = [:]
        var clock: UInt64 = 0
        var peak = 0
        var shed = 0
        var evicted = 0
    }

    let limits: Limits
    private let state = NIOLockedValueBox(State())
    /// A storm this large, once it is over, gives the heap back.
    static let trimAfter = 256

    init(limits: Limits) { self.limits = limits }

    /// Takes a place for `channel`, closing the oldest idle connection at a bound; false when
    /// the bound is reached and every connection is busy (the caller sheds the new one).
    func admit(_ channel: any Channel) -> Bool {
        let peer = channel.remoteAddress?.ipAddress ?? "unknown"
        let (admitted, victims) = state.withLockedValue { state -> (Bool, [any Channel]) in
            var victims: [any Channel] = []
            if state.perPeer[peer, default: 0] >= limits.perPeer {
                guard let victim = Self.oldestIdle(state.entries, peer: peer) else {
                    state.shed += 1
                    return (false, [])
                }
                victims.append(Self.remove(victim, from: &state))
            }
            if state.entries.count >= limits.total {
                guard let victim = Self.oldestIdle(state.entries, peer: nil) else {
                    state.shed += 1
                    return (false, victims)
                }
                victims.append(Self.remove(victim, from: &state))
            }
            state.clock += 1
            state.entries[ObjectIdentifier(channel)] = Entry(
                channel: channel,
                peer: peer,
                opened: state.clock,
                busy: false,
                idleSince: state.clock
            )
            state.perPeer[peer, default: 0] += 1
            state.peak = max(state.peak, state.entries.count)
            state.evicted += victims.count
            return (true, victims)
        }
        for victim in victims { victim.close(promise: nil) }
        if admitted {
            channel.closeFuture.whenComplete { _ in self.release(channel) }
        }
        return admitted
    }

    func setBusy(_ channel: any Channel, _ busy: Bool) {
        state.withLockedValue { state in
            let key = ObjectIdentifier(channel)
            guard var entry = state.entries[key], entry.busy != busy else { return }
            state.clock += 1
            entry.busy = busy
            if !busy { entry.idleSince = state.clock }
            state.entries[key] = entry
        }
    }

    private func release(_ channel: any Channel) {
        let trim = state.withLockedValue { state -> Bool in
            guard let entry = state.entries[ObjectIdentifier(channel)] else { return false }
            _ = Self.remove(ObjectIdentifier(channel), from: &state)
            _ = entry
            guard state.peak >= Self.trimAfter, state.entries.count <= Self.trimAfter / 16 else { return false }
            state.peak = state.entries.count
            return true
        }
        if trim, let trimHeap = Self.trimHeap { DispatchQueue.global(qos: .utility).async { _ = trimHeap(0) } }
    }

    /// Open, busy, the peak since the last trim, shed and evicted so far.
    var figures: (open: Int, busy: Int, peak: Int, shed: Int, evicted: Int) {
        state.withLockedValue { ($0.entries.count, $0.entries.values.filter(\.busy).count, $0.peak, $0.shed, $0.evicted) }
    }

    private static func oldestIdle(_ entries: [ObjectIdentifier: Entry], peer: String?) -> ObjectIdentifier? {
        entries.filter { !$0.value.busy && (peer == nil || $0.value.peer == peer) }.min { $0.value.idleSince < $1.value.idleSince }?.key
    }

    private static func remove(_ key: ObjectIdentifier, from state: inout State) -> any Channel {
        let entry = state.entries.removeValue(forKey: key)!
        state.perPeer[entry.peer, default: 1] -= 1
        if state.perPeer[entry.peer] == 0 { state.perPeer[entry.peer] = nil }
        return entry.channel
    }

    /// glibc's malloc_trim (malloc.h is not in Swift's Glibc module): frees the heap's unused pages.
    private static let trimHeap: (@convention(c) (Int) -> Int32)? = dlsym(dlopen(nil, RTLD_NOW), "malloc_trim")
        .map { unsafeBitCast($0, to: (@convention(c) (Int) -> Int32).self) }

    /// The answer a shed connection gets before it is closed.
    static let shedAnswer: ByteBuffer = {
        let body = #"{"error":{"code":"busy","message":"the manager has all its connections in use; try again shortly"}}"#
        return ByteBuffer(
            string:
                "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
                + body
        )
    }()
}

/// After the HTTP decoder: a request head makes the connection busy, the end of the response
/// to the last request in flight makes it idle again.
final class ConnectionActivity: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart
    let budget: ConnectionBudget
    private var inFlight = 0

    init(budget: ConnectionBudget) { self.budget = budget }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = unwrapInboundIn(data) {
            inFlight += 1
            budget.setBusy(context.channel, true)
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            inFlight = max(inFlight - 1, 0)
            if inFlight == 0 { budget.setBusy(context.channel, false) }
        }
        context.write(data, promise: promise)
    }
}

/// One answer at a time on a connection: a request that arrives while the answer to the one
/// before is still on its way to the socket is held, with what follows it, and the socket is
/// not read meanwhile. Hummingbird answers pipelined requests as fast as it reads them, and its
/// writer waits for nothing the kernel does: a client that sent many requests and never read
/// made the manager hold every answer (the attack review: 1.5 GB for 1,040 connections of 50
/// requests for the 68 KB contract). Now a connection holds at most one answer, and the
/// client that does not read is the one that waits. A request's own body parts pass at once.
final class OneAnswerAtATime: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// Requests passed on whose answers are not yet written to the socket.
    private var answering = 0
    private var held: [HTTPRequestPart] = []
    private var readWanted = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if !held.isEmpty {
            held.append(part)
        } else if case .head = part, answering > 0 {
            held.append(part)
        } else {
            if case .head = part { answering += 1 }
            context.fireChannelRead(data)
        }
    }

    func read(context: ChannelHandlerContext) {
        guard held.isEmpty else {
            readWanted = true
            return
        }
        context.read()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .end = unwrapOutboundIn(data) else { return context.write(data, promise: promise) }
        let written = promise ?? context.eventLoop.makePromise()
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        written.futureResult.whenComplete { _ in
            let (handler, context) = loopBound.value
            handler.answered(context: context)
        }
        context.write(data, promise: written)
    }

    private func answered(context: ChannelHandlerContext) {
        answering = max(answering - 1, 0)
        var passed = false
        while let next = held.first {
            if case .head = next {
                guard answering == 0 else { break }
                answering += 1
            }
            held.removeFirst()
            context.fireChannelRead(wrapInboundOut(next))
            passed = true
        }
        if passed { context.fireChannelReadComplete() }
        if held.isEmpty, readWanted {
            readWanted = false
            context.read()
        }
    }
}
