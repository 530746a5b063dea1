// An in-memory swarm and cloud behind the manager's protocols (`EngineAPI`, `EngineConnector`,
// `CloudDriver`), for unit tests of launch, the scaler's pass and reconcile without a daemon.
// It models what the manager relies on: nodes with the generic resource `mem`, services
// whose tasks are placed at once on a ready, active node with room that meets the
// placement constraints (else pending with the scheduler's own words), engines that join
// the swarm through their API, and instances that boot when the test says so.
import AsyncHTTPClient
import DockerEngine
import Foundation
import MicadoClouds
import MicadoCore
import NIOCore

public actor InMemorySwarm {
    public static let managerNode = "node-manager"
    static let managerMachine = "manager"

    struct Machine {
        var engineLabels: [String: String]
        var memoryMiB: Int?
        var address: String
        var images: Set<String>
        var nodeID: String?
    }
    struct NodeState {
        var id: String
        var machine: String
        var role: String
        var availability: String
        var labels: [String: String]
        var state: String
        var version: UInt64
        var schedulable: Bool { state == "ready" && availability == "active" }
    }
    struct ServiceState {
        var id: String
        var seq: Int
        var spec: ServiceSpec {
            didSet { constraints = Constraint.parse(spec) }
        }
        var version: UInt64
        /// Its placement constraints, parsed once (the scheduler checks them for every node).
        var constraints: [Constraint]?

        init(id: String, seq: Int, spec: ServiceSpec, version: UInt64) {
            self.id = id
            self.seq = seq
            self.spec = spec
            self.version = version
            constraints = Constraint.parse(spec)
        }
    }
    /// `node.labels.K == V`, `node.labels.K != V` or `node.role == R`.
    struct Constraint {
        var label: String?
        var equal: Bool
        var value: String

        /// nil when one cannot be read (no node meets it).
        static func parse(_ spec: ServiceSpec) -> [Constraint]? {
            var parsed: [Constraint] = []
            for constraint in spec.taskTemplate.placement?.constraints ?? [] {
                let equal = !constraint.contains("!=")
                let parts = constraint.components(separatedBy: equal ? "==" : "!=").map { $0.trimmingCharacters(in: .whitespaces) }
                guard parts.count == 2 else { return nil }
                if parts[0].hasPrefix("node.labels.") {
                    parsed.append(Constraint(label: String(parts[0].dropFirst("node.labels.".count)), equal: equal, value: parts[1]))
                } else if parts[0] == "node.role" {
                    parsed.append(Constraint(label: nil, equal: equal, value: parts[1]))
                } else {
                    return nil
                }
            }
            return parsed
        }
    }
    struct TaskState {
        var id: String
        var seq: Int
        var serviceID: String
        var nodeID: String?
        var state: String
        var desired: String
        var err: String?
        var reservedMiB: Int
        /// What its view was made from, so a view is decoded again only when one of these changed.
        var viewKey: ViewKey { ViewKey(state: state, desired: desired, nodeID: nodeID, err: err) }
        struct ViewKey: Equatable {
            var state: String
            var desired: String
            var nodeID: String?
            var err: String?
        }
    }
    /// A task by its service and its place among the service's tasks (tasks are only appended).
    struct TaskKey: Hashable, Comparable {
        var serviceSeq: Int
        var serviceID: String
        var index: Int
        static func < (a: TaskKey, b: TaskKey) -> Bool { (a.serviceSeq, a.index) < (b.serviceSeq, b.index) }
    }

    var machines: [String: Machine]
    var nodes: [String: NodeState] = [:]
    /// Node IDs in order (the scheduler tries them in it).
    var nodeOrder: [String] = []
    var services: [String: ServiceState] = [:]
    var serviceIDsByName: [String: String] = [:]
    var tasksByService: [String: [TaskState]] = [:]
    /// What the tasks meant to run on each node reserve, and which they are.
    var reservedByNode: [String: Int] = [:]
    var tasksOnNode: [String: Set<TaskKey>] = [:]
    /// Tasks meant to run that have no node yet.
    var pending: Set<TaskKey> = []
    /// Nodes whose state or availability changed since the scheduler last looked.
    var changedNodes: Set<String> = []
    var nodeViews: [String: (key: NodeViewKey, view: Node)] = [:]
    struct NodeViewKey: Equatable {
        var version: UInt64
        var state: String
        var availability: String
        var memoryMiB: Int?
        var address: String?
    }
    var taskViews: [String: (key: TaskState.ViewKey, view: SwarmTask)] = [:]
    var networks: [String: (name: String, labels: [String: String])] = [:]
    /// Secrets and configs: kind, name, labels and data, by ID.
    public private(set) var objects: [String: (kind: SwarmObject.Kind, name: String, labels: [String: String], data: [UInt8])] = [:]
    var counter = 0
    /// Every call the engines answered, in order ("createService web", "joinSwarm m0…"),
    /// unless `recordsCalls` is off (a simulation's millions of calls).
    public private(set) var calls: [String] = []
    public var recordsCalls = true
    /// Calls that fail once with this error, by name ("createService"), for fault tests.
    var failures: [String: MicadoError] = [:]
    /// What registries hold, by the reference an engine asks for: its digest.
    public var registryImages: [String: String] = [:]
    /// Tasks stopped because their node was drained (and started elsewhere), and because their node went down.
    public private(set) var evictedTasks = 0
    public private(set) var orphanedTasks = 0
    /// Tasks by ID (a container's ID is `container-TASK`).
    var taskKeys: [String: TaskKey] = [:]
    /// CPU a service's running replicas use together, in percent of one core (a load curve), and
    /// each container's CPU time so far (ns) with when it was last counted.
    var serviceCPU: [String: Double] = [:]
    var cpuTime: [String: (nanos: Double, at: Date)] = [:]
    /// When a clock is set: when each service's first task started, and on which machine.
    var clock: (any WallClock)?
    var starts: [(service: String, at: Date, machine: String)] = []

    /// A swarm not yet initialised; the manager's machine holds `images` and advertises `managerMemoryMiB` of `mem`.
    public init(managerAddress: String = "10.0.0.2", managerMemoryMiB: Int = 2048, images: Set<String> = ["busybox:local"]) {
        machines = [Self.managerMachine: Machine(engineLabels: [:], memoryMiB: managerMemoryMiB, address: managerAddress, images: images)]
    }

    /// The manager's engine (a unix socket, as the daemon's).
    public nonisolated var managerEngine: InMemoryEngine {
        InMemoryEngine(swarm: self, machine: Self.managerMachine, endpoint: .init(transport: .unix(path: "/in-memory/docker.sock")))
    }

    public func failNext(_ call: String, with error: MicadoError) { failures[call] = error }

    /// Records calls or not (a simulation's are too many to keep).
    public func setRecordsCalls(_ on: Bool) { recordsCalls = on }

    /// Notes when each service's first task starts, on this clock (`takeStarts()`).
    public func noteStarts(on clock: any WallClock) { self.clock = clock }

    /// The starts noted since the last call.
    public func takeStarts() -> [(service: String, at: Date, machine: String)] {
        defer { starts.removeAll(keepingCapacity: true) }
        return starts
    }

    // MARK: what tests look at and change

    public func serviceNames() -> [String] { services.values.sorted { $0.seq < $1.seq }.map(\.spec.name) }
    public func serviceSpec(_ name: String) -> ServiceSpec? { serviceIDsByName[name].flatMap { services[$0]?.spec } }
    public func runningTasks(of name: String) -> [(node: String?, id: String)] {
        guard let id = serviceIDsByName[name] else { return [] }
        return (tasksByService[id] ?? []).filter { $0.state == "running" }.map { ($0.nodeID, $0.id) }
    }
    public func nodeIDs() -> [String] { nodes.keys.sorted() }
    public func nodeLabels(_ id: String) -> [String: String] { nodes[id]?.labels ?? [:] }
    public func isMachine(_ endpoint: String) -> Bool { machines[endpoint] != nil }
    public func machineNode(_ endpoint: String) -> String? { machines[endpoint]?.nodeID }

    /// The service's running tasks end in `state` ("complete", "failed"), still meant to run: a command that exits.
    public func endTasks(of name: String, state: String) {
        guard let id = serviceIDsByName[name] else { return }
        for i in tasksByService[id, default: []].indices where tasksByService[id]![i].state == "running" {
            tasksByService[id]![i].state = state
            tasksByService[id]![i].err = state == "failed" ? "task: non-zero exit (1)" : nil
        }
    }

    /// A service made behind the manager's back (another tool, a crash's leftover).
    public func addService(_ spec: ServiceSpec) -> String { makeService(spec) }

    /// A machine a cloud made, at `endpoint`, booting with these engine labels and `mem` resource.
    func addMachine(_ endpoint: String, address: String, engineLabels: [String: String], memoryMiB: Int) {
        machines[endpoint] = Machine(engineLabels: engineLabels, memoryMiB: memoryMiB, address: address, images: [])
    }

    func removeMachine(_ endpoint: String) {
        if let node = machines[endpoint]?.nodeID {
            nodes[node]?.state = "down"
            changedNodes.insert(node)
        }
        machines[endpoint] = nil
        schedule()
    }

    // MARK: the engine calls

    func record(_ call: String, _ subject: String = "") throws(MicadoError) {
        if recordsCalls { calls.append(subject.isEmpty ? call : "\(call) \(subject)") }
        if let error = failures.removeValue(forKey: call) { throw error }
    }

    func machine(_ key: String) throws(MicadoError) -> Machine {
        guard let machine = machines[key] else { throw .init(.engine, "cannot reach the engine at \(key): connection refused") }
        return machine
    }

    func info(_ key: String) throws(MicadoError) -> SystemInfo {
        try record("info", key)
        let machine = try machine(key)
        let state = machine.nodeID == nil ? "inactive" : "active"
        return try Self.decode([
            "Name": key,
            "Swarm": ["LocalNodeState": state, "NodeID": machine.nodeID ?? "", "ControlAvailable": key == Self.managerMachine],
        ])
    }

    func addNode(_ node: NodeState) {
        if nodes[node.id] == nil {
            let at = nodeOrder.firstIndex { $0 >= node.id } ?? nodeOrder.count
            nodeOrder.insert(node.id, at: at)
        }
        nodes[node.id] = node
    }

    func initSwarm(_ key: String) throws(MicadoError) -> String {
        try record("initSwarm")
        addNode(
            NodeState(
                id: Self.managerNode,
                machine: key,
                role: "manager",
                availability: "active",
                labels: [:],
                state: "ready",
                version: 1
            )
        )
        machines[key]?.nodeID = Self.managerNode
        return "swarm-1"
    }

    func swarmInspect() throws(MicadoError) -> SwarmInspect {
        try record("swarm")
        guard nodes[Self.managerNode] != nil else { throw .init(.engine, "This node is not a swarm manager.") }
        return try Self.decode(["ID": "swarm-1", "JoinTokens": ["Worker": "SWMTKN-worker-secret", "Manager": "SWMTKN-manager-secret"]])
    }

    func join(_ key: String, token: String) throws(MicadoError) {
        try record("joinSwarm", key)
        guard token == "SWMTKN-worker-secret" else { throw .init(.engine, "invalid join token") }
        guard machines[key]?.nodeID == nil else { throw .init(.conflict, "This node is already part of a swarm.") }
        counter += 1
        let id = "node-\(counter)"
        addNode(NodeState(id: id, machine: key, role: "worker", availability: "active", labels: [:], state: "ready", version: 1))
        machines[key]?.nodeID = id
        schedule()
    }

    func leave(_ key: String) throws(MicadoError) {
        try record("leaveSwarm", key)
        if let id = machines[key]?.nodeID {
            nodes[id]?.state = "down"
            changedNodes.insert(id)
        }
        machines[key]?.nodeID = nil
        schedule()
    }

    func nodeList() throws(MicadoError) -> [Node] {
        try record("nodes")
        return try nodeOrder.compactMap { nodes[$0] }.map { node throws(MicadoError) in try view(node) }
    }

    func node(_ id: String) throws(MicadoError) -> Node {
        guard let node = nodes[id] else { throw .notFound("node \(id) not found") }
        return try view(node)
    }

    func view(_ node: NodeState) throws(MicadoError) -> Node {
        let machine = machines[node.machine]
        let key = NodeViewKey(
            version: node.version,
            state: node.state,
            availability: node.availability,
            memoryMiB: machine?.memoryMiB,
            address: machine?.address
        )
        if let cached = nodeViews[node.id], cached.key == key { return cached.view }
        var resources: [String: Any] = ["MemoryBytes": 2 << 30]
        if let memory = machine?.memoryMiB {
            resources["GenericResources"] = [["DiscreteResourceSpec": ["Kind": SchedulerResource.memory, "Value": memory]]]
        }
        let view: Node = try Self.decode([
            "ID": node.id, "Version": ["Index": node.version],
            "Description": ["Hostname": node.machine, "Resources": resources, "Engine": ["Labels": machine?.engineLabels ?? [:]]],
            "Spec": ["Role": node.role, "Availability": node.availability, "Labels": node.labels],
            "Status": ["State": node.state, "Addr": machine?.address ?? "0.0.0.0"],
        ])
        nodeViews[node.id] = (key, view)
        return view
    }

    func updateNode(_ id: String, version: ObjectVersion, spec: Node.Spec) throws(MicadoError) {
        try record("updateNode", id)
        guard var node = nodes[id] else { throw .notFound("node \(id) not found") }
        guard node.version == version.index else { throw .init(.conflict, "update out of sequence") }
        node.labels = spec.labels ?? [:]
        node.availability = spec.availability?.rawValue ?? node.availability
        node.version += 1
        nodes[id] = node
        changedNodes.insert(id)
        schedule()
    }

    func removeNode(_ id: String) throws(MicadoError) {
        try record("removeNode", id)
        guard nodes.removeValue(forKey: id) != nil else { throw .notFound("node \(id) not found") }
        nodeOrder.removeAll { $0 == id }
        nodeViews[id] = nil
        changedNodes.insert(id)
        for key in machines.keys where machines[key]?.nodeID == id { machines[key]?.nodeID = nil }
        schedule()
    }

    func createService(_ spec: ServiceSpec) throws(MicadoError) -> String {
        try record("createService", spec.name)
        guard serviceIDsByName[spec.name] == nil else {
            throw .init(.conflict, "service \(spec.name) already exists")
        }
        // The nodes pull an image by digest from a registry that has it.
        let image = spec.taskTemplate.containerSpec.image
        let parts = image.split(separator: "@").map(String.init)
        let pulled = parts.count == 2 && registryImages[parts[0]] == parts[1]
        guard machines[Self.managerMachine]?.images.contains(image) == true || pulled else {
            throw .notFound("No such image: \(image)")
        }
        return makeService(spec)
    }

    func makeService(_ spec: ServiceSpec) -> String {
        counter += 1
        let id = "service-\(counter)"
        services[id] = ServiceState(id: id, seq: counter, spec: spec, version: 1)
        serviceIDsByName[spec.name] = id
        tasksByService[id] = []
        schedule(service: id)
        return id
    }

    func serviceID(_ idOrName: String) throws(MicadoError) -> String {
        if services[idOrName] != nil { return idOrName }
        guard let id = serviceIDsByName[idOrName] else { throw .notFound("service \(idOrName) not found") }
        return id
    }

    func serviceList(label: String?) throws(MicadoError) -> [SwarmService] {
        try record("services")
        let (key, value) =
            label.map { text in
                let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
                return (parts[0], parts.count > 1 ? parts[1] : nil)
            } ?? ("", nil)
        return try services.values.sorted { $0.seq < $1.seq }.filter { service in
            label == nil || (service.spec.labels?[key] != nil && (value == nil || service.spec.labels?[key] == value))
        }.map { service throws(MicadoError) in try view(service) }
    }

    func service(_ idOrName: String) throws(MicadoError) -> SwarmService { try view(services[try serviceID(idOrName)]!) }

    func view(_ service: ServiceState) throws(MicadoError) -> SwarmService {
        let spec: Any
        do { spec = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(service.spec)) } catch {
            throw .init(.internal, "cannot encode a service spec: \(error)")
        }
        return try Self.decode([
            "ID": service.id, "Version": ["Index": service.version], "Spec": spec, "CreatedAt": "2026-12-01T12:00:00.000000000Z",
        ])
    }

    func scale(_ idOrName: String, replicas: Int) throws(MicadoError) {
        try record("scaleService", idOrName)
        let id = try serviceID(idOrName)
        services[id]!.spec.mode = .init(replicas: replicas)
        services[id]!.version += 1
        schedule(service: id)
    }

    func update(_ idOrName: String, version: UInt64, spec: ServiceSpec) throws(MicadoError) {
        try record("updateService", idOrName)
        let id = try serviceID(idOrName)
        guard let service = services[id], service.version == version else { throw .init(.conflict, "update out of sequence") }
        // A new task template replaces every task (Swarm's rolling update, all at once here).
        let rolled =
            (try? JSONEncoder().encode(service.spec.taskTemplate.containerSpec.image))
            != (try? JSONEncoder().encode(spec.taskTemplate.containerSpec.image))
        if rolled {
            for i in tasksByService[id, default: []].indices where tasksByService[id]![i].desired == "running" {
                stop(TaskKey(serviceSeq: service.seq, serviceID: id, index: i), as: "shutdown")
            }
        }
        if service.spec.name != spec.name {
            serviceIDsByName[service.spec.name] = nil
            serviceIDsByName[spec.name] = id
        }
        services[id]!.spec = spec
        services[id]!.version += 1
        schedule(service: id)
    }

    func createNetwork(name: String, labels: [String: String]) throws(MicadoError) -> String {
        try record("createNetwork", name)
        guard !networks.values.contains(where: { $0.name == name }) else {
            throw .init(.conflict, "network with name \(name) already exists")
        }
        counter += 1
        networks["network-\(counter)"] = (name, labels)
        return "network-\(counter)"
    }

    func networkList(label: String?) throws(MicadoError) -> [NetworkSummary] {
        try record("networks")
        let key = label?.split(separator: "=").first.map(String.init)
        return try networks.filter { key == nil || $0.value.labels[key!] != nil }.sorted { $0.key < $1.key }.map {
            id,
            network throws(MicadoError) in
            try Self.decode(["Id": id, "Name": network.name, "Labels": network.labels])
        }
    }

    /// Volumes by name: made by tests (`makeVolume`) as a node's engine would when a task mounts one.
    public private(set) var volumes: [String: [String: String]] = [:]
    public func makeVolume(_ name: String, labels: [String: String] = [:]) { volumes[name] = labels }

    func volumeList(label: String?) throws(MicadoError) -> [String] {
        try record("volumes")
        let key = label?.split(separator: "=").first.map(String.init)
        return volumes.filter { key == nil || $0.value[key!] != nil }.keys.sorted()
    }

    func removeVolume(_ name: String) throws(MicadoError) {
        try record("removeVolume", name)
        guard volumes.removeValue(forKey: name) != nil else { throw .notFound("volume \(name) not found") }
    }

    func removeNetwork(_ idOrName: String) throws(MicadoError) {
        try record("removeNetwork", idOrName)
        guard let id = networks.first(where: { $0.key == idOrName || $0.value.name == idOrName })?.key else {
            throw .notFound("network \(idOrName) not found")
        }
        networks[id] = nil
    }

    func createObject(_ kind: SwarmObject.Kind, name: String, data: [UInt8], labels: [String: String]) throws(MicadoError) -> String {
        try record("create\(kind)", name)
        guard !objects.values.contains(where: { $0.kind == kind && $0.name == name }) else {
            throw .init(.conflict, "\(kind) \(name) already exists")
        }
        counter += 1
        objects["\(kind)-\(counter)"] = (kind, name, labels, data)
        return "\(kind)-\(counter)"
    }

    func objectList(_ kind: SwarmObject.Kind, label: String?) throws(MicadoError) -> [SwarmObject] {
        try record("\(kind.rawValue)")
        let key = label?.split(separator: "=").first.map(String.init)
        return objects.filter { $0.value.kind == kind && (key == nil || $0.value.labels[key!] != nil) }.sorted { $0.key < $1.key }.map {
            SwarmObject(id: $0.key, spec: .init(name: $0.value.name, labels: $0.value.labels))
        }
    }

    func removeObject(_ kind: SwarmObject.Kind, _ id: String) throws(MicadoError) {
        try record("remove\(kind)", id)
        guard objects[id]?.kind == kind else { throw .notFound("\(kind) \(id) not found") }
        objects[id] = nil
    }

    func label(_ idOrName: String, _ labels: [String: String]) throws(MicadoError) {
        try record("labelService", idOrName)
        let id = try serviceID(idOrName)
        services[id]!.spec.labels = (services[id]!.spec.labels ?? [:]).merging(labels) { _, new in new }
        services[id]!.version += 1
    }

    func remove(_ idOrName: String) throws(MicadoError) {
        try record("removeService", idOrName)
        let id = try serviceID(idOrName)
        guard let service = services.removeValue(forKey: id) else { return }
        serviceIDsByName[service.spec.name] = nil
        for i in tasksByService[id, default: []].indices {
            let key = TaskKey(serviceSeq: service.seq, serviceID: id, index: i)
            if tasksByService[id]![i].desired == "running" { stop(key, as: "shutdown") }
            taskViews[tasksByService[id]![i].id] = nil
            taskKeys[tasksByService[id]![i].id] = nil
            cpuTime["container-\(tasksByService[id]![i].id)"] = nil
        }
        tasksByService[id] = nil
        schedule()
    }

    func taskList(filters: [String: [String]]) throws(MicadoError) -> [SwarmTask] {
        try record("tasks")
        let chosen: [TaskState]
        if let wanted = filters["service"] {
            // Swarm's filter takes a service's ID or name.
            chosen = wanted.flatMap { tasksByService[serviceIDsByName[$0] ?? $0] ?? [] }.sorted { $0.seq < $1.seq }
        } else {
            // By service, in the order the services were made (no caller relies on an order across services).
            chosen = services.values.sorted { $0.seq < $1.seq }.flatMap { tasksByService[$0.id] ?? [] }
        }
        return try chosen.map { task throws(MicadoError) in try view(task) }
    }

    func view(_ task: TaskState) throws(MicadoError) -> SwarmTask {
        let key = task.viewKey
        if let cached = taskViews[task.id], cached.key == key { return cached.view }
        var status: [String: Any] = ["State": task.state, "Timestamp": "2026-12-01T12:00:00.000000000Z", "Message": task.state]
        if let err = task.err { status["Err"] = err }
        if task.state == "running" { status["ContainerStatus"] = ["ContainerID": "container-\(task.id)"] }
        var object: [String: Any] = [
            "ID": task.id, "ServiceID": task.serviceID, "Status": status, "DesiredState": task.desired, "Slot": 1,
        ]
        if let node = task.nodeID { object["NodeID"] = node }
        let view: SwarmTask = try Self.decode(object)
        taskViews[task.id] = (key, view)
        return view
    }

    func inspectImage(_ key: String, _ name: String) throws(MicadoError) -> ImageInspect {
        try record("inspectImage", name)
        guard try machine(key).images.contains(name) else { throw .notFound("No such image: \(name)") }
        return try Self.decode(["Id": "sha256:" + String(repeating: "a", count: 64), "RepoTags": [name]])
    }

    func save(_ key: String, _ names: [String], into descriptor: Int32) throws(MicadoError) {
        try record("saveImages", names.joined(separator: ","))
        try ByteBuffer(string: names.joined(separator: "\n")).writeAll(to: descriptor)
    }

    func load(_ key: String, _ tarball: OutgoingBody) throws(MicadoError) {
        try record("loadImages", key)
        let bytes: [UInt8]
        do { bytes = try tarball.allBytes() } catch { throw .init(.engine, "cannot read the tarball: \(error)") }
        for name in String(decoding: bytes, as: UTF8.self).split(separator: "\n") { machines[key]?.images.insert(String(name)) }
    }

    public func setRegistryImage(_ reference: String, digest: String?) { registryImages[reference] = digest }

    /// An image loaded into the manager's engine behind micado's back (`docker load`, `docker pull`).
    public func loadIntoManager(_ image: String) { machines[Self.managerMachine]?.images.insert(image) }

    func distributionDigest(_ reference: String, auth: String?) throws(MicadoError) -> String {
        try record("distributionDigest", reference)
        guard let digest = registryImages[reference] else {
            throw .notFound("errors: denied: requested access to the resource is denied")
        }
        return digest
    }

    // MARK: load

    /// The service's running replicas use `cpuPercent` of one core together from now on (each an equal share).
    public func setLoad(service name: String, cpuPercent: Double) {
        countCPU()
        serviceCPU[name] = max(0, cpuPercent)
    }

    /// Brings every sampled container's CPU time up to now, at the load it had.
    func countCPU() {
        guard let now = clock?.now else { return }
        for (container, time) in cpuTime {
            cpuTime[container] = (time.nanos + share(of: container) / 100 * max(0, now.timeIntervalSince(time.at)) * 1e9, now)
        }
    }

    func share(of container: String) -> Double {
        guard let key = taskKeys[String(container.dropFirst("container-".count))], let service = services[key.serviceID],
            let total = serviceCPU[service.spec.name]
        else { return 0 }
        let running = tasksByService[key.serviceID, default: []].count { $0.state == "running" && $0.desired == "running" }
        return running > 0 ? total / Double(running) : 0
    }

    /// A one-shot stats sample: the container's CPU time and the machine's (one core) on the swarm's clock.
    func usage(_ container: String) throws(MicadoError) -> EngineClient.Usage {
        try record("usage", container)
        guard let key = taskKeys[String(container.dropFirst("container-".count))],
            let task = tasksByService[key.serviceID]?[key.index], task.state == "running"
        else { throw .notFound("No such container: \(container)") }
        let now = clock?.now ?? Date()
        countCPU()
        let nanos = cpuTime[container]?.nanos ?? 0
        cpuTime[container] = (nanos, now)
        return EngineClient.Usage(
            // A replica uses half the memory it reserves (a memory policy sees 50 %).
            memoryBytes: Int64(task.reservedMiB) << 19,
            memoryLimitBytes: nil,
            cpuPercent: 0,
            cpu: .init(container: nanos, system: now.timeIntervalSince1970 * 1e9, cpus: 1)
        )
    }

    // MARK: the scheduler

    /// A task stops being meant to run: its node no longer holds its reservation.
    func stop(_ key: TaskKey, as state: String) {
        guard var task = tasksByService[key.serviceID]?[key.index], task.desired == "running" else { return }
        if let node = task.nodeID {
            reservedByNode[node, default: 0] -= task.reservedMiB
            tasksOnNode[node]?.remove(key)
        }
        pending.remove(key)
        task.desired = "shutdown"
        task.state = state
        tasksByService[key.serviceID]![key.index] = task
    }

    /// Swarm's job, at once: each service gets its replicas, each new task a ready, active node
    /// that meets its constraints and has room for its `mem` reservation; else it waits. Tasks
    /// on a node that went down are orphaned and on a drained one shut down, and replaced.
    func schedule(service: String? = nil) {
        var touched: Set<String> = service.map { [$0] } ?? []
        for node in changedNodes {
            guard let keys = tasksOnNode[node], !keys.isEmpty else { continue }
            guard let state = nodes[node], state.state == "ready", state.availability != "drain" else {
                let down = nodes[node]?.state != "ready"
                for key in keys {
                    stop(key, as: down ? "orphaned" : "shutdown")
                    if down { orphanedTasks += 1 } else { evictedTasks += 1 }
                    touched.insert(key.serviceID)
                }
                continue
            }
        }
        changedNodes.removeAll()
        for id in touched.sorted() { reconcileReplicas(id) }
        place()
    }

    func reconcileReplicas(_ id: String) {
        guard let service = services[id] else { return }
        let live = tasksByService[id, default: []].indices.filter { tasksByService[id]![$0].desired == "running" }
        let wanted = service.spec.replicas
        for i in live.dropFirst(wanted) { stop(TaskKey(serviceSeq: service.seq, serviceID: id, index: i), as: "shutdown") }
        for _ in live.count..<max(wanted, live.count) {
            counter += 1
            tasksByService[id]!.append(
                TaskState(
                    id: "task-\(counter)",
                    seq: counter,
                    serviceID: id,
                    state: "pending",
                    desired: "running",
                    reservedMiB: Self.reservation(service.spec)
                )
            )
            let key = TaskKey(serviceSeq: service.seq, serviceID: id, index: tasksByService[id]!.count - 1)
            pending.insert(key)
            taskKeys["task-\(counter)"] = key
        }
    }

    /// Pending tasks in their order onto the first node (by ID) with room; the largest room
    /// of any node first, so a task that fits nowhere costs no scan of the nodes.
    func place() {
        guard !pending.isEmpty else { return }
        let schedulable = nodeOrder.compactMap { id in nodes[id].flatMap { $0.schedulable ? $0 : nil } }
        // Each node's free room, once per call: the scan for a task then compares numbers.
        var free = schedulable.map { (machines[$0.machine]?.memoryMiB ?? 0) - reservedByNode[$0.id, default: 0] }
        var largest = free.max() ?? 0
        for key in pending.sorted() {
            guard let service = services[key.serviceID] else {
                pending.remove(key)
                continue
            }
            let task = tasksByService[key.serviceID]![key.index]
            var chosen: Int?
            var candidates = 0
            if task.reservedMiB <= largest {
                for i in schedulable.indices where (task.reservedMiB == 0 || free[i] >= task.reservedMiB) {
                    guard Self.meets(service, schedulable[i]) else { continue }
                    chosen = i
                    break
                }
                candidates = chosen == nil ? schedulable.count { Self.meets(service, $0) } : 1
            } else {
                // Too large for any node: no need to ask each whether it meets the constraints.
                candidates = schedulable.count
            }
            if let i = chosen {
                let node = schedulable[i]
                tasksByService[key.serviceID]![key.index].nodeID = node.id
                tasksByService[key.serviceID]![key.index].state = "running"
                tasksByService[key.serviceID]![key.index].err = nil
                reservedByNode[node.id, default: 0] += task.reservedMiB
                tasksOnNode[node.id, default: []].insert(key)
                pending.remove(key)
                if let clock, task.seq == (tasksByService[key.serviceID]!.first?.seq ?? task.seq) {
                    starts.append((service.spec.name, clock.now, node.machine))
                }
                let before = free[i]
                free[i] -= task.reservedMiB
                if before == largest { largest = free.max() ?? 0 }
            } else {
                let unavailable = nodes.count - candidates
                tasksByService[key.serviceID]![key.index].err =
                    "no suitable node (insufficient resources on \(candidates) node\(candidates == 1 ? "" : "s"); \(unavailable) node\(unavailable == 1 ? "" : "s") not available for new tasks)"
            }
        }
    }

    static func reservation(_ spec: ServiceSpec) -> Int {
        Int(
            spec.taskTemplate.resources?.reservations?.genericResources?.first { $0.discrete?.kind == SchedulerResource.memory }?.discrete?
                .value ?? 0
        )
    }

    /// Whether the node meets every placement constraint of the service.
    static func meets(_ service: ServiceState, _ node: NodeState) -> Bool {
        guard let constraints = service.constraints else { return false }
        return constraints.allSatisfy { c in ((c.label.map { node.labels[$0] } ?? node.role) == c.value) == c.equal }
    }

    /// The Engine API's JSON for a model, decoded as the client decodes the engine's.
    static func decode<T: Decodable>(_ object: Any) throws(MicadoError) -> T {
        do { return try JSONDecoder().decode(T.self, from: JSONSerialization.data(withJSONObject: object)) } catch {
            throw .init(.internal, "in-memory swarm: cannot make a \(T.self): \(error)")
        }
    }
}

