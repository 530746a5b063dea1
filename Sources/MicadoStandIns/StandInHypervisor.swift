import Foundation
import Logging
import MicadoClouds
import MicadoCore
import Synchronization

/// Machines booted for a stand-in cloud's servers, on the fixture's bridge, from the user
/// data the cloud received (the local boot path), and torn down when the cloud deletes them.
public final class StandInHypervisor: Sendable {
    let driver: LocalDriver
    let booted = Mutex<[String: String]>([:])  // server ID → local machine ID
    let failures = Mutex<[String]>([])

    /// Machines on `bridge` (`bridgeCIDR`), whose engines micado's CA in `home` signs; their state in `state`.
    public init(
        bridge: String,
        bridgeCIDR: String,
        managerAddress: String,
        state: String,
        home: String,
        logger: Logger = Logger(label: "hypervisor")
    ) {
        driver = LocalDriver(
            cloud: "hypervisor",
            network: .init(
                bridge: bridge,
                bridgeCIDR: bridgeCIDR,
                firstAddress: managerAddress,
                lastAddress: managerAddress,
                managerAddress: managerAddress
            ),
            stateDirectory: state,
            authority: CertificateAuthority(directory: home + "/tls"),
            logger: logger
        )
    }

    public static func machineID(_ server: String) -> String { "i" + String(server.filter(\.isHexDigit).suffix(10)) }

    public func boot(_ server: String, address: String?, userData: String) async {
        guard let address else { return }
        let machine = Self.machineID(server)
        booted.withLock { $0[server] = machine }
        do {
            try await driver.boot(id: machine, address: address, userData: userData, memoryMiB: 512, flavour: "stand-in", tags: [:])
        } catch { failures.withLock { $0.append("\(server): \(error)") } }
    }

    public func delete(_ server: String) async {
        guard let machine = booted.withLock({ $0[server] }) else { return }
        do { try await driver.delete(machine) } catch { failures.withLock { $0.append("delete \(server): \(error)") } }
        // Gone from the list only once torn down: a test waits for this.
        booted.withLock { _ = $0.removeValue(forKey: server) }
    }

    public func shutdown() async {
        for machine in booted.withLock({ Array($0.values) }) { try? await driver.delete(machine) }
        booted.withLock { $0 = [:] }
    }

    public var machines: [String: String] { booted.withLock { $0 } }
    public var errors: [String] { failures.withLock { $0 } }
}

/// A server a stand-in cloud started running, as its hypervisor boots it.
public struct StandInBoot: Sendable {
    public var id: String
    public var address: String?
    public var userData: String
}

/// A stand-in cloud served on loopback while `body` runs; what it starts running goes to
/// `onActive`, what it deletes to `onDeleted` (by ID).
public protocol StandInCloud: Sendable {
    static func serve<T>(
        addresses: ClosedRange<IPv4>,
        onActive: @escaping @Sendable (StandInBoot) async -> Void,
        onDeleted: @escaping @Sendable (String) async -> Void,
        _ body: (Self) async throws -> T
    ) async throws -> T
    func setAddresses(_ addresses: ClosedRange<IPv4>)
}

extension StandInCloud {
    /// Served with `hypervisor` booting and tearing down its machines.
    public static func serve<T>(
        addresses: ClosedRange<IPv4>,
        hypervisor: StandInHypervisor,
        _ body: (Self) async throws -> T
    ) async throws -> T {
        try await serve(
            addresses: addresses,
            onActive: { await hypervisor.boot($0.id, address: $0.address, userData: $0.userData) },
            onDeleted: { await hypervisor.delete($0) },
            body
        )
    }
}

extension OpenStackStandIn: StandInCloud {
    public static func serve<T>(
        addresses: ClosedRange<IPv4>,
        onActive: @escaping @Sendable (StandInBoot) async -> Void,
        onDeleted: @escaping @Sendable (String) async -> Void,
        _ body: (OpenStackStandIn) async throws -> T
    ) async throws -> T {
        try await withCloud(
            addresses: addresses,
            onActive: { await onActive(StandInBoot(id: $0.id, address: $0.address, userData: $0.userData)) },
            onDeleted: { await onDeleted($0.id) },
            body
        )
    }
}

extension CloudSigmaStandIn: StandInCloud {
    public static func serve<T>(
        addresses: ClosedRange<IPv4>,
        onActive: @escaping @Sendable (StandInBoot) async -> Void,
        onDeleted: @escaping @Sendable (String) async -> Void,
        _ body: (CloudSigmaStandIn) async throws -> T
    ) async throws -> T {
        try await withCloud(
            addresses: addresses,
            onActive: { await onActive(StandInBoot(id: $0.uuid, address: $0.address, userData: $0.userData)) },
            onDeleted: { await onDeleted($0.uuid) },
            body
        )
    }
}

extension CloudBrokerStandIn: StandInCloud {
    public static func serve<T>(
        addresses: ClosedRange<IPv4>,
        onActive: @escaping @Sendable (StandInBoot) async -> Void,
        onDeleted: @escaping @Sendable (String) async -> Void,
        _ body: (CloudBrokerStandIn) async throws -> T
    ) async throws -> T {
        try await withCloud(
            addresses: addresses,
            onActive: { await onActive(StandInBoot(id: $0.id, address: $0.address, userData: $0.userData)) },
            onDeleted: { await onDeleted($0.id) },
            body
        )
    }
}
