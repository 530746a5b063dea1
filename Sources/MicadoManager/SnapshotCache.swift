import DockerEngine
import MicadoCore

/// The newest swarm snapshot (nodes and every task), shared by the loops that read the
/// swarm: with hundreds of services, each snapshot is a large engine answer, and the scaler
/// (every 0.5 s), the monitor and the proxy asking for their own kept the engine busy.
/// Views a user reads (`list`) take a fresh one: serving a cached one showed a container
/// as starting right after `launch` had shown it running.
///
/// One fetch at a time (callers that arrive meanwhile wait for it); a caller takes a
/// snapshot up to `maxAge` old. Operations that change the swarm (launch, quit, remove)
/// invalidate it.
actor SnapshotCache {
    private var latest: (snapshot: SwarmSnapshot, takenAt: ContinuousClock.Instant)?
    private var inFlight: Task<Result<SwarmSnapshot, MicadoError>, Never>?
    private var generation = 0

    func snapshot(
        maxAge: Duration,
        fetch: @escaping @Sendable () async -> Result<SwarmSnapshot, MicadoError>
    ) async throws(MicadoError) -> SwarmSnapshot {
        if let latest, ContinuousClock.now - latest.takenAt <= maxAge { return latest.snapshot }
        return try await refresh(fetch).value.get()
    }

    /// Forgets the snapshot: the next reader fetches one taken after this call.
    func invalidate() {
        latest = nil
        inFlight = nil
        generation += 1
    }

    private func refresh(
        _ fetch: @escaping @Sendable () async -> Result<SwarmSnapshot, MicadoError>
    ) -> Task<Result<SwarmSnapshot, MicadoError>, Never> {
        if let inFlight { return inFlight }
        let started = ContinuousClock.now
        let generation = generation
        let task = Task { await fetch() }
        inFlight = task
        Task { await self.finish(task, generation: generation, started: started) }
        return task
    }

    private func finish(_ task: Task<Result<SwarmSnapshot, MicadoError>, Never>, generation: Int, started: ContinuousClock.Instant) async {
        let result = await task.value
        guard generation == self.generation else { return }  // invalidated meanwhile: not fresh enough
        if inFlight == task { inFlight = nil }
        if case .success(let snapshot) = result { latest = (snapshot, started) }
    }
}
