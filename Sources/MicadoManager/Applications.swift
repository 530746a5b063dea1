import Crypto
import DockerEngine
import Foundation
import MicadoCompose
import MicadoCore
import MicadoStore

/// Applications: `micado apply` of a Compose file, `micado apps`, `micado apps rm`.
///
/// Each service of an application is a container record (`application` set, `replicas`
/// and `settings` from the file) and a Swarm service `APP_SERVICE` on the application's
/// overlay network; so `list -c`, `info`, `logs`, `execute` and `explain` work on them as on
/// launched containers, the reconciler converges them after a crash, and their replicas
/// that do not fit start instances through the scaler like any other task. The store keeps
/// the file and its revision; an apply writes the store in one transaction, then the swarm.
public final class Applications: RecordsEvents, ReadsSwarm {
    /// A service's defaults where its file is silent (`defaults:`: memory, location, how long a launch may take).
    let defaults: ManagerConfiguration.Defaults
    let store: any ApplicationStore & ContainerStore & ImageStore & VolumeStore
    let engine: any EngineAPI
    let managerID: String
    let eventLog: EventLog
    let swarm: SwarmView
    /// Wakes the scaler after an apply (new replicas may need instances).
    let scalerWakeUp: WakeUps
    /// Changes to applications one at a time: applies, removals, and the removal of a removed
    /// application's network (which must not race a new apply of the same name; the reconciler shares it).
    let changes: SerialQueue
    let clouds: CloudSet
    let containers: any ApplicationServices
    let volumes: any VolumeHomes & VolumeUpkeep
    let autoscaler: any PolicyExplanations

    init(
        defaults: ManagerConfiguration.Defaults,
        store: any ApplicationStore & ContainerStore & ImageStore & VolumeStore,
        engine: any EngineAPI,
        managerID: String,
        eventLog: EventLog,
        swarm: SwarmView,
        scalerWakeUp: WakeUps,
        changes: SerialQueue,
        clouds: CloudSet,
        containers: any ApplicationServices,
        volumes: any VolumeHomes & VolumeUpkeep,
        autoscaler: any PolicyExplanations
    ) {
        self.defaults = defaults
        self.store = store
        self.engine = engine
        self.managerID = managerID
        self.eventLog = eventLog
        self.swarm = swarm
        self.scalerWakeUp = scalerWakeUp
        self.changes = changes
        self.clouds = clouds
        self.containers = containers
        self.volumes = volumes
        self.autoscaler = autoscaler
    }

    /// `micado apply`: the plan, and (unless a dry run) its execution.
    public func apply(_ request: ApplyRequest) async throws(MicadoError) -> ApplyPlanView {
        let fileName = request.fileName.map { Text.escaped(String(($0 as NSString).lastPathComponent.prefix(64))) } ?? "compose.yaml"
        let objects = request.objects ?? [:]
        let spec = try await ParsingPool.run { () throws(MicadoError) in
            var spec = try ComposeFile.parse(
                request.file,
                file: fileName,
                name: request.name,
                folder: request.folderName,
                variables: try Self.checkedVariables(request.variables)
            )
            try ComposeFile.applyEnvironmentFiles(&spec, file: fileName) { reference throws(MicadoError) in
                guard let encoded = objects[reference.objectKey] else { return nil }
                guard let data = Data(base64Encoded: encoded), data.count <= EnvironmentFile.maximumBytes,
                    let text = String(data: data, encoding: .utf8)
                else {
                    throw .badRequest(
                        "\(fileName): env_file \(Text.escaped(String(reference.path.prefix(256)))) must be UTF-8 text of at most \(EnvironmentFile.maximumBytes) bytes"
                    )
                }
                return text
            }
            try ComposeFile.applyBuilds(&spec, request.builds ?? [:], file: fileName)
            return spec
        }
        let (plan, waiting) = try await changes.run { () throws(MicadoError) -> (ApplyPlanView, [ContainerRecord]) in
            var spec = spec
            try await self.resolveObjects(&spec, request.objects ?? [:], dryRun: request.dryRun)
            return try await self.apply(spec, file: request.file, fileName: fileName, dryRun: request.dryRun)
        }
        // Services that wait for a dependency's health or completion: after the lock, so that
        // one application's wait never holds another's apply (the reconciler makes them too,
        // once what they wait for is there: an apply cut here is finished in order).
        for record in waiting {
            try await waitForDependencies(of: record)
            try await create(record)
        }
        if !waiting.isEmpty { await swarm.invalidate() }
        return plan
    }

