import DockerEngine
import Foundation
import MicadoClouds
import MicadoCore
import MicadoStore

// The store must know every micado service of the swarm before the manager acts on it.
extension Orchestrator {
    /// Services labelled as micado's by another manager id: what a deleted or replaced
    /// store left behind (a new store has a new id), or a second manager's.
    ///
    /// Ours without a record are unknown too, unless the store removed them (a crash in
    /// `remove`): an older store restored from a backup must not remove what came after it.
    func foreignServices() async throws(MicadoError) -> [SwarmService] {
        guard try await engine.info().swarm.controlAvailable == true else { return [] }  // no swarm yet: nothing to know
        let known = Set(try await store.containers().map(\.name))
        var unknown: [SwarmService] = []
        for service in try await engine.services(label: Label.manager) {
            if service.spec.labels?[Label.manager] == managerID {
                guard !known.contains(service.spec.name), !(try await store.removed(Store.Tombstone.container, service.spec.name)) else {
                    continue
                }
            }
            unknown.append(service)
        }
        return unknown
    }

    /// Cloud instances tagged as ours, or as a manager whose services the swarm still runs
    /// (a replaced store's: `owners`), that the store neither knows nor removed.
    func unknownInstances(owners: Set<String>) async throws(MicadoError) -> [Instances.StrayInstance] {
        let known = try await instances.ownerIDs()
        return try await instances.strayInstances(failOnUnlistable: true, owners: owners.union(known)).filter { !$0.removed }
    }

    /// Refuses to start beside micado services this store does not know (the reconciler
    /// would otherwise remove them as orphans, or leave them unmanaged), unless `adopt`:
    /// then each becomes a container record of this manager, rebuilt from its spec, and
    /// is relabelled as ours without restarting its task.
    public func checkForeignServices(adopt: Bool) async throws(MicadoError) {
        let foreign = try await foreignServices()
        // The managers those services name were this deployment's before its store was replaced: their instances are ours too.
        let previous = Set(foreign.compactMap { $0.spec.labels?[Label.manager] }).subtracting([managerID])
        let instances = try await unknownInstances(owners: previous)
        guard !foreign.isEmpty || !instances.isEmpty else { return }
        guard adopt else {
            var what: [String] = []
            if !foreign.isEmpty {
                let owners = Set(foreign.compactMap { $0.spec.labels?[Label.manager] }).sorted()
                what.append(
                    "the swarm runs \(foreign.count) micado service(s) (\(foreign.prefix(3).map(\.spec.name).joined(separator: ", "))) of manager \(owners.joined(separator: ", "))"
                )
            }
            if !instances.isEmpty {
                what.append(
                    "the clouds run \(instances.count) instance(s) of this manager (\(instances.prefix(3).map(\.description).joined(separator: ", ")))"
                )
            }
            throw .init(
                .conflict,
                what.joined(separator: " and ")
                    + " that this store (manager \(managerID)) does not know: was the store deleted, replaced or restored from an older backup? Restore a newer one (see the README), or start with 'micado manager --adopt' to take the services over (unknown instances are then deleted; their containers move)"
            )
        }
        if !previous.isEmpty {
            // The sweep looks for their instances from now on.
            let known = try await self.instances.ownerIDs().subtracting([managerID])
            try await store.setSetting(Instances.adoptedManagersKey, known.union(previous).sorted().joined(separator: ","))
        }
        for stray in instances {
            try await store.bury(Store.Tombstone.instance, stray.id.rawValue)
            await note(.instanceAdopt, stray.id.rawValue, "\(stray) is unknown to this store; --adopt deletes it")
        }
        for service in foreign {
            let record = try Self.record(adopting: service, defaultMemoryMiB: configuration.defaults.memoryMiB)
            if try await store.container(record.name) == nil {
                try await store.insertContainer(
                    record,
                    event: event(
                        .containerAdopted,
                        record.name,
                        "adopted service \(service.spec.name) of manager \(service.spec.labels?[Label.manager] ?? "?")"
                    )
                )
            }
            try await engine.labelService(service.id, [Label.manager: managerID])
        }
    }

    /// A container record rebuilt from a service micado created.
    static func record(adopting service: SwarmService, defaultMemoryMiB: Int) throws(MicadoError) -> ContainerRecord {
        let spec = service.spec
        guard ContainerName(rawValue: spec.name) != nil else {
            throw .init(
                .conflict,
                "service \(Text.escaped(spec.name)) is labelled as micado's but its name is not a micado container name; remove it by hand"
            )
        }
        let container = spec.taskTemplate.containerSpec
        let environment = (container.env ?? []).compactMap { try? EnvironmentVariable.parse($0) }
        let location = spec.taskTemplate.placement?.constraints?.lazy.compactMap { constraint -> String? in
            let prefix = "node.labels.\(Label.location) == "
            return constraint.hasPrefix(prefix) ? String(constraint.dropFirst(prefix.count)) : nil
        }.first
        let memory = spec.taskTemplate.resources?.limits?.memoryBytes.map { Int($0 >> 20) } ?? defaultMemoryMiB
        let port = spec.endpointSpec?.ports?.first.flatMap { p in p.publishedPort.map { PortMapping(published: $0, target: p.targetPort) } }
        let now = Date()
        var record = ContainerRecord(
            name: spec.name,
            client: spec.labels?[Label.client] ?? "adopted",
            image: container.image,
            desired: spec.replicas == 0 ? .stopped : .running,
            serviceID: service.id,
            location: location,
            script: container.command?.first,
            domain: spec.labels?[Label.domain],
            arguments: container.args ?? [],
            environment: environment,
            port: port,
            memoryMiB: max(6, memory),
            lastState: .pending,
            lastReason: nil,
            createdAt: now,
            updatedAt: now
        )
        record.tls = spec.labels?[Label.tls] == "true"
        return record
    }
}
