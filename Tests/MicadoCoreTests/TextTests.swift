import MicadoCore
import Testing

/// What reaches a terminal or a log from outside is shown, never obeyed.
struct TextTests {
    @Test(arguments: [
        ("title\u{1B}]0;pwned\u{07}", "title\\u{1B}]0;pwned\\u{7}"),
        ("clear\u{1B}[2J", "clear\\u{1B}[2J"),
        ("nul\u{0}byte", "nul\\u{0}byte"),
        ("c1\u{9B}31m", "c1\\u{9B}31m"),
        ("bidi\u{202E}txt.exe", "bidi\\u{202E}txt.exe"),
        ("isolate\u{2066}x\u{2069}", "isolate\\u{2066}x\\u{2069}"),
        ("two\nlines\ttab", "two\\u{A}lines\\u{9}tab"),
        ("plain, ünïcödé € 😀", "plain, ünïcödé € 😀"),
    ])
    func escapedShowsWhatATerminalWouldObey(_ pair: (String, String)) {
        #expect(Text.escaped(pair.0) == pair.1)
    }

    @Test func multilineKeepsLinesAndTabsOnly() {
        #expect(Text.escaped("a\nb\tc\u{1B}[0m", multiline: true) == "a\nb\tc\\u{1B}[0m")
    }

    @Test func requireSafeNamesTheFieldAndThePlace() {
        #expect(throws: Never.self) { try Text.requireSafe("fine value ü", field: "the value") }
        do {
            try Text.requireSafe("ab\u{1B}c", field: "the environment value")
            Issue.record("an escape character was accepted")
        } catch {
            #expect(error.code == .badRequest)
            #expect(error.message.hasPrefix("the environment value has a control character (U+1B at character 2)"), "\(error.message)")
        }
    }
}
