import Foundation
import MicadoCore

/// What the CLI and the benches print for people: escaped, aligned, on the right stream.
public enum Console {
    /// Everything printed for people goes through `Text.escaped`: a name, an event or an
    /// engine's message can never move the cursor or retitle the terminal.
    public static func err(_ text: String) {
        FileHandle.standardError.write(Data((Text.escaped(text, multiline: true) + "\n").utf8))
    }

    public static var stderrIsTerminal: Bool { isatty(2) == 1 }

    public static func printJSON<T: Encodable>(_ value: T) throws {
        let data = try WireFormat.encoder(pretty: true).encode(value)
        print(String(decoding: data, as: UTF8.self))
    }

    /// Aligned columns with a header; empty cells print as "-".
    public static func table(_ header: [String], _ rows: [[String]]) {
        let cells = [header] + rows.map { $0.map { $0.isEmpty ? "-" : Text.escaped($0) } }
        let widths = header.indices.map { i in cells.map { $0[i].count }.max() ?? 0 }
        for row in cells {
            print(
                row.enumerated().map { i, cell in i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
                }
                .joined(separator: "  ")
            )
        }
    }

    public static func age(since date: Date, now: Date = Date()) -> String {
        let s = Int(now.timeIntervalSince(date))
        if s < 60 { return "\(max(s, 0))s" }
        if s < 3600 { return "\(s / 60)m" }
        if s < 86400 { return "\(s / 3600)h" }
        return "\(s / 86400)d"
    }
}
