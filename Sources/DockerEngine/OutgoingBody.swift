import AsyncHTTPClient
import MicadoCore
import NIOConcurrencyHelpers
import NIOCore

/// What a request sends: bytes in memory, or a stream of known length produced piece by
/// piece as the engine takes them (a build context read from a spooled upload), so that
/// an upload of any size never sits in memory.
public enum OutgoingBody: Sendable {
    case bytes([UInt8])
    case stream(length: Int, PieceProducer)

    /// Hands out the next piece, or nil at the end.
    ///
    /// @unchecked: `next` (which owns the producer's state) is only ever called under `lock`.
    public final class PieceProducer: @unchecked Sendable {
        let lock = NIOLock()
        let next: () throws -> [UInt8]?

        public init(_ next: @escaping () throws -> [UInt8]?) { self.next = next }

        func piece() throws -> [UInt8]? { try lock.withLock { try next() } }
    }

    public var httpBody: HTTPClientRequest.Body {
        switch self {
        case .bytes(let bytes): .bytes(ByteBuffer(bytes: bytes))
        case .stream(let length, let producer): .stream(Pieces(producer: producer), length: .known(Int64(length)))
        }
    }

    /// Every byte, read at once: for fakes and small bodies only.
    public func allBytes() throws -> [UInt8] {
        switch self {
        case .bytes(let bytes): return bytes
        case .stream(_, let producer):
            var all: [UInt8] = []
            while let piece = try producer.piece() { all += piece }
            return all
        }
    }

    /// Pulls the producer only when the client asks for more: the engine's pace is the back pressure.
    struct Pieces: AsyncSequence, Sendable {
        typealias Element = ByteBuffer
        let producer: PieceProducer

        struct AsyncIterator: AsyncIteratorProtocol {
            let producer: PieceProducer
            mutating func next() async throws -> ByteBuffer? { try producer.piece().map { ByteBuffer(bytes: $0) } }
        }

        func makeAsyncIterator() -> AsyncIterator { AsyncIterator(producer: producer) }
    }
}
