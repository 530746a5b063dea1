import MicadoCore
import NIOPosix

/// Where untrusted text is parsed: two threads of their own, never Swift's cooperative pool.
/// The cooperative pool has one thread per core and runs every request, loop and health
/// check; a parse that takes a while there (a Compose file near its bounds, a large JSON body)
/// would hold a core's worth of all of them. Here it only waits behind other parses.
enum ParsingPool {
    private static let threads: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 2)
        pool.start()
        return pool
    }()

    /// `body`'s result, computed on a parsing thread.
    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await threads.runIfActive(body)
    }

    /// The same for a body that throws `MicadoError` only, keeping its type.
    static func run<T: Sendable>(_ body: @escaping @Sendable () throws(MicadoError) -> T) async throws(MicadoError) -> T {
        do { return try await threads.runIfActive { () throws -> T in try body() } } catch let error as MicadoError { throw error } catch {
            throw MicadoError(.internal, "the parsing threads are not running: \(error)")
        }
    }
}
