import DockerEngine
import Foundation
import MicadoCore
import MicadoStore

extension Containers {
    /// `micado launch`: records the container, creates its service and (unless detached)
    /// waits until a task runs or the launch timeout says why not.
    public func launch(_ request: LaunchRequest) async throws(MicadoError) -> ContainerView {
        try request.validate()
        let image = try await requireImage(request.image).name
        if let location = request.location { try await requireLocation(location) }
        // Every record only when something needs them: a port or domain to check, a name to
        // make (the store refuses a taken name itself); a fleet's launches each read thousands.
        let needsRecords = request.port != nil || request.domain != nil || request.name == nil
        let records = needsRecords ? try await store.containers() : []
        if let domain = request.domain, request.port == nil {
            throw .badRequest("-d \(domain) needs -p PORT: the proxy routes the domain to that port")
        }
        try Self.requireFree(ports: request.port.map { [$0.published] } ?? [], domain: request.domain, among: records)
        let name: ContainerName
        if let given = request.name {
            name = given
        } else {
            name = try generatedName(client: request.client, taken: Set(records.map(\.name)))
        }
        var memory = configuration.defaults.memoryMiB
        if let asked = request.memoryMiB {
            memory = asked
        } else if let recorded = try await store.image(image)?.criticalMemoryMiB {
            memory = recorded
        }
        let now = self.now
        var record = ContainerRecord(
            name: name.rawValue,
            client: request.client,
            image: image,
            desired: .running,
            serviceID: nil,
            location: request.location,
            script: request.script,
            domain: request.domain,
            arguments: request.arguments,
            environment: request.environment,
            port: request.port,
            memoryMiB: memory,
            lastState: .creating,
            lastReason: nil,
            createdAt: now,
            updatedAt: now
        )
        record.tls = request.tls ?? false
        try await store.insertContainer(
            record,
            event: event(.containerLaunch, name.rawValue, "launch of \(image) for \(request.client) requested (\(memory) MiB)")
        )
        CrashPoint.reached(.launchStored)
        try await distributeImage(of: record)
        record = try await ensureService(record)
        await swarm.invalidate()
        scalerWakeUp.yield()
        if request.detach { return try await view(of: record) }
        let view = try await waitUntilRunning(name.rawValue)
        await swarm.invalidate()  // what the next list shows is at least what this answer says
        return view
    }

    // The checks a launch and an apply share: what must exist, and what must be free.

    /// A location some node is labelled with, or some cloud serves.
    func requireLocation(_ location: String) async throws(MicadoError) {
        let known = Set(try await engine.nodes().compactMap { $0.spec.labels?[Label.location] }).union(clouds.locations)
        guard known.contains(location) else {
            throw .badRequest("no instance in location '\(location)' (known locations: \(known.sorted().joined(separator: ", ")))")
        }
    }

    /// Host ports and a domain that no running container of `records` holds.
    static func requireFree(ports: [Int], domain: String?, among records: [ContainerRecord]) throws(MicadoError) {
        for port in ports {
            if let holder = records.first(where: { $0.desired == .running && $0.publishedPorts.contains(port) }) {
                throw .conflict("port \(port) is already published by \(holder.name); pick another port or quit that container")
            }
        }
        if let domain, let holder = records.first(where: { $0.desired == .running && $0.domain?.lowercased() == domain.lowercased() }) {
            throw .conflict("domain \(domain) is already routed to \(holder.name); quit it first or pick another domain")
        }
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
        let pushed = try await pulledReference(record.image)
        do {
            let spec = try await serviceSpec(for: record, pushed: pushed)
            serviceID = try await engine.createService(spec, registryAuth: registry?.auth(for: pushed ?? record.image))
            CrashPoint.reached(.launchServiceCreated)
            record.lastState = .pending
            record.lastReason = nil
        } catch  where error.code == .conflict {
            let existing = try await engine.service(record.name)
            guard existing.spec.labels?[Label.manager] == managerID, existing.spec.labels?[Label.container] == record.name else {
                throw .conflict("a service named \(record.name) exists in the swarm but was not created by this manager")
            }
            serviceID = existing.id
        }
        if record.serviceID == serviceID { return record }
        record.serviceID = serviceID
        record.updatedAt = now
        try await store.updateContainer(
            record,
            event: event(.containerCreated, record.name, "service \(serviceID.prefix(12)) created for \(record.name)")
        )
        return record
    }

