import Foundation
import MicadoCore

/// A service's usage at one sampling pass, averaged over its running replicas.
struct ServiceLoad: Sendable {
    var time: Date
    /// Percent of one CPU, per replica on average, over the replicas with two readings
    /// (nil when none has: a replica's first sample has no CPU figure yet).
    var cpuPercent: Double?
    /// MiB in use, per replica on average.
    var memoryMiB: Double
    /// Replicas sampled.
    var replicas: Int
}

/// The monitor's newest `ServiceLoad` of each service, for the autoscaler.
actor ServiceLoads {
    private var loads: [String: ServiceLoad] = [:]

    func set(_ load: ServiceLoad, of service: String) { loads[service] = load }
    func load(of service: String) -> ServiceLoad? { loads[service] }
    func keep(only services: Set<String>) { loads = loads.filter { services.contains($0.key) } }
}

/// One at a time, in arrival order, across suspension points (an actor alone lets a second
/// caller in while the first awaits).
actor SerialQueue {
    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    func run<T: Sendable>(_ body: @Sendable () async throws(MicadoError) -> T) async throws(MicadoError) -> T {
        if busy {
            await withCheckedContinuation { waiting.append($0) }
        }
        busy = true
        defer {
            if waiting.isEmpty { busy = false } else { waiting.removeFirst().resume() }
        }
        return try await body()
    }
}
