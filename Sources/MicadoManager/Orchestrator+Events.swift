import Foundation
import MicadoCore
import MicadoStore

extension EventStore {
    /// The event log as the API shows it.
    func eventViews(subject: String?, after: Int64? = nil, limit: Int) async throws(MicadoError) -> [EventView] {
        try await events(subject: subject, after: after, limit: limit).map {
            EventView(id: $0.id ?? 0, time: $0.time, kind: $0.kind, subject: $0.subject, message: $0.message)
        }
    }
}
