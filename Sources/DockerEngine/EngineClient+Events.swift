import AsyncHTTPClient
import Foundation
import MicadoCore
import NIOCore
import NIOHTTP1

/// One line of the engine's event stream (`GET /events`).
public struct EngineEvent: Decodable, Sendable, Equatable {
    public struct Actor: Decodable, Sendable, Equatable {
        public var id: String
        public var attributes: [String: String]?
        enum CodingKeys: String, CodingKey { case id = "ID", attributes = "Attributes" }
    }

    /// `node`, `service`, `container`, …
    public var type: String
    /// `create`, `update`, `remove`, `die`, …
    public var action: String
    public var actor: Actor
    enum CodingKeys: String, CodingKey { case type = "Type", action = "Action", actor = "Actor" }

    public init(type: String, action: String, actor: Actor) {
        self.type = type
        self.action = action
        self.actor = actor
    }
}

extension EngineClient {
    /// Follows the engine's events of the given types until the connection ends or the
    /// caller stops iterating. Swarm's node and service events come from manager engines.
    public func events(types: [String]) async throws(MicadoError) -> EngineEventStream {
        let request = request(.GET, "/events", query: [("filters", Self.filters(["type": types]))])
        let response: HTTPClientResponse
        do {
            // The stream is meant to stay open: no deadline worth the name.
            response = try await http.execute(request, timeout: .hours(24 * 365))
        } catch {
            throw Self.transportError(error, endpoint: endpoint)
        }
        guard response.status == .ok else {
            let body = (try? await response.body.collect(upTo: 64 << 10)) ?? ByteBuffer()
            throw Self.engineError(status: response.status, body: body, what: "GET /events")
        }
        return EngineEventStream(body: response.body)
    }
}

/// Events as they come; lines the engine writes that are not events are skipped.
public struct EngineEventStream: AsyncSequence, Sendable {
    public typealias Element = EngineEvent
    let body: HTTPClientResponse.Body

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(body: body.makeAsyncIterator()) }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var body: HTTPClientResponse.Body.AsyncIterator
        var lines = EventLineSplitter()
        var ready: [EngineEvent] = []

        public mutating func next() async throws -> EngineEvent? {
            while ready.isEmpty {
                guard let buffer = try await body.next() else { return nil }
                ready = lines.feed(buffer.readableBytesView).compactMap { try? JSONDecoder().decode(EngineEvent.self, from: Data($0)) }
            }
            return ready.removeFirst()
        }
    }
}

/// Newline-delimited JSON arriving in pieces of any size.
struct EventLineSplitter: Sendable {
    private var pending: [UInt8] = []

    /// The lines completed by `bytes`, without their newline.
    mutating func feed(_ bytes: some Collection<UInt8>) -> [[UInt8]] {
        pending.append(contentsOf: bytes)
        var lines: [[UInt8]] = []
        var start = 0
        while let newline = pending[start...].firstIndex(of: 0x0a) {
            if newline > start { lines.append(Array(pending[start..<newline])) }
            start = newline + 1
        }
        pending.removeFirst(start)
        return lines
    }
}
