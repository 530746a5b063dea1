import DockerEngine
import Logging
import MicadoCore
import Prometheus
import ServiceLifecycle

/// Follows the manager engine's node events, so that the scaler reacts at once to an
/// instance that joins or a node that goes down instead of at its next poll. The scaler's
/// polling still covers everything: while the stream is broken (an engine restart, say)
/// reaction is only slower, never lost.
public struct EngineEventWatcher: Service {
    let orchestrator: Orchestrator
    let logger: Logger

    public init(orchestrator: Orchestrator, logger: Logger) {
        self.orchestrator = orchestrator
        self.logger = logger
    }

    public func run() async throws {
        guard !orchestrator.clouds.isEmpty else {
            // Without clouds there is nothing to scale; a service that returns stops the manager.
            try? await gracefulShutdown()
            return
        }
        try await cancelWhenGracefulShutdown {
            var failures = 0
            while !Task.isCancelled {
                failures = await follow(after: failures)
                try? await Task.sleep(for: .seconds(min(failures, 5)))
            }
        }
    }

    /// Follows the stream until it ends; returns how many times in a row it failed.
    func follow(after failures: Int) async -> Int {
        let stream: EngineEventStream
        do { stream = try await orchestrator.engine.events(types: ["node"]) } catch {
            if failures == 0 { logger.warning("cannot follow the engine's events; the scaler polls meanwhile", metadata: ["error": "\(error)"]) }
            return failures + 1
        }
        if failures > 0 { logger.info("following the engine's events again") }
        do {
            for try await _ in stream {
                orchestrator.metrics.nodeEvents.increment()
                orchestrator.scalerWakeUp.yield()
            }
        } catch {
            guard !Task.isCancelled else { return 0 }
            logger.warning("the engine's event stream broke; the scaler polls meanwhile", metadata: ["error": "\(error)"])
        }
        return 1
    }
}
