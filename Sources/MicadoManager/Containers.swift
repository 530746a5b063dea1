import DockerEngine
import Foundation
import MicadoCore
import MicadoStore

/// Containers: launch, quit, remove, files, logs, execute, and the views of what runs.
/// A container is a record in the store and a Swarm service of one replica; the record is
/// written first. Launching into a cloud location hands the image to that location's
/// instances first (`Instances.distributeImage`).
public final class Containers: ManagerPart {
    let context: ManagerContext
    let instances: Instances

    init(context: ManagerContext, instances: Instances) {
        self.context = context
        self.instances = instances
    }
}
