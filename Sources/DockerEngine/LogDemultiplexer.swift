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

/// Splits the Engine's multiplexed stream (8-byte frame headers: stream, 0, 0, 0, size
/// big-endian) into its stdout and stderr parts. Output of a TTY has no frames; it is
/// taken as stdout whole.
public enum LogDemultiplexer {
    public static func split(_ bytes: [UInt8]) -> (stdout: [UInt8], stderr: [UInt8]) {
        guard isMultiplexed(bytes) else { return (bytes, []) }
        var out: [UInt8] = []
        var err: [UInt8] = []
        var i = 0
        while i + 8 <= bytes.count {
            let kind = bytes[i]
            let size = Int(bytes[i + 4]) << 24 | Int(bytes[i + 5]) << 16 | Int(bytes[i + 6]) << 8 | Int(bytes[i + 7])
            let end = min(bytes.count, i + 8 + size)
            if kind == 2 { err += bytes[(i + 8)..<end] } else { out += bytes[(i + 8)..<end] }
            i = end
        }
        return (out, err)
    }

    public static func lines(_ bytes: [UInt8]) -> [LogLine] {
        guard isMultiplexed(bytes) else {
            return text(bytes).map { LogLine(stream: .stdout, text: $0) }
        }
        var result: [LogLine] = []
        var i = 0
        var partial: [LogLine.Stream: [UInt8]] = [:]
        while i + 8 <= bytes.count {
            let stream: LogLine.Stream = bytes[i] == 2 ? .stderr : .stdout
            let size = Int(bytes[i + 4]) << 24 | Int(bytes[i + 5]) << 16 | Int(bytes[i + 6]) << 8 | Int(bytes[i + 7])
            let end = min(bytes.count, i + 8 + size)
            var chunk = partial[stream, default: []] + bytes[(i + 8)..<end]
            while let nl = chunk.firstIndex(of: 0x0a) {
                result.append(LogLine(stream: stream, text: String(decoding: chunk[..<nl], as: UTF8.self)))
                chunk.removeSubrange(...nl)
            }
            partial[stream] = chunk
            i = end
        }
        for (stream, rest) in partial where !rest.isEmpty {
            result.append(LogLine(stream: stream, text: String(decoding: rest, as: UTF8.self)))
        }
        return result
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
