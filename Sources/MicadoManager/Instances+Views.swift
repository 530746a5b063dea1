import DockerEngine
import Foundation
import MicadoCore
import MicadoStore

extension Instances {
    /// `micado list -i`: the manager's engine and every instance, with what runs on each.
    public func list() async throws(MicadoError) -> [InstanceView] {
        let snapshot = try await snapshot()
        let usage = snapshot.usage(of: try await store.containers())
        let records = try await store.instances()
        let recordByNode = Dictionary(records.compactMap { r in r.nodeID.map { ($0, r) } }, uniquingKeysWith: { a, _ in a })
        let managerRecordIDs = Set(records.filter(\.isManager).map(\.id.rawValue))
        var views: [InstanceView] = []
        for node in snapshot.nodes.values.sorted(by: {
            ($0.spec.role == .manager ? 0 : 1, $0.id) < ($1.spec.role == .manager ? 0 : 1, $1.id)
        }) {
            if let record = recordByNode[node.id], !record.isManager { continue }  // shown from its record below
            let total =
                node.genericResource(SchedulerResource.memory).map(Int.init)
                ?? node.description?.resources?.memoryBytes.map { Int($0 >> 20) }
            var view = InstanceView(
                // A node without a cloud's record (the manager's own, one joined by hand) is named by its node ID.
                id: InstanceID(node.id),
                hostname: node.description?.hostname ?? node.id,
                cloud: managerRecordIDs.contains(node.id) ? "manager" : "unknown",
                location: node.spec.labels?[Label.location],
                role: node.spec.role ?? .worker,
                state: InstanceState(swarmNodeState: node.status.state),
                availability: node.spec.availability ?? .active,
                address: configuration.publishAddress(for: node),
                containers: usage[node.id]?.count ?? 0,
                memoryReservedMiB: usage[node.id]?.memory ?? 0,
                memoryTotalMiB: total,
                engineVersion: node.description?.engine?.engineVersion
            )
            view.createdAt = records.first { $0.id.rawValue == node.id }?.createdAt
            views.append(view)
        }
        for record in records where !record.isManager {
            let node = record.nodeID.flatMap { snapshot.nodes[$0] }
            var view = InstanceView(
                id: record.id,
                hostname: node?.description?.hostname ?? record.hostname,
                cloud: record.cloud,
                location: record.location,
                role: .worker,
                state: record.state,
                availability: node?.spec.availability,
                address: record.address,
                containers: record.nodeID.flatMap { usage[$0]?.count } ?? 0,
                memoryReservedMiB: record.nodeID.flatMap { usage[$0]?.memory } ?? 0,
                memoryTotalMiB: record.memoryMiB,
                engineVersion: node?.description?.engine?.engineVersion
            )
            view.flavour = record.flavour
            view.tag = record.tag
            view.purpose = record.purpose
            view.cloudID = record.cloudID
            view.pricePerHour = record.pricePerHour
            view.createdAt = record.createdAt
            view.reason = record.reason
            views.append(view)
        }
        return views
    }

    public func view(id: String) async throws(MicadoError) -> InstanceView {
        guard let view = try await list().first(where: { $0.id.rawValue == id }) else {
            throw .notFound("no instance \(id); it may have been deleted (see 'micado events --subject \(id)')")
        }
        return view
    }
}
