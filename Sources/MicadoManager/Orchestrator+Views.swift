import DockerEngine
import Foundation
import MicadoCore
import MicadoStore

/// What of ours runs on one node: tasks, the memory they reserve, and whether one of them
/// publishes a host port (and so cannot simply move to any other node).
struct NodeUsage {
    var count = 0
    var memory = 0
    var tasksMiB: [Int] = []
    var pinned = false
}

/// What the engine says at one moment: nodes and the tasks of each service.
struct SwarmSnapshot: Sendable {
    var nodes: [String: Node]
    var tasksByService: [String: [SwarmTask]]

    /// The task that best tells the container's state: one meant to run, newest first.
    func currentTask(of serviceID: String?) -> SwarmTask? {
        guard let serviceID, let tasks = tasksByService[serviceID] else { return nil }
        return tasks.max { a, b in
            let ar = a.desiredState == "running", br = b.desiredState == "running"
            if ar != br { return !ar }
            return (a.updatedAt ?? "") < (b.updatedAt ?? "")
        }
    }
}

extension Orchestrator {
    /// The whole swarm as seen at most `maxAge` ago, shared by the loops (see `SnapshotCache`).
    func snapshot(maxAge: Duration) async throws(MicadoError) -> SwarmSnapshot {
        try await snapshots.snapshot(maxAge: maxAge) { [self] in
            do throws(MicadoError) { return .success(try await snapshot()) } catch { return .failure(error) }
        }
    }

