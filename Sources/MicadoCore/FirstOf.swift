import Synchronization

/// `operation`'s result, or `nil` once `timeout` has passed, or `CancellationError` as soon as
/// the caller is cancelled: whichever comes first.
///
/// A task group would wait for its children, so a call whose client notices cancellation only
/// at its own read timeout (an HTTP request mid-answer) would hold its caller that long. Here
/// `operation` runs in a task of its own that is cancelled and left to end within its own bounds.
public func firstOf<Value: Sendable>(
    timeout: Duration,
    _ operation: @escaping @Sendable () async throws -> Value
) async throws -> Value? {
    let race = Race<Value?>()
    let work = Task {
        do { race.finish(.success(try await operation())) } catch { race.finish(.failure(error)) }
    }
    let timer = Task {
        try await Task.sleep(for: timeout)
        race.finish(.success(nil))
    }
    defer {
        work.cancel()
        timer.cancel()
    }
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { race.wait(with: $0) }
    } onCancel: {
        race.finish(.failure(CancellationError()))
    }
}

/// One result, taken from whoever finishes first; later ones are dropped.
private final class Race<Value: Sendable>: Sendable {
    private enum State {
        case running
        case waiting(CheckedContinuation<Value, any Error>)
        case finished(Result<Value, any Error>)
        case delivered
    }
    private let state = Mutex(State.running)

    func wait(with continuation: CheckedContinuation<Value, any Error>) {
        let ready: Result<Value, any Error>? = state.withLock { state in
            guard case .finished(let result) = state else {
                state = .waiting(continuation)
                return nil
            }
            state = .delivered
            return result
        }
        if let ready { continuation.resume(with: ready) }
    }

    func finish(_ result: Result<Value, any Error>) {
        let waiting: CheckedContinuation<Value, any Error>? = state.withLock { state in
            switch state {
            case .running:
                state = .finished(result)
                return nil
            case .waiting(let continuation):
                state = .delivered
                return continuation
            case .finished, .delivered:
                return nil
            }
        }
        waiting?.resume(with: result)
    }
}