/// One engine of the in-memory swarm: the manager's, or an instance's (reached by its endpoint).
public struct InMemoryEngine: EngineAPI {
    public let swarm: InMemorySwarm
    let machine: String
    public let endpoint: EngineEndpoint
    public var apiVersion: APIVersion { .init(1, 41) }
    public var engineVersion: String { "in-memory" }
    public func using(_ http: HTTPClient) -> InMemoryEngine { self }

    func unsupported(_ call: String) -> MicadoError { .init(.internal, "the in-memory engine has no \(call)") }

    public func info() async throws(MicadoError) -> SystemInfo { try await swarm.info(machine) }
    public func initSwarm(advertiseAddress: String, listenAddress: String, defaultAddressPool: String?) async throws(MicadoError) -> String
    {
        try await swarm.initSwarm(machine)
    }
    public func swarm() async throws(MicadoError) -> SwarmInspect { try await swarm.swarmInspect() }
    public func joinSwarm(remoteAddress: String, token: String, advertiseAddress: String, listenAddress: String) async throws(MicadoError) {
        try await swarm.join(machine, token: token)
    }
    public func leaveSwarm(force: Bool) async throws(MicadoError) { try await swarm.leave(machine) }
    public func nodes() async throws(MicadoError) -> [Node] { try await swarm.nodeList() }
    public func node(_ id: String) async throws(MicadoError) -> Node { try await swarm.node(id) }
    public func updateNode(_ id: String, version: ObjectVersion, spec: Node.Spec) async throws(MicadoError) {
        try await swarm.updateNode(id, version: version, spec: spec)
    }
    public func removeNode(_ id: String, force: Bool) async throws(MicadoError) { try await swarm.removeNode(id) }
    public func createService(_ spec: ServiceSpec, registryAuth: String?) async throws(MicadoError) -> String {
        try await swarm.createService(spec)
    }
    public func services(label: String?) async throws(MicadoError) -> [SwarmService] { try await swarm.serviceList(label: label) }
    public func service(_ idOrName: String) async throws(MicadoError) -> SwarmService { try await swarm.service(idOrName) }
    public func scaleService(_ idOrName: String, replicas: Int) async throws(MicadoError) {
        try await swarm.scale(idOrName, replicas: replicas)
    }
    public func labelService(_ idOrName: String, _ labels: [String: String]) async throws(MicadoError) {
        try await swarm.label(idOrName, labels)
    }
    public func removeService(_ idOrName: String) async throws(MicadoError) { try await swarm.remove(idOrName) }
    public func updateService(_ id: String, version: ObjectVersion, spec: ServiceSpec, registryAuth: String?) async throws(MicadoError) {
        try await swarm.update(id, version: version.index, spec: spec)
    }
    public func createNetwork(name: String, labels: [String: String]) async throws(MicadoError) -> String {
        try await swarm.createNetwork(name: name, labels: labels)
    }
    public func networks(label: String?) async throws(MicadoError) -> [NetworkSummary] { try await swarm.networkList(label: label) }
    public func removeNetwork(_ idOrName: String) async throws(MicadoError) { try await swarm.removeNetwork(idOrName) }
    public func volumes(label: String?) async throws(MicadoError) -> [String] { try await swarm.volumeList(label: label) }
    public func removeVolume(_ name: String) async throws(MicadoError) { try await swarm.removeVolume(name) }
    public func tasks(filters: [String: [String]]) async throws(MicadoError) -> [SwarmTask] { try await swarm.taskList(filters: filters) }
    public func createSwarmObject(
        _ kind: SwarmObject.Kind,
        name: String,
        data: [UInt8],
        labels: [String: String]
    ) async throws(MicadoError) -> String {
        try await swarm.createObject(kind, name: name, data: data, labels: labels)
    }
    public func swarmObjects(_ kind: SwarmObject.Kind, label: String?) async throws(MicadoError) -> [SwarmObject] {
        try await swarm.objectList(kind, label: label)
    }
    public func removeSwarmObject(_ kind: SwarmObject.Kind, _ id: String) async throws(MicadoError) {
        try await swarm.removeObject(kind, id)
    }
    public func serviceLogs(_ idOrName: String, tail: Int?, timestamps: Bool) async throws(MicadoError) -> [LogLine] { [] }
    public func usage(container: String, oneShot: Bool) async throws(MicadoError) -> EngineClient.Usage {
        try await swarm.usage(container)
    }
    public func killContainer(_ id: String) async throws(MicadoError) { throw unsupported("killContainer") }
    public func archive(container: String, path: String, maxBytes: Int, into descriptor: Int32) async throws(MicadoError) {
        throw unsupported("archive")
    }
    public func isFolder(container: String, path: String) async throws(MicadoError) -> Bool? { throw unsupported("isFolder") }
    public func putArchive(container: String, path: String, tar: OutgoingBody) async throws(MicadoError) { throw unsupported("putArchive") }
    public func exec(container: String, command: [String], timeout: TimeAmount) async throws(MicadoError) -> EngineClient.ExecOutput {
        throw unsupported("exec")
    }
    public func createExec(
        container: String,
        command: [String],
        tty: Bool,
        stdin: Bool,
        environment: [String]
    ) async throws(MicadoError) -> String {
        throw unsupported("createExec")
    }
    public func exitCode(ofExec id: String) async throws(MicadoError) -> Int { throw unsupported("exitCode") }
    public func resizeExec(_ id: String, size: TerminalSize) async throws(MicadoError) { throw unsupported("resizeExec") }
    public func withAttachedExec<Result: Sendable>(
        _ id: String,
        tty: Bool,
        size: TerminalSize?,
        _ body: (AttachedExec) async throws -> Result
    ) async throws -> Result { throw unsupported("withAttachedExec") }
    public func inspectImage(_ name: String) async throws(MicadoError) -> ImageInspect { try await swarm.inspectImage(machine, name) }
    public func removeImage(_ name: String, force: Bool) async throws(MicadoError) { throw unsupported("removeImage") }
    public func saveImages(_ names: [String], into descriptor: Int32) async throws(MicadoError) {
        try await swarm.save(machine, names, into: descriptor)
    }
    public func loadImages(_ tarball: OutgoingBody) async throws(MicadoError) { try await swarm.load(machine, tarball) }
    public func distributionDigest(of reference: String, auth: String?) async throws(MicadoError) -> String {
        try await swarm.distributionDigest(reference, auth: auth)
    }
    public func tagImage(_ name: String, repository: String, tag: String) async throws(MicadoError) { throw unsupported("tagImage") }
    public func pushImage(repository: String, tag: String, auth: String) async throws(MicadoError) -> EngineClient.PushResult {
        throw unsupported("pushImage")
    }
    public func build(
        context: OutgoingBody,
        tag: String,
        options: BuildOptions,
        timeout: TimeAmount
    ) async throws(MicadoError) -> EngineClient.BuildResult {
        throw unsupported("build")
    }
}

