import DockerEngine
import Foundation
import MicadoCore
import MicadoStore

extension Containers {
    /// `micado launch`: records the container, creates its service and (unless detached)
    /// waits until a task runs or the launch timeout says why not.
    public func launch(_ request: LaunchRequest) async throws(MicadoError) -> ContainerView {
        try request.validate()
        let image = ImageReference.normalized(request.image)
        do { _ = try await engine.inspectImage(image) } catch where error.code == .notFound {
            throw .notFound("unknown image '\(request.image)': build it with 'micado build' or load it into the engine first")
        }
        if let location = request.location {
            let known = Set(try await engine.nodes().compactMap { $0.spec.labels?[Label.location] }).union(clouds.locations)
            guard known.contains(location) else {
                throw .badRequest("no instance in location '\(location)' (known locations: \(known.sorted().joined(separator: ", ")))")
            }
        }
        let records = try await store.containers()
        if let port = request.port, let holder = records.first(where: { $0.desired == .running && $0.portPublished == port.published }) {
            throw .conflict("port \(port.published) is already published by \(holder.name); pick another port or quit that container")
        }
        if let domain = request.domain {
            guard request.port != nil else { throw .badRequest("-d \(domain) needs -p PORT: the proxy routes the domain to that port") }
            if let holder = records.first(where: { $0.desired == .running && $0.domain?.lowercased() == domain.lowercased() }) {
                throw .conflict("domain \(domain) is already routed to \(holder.name); quit it first or pick another domain")
            }
        }
        let name: ContainerName
        if let given = request.name { name = given } else {
            name = try generatedName(client: request.client, taken: Set(records.map(\.name)))
        }
        var memory = configuration.defaults.memoryMiB
        if let asked = request.memoryMiB {
            memory = asked
        } else if let recorded = try await store.image(image)?.criticalMemoryMiB {
            memory = recorded
        }
        let now = Date()
        var record = ContainerRecord(
            name: name.rawValue, client: request.client, image: image, desired: .running, serviceID: nil,
            location: request.location, script: request.script, domain: request.domain, arguments: request.arguments,
            environment: request.environment, port: request.port, memoryMiB: memory, lastState: .creating, lastReason: nil,
            createdAt: now, updatedAt: now)
        record.tls = request.tls ?? false
        try await store.insertContainer(
            record, event: event("container.launch", name.rawValue, "launch of \(image) for \(request.client) requested (\(memory) MiB)"))
        if !clouds.isEmpty, try await store.image(image)?.reference == nil {
            try await instances.distributeImage(image, location: record.location ?? defaultLocation)
        }
        record = try await ensureService(record)
        await snapshots.invalidate()
        scalerWakeUp.yield()
        if request.detach { return try await view(of: record) }
        let view = try await waitUntilRunning(name.rawValue)
        await snapshots.invalidate()  // what the next list shows is at least what this answer says
        return view
    }

    func generatedName(client: String, taken: Set<String>) throws(MicadoError) -> ContainerName {
        for _ in 0..<32 {
            let hex = String(UInt16.random(in: .min ... .max), radix: 16)
            let suffix = String(repeating: "0", count: 4 - hex.count) + hex
            if let name = ContainerName(rawValue: "container-\(client)-\(suffix)"), !taken.contains(name.rawValue) {
                return name
            }
        }
        throw .init(.internal, "could not generate a free container name for client \(client)")
    }