    /// Creates or rolls a stored record's service to match it.
    func create(_ record: ContainerRecord) async throws(MicadoError) {
        try await containers.distributeImage(of: record)
        guard let service = try? await engine.service(record.name) else {
            try await containers.ensureService(record)
            return
        }
        if service.spec.labels?[Label.specDigest] != Containers.digest(of: record) {
            try await containers.roll(record, service: service)
        } else if service.spec.replicas != record.wantedReplicas {
            try await engine.scaleService(service.id, replicas: record.wantedReplicas)
        }
    }

    /// The plan, and the stored records whose services wait for a dependency (made by the caller).
    func apply(
        _ spec: ApplicationSpec,
        file: String,
        fileName: String,
        dryRun: Bool
    ) async throws(MicadoError) -> (ApplyPlanView, [ContainerRecord]) {
        let records = try await store.containers()
        let current = Dictionary(
            records.filter { $0.application == spec.name.rawValue }.map { ($0.name, $0) },
            uniquingKeysWith: { a, _ in a }
        )
        let stored = try await store.application(spec.name.rawValue)
        let (wanted, pulls) = try await validate(
            spec,
            others: records.filter { $0.application != spec.name.rawValue },
            current: current,
            dryRun: dryRun
        )

        var steps: [ApplyPlanView.Step] = []
        var saving: [ContainerRecord] = []
        for record in wanted {
            guard let existing = current[record.name] else {
                steps.append(.init(service: record.name, action: .create))
                saving.append(record)
                continue
            }
            let fields = Self.changedFields(existing, record)
            steps.append(.init(service: record.name, action: fields.isEmpty ? .unchanged : .update, fields: fields))
            if !fields.isEmpty { saving.append(record) }
        }
        let removing = current.keys.filter { name in !wanted.contains { $0.name == name } }.sorted()
        steps += removing.map { .init(service: $0, action: .remove) }
        let changes = steps.contains { $0.action != .unchanged }
        let revision = (stored?.revision ?? 0) + (changes ? 1 : 0)
        var plan = ApplyPlanView(application: spec.name, revision: revision, dryRun: dryRun, steps: steps, warnings: spec.warnings)
        plan.pulls = pulls
        guard !dryRun else { return (plan, []) }
        // An unchanged file touches nothing; a changed comment is kept without a revision.
        guard changes || stored?.file != file else { return (plan, []) }

        let now = self.now
        let application = ApplicationRecord(
            name: spec.name.rawValue,
            file: file,
            fileName: fileName,
            revision: revision,
            createdAt: stored?.createdAt ?? now,
            updatedAt: now
        )
        var events: [EventRecord] = []
        if changes {
            let summary = [ApplyPlanView.Action.create, .update, .remove].compactMap { action -> String? in
                let count = steps.filter { $0.action == action }.count
                return count == 0 ? nil : "\(count) to \(action.rawValue)"
            }.joined(separator: ", ")
            events.append(
                event(
                    .applicationApplied,
                    spec.name.rawValue,
                    "\(spec.name.rawValue) revision \(revision) applied from \(fileName): \(summary)"
                )
            )
            for step in steps {
                guard let kind = step.action.eventKind else { continue }
                let detail = step.fields.isEmpty ? "" : " (\(step.fields.joined(separator: ", ")))"
                events.append(
                    event(
                        kind,
                        step.service,
                        "\(step.service): \(step.action.rawValue)\(detail) by revision \(revision)"
                    )
                )
            }
        }
        let declared = spec.volumes.sorted { $0.key < $1.key }.map {
            VolumeRecord(application: spec.name.rawValue, volume: $0.key, labels: $0.value.labels, createdAt: now)
        }
        try await store.apply(application, saving: saving, removing: removing, declaring: declared, events: events)
        eventLog.log(events)
        CrashPoint.reached(.applyStored)
        if clouds.isEmpty {
            // Without clouds every volume lives on the manager's node (with clouds, the scaler
            // chooses an instance with room on its next pass, which this apply wakes).
            try await volumes.placeHomeless { _, _ throws(MicadoError) in try await self.volumes.managerNode() }
        }

        // The store holds the application now: whatever fails below, the reconciler finishes.
        for name in removing {
            guard let serviceID = current[name]?.serviceID else { continue }
            do { try await engine.removeService(serviceID) } catch  where error.code == .notFound {}
        }
        var waiting: [ContainerRecord] = []
        for (index, record) in saving.enumerated() {
            if index == 1 { CrashPoint.reached(.applyHalfDone) }
            // After one that waits, every later one waits its turn too (the creation order).
            if !waiting.isEmpty || !(record.settings?.dependsOn ?? []).allSatisfy({ $0.condition == .started }) {
                waiting.append(record)
                continue
            }
            try await create(record)
        }
        await swarm.invalidate()
        scalerWakeUp.yield()
        return (plan, waiting)
    }

