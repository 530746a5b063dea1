import DockerEngine
import MicadoCore
import Synchronization
import Testing

@testable import MicadoManager

/// A push whose registry does not answer in time is tried again; any other failure is not.
struct RegistryPushTests {
    static let timeout = MicadoError(
        .engine,
        "push of 10.0.0.1:5000/web:1 failed: Put \"https://10.0.0.1:5000/v2/\": net/http: request canceled while waiting for connection (Client.Timeout exceeded while awaiting headers)"
    )

    @Test func aTimedOutPushIsTriedAgainAndSaysSo() async throws {
        let calls = Mutex(0)
        let result = try await Registry.retryingTimeouts(of: "the push", pause: .milliseconds(1)) { () async throws(MicadoError) in
            let call = calls.withLock {
                $0 += 1
                return $0
            }
            if call < 3 { throw Self.timeout }
            return EngineClient.PushResult(digest: "sha256:" + String(repeating: "a", count: 64), retries: [])
        }
        #expect(calls.withLock { $0 } == 3)
        #expect(result.digest?.hasPrefix("sha256:") == true)
        #expect(result.retries.count == 2)
        #expect(result.retries.allSatisfy { $0.contains("timed out") && $0.contains("Client.Timeout") })
    }

    @Test func aPushThatKeepsTimingOutFailsAfterItsAttempts() async throws {
        let calls = Mutex(0)
        let error = await #expect(throws: MicadoError.self) {
            try await Registry.retryingTimeouts(of: "the push", pause: .milliseconds(1)) { () async throws(MicadoError) in
                calls.withLock { $0 += 1 }
                throw Self.timeout
            }
        }
        #expect(calls.withLock { $0 } == 3)
        #expect(error == Self.timeout)
    }

    @Test func anyOtherFailureIsNotRetried() async throws {
        let calls = Mutex(0)
        let denied = MicadoError(.engine, "push of 10.0.0.1:5000/web:1 failed: unauthorized: authentication required")
        let error = await #expect(throws: MicadoError.self) {
            try await Registry.retryingTimeouts(of: "the push", pause: .milliseconds(1)) { () async throws(MicadoError) in
                calls.withLock { $0 += 1 }
                throw denied
            }
        }
        #expect(calls.withLock { $0 } == 1)
        #expect(error == denied)
    }
}
