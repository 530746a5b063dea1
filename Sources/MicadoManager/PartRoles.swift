import DockerEngine
import Foundation
import MicadoCore
import MicadoStore

// What one part asks of another, each the narrowest protocol that serves the part that asks:
// a part names these, never another part's class, so a test builds it with fakes of only
// what it names (ScalerWithFakesTests, PartsWithFakesTests). The concrete part conforms beside its definition.

/// What the scaler asks of the instances: carry out a plan (start, drain), keep the records in
/// step with the swarm's nodes, back off a location whose instances fail to come up, and
/// sweep instances no record owns.
protocol ScalerFleet: Sendable {
    var bootBackoff: BootBackoff { get }
    func convergeInstances(nodes: [Node], runningByNode: [String: Int]) async
    func startInstance(_ request: StartInstanceRequest, location: String?, reason: String) async throws(MicadoError) -> InstanceRecord
    func drain(_ id: InstanceID, reason: String) async throws(MicadoError)
    func backOff(_ location: String, reason: String) async
    func deleteOrphanInstances() async
}

/// A container's record and its view (`explain`, the monitor's gauges).
protocol ContainerViews: Sendable {
    func record(named name: String) async throws(MicadoError) -> ContainerRecord
    func view(of record: ContainerRecord) async throws(MicadoError) -> ContainerView
    func view(of record: ContainerRecord, in snapshot: SwarmSnapshot) -> ContainerView
}

/// What the reconciler asks of the containers: each stored record's service made, rolled to
/// its record, and its observed state kept.
protocol ServiceKeeper: ContainerViews {
    @discardableResult
    func ensureService(_ record: ContainerRecord) async throws(MicadoError) -> ContainerRecord
    func roll(_ record: ContainerRecord, service: SwarmService) async throws(MicadoError)
    func dependenciesMet(_ record: ContainerRecord) async throws(MicadoError) -> Bool
    func recordObservation(of record: ContainerRecord, _ view: ContainerView) async throws(MicadoError)
}

/// What an apply asks of the containers besides keeping services: the images and locations
/// a file names, checked; images carried to the nodes; a service waited for.
protocol ApplicationServices: ServiceKeeper {
    func requireImage(_ written: String, dryRun: Bool) async throws(MicadoError) -> Containers.RequiredImage
    func requireLocation(_ location: String) async throws(MicadoError)
    func distributeImage(of record: ContainerRecord) async throws(MicadoError)
    func waitUntilRunning(_ name: String) async throws(MicadoError) -> ContainerView
}

/// A command attached to a container's running task (`micado execute` over a WebSocket).
protocol AttachedExecs: Sendable {
    func createAttachedExec(
        _ name: String,
        command: String,
        tty: Bool,
        environment: [String]
    ) async throws(MicadoError)
        -> AttachedExecTarget
    func endAttachedExec(_ target: AttachedExecTarget) async
}

/// What the containers ask of the instances: an image carried to a location's instances
/// (clouds without a registry).
protocol ImageDistribution: Sendable {
    func distributeImage(_ image: String, location: String) async throws(MicadoError)
}

/// Where named volumes live: the nodes that hold them, a home for those without one, and
/// what a container waits for because of them.
protocol VolumeHomes: Sendable {
    func homes() async throws(MicadoError) -> [String: [String]]
    @discardableResult
    func placeHomeless(
        choose: (_ location: String?, _ memoryMiB: Int) async throws(MicadoError) -> String?
    ) async throws(MicadoError)
        -> Bool
    func explanation(of record: ContainerRecord) async throws(MicadoError) -> [String]
}

/// The named volumes' upkeep: the manager's node (their home without clouds), their nodes'
/// labels, and their removal when an application goes.
protocol VolumeUpkeep: Sendable {
    func managerNode() async throws(MicadoError) -> String
    func syncLabels() async throws(MicadoError)
    func requestRemoval(of application: String) async throws(MicadoError) -> [String]
    @discardableResult
    func removeRequested() async -> [String]
}

/// What a container's scaling policy says of it (`explain`, an application's list).
protocol PolicyExplanations: Sendable {
    func explanation(of record: ContainerRecord) async throws(MicadoError) -> [String]
    func policyState(of record: ContainerRecord) async -> String?
}

extension Instances: ScalerFleet, ImageDistribution {}
extension Containers: ApplicationServices, AttachedExecs {}
extension Volumes: VolumeHomes, VolumeUpkeep {}
extension ServiceAutoscaler: PolicyExplanations {}
