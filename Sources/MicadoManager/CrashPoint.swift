import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Named moments where the crash tests kill the manager (SIGKILL to itself), instead of
/// guessing the moment with a sleep. Armed only by `MICADO_CRASH_AT=<name>` in the
/// manager's environment; each name is where a crash would leave half-done work that the
/// next start must finish.
enum CrashPoint: String, CaseIterable {
    /// A launch's container record is stored; its service is not created yet.
    case launchStored = "container.after-store"
    /// A launch's service is created in the swarm; the record does not name it yet.
    case launchServiceCreated = "container.after-service"
    /// The instance record is stored; the cloud's create call has not been made.
    case beforeCreate = "instance.before-create"
    /// The cloud made the instance; its answer (cloud ID, address) is not stored yet.
    case afterCreate = "instance.after-create"
    /// An apply is stored (file, revision, service records); the swarm is not yet changed.
    case applyStored = "application.after-store"
    /// An apply changed the first of its services in the swarm, not the others.
    case applyHalfDone = "application.mid-swarm"
    /// The autoscaler stored a new replica count; the swarm still has the old one.
    case scaleStored = "service.after-scale-store"

    static let armed: CrashPoint? = ProcessInfo.processInfo.environment["MICADO_CRASH_AT"].flatMap(CrashPoint.init(rawValue:))

    /// Dies here when armed for this point.
    static func reached(_ point: CrashPoint) {
        guard armed == point else { return }
        FileHandle.standardError.write(Data("micado: crash point \(point.rawValue) reached (MICADO_CRASH_AT): killing myself\n".utf8))
        kill(getpid(), SIGKILL)
        while true { pause() }
    }
}
