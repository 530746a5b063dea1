import Foundation
import MicadoCore
import NIOCore

/// The engine's progress stream (build, push, pull, import): one JSON object per line.
///
/// Lines end with `\n` or `\r\n` (Swift's `String.split` on "\n" misses the latter, since
/// "\r\n" is one Character), so lines are cut on the newline byte. A line that is not JSON
/// is skipped; an object with `error` or `errorDetail` is the stream's failure.
public struct JSONMessage: Decodable, Sendable, Equatable {
    public struct ErrorDetail: Decodable, Sendable, Equatable {
        public var message: String?
    }
    public struct Aux: Decodable, Sendable, Equatable {
        /// Build: the built image.
        public var ID: String?
        /// Push: the pushed manifest.
        public var Digest: String?
    }
    public var stream: String?
    public var status: String?
    public var error: String?
    public var errorDetail: ErrorDetail?
    public var aux: Aux?

    /// The failure this message reports, if any.
    public var failure: String? {
        guard errorDetail != nil || error != nil else { return nil }
        let text = (errorDetail?.message ?? error ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? "the engine reported an error without a message" : text
    }

    public static func decodeAll(_ buffer: ByteBuffer) -> [JSONMessage] {
        decodeAll(Array(buffer.readableBytesView))
    }

    public static func decodeAll(_ bytes: [UInt8]) -> [JSONMessage] {
        let decoder = JSONDecoder()
        return bytes.split(separator: 0x0a).compactMap { line in
            var line = line
            while line.last == 0x0d { line = line.dropLast() }
            guard !line.isEmpty else { return nil }
            return try? decoder.decode(JSONMessage.self, from: Data(line))
        }
    }
}