    /// The records the file asks for, checked against everything else that runs: images,
    /// locations, ports and domains; and the images the nodes will pull. Throws before
    /// anything is stored but the digest of an image to pull.
    func validate(
        _ spec: ApplicationSpec,
        others: [ContainerRecord],
        current: [String: ContainerRecord],
        dryRun: Bool = false
    ) async throws(MicadoError) -> ([ContainerRecord], [ApplyPlanView.Pull]) {
        var pulls: [ApplyPlanView.Pull] = []
        var checkedLocations: Set<String> = []
        var wanted: [ContainerRecord] = []
        let stored = try await store.volumes()
        for definition in spec.services {
            let names = Set((definition.options.volumes ?? []).compactMap(\.source))
            let homes = Dictionary(
                grouping: stored.filter { $0.application == spec.name.rawValue && names.contains($0.volume) && !$0.removing }.filter {
                    $0.nodeID != nil
                },
                by: { $0.nodeID ?? "" }
            )
            if homes.count > 1 {
                throw .conflict(
                    "services.\(definition.name): its volumes live on different instances (\(homes.values.map { $0.map(\.volume).joined(separator: ", ") }.sorted().joined(separator: " and "))); one service cannot run beside both"
                )
            }
        }
        let now = self.now
        for definition in Self.creationOrder(spec.services) {
            let name = "\(spec.name.rawValue)_\(definition.name)"
            guard ContainerName(rawValue: name) != nil else { throw .badRequest("invalid service name \(name)") }
            if let holder = others.first(where: { $0.name == name }) {
                throw .conflict("a container named \(holder.name) already exists outside application \(spec.name.rawValue)")
            }
            if current[name] == nil, let existing = try? await engine.service(name), existing.spec.labels?[Label.manager] != managerID {
                throw .conflict("a service named \(name) exists in the swarm but was not created by this manager")
            }
            // The launch's own checks, each refusal prefixed with the service it is about.
            let image: String
            do throws(MicadoError) {
                // A dry run plans a build the CLI has not made: its tag is the one it would make.
                if dryRun && definition.build != nil {
                    image = definition.image
                } else {
                    let required = try await containers.requireImage(definition.image, dryRun: dryRun)
                    image = required.name
                    if let reference = required.pulled {
                        pulls.append(.init(service: definition.name, image: image, reference: reference))
                    }
                }
                if let location = definition.location {
                    if checkedLocations.insert(location).inserted { try await containers.requireLocation(location) }
                }
                try Containers.requireFree(ports: definition.ports.map(\.published), domain: definition.domain, among: others)
            } catch {
                throw MicadoError(error.code, "services.\(definition.name): \(error.message)")
            }
            let existing = current[name]
            var memory = definition.memoryReservationMiB ?? definition.memoryLimitMiB
            if memory == nil { memory = existing?.memoryMiB }
            if memory == nil { memory = try await store.image(image)?.criticalMemoryMiB }
            var record = ContainerRecord(
                name: name,
                client: spec.name.rawValue,
                image: image,
                desired: .running,
                serviceID: existing?.serviceID,
                location: definition.location,
                script: nil,
                domain: definition.domain,
                arguments: definition.command ?? [],
                environment: definition.environment,
                port: definition.ports.first,
                memoryMiB: memory ?? defaults.memoryMiB,
                lastState: existing?.lastState ?? .creating,
                lastReason: existing?.lastReason,
                createdAt: existing?.createdAt ?? now,
                updatedAt: now
            )
            record.tls = definition.tls
            record.application = spec.name.rawValue
            var settings = ServiceSettings(service: definition.name)
            settings.entrypoint = definition.entrypoint
            settings.ports = definition.ports
            settings.memoryLimitMiB = definition.memoryLimitMiB
            settings.cpuLimit = definition.cpuLimit
            settings.labels = definition.labels
            settings.update = definition.update
            settings.scaling = definition.scaling
            settings.options = definition.options.isEmpty ? nil : definition.options
            settings.dependsOn = definition.dependsOn.isEmpty ? nil : definition.dependsOn
            record.settings = settings
            if let scaling = definition.scaling {
                // The policy owns the count: a re-apply keeps what it chose, within the new bounds.
                let chosen = existing?.replicas ?? definition.replicas ?? scaling.min
                record.replicas = min(scaling.max, max(scaling.min, chosen))
            } else {
                record.replicas = definition.replicas ?? 1
            }
            wanted.append(record)
        }
        try requireRoomForVolumes(of: wanted, homed: Set(stored.filter { $0.nodeID != nil && !$0.removing }.map(\.name)))
        return (wanted, pulls)
    }

