import DockerEngine
import Foundation
import MicadoCore
import MicadoStore

// Container views: the state each container is in, observed from the swarm.
extension Containers {
    /// The observed state of a container from its newest task.
    func observedState(of record: ContainerRecord, in snapshot: SwarmSnapshot) -> (ObservedState, String?, SwarmTask?) {
        guard record.serviceID != nil else { return (.creating, nil, nil) }
        if record.lastState == .missing { return (.missing, record.lastReason, nil) }
        guard let task = snapshot.currentTask(of: record.serviceID) else {
            return record.desired == .running ? (.pending, "waiting for the scheduler", nil) : (.stopped, nil, nil)
        }
        let detail = [task.status.err, task.status.message].compactMap { $0 }.first { !$0.isEmpty }
        switch (record.desired, task.status.state) {
        case (.stopped, .running): return (.stopping, nil, task)
        case (.stopped, _): return (.stopped, nil, task)
        case (.running, .running): return (.running, nil, task)
        case (.running, .failed), (.running, .rejected): return (.failed, detail, task)
        case (.running, .complete), (.running, .shutdown):
            return (.pending, "restarting after: \(detail ?? task.status.state.rawValue)", task)
        // The task's own state is said only when it adds something ("starting: …", not "pending: pending: …").
        case (.running, .pending): return (.pending, detail ?? "waiting for a node", task)
        default: return (.pending, detail.map { "\(task.status.state): \($0)" } ?? task.status.state.rawValue, task)
        }
    }

    func view(of record: ContainerRecord, in snapshot: SwarmSnapshot) -> ContainerView {
        var (state, reason, task) = observedState(of: record, in: snapshot)
        var running: Int?
        if record.application != nil {
            // A service of several replicas runs while one of them does.
            let runningTasks = (snapshot.tasksByService[record.serviceID ?? ""] ?? []).filter {
                $0.desiredState == .running && $0.status.state == .running
            }
            running = runningTasks.count
            if record.desired == .running, let first = runningTasks.first, state != .running {
                (state, reason, task) = (.running, nil, first)
            }
        }
        let node = task?.nodeID.flatMap { snapshot.nodes[$0] }
        let address = node.flatMap(configuration.publishAddress(for:))
        var endpoint: String?
        if state == .running, let address, let port = record.port { endpoint = "\(address):\(port.published)" }
        var view = ContainerView(
            name: ContainerName(stored: record.name),
            client: record.client,
            image: ImageReference(stored: record.image),
            desired: record.desired,
            state: state,
            location: record.location,
            domain: record.domain,
            port: record.port,
            memoryMiB: record.memoryMiB,
            node: node.map(SwarmSnapshot.name(of:)) ?? task?.nodeID,
            endpoint: endpoint,
            reason: reason,
            serviceID: record.serviceID,
            createdAt: record.createdAt
        )
        if let running {
            view.application = record.application.map(ApplicationName.init(stored:))
            view.replicas = record.wantedReplicas
            view.runningReplicas = running
        }
        return view
    }

    func view(of record: ContainerRecord) async throws(MicadoError) -> ContainerView {
        let snapshot = try await snapshot(serviceID: record.serviceID ?? "-")
        var view = view(of: record, in: snapshot)
        if view.state == .pending, let note = await scalerNotes.note(record.name) { view.reason = note }
        if view.state == .running, let usage = try await store.latestUsage(container: record.name) {
            view.cpuPercent = usage.cpuPercent
            view.memoryUsedMiB = usage.memoryMiB
        }
        try await recordObservation(of: record, view)
        return view
    }

    /// Stores what was observed; a change to running or failed becomes an event.
    /// The shared snapshot is dropped on a change: whoever saw a container change (a user
    /// polling it alone, the reconciler) makes every list after it at least as new.
    func recordObservation(of record: ContainerRecord, _ view: ContainerView) async throws(MicadoError) {
        guard try await store.observe(container: record.name, state: view.state, reason: view.reason) else { return }
        await swarm.invalidate()
        switch view.state {
        case .running: await note(.containerRunning, record.name, "\(record.name) is running on \(view.node ?? "?")")
        case .failed: await note(.containerFailed, record.name, "\(record.name) failed: \(view.reason ?? "?")")
        default: break
        }
    }

