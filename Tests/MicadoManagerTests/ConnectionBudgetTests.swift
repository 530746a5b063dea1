import NIOCore
import NIOEmbedded
import Testing

@testable import MicadoManager

/// The API's connection bound: idle connections make room, busy ones are never closed for a
/// new one, and a new one past a bound of busy ones is refused.
@Suite struct ConnectionBudgetTests {
    @Test func idleConnectionsMakeRoomAndBusyOnesAreKept() throws {
        let budget = ConnectionBudget(limits: .init(total: 4, perPeer: 4))
        let address = try SocketAddress(ipAddress: "127.0.0.1", port: 1)
        let channels = (0..<4).map { _ in EmbeddedChannel() }
        for channel in channels { try channel.connect(to: address).wait() }
        for channel in channels { #expect(budget.admit(channel)) }
        for channel in channels { budget.setBusy(channel, true) }
        // All busy: the next one is shed, none is closed.
        let extra = EmbeddedChannel()
        #expect(!budget.admit(extra))
        #expect(channels.allSatisfy { $0.isActive })
        // One goes idle: it is closed for the newcomer.
        budget.setBusy(channels[2], false)
        #expect(budget.admit(extra))
        #expect(!channels[2].isActive)
        #expect(budget.figures.open == 4 && budget.figures.shed == 1 && budget.figures.evicted == 1)
    }
}