    /// Creates the record's service, or adopts one of that name already labelled as ours
    /// (a launch that a crash interrupted). Idempotent: the launch and the reconciler share it.
    @discardableResult
    func ensureService(_ record: ContainerRecord) async throws(MicadoError) -> ContainerRecord {
        var record = record
        let serviceID: String
        // Images in micado's registry are pulled by whatever instance the task lands on.
        let pushed = try await store.image(record.image)?.reference
        do {
            var spec = serviceSpec(for: record)
            if let pushed { spec.taskTemplate.containerSpec.image = pushed }
            serviceID = try await engine.createService(spec, registryAuth: pushed != nil ? registry?.auth : nil)
            record.lastState = .pending
            record.lastReason = nil
        } catch where error.code == .conflict {
            let existing = try await engine.service(record.name)
            guard existing.spec.labels?[Label.manager] == managerID, existing.spec.labels?[Label.container] == record.name else {
                throw .conflict("a service named \(record.name) exists in the swarm but was not created by this manager")
            }
            serviceID = existing.id
        }
        if record.serviceID == serviceID { return record }
        record.serviceID = serviceID
        record.updatedAt = Date()
        try await store.updateContainer(
            record, event: event("container.created", record.name, "service \(serviceID.prefix(12)) created for \(record.name)"))
        return record
    }

    func serviceSpec(for record: ContainerRecord) -> ServiceSpec {
        let labels = [Label.manager: managerID, Label.container: record.name, Label.client: record.client]
        // What the spec cannot say otherwise, so that `micado manager --adopt` can rebuild the record.
        var serviceLabels = labels
        if let domain = record.domain { serviceLabels[Label.domain] = domain }
        if record.tls { serviceLabels[Label.tls] = "true" }
        let bytes = Int64(record.memoryMiB) << 20
        let reservations =
            configuration.docker.reserveGenericMemory
            ? ServiceSpec.Resources.Reservations(genericResources: [GenericResource(kind: SchedulerResource.memory, value: Int64(record.memoryMiB))])
            : ServiceSpec.Resources.Reservations(memoryBytes: bytes)
        var container = ServiceSpec.ContainerSpec(
            image: record.image, labels: labels, env: record.environment.isEmpty ? nil : record.environment.map(\.description))
        if let script = record.script { container.command = [script] }
        if !record.arguments.isEmpty { container.args = record.arguments }
        let template = ServiceSpec.TaskTemplate(
            containerSpec: container,
            resources: .init(limits: .init(memoryBytes: bytes), reservations: reservations),
            placement: placement(for: record),
            restartPolicy: .init(condition: "any"))
        let ports = record.port.map { [ServiceSpec.EndpointSpec.Port(targetPort: $0.target, publishedPort: $0.published)] }
        return ServiceSpec(
            name: record.name, labels: serviceLabels, taskTemplate: template, mode: .init(replicas: record.desired == .running ? 1 : 0),
            endpointSpec: ports.map { .init(ports: $0) })
    }

    /// Where a container may run. With clouds, always in a location (the default one unless
    /// `-l`), and on database instances only when a location is asked for.
    func placement(for record: ContainerRecord) -> ServiceSpec.Placement? {
        if clouds.isEmpty {
            return record.location.map { .init(constraints: ["node.labels.\(Label.location) == \($0)"]) }
        }
        var constraints = ["node.labels.\(Label.location) == \(record.location ?? defaultLocation)"]
        if record.location == nil { constraints.append("node.labels.\(Label.purpose) != database") }
        return .init(constraints: constraints)
    }

    /// Polls the container's tasks until one runs, or the launch timeout passes.
    func waitUntilRunning(_ name: String) async throws(MicadoError) -> ContainerView {
        let deadline = ContinuousClock.now + .seconds(configuration.defaults.launchTimeoutSeconds)
        let started = ContinuousClock.now
        var delay = Duration.milliseconds(25)
        while true {
            guard let record = try await store.container(name) else {
                throw .notFound("container \(name) was removed while it was launching")
            }
            let view = try await view(of: record)
            if view.state == .running { return view }
            if ContinuousClock.now >= deadline {
                throw .init(
                    .timeout,
                    "\(name) is not running after \(configuration.defaults.launchTimeoutSeconds) s: \(view.reason ?? view.state.rawValue). It stays launched; see 'micado info -s \(name)' or quit it"
                )
            }
            // Tasks usually start within a second: poll finely at first, then back off.
            try? await Task.sleep(for: delay)
            if ContinuousClock.now - started > .seconds(5) { delay = .milliseconds(250) }
        }
    }
}
