import Dispatch
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// SIGINT and SIGTERM delivered to a handler instead of ending the process, until `stop()`:
/// how the long-running commands (benches, waits) cancel their work and still tear down what they made.
public final class Interrupts: @unchecked Sendable {
    private var sources: [any DispatchSourceSignal] = []

    public init(_ handler: @escaping @Sendable (Int32) -> Void) {
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number)
            source.setEventHandler { handler(number) }
            source.resume()
            sources.append(source)
        }
    }

    /// Back to the default: the next interrupt ends the process.
    public func stop() {
        for source in sources { source.cancel() }
        for number in [SIGINT, SIGTERM] { signal(number, SIG_DFL) }
    }

    /// Returns at the first SIGINT or SIGTERM.
    public static func first() async {
        let (stream, continuation) = AsyncStream<Void>.makeStream()
        let interrupts = Interrupts { _ in continuation.yield() }
        for await _ in stream { break }
        interrupts.stop()
    }
}
