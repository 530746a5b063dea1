/// What an event is about: one case per kind of thing that happens. The raw values are the
/// stable strings of the wire (`EventView.kind`), the store and `micado events --kind`; a
/// kind is never renamed, and a new one is one case here (and one line in openapi.yaml).
public enum EventKind: String, Codable, Sendable, CaseIterable, Comparable, CustomStringConvertible {
    // Applications (`micado apply`, `apps rm`).
    case applicationApplied = "application.applied"
    case applicationNetworkRemoved = "application.network-removed"
    case applicationRemoved = "application.removed"
    // Containers: launch, run, quit, remove, adoption, reconciling.
    case containerAdopted = "container.adopted"
    case containerCopy = "container.copy"
    case containerCreated = "container.created"
    case containerExecute = "container.execute"
    case containerFailed = "container.failed"
    case containerKilled = "container.killed"
    case containerLaunch = "container.launch"
    case containerMissing = "container.missing"
    case containerObserveFailed = "container.observe-failed"
    case containerOrphanRemoved = "container.orphan-removed"
    case containerQuit = "container.quit"
    case containerReconcileFailed = "container.reconcile-failed"
    case containerRemoved = "container.removed"
    case containerRescaled = "container.rescaled"
    case containerResumed = "container.resumed"
    case containerRolled = "container.rolled"
    case containerRunning = "container.running"
    // Images: builds, the registry's garbage, critical usage.
    case imageBuild = "image.build"
    case imageBuildFailed = "image.build-failed"
    case imageBuildInterrupted = "image.build-interrupted"
    case imageBuilt = "image.built"
    case imageCriticalUsage = "image.critical-usage"
    case imageMirrored = "image.mirrored"
    case imageRemoved = "image.removed"
    // Cloud instances through their lifecycle (see `InstanceLifecycle`).
    case instanceAbandoned = "instance.abandoned"
    case instanceAddressed = "instance.addressed"
    case instanceAdopt = "instance.adopt"
    case instanceBadAddress = "instance.bad-address"
    case instanceBootFailed = "instance.boot-failed"
    case instanceBootTimeout = "instance.boot-timeout"
    case instanceBooting = "instance.booting"
    case instanceCreate = "instance.create"
    case instanceCreateConflict = "instance.create-conflict"
    case instanceCreateFailed = "instance.create-failed"
    case instanceDeleteFailed = "instance.delete-failed"
    case instanceDeleted = "instance.deleted"
    case instanceDown = "instance.down"
    case instanceDrainFailed = "instance.drain-failed"
    case instanceDrainTimeout = "instance.drain-timeout"
    case instanceDrained = "instance.drained"
    case instanceDraining = "instance.draining"
    case instanceJoining = "instance.joining"
    case instanceLost = "instance.lost"
    case instanceOrphanDeleted = "instance.orphan-deleted"
    case instanceReady = "instance.ready"
    case instanceReplace = "instance.replace"
    case instanceStartRefused = "instance.start-refused"
    case instanceStopRefused = "instance.stop-refused"
    case instanceUnknown = "instance.unknown"
    // The manager itself.
    case managerStart = "manager.start"
    case managerStop = "manager.stop"
    // Swarm nodes.
    case nodeAvailability = "node.availability"
    case nodeLabelled = "node.labelled"
    case nodeRemoved = "node.removed"
    // The reverse proxy: its routes and its supervised Caddy process.
    case caddyFailed = "caddy.failed"
    case caddyRestart = "caddy.restart"
    case proxyRoutes = "proxy.routes"
    // The private registry (`registry.failed`, `registry.restart`: its supervised process).
    case registryFailed = "registry.failed"
    case registryRestart = "registry.restart"
    // The instance scaler.
    case scalerAddFailed = "scaler.add-failed"
    case scalerBackoff = "scaler.backoff"
    case scalerRetryFlavour = "scaler.retry-flavour"
    case scalerUnplaceable = "scaler.unplaceable"
    // Services: an apply's steps (create, update, remove) and the service autoscaler.
    case serviceCreate = "service.create"
    case serviceRemove = "service.remove"
    case serviceUpdate = "service.update"
    case serviceScaleFailed = "service.scale-failed"
    case serviceScaleHeld = "service.scale-held"
    case serviceScaled = "service.scaled"
    case serviceUpdateFailed = "service.update-failed"
    // The store.
    case storeBackup = "store.backup"
    // The swarm.
    case swarmInit = "swarm.init"
    // Applications' named volumes: where each lives, and their removal.
    case volumeHomed = "volume.homed"
    case volumeRemoveFailed = "volume.remove-failed"
    case volumeRemoved = "volume.removed"
    /// A kind this build does not know: a store written by a newer manager, read after a downgrade.
    case unrecognised = "unrecognised"

    /// Unknown strings read as `.unrecognised` rather than failing the whole read: one event
    /// of a newer manager must not hide every other.
    public init(from decoder: any Decoder) throws {
        self = EventKind(rawValue: try decoder.singleValueContainer().decode(String.self)) ?? .unrecognised
    }

    public var description: String { rawValue }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}
