/// Text that came from outside (users, containers, engines) on its way to a person.
public enum Text {
    /// Whether `scalar` may not appear in a value micado stores or shows: C0 and C1 control
    /// characters and DEL (a terminal obeys ESC sequences: titles, screen clears) and the
    /// bidirectional formatting characters (they reorder what a reader sees).
    /// `allowing` lists controls a field may hold (tab and newline in a log line).
    public static func isUnsafe(_ scalar: Unicode.Scalar, allowing: Set<Unicode.Scalar> = []) -> Bool {
        if allowing.contains(scalar) { return false }
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F: return true
        // Bidi controls, and the line and paragraph separators (a terminal or a log reader may break lines on them).
        case 0x061C, 0x200E, 0x200F, 0x2028, 0x2029, 0x202A...0x202E, 0x2066...0x2069: return true
        default: return false
        }
    }

    /// `text` with every unsafe character written as `\u{XX}`, so a table, a log or an
    /// event shows it instead of obeying it. Tab and newline are kept where `multiline`.
    public static func escaped(_ text: String, multiline: Bool = false) -> String {
        let allowed: Set<Unicode.Scalar> = multiline ? ["\n", "\t"] : []
        guard text.unicodeScalars.contains(where: { isUnsafe($0, allowing: allowed) }) else { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if isUnsafe(scalar, allowing: allowed) {
                out.append(contentsOf: "\\u{\(String(scalar.value, radix: 16, uppercase: true))}".unicodeScalars)
            } else {
                out.append(scalar)
            }
        }
        return String(out)
    }

    /// Refuses a value with an unsafe character, naming the field and where.
    public static func requireSafe(_ text: String, field: String) throws(MicadoError) {
        if let index = text.unicodeScalars.firstIndex(where: { isUnsafe($0) }) {
            let position = text.unicodeScalars.distance(from: text.unicodeScalars.startIndex, to: index)
            throw .badRequest(
                "\(field) has a control character (U+\(String(text.unicodeScalars[index].value, radix: 16, uppercase: true)) at character \(position)); micado refuses control and bidirectional formatting characters"
            )
        }
    }
}
