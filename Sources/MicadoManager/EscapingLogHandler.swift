import Logging
import MicadoCore

/// Writes through another handler with every control character of the message and the
/// metadata escaped: names, commands and engine answers in the manager's log can never
/// drive the terminal that reads it, nor forge a log line with an embedded newline.
public struct EscapingLogHandler<Wrapped: LogHandler>: LogHandler {
    var wrapped: Wrapped

    public init(_ wrapped: Wrapped) { self.wrapped = wrapped }

    public var logLevel: Logger.Level {
        get { wrapped.logLevel }
        set { wrapped.logLevel = newValue }
    }

    public var metadata: Logger.Metadata {
        get { wrapped.metadata }
        set { wrapped.metadata = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { wrapped[metadataKey: key] }
        set { wrapped[metadataKey: key] = newValue }
    }

    public func log(event: LogEvent) {
        var event = event
        event.message = "\(Text.escaped(event.message.description))"
        event.metadata = event.metadata?.mapValues { .string(Text.escaped("\($0)")) }
        wrapped.log(event: event)
    }
}