    /// Services that share named volumes run on one instance, all their replicas together:
    /// with a cloud, a group whose replicas need more memory than the largest flavour of its
    /// location could never be placed, and waiting for it would be silent. Refused with the
    /// figures. A group with a home already is left to wait there and be explained.
    func requireRoomForVolumes(of wanted: [ContainerRecord], homed: Set<String>) throws(MicadoError) {
        var groups: [[ContainerRecord]] = []
        var volumesOf: [Set<String>] = []
        for record in wanted {
            let names = Set(Volumes.names(of: record))
            guard !names.isEmpty else { continue }
            let joined = volumesOf.indices.filter { !volumesOf[$0].isDisjoint(with: names) }
            var group = [record]
            var volumes = names
            for index in joined.reversed() {
                group += groups.remove(at: index)
                volumes.formUnion(volumesOf.remove(at: index))
            }
            groups.append(group)
            volumesOf.append(volumes)
        }
        for (group, volumes) in zip(groups, volumesOf) where volumes.isDisjoint(with: homed) {
            let location = group.compactMap(\.location).first ?? clouds.defaultLocation(configured: defaults.location)
            guard let cloud = clouds.cloud(forLocation: location),
                let largest = cloud.flavours.max(by: { $0.memoryMiB < $1.memoryMiB })
            else { continue }
            let need = group.reduce(0) { $0 + $1.memoryMiB * max(1, $1.replicas) }
            guard need > largest.memoryMiB else { continue }
            let services = group.map { "services.\($0.settings?.service ?? $0.name)" }.sorted().joined(separator: ", ")
            throw .badRequest(
                "\(services): \(group.count == 1 ? "its volumes live" : "they share volumes, which live") on one instance with all \(group.count == 1 ? "its" : "their") replicas, which reserve \(need) MiB; the largest flavour of location \(location) (\(largest.name)) has \(largest.memoryMiB) MiB. Reserve less memory, run fewer replicas, or add a larger flavour"
            )
        }
    }

