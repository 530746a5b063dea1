import DockerEngine
import Foundation
import Logging
import MicadoClouds
import MicadoCore
import MicadoStore

/// Instances on clouds: started by `micado start` or the scaler, driven through
/// creating → booting → joining → ready, and draining → deleting on the way out.
/// The store records each step before the cloud is asked, so a restarted manager
/// continues where it stopped and deletes what it finds half-made.
extension Orchestrator {
    enum InstanceState {
        static let creating = "creating", booting = "booting", joining = "joining", ready = "ready", down = "down"
        static let draining = "draining", deleting = "deleting"
    }

    /// Starts an instance and returns its record (booting). `reason` goes into the event.
    public func startInstance(_ request: StartInstanceRequest, location requested: String? = nil, reason: String) async throws(MicadoError) -> InstanceRecord {
        guard !clouds.isEmpty else {
            await note("instance.start-refused", request.tag, "start on cloud \(request.cloud) refused: no cloud configured")
            throw .init(.noCloud, "no cloud configured: cannot start an instance on '\(request.cloud)'. Describe your clouds in clouds.yaml in the micado home")
        }
        guard let cloud = clouds.cloud(named: request.cloud), let driver = clouds.drivers[cloud.name] else {
            throw .notFound("no cloud named '\(request.cloud)' (clouds: \(clouds.configurations.map(\.name).joined(separator: ", ")))")
        }
        guard let flavour = cloud.flavour(named: request.flavour) else {
            throw .badRequest("cloud \(cloud.name) has no flavour '\(request.flavour)' (flavours: \(cloud.flavours.map(\.name).joined(separator: ", ")))")
        }
        guard let machineImage = cloud.applications.first(where: { $0.key.lowercased() == request.application.lowercased() })?.value else {
            throw .badRequest(
                "cloud \(cloud.name) has no application '\(request.application)' (applications: \(cloud.applications.keys.sorted().joined(separator: ", ")))")
        }
        let location = requested ?? cloud.locations.keys.sorted().first!
        guard let bound = cloud.locations[location] else { throw .badRequest("cloud \(cloud.name) has no location '\(location)'") }
        let existing = try await store.instances().filter { $0.location == location && $0.role != "manager" && $0.state != InstanceState.deleting }
        guard existing.count < bound.max else {
            throw .conflict("location \(location) at its max of \(bound.max) instances")
        }
        let token = (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        let id = LocalDriver.instanceID(token: token)
        let now = Date()
        var record = InstanceRecord(
            id: id, hostname: id, cloud: cloud.name, location: location, role: "worker", state: InstanceState.creating, address: nil,
            createdAt: now, updatedAt: now)
        record.flavour = flavour.name
        record.memoryMiB = flavour.memoryMiB
        record.pricePerHour = flavour.pricePerHour
        record.tag = request.tag
        record.purpose = request.role.rawValue
        record.first = request.first
        record.token = token
        record.reason = reason
        record.stateSince = now
        await creating.begin(id)
        defer { Task { await creating.end(id) } }
        try await store.insertInstance(
            record, event: event("instance.create", id, "starting \(flavour.name) on \(cloud.name) in \(location) (tag \(request.tag)): \(reason)"))
        let create = createRequest(for: record, flavour: flavour, machineImage: machineImage)
        let instance: CloudInstance
        do {
            instance = try await driver.retrying { () throws(CloudError) in try await driver.create(create) }
        } catch {
            try await store.deleteInstance(id, event: event("instance.create-failed", id, "\(cloud.name) refused \(flavour.name): \(error)"))
            throw MicadoError(.engine, "\(cloud.name) could not start \(flavour.name): \(error.message)").with(cloudKind: error.kind)
        }
        record.address = instance.address
        record.state = InstanceState.booting
        record.stateSince = Date()
        record.updatedAt = Date()
        try await store.updateInstance(record, event: event("instance.booting", id, "\(id) booting at \(instance.address)"))
        scalerWakeUp.yield()
        return record
    }

    /// What the cloud gets for an instance: the record's token (so a retry finds the same
    /// instance) and the user data it boots with.
    func createRequest(for record: InstanceRecord, flavour: Flavour, machineImage: String) -> CreateInstanceRequest {
        let userData = UserData(
            labels: [Label.location: record.location ?? "", Label.instance: record.id, Label.purpose: record.purpose], capacityMiB: flavour.memoryMiB,
            caCertificatePEM: (try? String(contentsOfFile: clouds.authority.caCertificate, encoding: .utf8)) ?? "")
        return CreateInstanceRequest(
            idempotencyToken: record.token ?? "", flavour: flavour, machineImage: machineImage, userData: userData,
            tags: ["micado.manager": managerID, "micado.tag": record.tag ?? ""])
    }

    /// `micado stop -t TAG`: drains and deletes every instance with the tag.
    public func stopInstances(tag: String) async throws(MicadoError) -> [String] {
        guard !clouds.isEmpty else {
            await note("instance.stop-refused", tag, "stop of tag \(tag) refused: no cloud configured")
            throw .init(.noCloud, "no cloud configured: no instance has tag '\(tag)'")
        }
        let tagged = try await store.instances().filter { $0.tag == tag && $0.role != "manager" }
        guard !tagged.isEmpty else { throw .notFound("no instance has tag '\(tag)'") }
        for var record in tagged where record.state != InstanceState.draining && record.state != InstanceState.deleting {
            record.state = InstanceState.draining
            record.stateSince = Date()
            record.reason = "micado stop -t \(tag)"
            try await store.updateInstance(record, event: event("instance.draining", record.id, "draining \(record.id): micado stop -t \(tag)"))
        }
        scalerWakeUp.yield()
        return tagged.map(\.id)
    }

    /// Marks an instance for removal (the scaler's scale-down).
    func drain(_ id: String, reason: String) async throws(MicadoError) {
        guard var record = try await store.instances().first(where: { $0.id == id }), record.state == InstanceState.ready else { return }
        record.state = InstanceState.draining
        record.stateSince = Date()
        record.reason = reason
        try await store.updateInstance(record, event: event("instance.draining", id, "draining \(id): \(reason)"))
    }

    /// One pass over every cloud instance: moves each a step towards where it should be.
    func convergeInstances(nodes: [Node], runningByNode: [String: Int]) async {
        guard let records = try? await store.instances() else { return }
        let byHostname = Dictionary(nodes.map { ($0.description?.hostname ?? $0.id, $0) }, uniquingKeysWith: { a, _ in a })
        // Nodes of instances that no record knows any more (deleted, or half-made): gone for good once down.
        let known = Set(records.map(\.id))
        for node in nodes where node.status.state == "down" && node.spec.role == "worker" {
            guard let hostname = node.description?.hostname, hostname.count == 11, hostname.hasPrefix("i"), !known.contains(hostname) else { continue }
            do { try await engine.removeNode(node.id, force: true) } catch { continue }
            await note("node.removed", hostname, "removed the swarm node of \(hostname): its instance no longer exists")
        }
        // Instances move independently: a slow teardown must not hold up a boot.
        await withTaskGroup(of: Void.self) { group in
            for record in records where record.role != "manager" {
                let node = byHostname[record.id]
                let running = record.nodeID.flatMap { runningByNode[$0] } ?? 0
                group.addTask {
                    do { try await self.converge(record, node: node, runningTasks: running) } catch {
                        self.logger.warning("instance step failed", metadata: ["instance.id": "\(record.id)", "error": "\(error)"])
                    }
                }
            }
        }
    }

    func converge(_ record: InstanceRecord, node: Node?, runningTasks: Int) async throws(MicadoError) {
        var record = record
        guard let cloud = clouds.cloud(named: record.cloud), let driver = clouds.drivers[cloud.name] else { return }
        let now = Date()
        let inState = now.timeIntervalSince(record.stateSince ?? record.createdAt)
        func move(_ state: String, _ kind: String, _ message: String, reason: String? = nil) async throws(MicadoError) {
            record.state = state
            record.stateSince = Date()
            record.updatedAt = Date()
            if let reason { record.reason = reason }
            try await store.updateInstance(record, event: event(kind, record.id, message))
        }
        switch record.state {
        case InstanceState.creating:
            // A crash between the record and the cloud's answer: ask again with the same token.
            if await creating.contains(record.id) { return }
            guard record.token != nil, let flavour = cloud.flavour(named: record.flavour ?? "") else {
                return try await move(InstanceState.deleting, "instance.abandoned", "\(record.id) has no token or flavour; deleting")
            }
            do {
                let instance = try await driver.create(
                    createRequest(for: record, flavour: flavour, machineImage: cloud.applications.values.first ?? "default"))
                record.address = instance.address
                try await move(InstanceState.booting, "instance.booting", "\(record.id) booting at \(instance.address) (create resumed after a restart)")
            } catch {
                try await move(InstanceState.deleting, "instance.create-failed", "\(record.id): \(error)")
            }
        case InstanceState.booting, InstanceState.joining:
            guard let instance = try await describe(driver, record.id) else {
                return try await move(InstanceState.deleting, "instance.lost", "\(record.id) is gone from \(cloud.name) while booting")
            }
            if instance.state == .failed {
                return try await move(InstanceState.deleting, "instance.boot-failed", "\(record.id) failed to boot: \(instance.detail ?? "?")")
            }
            if inState > Double(cloud.timings.bootTimeoutSeconds) {
                return try await move(
                    InstanceState.deleting, "instance.boot-timeout", "\(record.id) not ready after \(cloud.timings.bootTimeoutSeconds) s; deleting and replacing")
            }
            guard instance.state == .running else { return }
            guard let node, node.status.state == "ready" else {
                try await joinSwarm(address: instance.address)
                if record.state == InstanceState.booting { try await move(InstanceState.joining, "instance.joining", "\(record.id) booted; joining the swarm") }
                return
            }
            try await admit(&record, node: node)
            let took = now.timeIntervalSince(record.createdAt)
            try await move(InstanceState.ready, "instance.ready", String(format: "%@ ready at %@ after %.1f s", record.id, record.address ?? "?", took))
            scalerWakeUp.yield()
        case InstanceState.ready:
            if node == nil || node?.status.state != "ready" {
                try await move(InstanceState.down, "instance.down", "\(record.id) is down (\(node?.status.message ?? "node missing")); its tasks move elsewhere")
            }
        case InstanceState.down:
            if let node, node.status.state == "ready" {
                try await move(InstanceState.ready, "instance.ready", "\(record.id) is back")
            } else if inState >= Double(cloud.timings.gracePeriodSeconds) {
                try await move(InstanceState.deleting, "instance.replace", "\(record.id) down for \(Int(inState)) s (grace \(cloud.timings.gracePeriodSeconds) s); deleting it")
                scalerWakeUp.yield()
            }
        case InstanceState.draining:
            if let node, node.spec.availability != "drain" {
                var spec = node.spec
                spec.availability = "drain"
                try await engine.updateNode(node.id, version: node.version, spec: spec)
            }
            if runningTasks == 0 || node == nil || node?.status.state != "ready" {
                try await move(InstanceState.deleting, "instance.drained", "\(record.id) drained")
            } else if inState > Double(cloud.timings.drainTimeoutSeconds) {
                try await move(
                    InstanceState.deleting, "instance.drain-timeout",
                    "drain of \(record.id) did not finish within \(cloud.timings.drainTimeoutSeconds) s (\(runningTasks) task(s) left); deleting it anyway, its tasks are rescheduled")
            }
        case InstanceState.deleting:
            if let nodeID = record.nodeID ?? node?.id {
                do { try await engine.removeNode(nodeID, force: true) } catch where error.code == .notFound {}
            }
            do { try await driver.delete(record.id) } catch {
                await note("instance.delete-failed", record.id, "deleting \(record.id) failed, retrying: \(error)")
                return
            }
            if let address = record.address { await engines.forget(clouds.endpoint(address: address)) }
            try await store.deleteInstance(record.id, event: event("instance.deleted", record.id, "\(record.id) deleted from \(cloud.name)"))
        default:
            return
        }
    }

    /// Joins a booted instance's engine to the swarm through its API (mutual TLS): the worker
    /// token goes from the manager to the engine only, never through user data or a command
    /// line. Idempotent: an engine already in a swarm (or joining one) is left as it is.
    func joinSwarm(address: String) async throws(MicadoError) {
        let instanceEngine = try await engines.client(for: clouds.endpoint(address: address), http: http, logger: logger)
        let state = try await instanceEngine.info().swarm.localNodeState
        guard state == "inactive" || state == "error" else { return }
        if state == "error" { try await instanceEngine.leaveSwarm(force: true) }  // a failed join, tried again
        let swarm = try await engine.swarm()
        try await instanceEngine.joinSwarm(
            remoteAddress: "\(configuration.docker.advertiseAddress):2377", token: swarm.joinTokens.worker, advertiseAddress: address,
            listenAddress: "\(address):2377")
    }

    func describe(_ driver: any CloudDriver, _ id: String) async throws(MicadoError) -> CloudInstance? {
        do { return try await driver.describe(id) } catch { throw .init(.engine, "describe \(id): \(error)") }
    }

    /// A joined node becomes eligible: images of our containers are loaded, then labels set.
    func admit(_ record: inout InstanceRecord, node: Node) async throws(MicadoError) {
        guard let address = record.address else { return }
        let instanceEngine = try await engines.client(for: clouds.endpoint(address: address), http: http, logger: logger)
        let pushed = Set(try await store.images().filter { $0.reference != nil }.map(\.name))
        let images = Set(try await store.containers().map(\.image)).subtracting(pushed)
        try await copyImages(Array(images), to: instanceEngine)
        let fresh = try await engine.node(node.id)
        var spec = fresh.spec
        var labels = spec.labels ?? [:]
        labels[Label.location] = record.location
        labels[Label.instance] = record.id
        labels[Label.purpose] = record.purpose
        spec.labels = labels
        spec.availability = "active"
        try await engine.updateNode(fresh.id, version: fresh.version, spec: spec)
        record.nodeID = node.id
    }

    /// Loads images from the manager's engine into an instance's (until the registry does it).
    func copyImages(_ images: [String], to target: EngineClient) async throws(MicadoError) {
        var missing: [String] = []
        for image in images {
            do { _ = try await target.inspectImage(image) } catch where error.code == .notFound { missing.append(image) }
        }
        let available = await withTaskGroup(of: String?.self) { group in
            for image in missing { group.addTask { (try? await self.engine.inspectImage(image)) != nil ? image : nil } }
            var names: [String] = []
            for await name in group { if let name { names.append(name) } }
            return names
        }
        guard !available.isEmpty else { return }
        try await target.loadImages(try await engine.saveImages(available.sorted()))
    }

    /// Before a launch: the image must be on every ready instance of the location.
    func distributeImage(_ image: String, location: String) async throws(MicadoError) {
        for record in try await store.instances() where record.role != "manager" && record.location == location && record.state == InstanceState.ready {
            guard let address = record.address else { continue }
            let target = try await engines.client(for: clouds.endpoint(address: address), http: http, logger: logger)
            try await copyImages([image], to: target)
        }
    }

    /// Cloud instances whose record this store deleted (a crash in a delete, a create that
    /// failed after the cloud made the instance) are deleted. Ours that the store never
    /// knew (an older store restored) are left alone: the start refuses them (see `--adopt`).
    func deleteOrphanInstances() async {
        guard let records = try? await store.instances() else { return }
        let known = Set(records.map(\.id))
        for (name, driver) in clouds.drivers {
            guard let instances = try? await driver.list() else { continue }
            for instance in instances where !known.contains(instance.id) && instance.tags["micado.manager"] == managerID {
                guard (try? await store.removed(Store.Tombstone.instance, instance.id)) == true else {
                    await step("instance.unknown", instance.id) { () throws(MicadoError) in
                        throw .conflict("\(instance.id) on \(name) is tagged as this manager's but the store neither knows nor removed it; left running (restart with --adopt to delete it)")
                    }
                    continue
                }
                do {
                    try await driver.delete(instance.id)
                    await note("instance.orphan-deleted", instance.id, "deleted \(instance.id) from \(name): no record (a half-made or half-deleted instance)")
                } catch {
                    await note("instance.delete-failed", instance.id, "deleting orphan \(instance.id) failed: \(error)")
                }
            }
        }
    }
}

extension MicadoError {
    /// Carries the cloud's error kind in the code, so callers can try the next flavour on capacity.
    func with(cloudKind kind: CloudError.Kind) -> MicadoError {
        MicadoError(Code(rawValue: "cloud_\(kind.rawValue)"), message)
    }
}