    /// A snapshot fetched now, of one service or of the whole swarm.
    func snapshot(serviceID: String? = nil) async throws(MicadoError) -> SwarmSnapshot {
        let nodes = try await engine.nodes()
        let tasks = try await engine.tasks(filters: serviceID.map { ["service": [$0]] } ?? [:])
        return SwarmSnapshot(
            nodes: Dictionary(nodes.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a }),
            tasksByService: Dictionary(grouping: tasks, by: \.serviceID))
    }

    /// The observed state of a container from its newest task.
    func observedState(of record: ContainerRecord, in snapshot: SwarmSnapshot) -> (ObservedState, String?, SwarmTask?) {
        guard record.serviceID != nil else { return (.creating, nil, nil) }
        if record.lastState == .missing { return (.missing, record.lastReason, nil) }
        guard let task = snapshot.currentTask(of: record.serviceID) else {
            return record.desired == .running ? (.pending, "waiting for the scheduler", nil) : (.stopped, nil, nil)
        }
        let detail = [task.status.err, task.status.message].compactMap { $0 }.first { !$0.isEmpty }
        switch (record.desired, task.status.state) {
        case (.stopped, "running"): return (.stopping, nil, task)
        case (.stopped, _): return (.stopped, nil, task)
        case (.running, "running"): return (.running, nil, task)
        case (.running, "failed"), (.running, "rejected"): return (.failed, detail, task)
        case (.running, "complete"), (.running, "shutdown"): return (.pending, "restarting after: \(detail ?? task.status.state)", task)
        // The task's own state is said only when it adds something ("starting: …", not "pending: pending: …").
        case (.running, "pending"): return (.pending, detail ?? "waiting for a node", task)
        default: return (.pending, detail.map { "\(task.status.state): \($0)" } ?? task.status.state, task)
        }
    }

    /// How a node is called in views: micado's instance ID (from the label its engine boots
    /// with), or the manager's hostname.
    static func name(of node: Node) -> String {
        node.engineLabel(Label.instance) ?? node.description?.hostname ?? node.id
    }

    func view(of record: ContainerRecord, in snapshot: SwarmSnapshot) -> ContainerView {
        let (state, reason, task) = observedState(of: record, in: snapshot)
        let node = task?.nodeID.flatMap { snapshot.nodes[$0] }
        let address = node.flatMap(publishAddress(for:))
        var endpoint: String?
        if state == .running, let address, let port = record.port { endpoint = "\(address):\(port.published)" }
        return ContainerView(
            name: ContainerName(stored: record.name), client: record.client, image: record.image, desired: record.desired,
            state: state, location: record.location, domain: record.domain, port: record.port, memoryMiB: record.memoryMiB,
            node: node.map(Self.name(of:)) ?? task?.nodeID, endpoint: endpoint, reason: reason, serviceID: record.serviceID,
            createdAt: record.createdAt)
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
    func recordObservation(of record: ContainerRecord, _ view: ContainerView) async throws(MicadoError) {
        guard try await store.observe(container: record.name, state: view.state, reason: view.reason) else { return }
        switch view.state {
        case .running: await note("container.running", record.name, "\(record.name) is running on \(view.node ?? "?")")
        case .failed: await note("container.failed", record.name, "\(record.name) failed: \(view.reason ?? "?")")
        default: break
        }
    }

    /// `micado list -c`: running containers, or all with `all`.
    public func containers(all: Bool) async throws(MicadoError) -> [ContainerView] {
        let records = try await store.containers().filter { all || $0.desired == .running }
        guard !records.isEmpty else { return [] }
        // Fresh: a user who just saw a container run (polling it alone) must see it run here too.
        let snapshot = try await snapshot()
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

    public func container(_ name: String) async throws(MicadoError) -> ContainerView {
        try await view(of: try record(named: name))
    }

    func record(named name: String) async throws(MicadoError) -> ContainerRecord {
        guard let record = try await store.container(name) else {
            throw .notFound("no container named \(name); see 'micado list -c -a'")
        }
        return record
    }

    /// `micado list -i`: the manager's engine and every instance, with what runs on each.
    public func instances() async throws(MicadoError) -> [InstanceView] {
        let snapshot = try await snapshot()
        let usage = runningUsage(snapshot, records: try await store.containers())
        let records = try await store.instances()
        let recordByNode = Dictionary(records.compactMap { r in r.nodeID.map { ($0, r) } }, uniquingKeysWith: { a, _ in a })
        let managerRecordIDs = Set(records.filter(\.isManager).map(\.id.rawValue))
        var views: [InstanceView] = []
        for node in snapshot.nodes.values.sorted(by: { ($0.spec.role == "manager" ? 0 : 1, $0.id) < ($1.spec.role == "manager" ? 0 : 1, $1.id) }) {
            if let record = recordByNode[node.id], !record.isManager { continue }  // shown from its record below
            let total = node.genericResource(SchedulerResource.memory).map(Int.init) ?? node.description?.resources?.memoryBytes.map { Int($0 >> 20) }
            var view = InstanceView(
                id: node.id, hostname: node.description?.hostname ?? node.id, cloud: managerRecordIDs.contains(node.id) ? "manager" : "unknown",
                location: node.spec.labels?[Label.location], role: node.spec.role ?? "worker", state: node.status.state,
                availability: node.spec.availability ?? "active", address: publishAddress(for: node),
                containers: usage[node.id]?.count ?? 0, memoryReservedMiB: usage[node.id]?.memory ?? 0,
                memoryTotalMiB: total, engineVersion: node.description?.engine?.engineVersion)
            view.createdAt = records.first { $0.id.rawValue == node.id }?.createdAt
            views.append(view)
        }
        for record in records where !record.isManager {
            let node = record.nodeID.flatMap { snapshot.nodes[$0] }
            var view = InstanceView(
                id: record.id.rawValue, hostname: node?.description?.hostname ?? record.hostname, cloud: record.cloud, location: record.location,
                role: InstanceRole.worker.rawValue, state: record.state.rawValue,
                availability: node?.spec.availability ?? "-", address: record.address, containers: record.nodeID.flatMap { usage[$0]?.count } ?? 0,
                memoryReservedMiB: record.nodeID.flatMap { usage[$0]?.memory } ?? 0, memoryTotalMiB: record.memoryMiB,
                engineVersion: node?.description?.engine?.engineVersion)
            view.flavour = record.flavour
            view.tag = record.tag
            view.purpose = record.purpose.rawValue
            view.cloudID = record.cloudID
            view.pricePerHour = record.pricePerHour
            view.createdAt = record.createdAt
            view.reason = record.reason
            views.append(view)
        }
        return views
    }

    public func instance(_ id: String) async throws(MicadoError) -> InstanceView {
        guard let view = try await instances().first(where: { $0.id == id }) else {
            throw .notFound("no instance \(id); it may have been deleted (see 'micado events --subject \(id)')")
        }
        return view
    }

    /// Tasks of our containers that run (or are about to) per node, and the memory they reserve.
    func runningUsage(_ snapshot: SwarmSnapshot, records: [ContainerRecord]) -> [String: NodeUsage] {
        let byService = Dictionary(records.compactMap { r in r.serviceID.map { ($0, r) } }, uniquingKeysWith: { a, _ in a })
        var usage: [String: NodeUsage] = [:]
        for (serviceID, tasks) in snapshot.tasksByService {
            guard let record = byService[serviceID] else { continue }
            for task in tasks where task.desiredState == "running" && ["assigned", "accepted", "preparing", "ready", "starting", "running"].contains(task.status.state) {
                guard let nodeID = task.nodeID else { continue }
                usage[nodeID, default: NodeUsage()].count += 1
                usage[nodeID, default: NodeUsage()].memory += record.memoryMiB
                usage[nodeID, default: NodeUsage()].tasksMiB.append(record.memoryMiB)
                if record.port != nil { usage[nodeID, default: NodeUsage()].pinned = true }
            }
        }
        return usage
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
                name: service.spec.name, serviceID: service.id, image: service.spec.taskTemplate.containerSpec.image,
                replicas: service.spec.replicas, running: tasks.filter { $0.status.state == "running" }.count,
                ports: (service.spec.endpointSpec?.ports ?? []).map { PortMapping(published: $0.publishedPort ?? 0, target: $0.targetPort) },
                constraints: service.spec.taskTemplate.placement?.constraints ?? [],
                tasks: tasks.prefix(10).map { task in
                    ServiceInfo.Task(
                        id: task.id, node: task.nodeID.flatMap { snapshot.nodes[$0].map(Self.name(of:)) } ?? task.nodeID,
                        state: task.status.state, desiredState: task.desiredState, message: task.status.message,
                        error: task.status.err, containerID: task.status.containerStatus?.containerID,
                        updatedAt: parseEngineTime(task.updatedAt))
                })
            if info.running > 0, let sample = usage[service.spec.name] {
                info.cpuPercent = sample.cpuPercent
                info.memoryUsedMiB = sample.memoryMiB
            }
            return info
        }
    }
}
