import MicadoClouds
import MicadoCore
import Synchronization

/// What every stand-in cloud keeps besides its resources: the faults a test injected per
/// call, how often each call came, everything it was sent (to check what never travels),
/// and the addresses it hands out.
public final class StandInLedger<Call: Hashable & Sendable, Fault: Sendable>: Sendable {
    struct State {
        var faults: [Call: [Fault]] = [:]
        var calls: [Call: Int] = [:]
        var seen: [String] = []
        var nextAddress: UInt32
        var lastAddress: UInt32
    }
    let state: Mutex<State>

    init(addresses: ClosedRange<IPv4>) {
        state = Mutex(State(nextAddress: addresses.lowerBound.value, lastAddress: addresses.upperBound.value))
    }

    func record(_ request: LoopbackHTTPServer.Request) {
        let text =
            "\(request.method) \(request.path)\n\(request.headers.map { "\($0.name): \($0.value)" }.joined(separator: "\n"))\n\(request.text)"
        state.withLock { $0.seen.append(text) }
    }

    /// The next fault injected for `call`, counting the call.
    func take(_ call: Call) -> Fault? {
        state.withLock { state in
            state.calls[call, default: 0] += 1
            guard var list = state.faults[call], !list.isEmpty else { return nil }
            let first = list.removeFirst()
            state.faults[call] = list
            return first
        }
    }

    /// The next address of the pool, nil once it is used up.
    func nextAddress() -> String? {
        state.withLock { state in
            guard state.nextAddress <= state.lastAddress else { return nil }
            defer { state.nextAddress += 1 }
            return IPv4(value: state.nextAddress).description
        }
    }

    func inject(_ call: Call, _ faults: [Fault]) { state.withLock { $0.faults[call, default: []] += faults } }
    func count(_ call: Call) -> Int { state.withLock { $0.calls[call] ?? 0 } }
    var everything: String { state.withLock { $0.seen.joined(separator: "\n") } }
    func setAddresses(_ addresses: ClosedRange<IPv4>) {
        state.withLock { state in
            state.nextAddress = addresses.lowerBound.value
            state.lastAddress = addresses.upperBound.value
        }
    }
}
