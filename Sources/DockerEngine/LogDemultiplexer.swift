/// One line of output from a container, tagged with its stream.
public struct LogLine: Sendable, Equatable {
    public enum Stream: String, Sendable, Codable { case stdout, stderr }
    public var stream: Stream
    public var text: String
    public init(stream: Stream, text: String) {
        self.stream = stream
        self.text = text
    }
}

/// Reads the Engine's multiplexed stream (8-byte frame headers: stream, 0, 0, 0, size
/// big-endian) as it arrives, in pieces of any size: a frame split across reads is held
/// until it is whole.
public struct StreamFrameDecoder: Sendable {
    public struct Frame: Sendable, Equatable {
        public var stream: LogLine.Stream
        public var bytes: [UInt8]
        public init(stream: LogLine.Stream, bytes: [UInt8]) {
            self.stream = stream
            self.bytes = bytes
        }
    }

    private var pending: [UInt8] = []

    public init() {}

    /// The frames completed by `bytes`.
    public mutating func feed(_ bytes: some Collection<UInt8>) -> [Frame] {
        pending.append(contentsOf: bytes)
        var frames: [Frame] = []
        var i = 0
        while i + 8 <= pending.count {
            let size = Int(pending[i + 4]) << 24 | Int(pending[i + 5]) << 16 | Int(pending[i + 6]) << 8 | Int(pending[i + 7])
            guard i + 8 + size <= pending.count else { break }
            frames.append(Frame(stream: pending[i] == 2 ? .stderr : .stdout, bytes: Array(pending[(i + 8)..<(i + 8 + size)])))
            i += 8 + size
        }
        pending.removeFirst(i)
        return frames
    }

    /// What is left when the stream ends: a truncated last frame's payload, if any.
    public mutating func finish() -> [Frame] {
        defer { pending = [] }
        guard pending.count > 8 else { return [] }
        return [Frame(stream: pending[0] == 2 ? .stderr : .stdout, bytes: Array(pending[8...]))]
    }
}

/// Splits a whole multiplexed answer (logs, a finished exec) into its streams. Output of
/// a TTY has no frames; it is taken as stdout whole.
public enum LogDemultiplexer {
    public static func split(_ bytes: [UInt8]) -> (stdout: [UInt8], stderr: [UInt8]) {
        guard isMultiplexed(bytes) else { return (bytes, []) }
        var out: [UInt8] = []
        var err: [UInt8] = []
        for frame in frames(bytes) {
            if frame.stream == .stderr { err += frame.bytes } else { out += frame.bytes }
        }
        return (out, err)
    }

    public static func lines(_ bytes: [UInt8]) -> [LogLine] {
        guard isMultiplexed(bytes) else {
            return text(bytes).map { LogLine(stream: .stdout, text: $0) }
        }
        var result: [LogLine] = []
        var partial: [LogLine.Stream: [UInt8]] = [:]
        for frame in frames(bytes) {
            var chunk = partial[frame.stream, default: []] + frame.bytes
            while let nl = chunk.firstIndex(of: 0x0a) {
                result.append(LogLine(stream: frame.stream, text: String(decoding: chunk[..<nl], as: UTF8.self)))
                chunk.removeSubrange(...nl)
            }
            partial[frame.stream] = chunk
        }
        for (stream, rest) in partial where !rest.isEmpty {
            result.append(LogLine(stream: stream, text: String(decoding: rest, as: UTF8.self)))
        }
        return result
    }

    static func frames(_ bytes: [UInt8]) -> [StreamFrameDecoder.Frame] {
        var decoder = StreamFrameDecoder()
        return decoder.feed(bytes) + decoder.finish()
    }

    static func isMultiplexed(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 8 && [0, 1, 2].contains(bytes[0]) && bytes[1] == 0 && bytes[2] == 0 && bytes[3] == 0
    }

    static func text(_ bytes: [UInt8]) -> [String] {
        var lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        return lines
    }
}