    /// What differs between what runs and what the file asks for, in the file's words.
    static func changedFields(_ old: ContainerRecord, _ new: ContainerRecord) -> [String] {
        var fields: [String] = []
        func check(_ name: String, _ same: Bool) { if !same { fields.append(name) } }
        let a = old.settings
        let b = new.settings
        check("image", old.image == new.image)
        check("command", old.arguments == new.arguments)
        check("entrypoint", a?.entrypoint == b?.entrypoint)
        check("environment", old.environment == new.environment)
        check("ports", a?.ports == b?.ports)
        check("replicas", old.replicas == new.replicas)
        check("memory", old.memoryMiB == new.memoryMiB && a?.memoryLimitMiB == b?.memoryLimitMiB)
        check("cpus", a?.cpuLimit == b?.cpuLimit)
        check("placement", old.location == new.location)
        check("update_config", a?.update == b?.update)
        check("labels", a?.labels == b?.labels)
        check("domain", old.domain == new.domain && old.tls == new.tls)
        check("scaling", a?.scaling == b?.scaling)
        fields += (a?.options ?? ContainerOptions()).changedKeys(to: b?.options ?? ContainerOptions())
        check("depends_on", a?.dependsOn == b?.dependsOn)
        return fields
    }

    /// Gives each secret and config a service mounts its Swarm object: the application's one
    /// that holds the same content (by the digest on its label), else a new one with a name of
    /// its own (made now; on a dry run only called new, so the plan shows the roll). A changed
    /// content is a new object, and rolls exactly the services that mount it.
    func resolveObjects(_ spec: inout ApplicationSpec, _ objects: [String: String], dryRun: Bool) async throws(MicadoError) {
        for kind in FileMountKind.allCases {
            let engineKind: SwarmObject.Kind = kind == .secrets ? .secret : .config
            let sources = kind == .secrets ? spec.secrets : spec.configs
            guard spec.services.contains(where: { !((kind == .secrets ? $0.options.secrets : $0.options.configs) ?? []).isEmpty }) else {
                continue
            }
            let existing = try await engine.swarmObjects(engineKind, label: "\(Label.application)=\(spec.name.rawValue)").filter {
                $0.spec.labels?[Label.manager] == managerID
            }
            var chosen: [String: String] = [:]
            for index in spec.services.indices {
                var mounts = (kind == .secrets ? spec.services[index].options.secrets : spec.services[index].options.configs) ?? []
                for m in mounts.indices {
                    let source = mounts[m].source
                    if let name = chosen[source] {
                        mounts[m].object = name
                        continue
                    }
                    let content: [UInt8]
                    if case .content(let text) = sources[source] {
                        content = Array(text.utf8)
                    } else if let encoded = objects[ApplicationSpec.objectKey(kind, source)], let data = Data(base64Encoded: encoded) {
                        content = Array(data)
                    } else {
                        throw .badRequest(
                            "\(kind.rawValue).\(source): no content came with the apply (the CLI reads it from the file or variable the Compose file names)"
                        )
                    }
                    guard content.count <= ApplyRequest.maximumObjectBytes else {
                        throw .init(.tooLarge, "\(kind.rawValue).\(source) is over \(ApplyRequest.maximumObjectBytes) bytes, Swarm's bound")
                    }
                    let digest = SHA256.hash(data: content).map { String(format: "%02x", $0) }.joined()
                    let name: String
                    if let same = existing.first(where: {
                        $0.spec.labels?[Label.object] == source && $0.spec.labels?[Label.contentDigest] == digest
                    }) {
                        name = same.spec.name
                    } else if dryRun {
                        name = "new"
                    } else {
                        name = "micado-" + (0..<2).map { _ in String(UInt64.random(in: 0...UInt64.max), radix: 16) }.joined()
                        _ = try await engine.createSwarmObject(
                            engineKind,
                            name: name,
                            data: content,
                            labels: [
                                Label.manager: managerID, Label.application: spec.name.rawValue, Label.object: source,
                                Label.contentDigest: digest,
                            ]
                        )
                    }
                    chosen[source] = name
                    mounts[m].object = name
                }
                if kind == .secrets {
                    spec.services[index].options.secrets = mounts.isEmpty ? nil : mounts
                } else {
                    spec.services[index].options.configs = mounts.isEmpty ? nil : mounts
                }
            }
        }
    }

