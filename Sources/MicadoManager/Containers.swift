import DockerEngine
import Foundation
import MicadoCore
import MicadoStore

/// Containers: launch, quit, remove, files, logs, execute, and the views of what runs.
/// A container is a record in the store and a Swarm service of one replica; the record is
/// written first. Launching into a cloud location hands the image to that location's
/// instances first (`Instances.distributeImage`).
public final class Containers: RecordsEvents, ReadsSwarm {
    let configuration: ManagerConfiguration
    let store: any ContainerStore & ImageStore & UsageStore & ExecSessionStore & VolumeStore
    /// The manager's engine.
    let engine: any EngineAPI
    /// The engines of the nodes containers run on (files, logs, exec).
    let engines: NodeEngines
    let managerID: String
    let clouds: CloudSet
    let registry: Registry?
    let eventLog: EventLog
    let swarm: SwarmView
    /// What the scaler last said about each pending container; views show it.
    let scalerNotes: ScalerNotes
    /// Wakes the scaler after a launch.
    let scalerWakeUp: WakeUps
    let instances: any ImageDistribution

    init(
        configuration: ManagerConfiguration,
        store: any ContainerStore & ImageStore & UsageStore & ExecSessionStore & VolumeStore,
        engines: NodeEngines,
        managerID: String,
        clouds: CloudSet,
        registry: Registry?,
        eventLog: EventLog,
        swarm: SwarmView,
        scalerNotes: ScalerNotes,
        scalerWakeUp: WakeUps,
        instances: any ImageDistribution
    ) {
        self.configuration = configuration
        self.store = store
        self.engine = engines.own
        self.engines = engines
        self.managerID = managerID
        self.clouds = clouds
        self.registry = registry
        self.eventLog = eventLog
        self.swarm = swarm
        self.scalerNotes = scalerNotes
        self.scalerWakeUp = scalerWakeUp
        self.instances = instances
    }

    var defaultLocation: String { clouds.defaultLocation(configured: configuration.defaults.location) }
}