    /// Rolls an application's service to its record: Swarm replaces the tasks as the
    /// record's update policy says, and rolls back if they fail.
    func roll(_ record: ContainerRecord, service: SwarmService) async throws(MicadoError) {
        let pushed = try await pulledReference(record.image)
        let spec = try await serviceSpec(for: record, pushed: pushed)
        try await engine.updateService(
            service.id,
            version: service.version,
            spec: spec,
            registryAuth: registry?.auth(for: pushed ?? record.image)
        )
        await swarm.invalidate()
    }

    /// The spec to create or roll the record's service with: `serviceSpec(for:)` with the
    /// image from micado's registry and the application's network, and a digest label of it.
    func serviceSpec(for record: ContainerRecord, pushed: String?) async throws(MicadoError) -> ServiceSpec {
        var spec = serviceSpec(for: record)
        if let pushed { spec.taskTemplate.containerSpec.image = pushed }
        if !Volumes.names(of: record).isEmpty, var mounts = spec.taskTemplate.containerSpec.mounts {
            // The labels the file gives each named volume, beside micado's own.
            let declared = Dictionary(try await store.volumes().map { ($0.name, $0.labels) }, uniquingKeysWith: { a, _ in a })
            for index in mounts.indices {
                guard let source = mounts[index].source, let labels = declared[source], !labels.isEmpty else { continue }
                let ours = mounts[index].volumeOptions?.labels ?? [:]
                mounts[index].volumeOptions?.labels = labels.merging(ours) { _, ours in ours }
            }
            spec.taskTemplate.containerSpec.mounts = mounts
        }
        if let options = record.settings?.options, options.secrets != nil || options.configs != nil {
            spec.taskTemplate.containerSpec.secrets = try await fileReferences(options.secrets, .secret)
            spec.taskTemplate.containerSpec.configs = try await fileReferences(options.configs, .config)
        }
        if let application = record.application, let settings = record.settings {
            // Its networks (the application's default one unless the file names others), on each
            // under its service name and its aliases there.
            var attachments: [ServiceSpec.NetworkAttachment] = []
            for (network, aliases) in (settings.options?.networks ?? ["default": []]).sorted(by: { $0.key < $1.key }) {
                attachments.append(.init(target: try await applicationNetwork(application, network), aliases: [settings.service] + aliases))
            }
            spec.taskTemplate.networks = attachments
            spec.labels?[Label.specDigest] = Self.digest(of: record)
        }
        return spec
    }

    /// The engine's references to a service's secrets or configs, by their objects' names.
    func fileReferences(
        _ mounts: [ContainerOptions.FileMount]?,
        _ kind: SwarmObject.Kind
    ) async throws(MicadoError)
        -> [ServiceSpec.FileReference]?
    {
        guard let mounts, !mounts.isEmpty else { return nil }
        let objects = try await engine.swarmObjects(kind, label: "\(Label.manager)=\(managerID)")
        return try mounts.map { mount throws(MicadoError) in
            guard let name = mount.object, let object = objects.first(where: { $0.spec.name == name }) else {
                throw .notFound(
                    "the \(kind == .secret ? "secret" : "config") \(mount.source) (\(mount.object ?? "unnamed")) is not in the swarm; apply the file again"
                )
            }
            let file = ServiceSpec.FileReference.File(name: mount.target, uid: mount.uid, gid: mount.gid, mode: mount.mode)
            return kind == .secret ? .secret(id: object.id, name: name, file: file) : .config(id: object.id, name: name, file: file)
        }
    }