    /// Waits, before a service is created or rolled, for what its `depends_on` conditions ask
    /// of the services it depends on (created before it): `service_healthy`, a task running,
    /// which Swarm says only once its health check passes; `service_completed_successfully`,
    /// a task that exited 0. Throws, naming both services, when that does not come within
    /// the launch timeout; the store already holds the application, so nothing is half-stored.
    func waitForDependencies(of record: ContainerRecord) async throws(MicadoError) {
        guard let application = record.application else { return }
        for dependency in record.settings?.dependsOn ?? [] where dependency.condition != .started {
            let name = "\(application)_\(dependency.service)"
            switch dependency.condition {
            case .started:
                continue
            case .healthy:
                do { _ = try await containers.waitUntilRunning(name) } catch {
                    throw .init(
                        error.code,
                        "\(record.name) waits for \(name) to be healthy (depends_on: service_healthy): \(error.message)"
                    )
                }
            case .completedSuccessfully:
                let deadline = ContinuousClock.now + .seconds(defaults.launchTimeoutSeconds)
                while true {
                    let tasks = try await engine.tasks(filters: ["service": [name]])
                    if tasks.contains(where: { $0.status.state == .complete && ($0.status.containerStatus?.exitCode ?? 0) == 0 }) { break }
                    if let failed = tasks.first(where: { [.failed, .rejected].contains($0.status.state) }),
                        ContinuousClock.now >= deadline
                    {
                        throw .init(
                            .timeout,
                            "\(record.name) waits for \(name) to complete successfully (depends_on: service_completed_successfully): its task \(failed.status.state): \(failed.status.err ?? failed.status.message ?? "")"
                        )
                    }
                    if ContinuousClock.now >= deadline {
                        throw .init(
                            .timeout,
                            "\(record.name) waits for \(name) to complete successfully (depends_on: service_completed_successfully): it has not after \(defaults.launchTimeoutSeconds) s"
                        )
                    }
                    try? await Task.sleep(for: .milliseconds(250))
                }
            }
        }
    }

    /// The services in the order they are created: each after those it depends on (the file
    /// has no cycle: the parser refuses one), by name otherwise.
    static func creationOrder(_ services: [ServiceDefinition]) -> [ServiceDefinition] {
        var placed = Set<String>()
        var order: [ServiceDefinition] = []
        var rest = services.sorted { $0.name < $1.name }
        while !rest.isEmpty {
            guard let next = rest.firstIndex(where: { $0.dependsOn.allSatisfy { placed.contains($0.service) } }) else {
                return order + rest
            }
            placed.insert(rest[next].name)
            order.append(rest.remove(at: next))
        }
        return order
    }

