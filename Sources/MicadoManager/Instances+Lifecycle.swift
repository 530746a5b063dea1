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
extension Instances {
    /// Starts an instance and returns its record (booting). `reason` goes into the event.
    public func startInstance(
        _ request: StartInstanceRequest,
        location requested: String? = nil,
        reason: String
    ) async throws(MicadoError) -> InstanceRecord {
        guard !clouds.isEmpty else {
            await note(.instanceStartRefused, request.tag, "start on cloud \(request.cloud) refused: no cloud configured")
            throw .init(
                .noCloud,
                "no cloud configured: cannot start an instance on '\(request.cloud)'. Describe your clouds in clouds.yaml in the micado home"
            )
        }
        guard let cloud = clouds.cloud(named: request.cloud), let driver = clouds.drivers[cloud.name] else {
            throw .notFound("no cloud named '\(request.cloud)' (clouds: \(clouds.configurations.map(\.name).joined(separator: ", ")))")
        }
        guard let flavour = cloud.flavour(named: request.flavour) else {
            throw .badRequest(
                "cloud \(cloud.name) has no flavour '\(request.flavour)' (flavours: \(cloud.flavours.map(\.name).joined(separator: ", ")))"
            )
        }
        guard let machineImage = cloud.applications.first(where: { $0.key.lowercased() == request.application.lowercased() })?.value else {
            throw .badRequest(
                "cloud \(cloud.name) has no application '\(request.application)' (applications: \(cloud.applications.keys.sorted().joined(separator: ", ")))"
            )
        }
        guard let location = requested ?? cloud.locations.keys.sorted().first, let bound = cloud.locations[location] else {
            throw .badRequest("cloud \(cloud.name) has no location '\(requested ?? "")'")
        }
        let existing = try await store.instances().filter { $0.location == location && !$0.isManager && $0.state != .deleting }
        guard existing.count < bound.max else {
            throw .conflict("location \(location) at its max of \(bound.max) instances")
        }
        let token = (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        let id = InstanceID(token: token)
        let now = self.now
        var record = InstanceRecord(
            id: id,
            hostname: id.rawValue,
            cloud: cloud.name,
            location: location,
            role: .worker,
            state: .creating,
            address: nil,
            createdAt: now,
            updatedAt: now
        )
        record.flavour = flavour.name
        record.memoryMiB = flavour.memoryMiB
        record.pricePerHour = flavour.pricePerHour
        record.tag = request.tag
        record.purpose = request.role
        record.machineImage = machineImage
        record.first = request.first
        record.token = token
        record.reason = reason
        record.stateSince = now
        await creating.begin(id)
        defer { Task { await creating.end(id) } }
        try await store.insertInstance(
            record,
            event: event(.instanceCreate, id, "starting \(flavour.name) on \(cloud.name) in \(location) (tag \(request.tag)): \(reason)")
        )
        let create = try createRequest(for: record, flavour: flavour, machineImage: machineImage)
        CrashPoint.reached(.beforeCreate)
        let instance: CloudInstance
        do {
            // One call: drivers retry what is transient themselves, within a bounded time (EC2API: 4 attempts of 15 s).
            instance = try await driver.create(create)
            CrashPoint.reached(.afterCreate)
        } catch {
            try await store.deleteInstance(
                id,
                event: event(.instanceCreateFailed, id, "\(cloud.name) refused \(flavour.name): \(error)")
            )
            throw MicadoError(error.kind.code, "\(cloud.name) could not start \(flavour.name): \(error.message)")
        }
        try await refuseIfUnusable(instance, for: record, driver: driver)
        let (booting, transition) = InstanceLifecycle.created(record, instance, resumed: false)
        record = booting
        record.state = transition.state
        record.stateSince = now
        record.updatedAt = now
        try await store.updateInstance(record, event: event(transition.event, id, transition.message))
        scalerWakeUp.yield()
        return record
    }

    /// What the cloud gets for an instance: the record's token (so a retry finds the same
    /// instance) and the user data it boots with.
    func createRequest(for record: InstanceRecord, flavour: Flavour, machineImage: String) throws(MicadoError) -> CreateInstanceRequest {
        guard let token = record.token else { throw .init(.internal, "instance \(record.id) has no idempotency token") }
        let caCertificate: String
        do { caCertificate = try String(contentsOfFile: clouds.authority.caCertificate, encoding: .utf8) } catch {
            throw .init(
                .configuration,
                "cannot read micado's CA certificate \(clouds.authority.caCertificate): run 'micado init --force' to make it"
            )
        }
        let userData = UserData(
            labels: [Label.location: record.location ?? "", Label.instance: record.id.rawValue, Label.purpose: record.purpose.rawValue],
            capacityMiB: flavour.memoryMiB,
            caCertificatePEM: caCertificate,
            registryAddress: registry?.address,
            pullThroughAddress: registry?.pullThrough?.address
        )
        return CreateInstanceRequest(
            idempotencyToken: token,
            location: record.location ?? "",
            flavour: flavour,
            machineImage: machineImage,
            userData: userData,
            tags: [
                CloudTag.manager: managerID, CloudTag.instance: record.id.rawValue, CloudTag.token: token, CloudTag.tag: record.tag ?? "",
            ]
        )
    }

    /// `micado stop -t TAG`: drains and deletes every instance with the tag.
    public func stopInstances(tag: String) async throws(MicadoError) -> [String] {
        guard !clouds.isEmpty else {
            await note(.instanceStopRefused, tag, "stop of tag \(tag) refused: no cloud configured")
            throw .init(.noCloud, "no cloud configured: no instance has tag '\(tag)'")
        }
        let tagged = try await store.instances().filter { $0.tag == tag && !$0.isManager }
        guard !tagged.isEmpty else { throw .notFound("no instance has tag '\(tag)'") }
        for record in tagged { try await requireNoVolume(on: record, doing: "micado stop -t \(tag)") }
        for var record in tagged where record.state != .draining && record.state != .deleting {
            record.state = .draining
            record.stateSince = now
            record.reason = "micado stop -t \(tag)"
            try await store.updateInstance(
                record,
                event: event(.instanceDraining, record.id, "draining \(record.id): micado stop -t \(tag)")
            )
        }
        scalerWakeUp.yield()
        return tagged.map(\.id.rawValue)
    }

    /// Refuses to drain an instance that holds an application's named volume: its data
    /// would go with it. `apps rm APP --volumes` removes the volume first.
    func requireNoVolume(on record: InstanceRecord, doing what: String) async throws(MicadoError) {
        guard let node = record.nodeID else { return }
        let held = try await store.volumes().filter { $0.nodeID == node }
        guard let first = held.first else { return }
        await note(
            .instanceStopRefused,
            record.id.rawValue,
            "\(what) refused for \(record.id): it holds volume(s) \(held.map(\.name).joined(separator: ", "))"
        )
        throw .conflict(
            "instance \(record.id) holds the volume(s) \(held.map(\.name).joined(separator: ", ")) with their data; 'micado apps rm \(first.application) --volumes' removes them first"
        )
    }

    /// Marks an instance for removal (the scaler's scale-down).
    func drain(_ id: InstanceID, reason: String) async throws(MicadoError) {
        guard var record = try await store.instances().first(where: { $0.id == id }), record.state == .ready else { return }
        try await requireNoVolume(on: record, doing: reason)
        record.state = .draining
        record.stateSince = now
        record.reason = reason
        try await store.updateInstance(record, event: event(.instanceDraining, id, "draining \(id): \(reason)"))
    }

    /// One pass over every cloud instance: moves each a step towards where it should be.
    func convergeInstances(nodes: [Node], runningByNode: [String: Int]) async {
        guard let records = try? await store.instances(), let volumes = try? await store.volumes() else { return }
        // Read once for the pass, not once per instance: a fleet of thousands made it thousands of reads.
        let volumeNodes = Set(volumes.compactMap(\.nodeID))
        // An instance's node is found by the `micado.instance` label its engine boots with
        // (every cloud's boot document sets it), or by the node ID recorded at admission.
        let byID = Dictionary(nodes.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let byInstance = Dictionary(
            nodes.compactMap { node in node.engineLabel(Label.instance).map { (InstanceID($0), node) } },
            uniquingKeysWith: { a, _ in a }
        )
        // Nodes of instances that no record knows any more (deleted, or half-made): gone for good once down.
        let known = Set(records.map(\.id))
        for node in nodes where node.status.state == .down && node.spec.role == .worker {
            guard let instance = node.engineLabel(Label.instance).map({ InstanceID($0) }), !known.contains(instance) else { continue }
            do { try await engine.removeNode(node.id, force: true) } catch { continue }
            await note(.nodeRemoved, instance.rawValue, "removed the swarm node of \(instance): its instance no longer exists")
        }
        // Instances move independently: a slow teardown must not hold up a boot.
        await withTaskGroup(of: Void.self) { group in
            for record in records where !record.isManager {
                let node = record.nodeID.flatMap { byID[$0] } ?? byInstance[record.id]
                let running = record.nodeID.flatMap { runningByNode[$0] } ?? 0
                group.addTask {
                    do { try await self.converge(record, node: node, runningTasks: running, volumeNodes: volumeNodes) } catch {
                        self.logger.warning("instance step failed", metadata: ["instance.id": "\(record.id)", "error": "\(error)"])
                    }
                }
            }
        }
    }

    /// Observes an instance, asks `InstanceLifecycle` for its next step and carries it out.
    func converge(_ record: InstanceRecord, node: Node?, runningTasks: Int, volumeNodes: Set<String>) async throws(MicadoError) {
        var record = record
        guard let cloud = clouds.cloud(named: record.cloud), let driver = clouds.drivers[cloud.name] else { return }
        var seen = InstanceLifecycle.Observation(
            now: now,
            createInFlight: await creating.contains(record.id),
            node: node.map {
                .init(id: $0.id, ready: $0.status.state == .ready, drained: $0.spec.availability == .drain, message: $0.status.message)
            },
            runningTasks: runningTasks
        )
        if let nodeID = record.nodeID, record.state == .down || record.state == .ready {
            seen.holdsVolumes = volumeNodes.contains(nodeID)
        }
        func move(_ transition: InstanceLifecycle.Transition) async throws(MicadoError) {
            // Out of ready (down, draining, deleting): what its engine holds is asked again if it comes back.
            if transition.state != .ready { await copiedImages.forget(record.id) }
            record.state = transition.state
            record.stateSince = now
            record.updatedAt = now
            try await store.updateInstance(record, event: event(transition.event, record.id.rawValue, transition.message))
            if let location = record.location {
                if transition.state == .ready {
                    await bootBackoff.succeeded(location)
                } else if InstanceLifecycle.failedToComeUp.contains(transition.event) {
                    await backOff(location, reason: transition.message)
                }
            }
            if transition.wakeScaler { scalerWakeUp.yield() }
        }
        // At most four rounds: describe or drain, record an address, then the step that follows from it.
        for _ in 0..<4 {
            switch InstanceLifecycle.decide(record, seen, timings: cloud.timings) {
            case .stay:
                return
            case .describe:
                guard await described.due(record.id, every: driver.describeInterval, now: now) else { return }
                (seen.cloud, seen.reported) = try await describe(driver, record)
            case .addressed(let reported):
                let all = try await store.instances()
                let others = all.filter { $0.id != record.id }
                var problem = InstanceLifecycle.addressProblem(
                    reported.address,
                    managerAddress: configuration.docker.advertiseAddress,
                    heldBy: others,
                    machineAddresses: HostAddresses.ipv4()
                )
                if problem == nil,
                    let holder = await addressClaims.claim(
                        reported.address,
                        for: record.id,
                        live: Set(all.filter { $0.state != .deleting }.map(\.id))
                    )
                {
                    problem = "\(reported.address) is \(holder)'s"
                }
                if let problem {
                    return try await move(
                        .init(
                            .deleting,
                            .instanceBadAddress,
                            "\(record.cloud) gave \(record.id) an address micado will not connect to: \(problem); it is deleted"
                        )
                    )
                }
                record.address = reported.address
                record.engineEndpoint = reported.engineEndpoint
                record.updatedAt = now
                try await store.updateInstance(
                    record,
                    event: event(
                        .instanceAddressed,
                        record.id.rawValue,
                        "\(record.id) has address \(reported.address) from \(record.cloud)"
                    )
                )
            case .resumeCreate:
                guard let flavour = cloud.flavour(named: record.flavour ?? "") else {
                    return try await move(
                        .init(
                            .deleting,
                            .instanceAbandoned,
                            "\(record.id): cloud \(cloud.name) no longer offers flavour \(record.flavour ?? "?")"
                        )
                    )
                }
                let request = try createRequest(
                    for: record,
                    flavour: flavour,
                    machineImage: record.machineImage ?? cloud.defaultMachineImage
                )
                let instance: CloudInstance
                do { instance = try await driver.create(request) } catch {
                    return try await move(InstanceLifecycle.createFailed(record, error))
                }
                try await refuseIfUnusable(instance, for: record, driver: driver)
                let (updated, transition) = InstanceLifecycle.created(record, instance, resumed: true)
                record = updated
                return try await move(transition)
            case .join(let then):
                let nodeID = try await joinSwarm(record)
                // The swarm changed under the cached snapshot: the next pass must see the new node.
                await swarm.invalidate()
                let changed = record.nodeID != nodeID
                record.nodeID = nodeID
                if let then { try await move(then) } else if changed { try await store.updateInstance(record, event: nil) }
                // Admitted at a later pass, once the swarm reports the node ready (waiting for it
                // here held up the scaler's pass for every other instance and task, for no gain).
                return
            case .admit(let nodeID, let then):
                try await admit(&record, nodeID: nodeID)
                // The node joined during this pass: a snapshot from before would show it missing (and the instance down).
                await swarm.invalidate()
                return try await move(then)
            case .drainNode(let nodeID):
                guard let node else { return }
                var spec = node.spec
                spec.availability = .drain
                try await engine.updateNode(nodeID, version: node.version, spec: spec)
                seen.node?.drained = true
            case .delete(let nodeID):
                if let nodeID {
                    do { try await engine.removeNode(nodeID, force: true) } catch  where error.code == .notFound {}
                }
                if let cloudID = try await cloudID(of: record, driver) {
                    do { try await driver.delete(cloudID) } catch {
                        await note(.instanceDeleteFailed, record.id.rawValue, "deleting \(record.id) failed, retrying: \(error)")
                        return
                    }
                }
                if let endpoint = try? clouds.endpoint(of: record) { await engines.connector.forget(endpoint) }
                await described.forget(record.id)
                await copiedImages.forget(record.id)
                return try await store.deleteInstance(
                    record.id,
                    event: event(.instanceDeleted, record.id.rawValue, "\(record.id) deleted from \(cloud.name)")
                )
            case .move(let transition):
                return try await move(transition)
            }
        }
    }

    /// A create that answers with an instance another record already holds (a confused or
    /// hostile cloud) is refused: this record goes, and nothing is deleted in the cloud, since
    /// that would delete the other record's instance. One that answers with an address micado
    /// must not connect to (see `InstanceLifecycle.addressProblem`) is refused too, and that
    /// instance, ours, is deleted (else the orphan sweep deletes it: its record is buried).
    func refuseIfUnusable(_ instance: CloudInstance, for record: InstanceRecord, driver: any CloudDriver) async throws(MicadoError) {
        let others = try await store.instances().filter { $0.id != record.id }
        if let holder = others.first(where: { $0.cloudID == instance.id }) {
            let message =
                "\(record.cloud) answered the create of \(record.id) with \(Text.escaped(instance.id)), which is \(holder.id)'s; \(record.id) is dropped"
            try await store.deleteInstance(record.id, event: event(.instanceCreateConflict, record.id, message))
            throw .init(.cloudBadRequest, message)
        }
        // No address yet (a DHCP cloud): checked when a description gives one.
        guard !instance.address.isEmpty,
            let problem = InstanceLifecycle.addressProblem(
                instance.address,
                managerAddress: configuration.docker.advertiseAddress,
                heldBy: others,
                machineAddresses: HostAddresses.ipv4()
            )
        else { return }
        let message =
            "\(record.cloud) gave \(record.id) (\(Text.escaped(instance.id))) an address micado will not connect to: \(problem); it is deleted"
        try await store.deleteInstance(record.id, event: event(.instanceBadAddress, record.id, message))
        do { try await driver.delete(instance.id) } catch {
            await note(.instanceDeleteFailed, record.id.rawValue, "deleting \(record.id) failed, the orphan sweep retries: \(error)")
        }
        throw .init(.cloudBadRequest, message)
    }

    /// The cloud's ID of an instance: recorded from the create call's answer, or, when a
    /// crash came before the answer was stored, found by the token tag the call carried.
    func cloudID(of record: InstanceRecord, _ driver: any CloudDriver) async throws(MicadoError) -> String? {
        if let cloudID = record.cloudID { return cloudID }
        guard let token = record.token else { return nil }
        do { return try await driver.find(token: token)?.id } catch {
            throw .init(error.kind.code, "finding \(record.id) in \(record.cloud): \(error.message)")
        }
    }

    /// Joins a booted instance's engine to the swarm through its API (mutual TLS): the worker
    /// token goes from the manager to the engine only, never through user data or a command
    /// line. Idempotent: an engine already in a swarm (or joining one) is left as it is.
    /// Returns the node ID the engine has in the swarm once it joined (nil while joining).
    func joinSwarm(_ record: InstanceRecord) async throws(MicadoError) -> String? {
        guard let address = record.address else { throw .init(.internal, "\(record.id) is booting without an address") }
        let instanceEngine = try await engines.engine(of: record)
        let swarm = try await instanceEngine.info().swarm
        guard swarm.localNodeState == .inactive || swarm.localNodeState == .error else {
            return swarm.nodeID.isEmpty ? nil : swarm.nodeID
        }
        if swarm.localNodeState == .error { try await instanceEngine.leaveSwarm(force: true) }  // a failed join, tried again
        let joinTokens = try await engine.swarm().joinTokens
        try await instanceEngine.joinSwarm(
            remoteAddress: "\(configuration.docker.advertiseAddress):2377",
            token: joinTokens.worker,
            advertiseAddress: address,
            listenAddress: "\(address):2377"
        )
        let joined = try await instanceEngine.info().swarm.nodeID
        return joined.isEmpty ? nil : joined
    }

    func describe(
        _ driver: any CloudDriver,
        _ record: InstanceRecord
    ) async throws(MicadoError) -> (InstanceLifecycle.CloudView, InstanceLifecycle.Reported?) {
        guard let cloudID = try await cloudID(of: record, driver) else { return (.missing, nil) }
        do {
            guard let instance = try await driver.describe(cloudID) else { return (.missing, nil) }
            let reported =
                instance.address.isEmpty
                ? nil : InstanceLifecycle.Reported(address: instance.address, engineEndpoint: instance.engineEndpoint)
            return (.present(instance.state, detail: instance.detail), reported)
        } catch { throw .init(error.kind.code, "describe \(record.id): \(error.message)") }
    }

    /// A joined node becomes eligible: images of our containers are loaded, then labels set.
    func admit(_ record: inout InstanceRecord, nodeID: String) async throws(MicadoError) {
        let instanceEngine = try await engines.engine(of: record)
        let pushed = Set(try await store.images().filter { $0.reference != nil }.map(\.name))
        let images = Set(try await store.containers().map(\.image)).subtracting(pushed)
        try await copyImages(Array(images), to: instanceEngine)
        let fresh = try await engine.node(nodeID)
        var spec = fresh.spec
        var labels = spec.labels ?? [:]
        labels[Label.location] = record.location
        labels[Label.instance] = record.id.rawValue
        labels[Label.purpose] = record.purpose.rawValue
        spec.labels = labels
        spec.availability = .active
        try await engine.updateNode(fresh.id, version: fresh.version, spec: spec)
        record.nodeID = nodeID
    }

    /// Loads images from the manager's engine into an instance's (until the registry does it).
    func copyImages(_ images: [String], to target: any EngineAPI) async throws(MicadoError) {
        // Those the manager's engine has, with their IDs and sizes (one inspect each).
        let available = await withTaskGroup(of: (String, String, Int64)?.self) { group in
            for image in Set(images) {
                group.addTask { (try? await self.engine.inspectImage(image)).map { (image, $0.id, $0.size ?? 0) } }
            }
            var found: [String: (id: String, size: Int64)] = [:]
            for await item in group { if let (name, id, size) = item { found[name] = (id, size) } }
            return found
        }
        // Missing on the instance, or another image there under the same name (loaded anew here).
        var missing: [String: Int64] = [:]
        for (image, wanted) in available {
            do {
                if try await target.inspectImage(image).id != wanted.id { missing[image] = wanted.size }
            } catch  where error.code == .notFound { missing[image] = wanted.size }
        }
        guard !missing.isEmpty else { return }
        // Through an unlinked file in the spool: an image of any size costs disk, not memory;
        // never so much that the store beside it has no room left.
        try SpooledUpload.requireRoom(for: missing.values.reduce(0, +), in: spool, what: "images for an instance")
        let spooled = try SpooledUpload.unlinked(in: spool, prefix: "images", what: "images for an instance")
        try await engine.saveImages(missing.keys.sorted(), into: spooled.descriptor)
        try await target.loadImages(spooled.body)
    }

    /// Before a launch: the image must be on every ready instance of the location.
    func distributeImage(_ image: String, location: String) async throws(MicadoError) {
        // By the manager's image ID: an image loaded anew under the same name is copied again.
        // An image the manager's engine does not hold (the nodes pull it) has nothing to copy.
        guard let managerImage = try? await engine.inspectImage(image) else { return }
        let key = "\(image)@\(managerImage.id)"
        for record in try await store.instances() where !record.isManager && record.location == location && record.state == .ready {
            guard await !copiedImages.holds(record.id, key) else { continue }
            do {
                let target = try await engines.engine(of: record)
                try await copyImages([image], to: target)
                await copiedImages.insert(record.id, key)
            } catch  where error.isUnreachableEngine {
                // One instance that does not answer (gone, cut off) is the lifecycle's to notice
                // and replace; it must not refuse every launch in its location meanwhile.
                logger.warning(
                    "could not copy an image to an instance",
                    metadata: ["instance.id": "\(record.id)", "image": "\(image)", "error": "\(error)"]
                )
            }
        }
    }

    /// A cloud instance tagged as this manager's that has no record.
    struct StrayInstance: CustomStringConvertible {
        var cloud: String
        var driver: any CloudDriver
        /// micado's ID, from the instance tag (instances made before it existed carry it as the cloud's ID).
        var id: InstanceID
        var cloudID: String
        /// The store deleted its record (a crash in a delete, a create that failed after the cloud made it).
        var removed: Bool
        /// A second instance of a record that holds another (a create repeated on a cloud that ignores idempotency tokens).
        var duplicate = false
        var description: String { id.rawValue == cloudID ? "\(id) on \(cloud)" : "\(id) (\(cloudID) on \(cloud))" }
    }

    /// Every cloud instance of this manager without a record. A cloud that cannot be listed
    /// is skipped, or fails the call when `failOnUnlistable`.
    /// Manager IDs whose instances are this manager's: its own, and those it took over with
    /// `--adopt` (a replaced store's; their instances are deleted as strays).
    func ownerIDs() async throws(MicadoError) -> Set<String> {
        let adopted = try await store.setting(Self.adoptedManagersKey)?.split(separator: ",").map(String.init) ?? []
        return Set([managerID] + adopted)
    }

    static let adoptedManagersKey = "adopted.managers"

    func strayInstances(failOnUnlistable: Bool = false, owners given: Set<String>? = nil) async throws(MicadoError) -> [StrayInstance] {
        let owners: Set<String>
        if let given { owners = given } else { owners = try await ownerIDs() }
        let records = Dictionary(try await store.instances().map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        var strays: [StrayInstance] = []
        for (name, driver) in clouds.drivers.sorted(by: { $0.key < $1.key }) {
            let instances: [CloudInstance]
            do { instances = try await driver.list() } catch {
                if failOnUnlistable { throw .init(error.kind.code, "cannot list the instances of cloud \(name): \(error.message)") }
                continue
            }
            for instance in instances where instance.tags[CloudTag.manager].map(owners.contains) == true {
                let id = InstanceID(instance.tags[CloudTag.instance] ?? instance.id)
                if let record = records[id] {
                    // Its own instance (or, while its create is unanswered, one it may yet claim by its token)…
                    guard let cloudID = record.cloudID, cloudID != instance.id else { continue }
                    // …or a twin, made by a create repeated on a cloud that ignores tokens: ours to delete.
                    strays.append(StrayInstance(cloud: name, driver: driver, id: id, cloudID: instance.id, removed: true, duplicate: true))
                    continue
                }
                let removed = try await store.removed(Store.Tombstone.instance, id.rawValue)
                strays.append(StrayInstance(cloud: name, driver: driver, id: id, cloudID: instance.id, removed: removed))
            }
        }
        return strays
    }

    /// Cloud instances whose record this store deleted are deleted. Ours that the store
    /// never knew (an older store restored) are left alone: the start refuses them (see `--adopt`).
    func deleteOrphanInstances() async {
        guard let strays = try? await strayInstances() else { return }
        // Bounded per sweep, so that a cloud listing thousands of instances tagged as ours (a
        // hostile or broken one) costs a few events and calls, not thousands; the rest wait.
        let unknown = strays.filter { !$0.removed }
        for stray in unknown.prefix(Self.straysPerSweep) {
            await step(.instanceUnknown, stray.id.rawValue) { () throws(MicadoError) in
                throw .conflict(
                    "\(stray) is tagged as this manager's but the store neither knows nor removed it; left running (restart with --adopt to delete it)"
                )
            }
        }
        if unknown.count > Self.straysPerSweep {
            await step(.instanceUnknown, "clouds") { () throws(MicadoError) in
                throw .conflict(
                    "\(unknown.count) instances are tagged as this manager's but unknown to its store; the first \(Self.straysPerSweep) are named in their own events"
                )
            }
        }
        for stray in strays.filter(\.removed).prefix(Self.straysPerSweep) {
            do {
                try await stray.driver.delete(stray.cloudID)
                let why =
                    stray.duplicate
                    ? "a second instance of the record, which holds another" : "no record (a half-made or half-deleted instance)"
                await note(.instanceOrphanDeleted, stray.id.rawValue, "deleted \(stray): \(why)")
            } catch {
                await note(.instanceDeleteFailed, stray.id.rawValue, "deleting orphan \(stray) failed: \(error)")
            }
        }
    }

    /// Stray instances a sweep names or deletes at most.
    static let straysPerSweep = 20
}
