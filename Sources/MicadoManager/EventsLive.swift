import Foundation
import Hummingbird
import HummingbirdWebSocket
import MicadoCore
import MicadoStore
import NIOCore
import Synchronization

/// `GET /v1/events/live`: the event log as it grows, over a WebSocket. Each text message is
/// a JSON array of events (oldest first) the client has not seen: first those after
/// `after` (or the newest `backlog`), then each new batch within a second of its record.
/// The store is the one source: a client that reconnects with the last id it saw misses
/// nothing, and a manager that restarts loses nothing.
struct EventsLive {
    static let pollInterval: Duration = .seconds(1)
    /// Events per message; with each message at most `EventRecord.messageLimit` characters,
    /// a message stays well under a MiB however a client reads.
    static let batchLimit = 200

    struct Options {
        var after: Int64?
        var subject: String?
        var backlog: Int

        init(_ request: Request) throws {
            after = try HTTPAPI.queryInt(request, "after", 0...Int.max).map(Int64.init)
            subject = try HTTPAPI.eventSubject(request)
            backlog = try HTTPAPI.queryInt(request, "backlog", 0...1_000) ?? 50
        }
    }

    let store: any EventStore
    let options: Options

    func run(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async {
        await withTaskGroup(of: Void.self) { group in
            // The client's side: messages are not expected; its close ends the stream.
            group.addTask {
                do { for try await _ in inbound.messages(maxSize: 4096) {} } catch {}
            }
            group.addTask { await send(to: outbound) }
            await group.next()
            group.cancelAll()
        }
    }

    /// The events after `after`, or the newest `backlog`.
    func firstBatch() async throws(MicadoError) -> [EventView] {
        if let after = options.after {
            return try await store.eventViews(subject: options.subject, after: after, limit: Self.batchLimit)
        }
        return options.backlog == 0 ? [] : try await store.eventViews(subject: options.subject, limit: options.backlog)
    }

    func send(to outbound: WebSocketOutboundWriter) async {
        // The first message comes at once, even empty: the client then knows it is live.
        let first = (try? await firstBatch()) ?? []
        guard await write(first, to: outbound) else { return }
        var seen: Int64
        if let newest = first.last {
            seen = newest.id
        } else if let after = options.after {
            seen = after
        } else {
            seen = (try? await store.eventViews(subject: nil, limit: 1))?.last?.id ?? 0
        }
        while !Task.isCancelled {
            if let batch = try? await store.eventViews(subject: options.subject, after: seen, limit: Self.batchLimit),
                let newest = batch.last
            {
                guard await write(batch, to: outbound) else { return }
                seen = newest.id
                if batch.count == Self.batchLimit { continue }
            }
            do { try await Task.sleep(for: Self.pollInterval) } catch { return }
        }
    }

    /// Sends one batch.
    func write(_ events: [EventView], to outbound: WebSocketOutboundWriter) async -> Bool {
        guard let data = try? WireFormat.encoder().encode(events), let text = String(data: data, encoding: .utf8) else { return false }
        return (try? await outbound.write(.text(text))) != nil
    }
}

/// Bounds the live event sockets open at once: each polls the store and may hold a batch
/// for a client that does not read.
final class LiveSockets: Sendable {
    static let limit = 64
    private let count = Mutex(0)

    /// Takes a place, false when all are taken.
    func open() -> Bool {
        count.withLock { count in
            guard count < Self.limit else { return false }
            count += 1
            return true
        }
    }

    func close() { count.withLock { $0 -= 1 } }
}