    /// `micado list -c`: running containers, or all with `all`.
    public func list(all: Bool) async throws(MicadoError) -> [ContainerView] {
        let records = try await store.containers().filter { all || $0.desired == .running }
        guard !records.isEmpty else { return [] }
        // The loops' shared snapshot (at most 0.5 s old): every change micado makes or observes
        // drops it (see `recordObservation`), so a user who just saw a container run sees it run here.
        let snapshot = try await snapshot(maxAge: .milliseconds(500))
        let notes = await scalerNotes.all()
        let usage = try await store.latestUsage()
        return records.map { record in
            var view = view(of: record, in: snapshot)
            if view.state == .pending, let note = notes[record.name] { view.reason = note }
            if view.state == .running, let sample = usage[record.name] {
                view.cpuPercent = sample.cpuPercent
                view.memoryUsedMiB = sample.memoryMiB
            }
            return view
        }
    }

    public func view(named name: String) async throws(MicadoError) -> ContainerView {
        try await view(of: try record(named: name))
    }

    /// The monitor's newest `limit` samples of a container, oldest first (the dashboard's chart).
    public func usage(named name: String, limit: Int) async throws(MicadoError) -> [UsageSampleView] {
        let record = try await record(named: name)
        return try await store.usageHistory(container: record.name, limit: limit).map {
            UsageSampleView(time: $0.time, cpuPercent: $0.cpuPercent, memoryMiB: $0.memoryMiB)
        }
    }

    func record(named name: String) async throws(MicadoError) -> ContainerRecord {
        guard let record = try await store.container(name) else {
            throw .notFound("no container named \(Text.escaped(String(name.prefix(128)))); see 'micado list -c -a'")
        }
        return record
    }

    /// `micado info`: one service (`name`) or every service of this manager.
    public func services(name: String?) async throws(MicadoError) -> [ServiceInfo] {
        let services: [SwarmService]
        if let name {
            let record = try await record(named: name)
            services = [try await engine.service(record.serviceID ?? record.name)]
        } else {
            services = try await engine.services(label: "\(Label.manager)=\(managerID)")
        }
        let snapshot = try await snapshot()
        let usage = try await store.latestUsage()
        return services.sorted { $0.spec.name < $1.spec.name }.map { service in
            let tasks = (snapshot.tasksByService[service.id] ?? []).sorted { ($0.updatedAt ?? "") > ($1.updatedAt ?? "") }
            var info = ServiceInfo(
                name: service.spec.name,
                serviceID: service.id,
                image: service.spec.taskTemplate.containerSpec.image,
                replicas: service.spec.replicas,
                running: tasks.filter { $0.status.state == .running }.count,
                ports: (service.spec.endpointSpec?.ports ?? []).map {
                    PortMapping(published: $0.publishedPort ?? 0, target: $0.targetPort)
                },
                constraints: service.spec.taskTemplate.placement?.constraints ?? [],
                tasks: tasks.prefix(10).map { task in
                    ServiceInfo.Task(
                        id: task.id,
                        node: task.nodeID.flatMap { snapshot.nodes[$0].map(SwarmSnapshot.name(of:)) } ?? task.nodeID,
                        state: task.status.state,
                        desiredState: task.desiredState,
                        message: task.status.message,
                        error: task.status.err,
                        containerID: task.status.containerStatus?.containerID,
                        updatedAt: parseEngineTime(task.updatedAt)
                    )
                }
            )
            if info.running > 0, let sample = usage[service.spec.name] {
                info.cpuPercent = sample.cpuPercent
                info.memoryUsedMiB = sample.memoryMiB
            }
            return info
        }
    }
}