extension InMemorySwarm: EngineConnector {
    /// The engine of the machine a cloud reported at `endpoint`; refused while no machine answers there.
    public func engine(at endpoint: EngineEndpoint, monitoring: Bool) async throws(MicadoError) -> any EngineAPI {
        let key = endpoint.description
        guard machines[key] != nil else { throw .init(.engine, "cannot reach the engine at \(key): connection refused") }
        return InMemoryEngine(swarm: self, machine: key, endpoint: endpoint)
    }

    public func forget(_ endpoint: EngineEndpoint) async {}
}

/// A cloud whose instances are machines of the in-memory swarm. Each create makes a booting
/// instance; `finishBoots()` makes them running with an engine that answers (the engine
/// labels and `mem` resource of the user data), as a real boot would, when the test says so.
public actor InMemoryCloud: CloudDriver {
    public struct Instance: Sendable {
        public var instance: CloudInstance
        public var request: CreateInstanceRequest
    }
    let swarm: InMemorySwarm
    let prefix: String
    public private(set) var instances: [String: Instance] = [:]
    public private(set) var creates: [CreateInstanceRequest] = []
    public private(set) var deletes: [String] = []
    var next = 10
    /// The next create fails with this error.
    var failure: CloudError?
    var nextAddress: String?

    /// Addresses `prefix.10`, `prefix.11`, …
    public init(swarm: InMemorySwarm, addressPrefix prefix: String = "10.0.0") {
        self.swarm = swarm
        self.prefix = prefix
    }

    public func failNextCreate(_ error: CloudError) { failure = error }
    /// The next create answers with this address (a confused or hostile cloud's).
    public func answerNextWith(address: String) { nextAddress = address }
    /// The cloud hands an instance its address now (as DHCP clouds do once it runs).
    public func setAddress(_ id: String, _ address: String) {
        instances[id]?.instance.address = address
        instances[id]?.instance.engineEndpoint = "tcp://\(address):2376"
    }

    /// An instance the cloud holds that no create of this test made (a twin, a stranger).
    public func add(_ instance: CloudInstance, userData: UserData) {
        instances[instance.id] = Instance(
            instance: instance,
            request: CreateInstanceRequest(
                idempotencyToken: instance.tags[CloudTag.token] ?? "",
                location: "zone",
                flavour: Flavour(name: "small", cpus: 1, memoryMiB: 512, pricePerHour: 0),
                machineImage: "image-1",
                userData: userData,
                tags: instance.tags
            )
        )
    }

    public func create(_ request: CreateInstanceRequest) async throws(CloudError) -> CloudInstance {
        creates.append(request)
        if let failure {
            self.failure = nil
            throw failure
        }
        if let made = instances.values.first(where: { $0.request.idempotencyToken == request.idempotencyToken }) { return made.instance }
        let address = nextAddress ?? "\(prefix).\(next)"
        nextAddress = nil
        let id = "vm-\(next)"
        next += 1
        let instance = CloudInstance(
            id: id,
            address: address,
            state: .booting,
            engineEndpoint: address.isEmpty ? "" : "tcp://\(address):2376",
            tags: request.tags
        )
        instances[id] = Instance(instance: instance, request: request)
        return instance
    }

    /// Every booting instance comes up: its engine answers at its endpoint, not yet in the swarm.
    public func finishBoots() async {
        for (id, made) in instances where made.instance.state == .booting {
            instances[id]?.instance.state = .running
            let endpoint = try? EngineEndpoint.parse(made.instance.engineEndpoint, tls: nil)
            await swarm.addMachine(
                endpoint?.description ?? made.instance.engineEndpoint,
                address: made.instance.address,
                engineLabels: made.request.userData.labels,
                memoryMiB: made.request.userData.capacityMiB
            )
        }
    }

    /// Every pass may describe: the tests step passes by hand.
    public nonisolated var describeInterval: Duration { .zero }
    public func describe(_ id: String) async throws(CloudError) -> CloudInstance? { instances[id]?.instance }
    public func list() async throws(CloudError) -> [CloudInstance] { instances.values.map(\.instance).sorted { $0.id < $1.id } }

    public func delete(_ id: String) async throws(CloudError) {
        deletes.append(id)
        guard let made = instances.removeValue(forKey: id) else { return }
        let endpoint = try? EngineEndpoint.parse(made.instance.engineEndpoint, tls: nil)
        await swarm.removeMachine(endpoint?.description ?? made.instance.engineEndpoint)
    }
}