    /// The variables an apply sends: names as Compose writes them, 256 KiB of values at most.
    static func checkedVariables(_ variables: [String: String]?) throws(MicadoError) -> [String: String] {
        guard let variables else { return [:] }
        guard variables.count <= 1000 else { throw .badRequest("variables: \(variables.count) entries; at most 1000") }
        let bytes = variables.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count }
        guard bytes <= ApplyRequest.maximumFileBytes else {
            throw .init(.tooLarge, "variables: \(bytes) bytes; at most \(ApplyRequest.maximumFileBytes)")
        }
        for key in variables.keys where !ComposeInterpolation.isName(key) {
            throw .badRequest("variables: '\(Text.escaped(String(key.prefix(64))))' is not a variable name")
        }
        return variables
    }

    /// `micado apps`.
    public func list() async throws(MicadoError) -> [ApplicationView] {
        let applications = try await store.applications()
        guard !applications.isEmpty else { return [] }
        let records = try await store.containers().filter { $0.application != nil }
        let snapshot = try await snapshot(maxAge: .milliseconds(500))
        var views: [ApplicationView] = []
        for application in applications {
            var services: [ApplicationView.Service] = []
            for record in records where record.application == application.name {
                let view = containers.view(of: record, in: snapshot)
                services.append(
                    .init(
                        name: record.name,
                        image: record.image,
                        desiredReplicas: record.wantedReplicas,
                        runningReplicas: view.runningReplicas ?? 0,
                        memoryMiB: record.memoryMiB,
                        domain: record.domain,
                        policy: await autoscaler.policyState(of: record)
                    )
                )
            }
            views.append(
                .init(
                    name: ApplicationName(stored: application.name),
                    revision: application.revision,
                    services: services,
                    updatedAt: application.updatedAt
                )
            )
        }
        return views
    }

    /// `micado apps rm`: the application, its services and their routes; its network follows
    /// once its tasks are gone (the reconciler). Its named volumes stay, with their data, for
    /// the next apply of it, unless `withVolumes`: then they go once their tasks have stopped
    /// (waited for here up to `volumeWait`, then by the reconciler).
    @discardableResult
    public func remove(
        _ name: String,
        withVolumes: Bool = false,
        volumeWait: Duration = .seconds(30)
    ) async throws(MicadoError)
        -> ApplicationRemovalView
    {
        let asked = try await changes.run { () throws(MicadoError) -> [String] in
            guard try await self.store.application(name) != nil else {
                // Volumes an earlier `apps rm` kept (or a crash left marked): --volumes removes them still.
                if withVolumes, try await self.store.volumes().contains(where: { $0.application == name }) {
                    _ = try await self.volumes.requestRemoval(of: name)
                    return try await self.store.volumes().filter { $0.application == name && $0.removing }.map(\.name)
                }
                throw .notFound("no application named \(Text.escaped(String(name.prefix(64)))); see 'micado apps'")
            }
            let services = try await self.store.containers().filter { $0.application == name }
            try await self.store.deleteApplication(
                name,
                removingVolumes: withVolumes,
                event: self.event(.applicationRemoved, name, "\(name) removed with \(services.count) service(s)")
            )
            let asked = withVolumes ? try await self.store.volumes().filter { $0.application == name && $0.removing }.map(\.name) : []
            for service in services {
                guard let serviceID = service.serviceID else { continue }
                do throws(MicadoError) { try await self.engine.removeService(serviceID) } catch  where error.code == .notFound {}
            }
            await self.swarm.invalidate()
            self.scalerWakeUp.yield()
            return asked
        }
        var waiting = asked
        let deadline = ContinuousClock.now + volumeWait
        var delay = Duration.milliseconds(100)
        while !waiting.isEmpty && ContinuousClock.now < deadline {
            let still = Set(try await changes.run { () throws(MicadoError) in await self.volumes.removeRequested() })
            waiting = waiting.filter(still.contains)
            if waiting.isEmpty { break }
            try? await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(1))
        }
        // Removed: no longer stored. One an apply of the application took back is neither.
        let stored = try await store.volumes()
        let gone = asked.filter { name in !stored.contains { $0.name == name } }
        let pending = asked.filter { name in stored.contains { $0.name == name && $0.removing } }
        return .init(application: ApplicationName(stored: name), removedVolumes: gone, pendingVolumes: pending)
    }
}

extension ApplyPlanView.Action {
    /// The event of an apply's step on a service; none for a service left as it is.
    var eventKind: EventKind? {
        switch self {
        case .create: .serviceCreate
        case .update: .serviceUpdate
        case .remove: .serviceRemove
        case .unchanged: nil
        }
    }
}