    /// A digest of what the record asks of its service (replicas aside: they change without a roll).
    static func digest(of record: ContainerRecord) -> String {
        var asked = record
        asked.replicas = 0
        asked.desired = .running
        asked.serviceID = nil
        asked.lastState = .creating
        asked.lastReason = nil
        asked.createdAt = Date(timeIntervalSince1970: 0)
        asked.updatedAt = asked.createdAt
        if var settings = asked.settings {
            // Neither changes what runs: the policy sets replicas, the order is the creation's.
            settings.scaling = nil
            settings.dependsOn = nil
            asked.settings = settings
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        // FNV-1a: a change detector, not a secret.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in (try? encoder.encode(asked)) ?? Data() {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        return String(hash, radix: 16)
    }

    /// The ID of one of the application's overlay networks (its default one, or one its file
    /// declares), made if missing. Its services find each other there by name: DNS round robin (`dnsrr`), since this kernel has no IPVS for VIPs.
    func applicationNetwork(_ application: String, _ network: String = "default") async throws(MicadoError) -> String {
        // `_` is in no application's name: `shop` with `back` never meets an application `shop-back`.
        let name = network == "default" ? "micado-\(application)" : "micado-\(application)_\(network)"
        if let existing = try await engine.networks(label: "\(Label.manager)=\(managerID)").first(where: { $0.name == name }) {
            return existing.id
        }
        do {
            return try await engine.createNetwork(name: name, labels: [Label.manager: managerID, Label.application: application])
        } catch  where error.code == .conflict {
            guard
                let made = try await engine.networks(label: nil).first(where: { $0.name == name && $0.labels?[Label.manager] == managerID })
            else {
                throw .conflict("a network named \(name) exists but was not made by this manager")
            }
            return made.id
        }
    }

    func serviceSpec(for record: ContainerRecord) -> ServiceSpec {
        var labels = [Label.manager: managerID, Label.container: record.name, Label.client: record.client]
        if let application = record.application { labels[Label.application] = application }
        // What the spec cannot say otherwise, so that `micado manager --adopt` can rebuild the record.
        var serviceLabels = labels
        if let domain = record.domain { serviceLabels[Label.domain] = domain }
        if record.tls { serviceLabels[Label.tls] = "true" }
        let bytes = Int64(record.memoryMiB) << 20
        let reservations =
            configuration.docker.reserveGenericMemory
            ? ServiceSpec.Resources.Reservations(genericResources: [
                GenericResource(kind: SchedulerResource.memory, value: Int64(record.memoryMiB))
            ])
            : ServiceSpec.Resources.Reservations(memoryBytes: bytes)
        let settings = record.settings
        var container = ServiceSpec.ContainerSpec(
            image: record.image,
            labels: (settings?.labels ?? [:]).merging(labels) { _, ours in ours },
            env: record.environment.isEmpty ? nil : record.environment.map(\.description)
        )
        if let script = record.script { container.command = [script] }
        if let entrypoint = settings?.entrypoint { container.command = entrypoint }
        if !record.arguments.isEmpty { container.args = record.arguments }
        let limitBytes = settings?.memoryLimitMiB.map { Int64($0) << 20 } ?? bytes
        let options = settings?.options ?? ContainerOptions()
        Self.apply(options, to: &container)
        if let application = record.application, let volumes = options.volumes {
            // Named volumes live on their home node (see `Volumes`); anonymous ones with the task.
            let ours = [Label.manager: managerID, Label.application: application]
            let mounts = volumes.map { volume in
                ServiceSpec.Mount(
                    volume: volume.source.map { ApplicationSpec.volumeName(application: application, volume: $0) },
                    target: volume.target,
                    readOnly: volume.readOnly,
                    noCopy: volume.noCopy,
                    labels: volume.source == nil ? nil : ours
                )
            }
            container.mounts = (container.mounts ?? []) + mounts
        }
        var template = ServiceSpec.TaskTemplate(
            containerSpec: container,
            resources: .init(
                limits: .init(memoryBytes: limitBytes, nanoCPUs: settings?.cpuLimit.map { Int64($0 * 1e9) }),
                reservations: reservations
            ),
            placement: placement(for: record),
            restartPolicy: .init(condition: "any")
        )
        if let restart = options.restart {
            template.restartPolicy = .init(
                condition: restart.condition.rawValue,
                maxAttempts: restart.maxAttempts,
                delay: restart.delaySeconds.map { Int64($0 * 1e9) },
                window: restart.windowSeconds.map { Int64($0 * 1e9) }
            )
        }
        if let logging = options.logging {
            template.logDriver = .init(name: logging.driver, options: logging.options.isEmpty ? nil : logging.options)
        }
        // The service's own labels (deploy.labels); micado's win.
        for (key, value) in options.serviceLabels ?? [:] where serviceLabels[key] == nil { serviceLabels[key] = value }
        let published = settings?.ports ?? record.port.map { [$0] } ?? []
        let ports = published.map { ServiceSpec.EndpointSpec.Port(targetPort: $0.target, publishedPort: $0.published) }
        var spec = ServiceSpec(
            name: record.name,
            labels: serviceLabels,
            taskTemplate: template,
            mode: .init(replicas: record.wantedReplicas),
            endpointSpec: ports.isEmpty ? nil : .init(ports: ports)
        )
        if let settings {
            // Applications' services are found by name on their network: no VIP without IPVS.
            spec.endpointSpec = .init(mode: "dnsrr", ports: ports.isEmpty ? nil : ports)
            let update = settings.update ?? UpdatePolicy()
            spec.updateConfig = .init(
                parallelism: update.parallelism,
                delay: Int64(update.delaySeconds * 1e9),
                failureAction: update.failureAction.rawValue,
                monitor: Int64(update.monitorSeconds * 1e9),
                maxFailureRatio: update.maxFailureRatio,
                order: update.order.rawValue
            )
            spec.rollbackConfig = .init(
                parallelism: update.parallelism,
                delay: Int64(update.delaySeconds * 1e9),
                failureAction: "pause",
                monitor: Int64(update.monitorSeconds * 1e9),
                maxFailureRatio: update.maxFailureRatio,
                order: update.order.rawValue
            )
        }
        return spec
    }

    /// A Compose service's container options, as the engine's container spec says them.
    static func apply(_ options: ContainerOptions, to container: inout ServiceSpec.ContainerSpec) {
        func nanoseconds(_ seconds: Double?) -> Int64? { seconds.map { Int64($0 * 1e9) } }
        container.hostname = options.hostname
        container.user = options.user
        container.groups = options.groups
        container.dir = options.workingDirectory
        container.stopSignal = options.stopSignal
        container.stopGracePeriod = nanoseconds(options.stopGracePeriodSeconds)
        container.capabilityAdd = options.capabilityAdd
        container.capabilityDrop = options.capabilityDrop
        container.sysctls = options.sysctls
        container.ulimits = options.ulimits?.map { .init(name: $0.name, soft: $0.soft, hard: $0.hard) }
        container.initProcess = options.initProcess
        container.tty = options.tty
        container.openStdin = options.openStdin
        container.readOnly = options.readOnly
        container.hosts = options.hosts
        if options.nameservers != nil || options.dnsSearch != nil || options.dnsOptions != nil {
            container.dnsConfig = .init(nameservers: options.nameservers, search: options.dnsSearch, options: options.dnsOptions)
        }
        if let check = options.healthcheck {
            container.healthCheck = .init(
                test: check.test,
                interval: nanoseconds(check.intervalSeconds),
                timeout: nanoseconds(check.timeoutSeconds),
                retries: check.retries,
                startPeriod: nanoseconds(check.startPeriodSeconds)
            )
        }
        container.mounts = options.tmpfs?.map { .init(tmpfs: $0.target, sizeBytes: $0.sizeBytes, mode: $0.mode) }
    }

    /// Whether what a record's service waits for is there (`depends_on`): the services it
    /// depends on exist, and run (`service_healthy`: Swarm says running once the check passes)
    /// or have completed with 0. The reconciler makes a service only then.
    func dependenciesMet(_ record: ContainerRecord) async throws(MicadoError) -> Bool {
        guard let application = record.application, let dependencies = record.settings?.dependsOn else { return true }
        for dependency in dependencies {
            let name = "\(application)_\(dependency.service)"
            guard (try? await engine.service(name)) != nil else { return false }
            let tasks = try await engine.tasks(filters: ["service": [name]])
            switch dependency.condition {
            case .started: continue
            case .healthy:
                guard tasks.contains(where: { $0.status.state == .running && $0.desiredState == .running }) else { return false }
            case .completedSuccessfully:
                guard tasks.contains(where: { $0.status.state == .complete && ($0.status.containerStatus?.exitCode ?? 0) == 0 }) else {
                    return false
                }
            }
        }
        return true
    }

    /// Where a container may run. With clouds, always in a location (the default one unless
    /// `-l`), and on database instances only when a location is asked for.
    func placement(for record: ContainerRecord) -> ServiceSpec.Placement? {
        var constraints: [String] = []
        if clouds.isEmpty {
            if let location = record.location { constraints.append("node.labels.\(Label.location) == \(location)") }
        } else {
            constraints.append("node.labels.\(Label.location) == \(record.location ?? defaultLocation)")
            if record.location == nil { constraints.append("node.labels.\(Label.purpose) != database") }
        }
        constraints += Volumes.constraints(for: record)
        return constraints.isEmpty ? nil : .init(constraints: constraints)
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
