import Logging
import Synchronization
import Testing

@testable import MicadoManager

/// The manager's log shows outside text escaped: a container name, an engine's message or a
/// cloud's answer cannot move the cursor, retitle the terminal or reverse the line.
struct EscapingLogHandlerTests {
    final class Recorder: Sendable {
        let lines = Mutex<[String]>([])
    }

    struct RecordingHandler: LogHandler {
        let recorder: Recorder
        var logLevel: Logger.Level = .trace
        var metadata: Logger.Metadata = [:]
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let message = event.message
            let fields = (event.metadata ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            recorder.lines.withLock { $0.append("\(message) \(fields)") }
        }
    }

    @Test func messageAndMetadataAreEscaped() {
        let recorder = Recorder()
        let logger = Logger(label: "test") { _ in EscapingLogHandler(RecordingHandler(recorder: recorder)) }
        logger.info("engine said \u{1B}]0;owned\u{07}", metadata: ["container": "web\u{202E}gpj.exe", "error": "line\u{1B}[2Jcleared"])
        let lines = recorder.lines.withLock { $0 }
        #expect(lines == ["engine said \\u{1B}]0;owned\\u{7} container=web\\u{202E}gpj.exe error=line\\u{1B}[2Jcleared"])
        #expect(!lines.joined().unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x202E || $0.value == 0x07 })
    }
}
