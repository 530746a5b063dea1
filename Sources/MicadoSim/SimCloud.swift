import Foundation
import MicadoClouds
import MicadoCore

/// A simulated cloud behind the manager's `CloudDriver` seam, on a virtual clock: instances
/// boot in a time drawn per flavour, large flavours run out of capacity, the API throttles
/// creates and deletes as EC2's token buckets do (and says when to retry), and running
/// instances are now and then taken back, as spot instances are. A booted instance becomes a
/// machine of the in-memory swarm whose engine answers at its endpoint. Every create and
/// delete is kept in a ledger of virtual times, from which the day's cost is read.
public actor SimCloud: CloudDriver {
    public struct Settings: Sendable {
        /// A boot takes `bootBaseSeconds` + `bootSecondsPerGiB` × memory + up to `bootJitterSeconds`.
        public var bootBaseSeconds = 30.0
        public var bootSecondsPerGiB = 0.05
        public var bootJitterSeconds = 30.0
        /// At most this many running at once of a flavour with at least `scarceCPUs` vCPUs.
        public var scarcePoolSize = 150
        public var scarceCPUs = 48
        /// The chance that any create is refused for capacity (a zone's momentary shortage).
        public var capacityRefusalChance = 0.005
        /// Creates and deletes each spend a token of their bucket (EC2's: RunInstances 1,000, 2 a second).
        public var createBucket = 1000.0
        public var createRefillPerSecond = 2.0
        public var deleteBucket = 1000.0
        public var deleteRefillPerSecond = 20.0
        /// Mean running hours before a spot-like interruption (0: never).
        public var meanHoursToInterruption = 200.0
        public init() {}
    }

    /// One instance's life in virtual time.
    public struct Entry: Sendable {
        public var id: String
        public var flavour: Flavour
        public var createdAt: Date
        public var bootsAt: Date
        public var deletedAt: Date?
        public var interruptedAt: Date?
        var instance: CloudInstance
        var request: CreateInstanceRequest
        var interruptsAt: Date?
        var endpoint: String
    }

    let swarm: InMemorySwarm
    let clock: VirtualClock
    let settings: Settings
    var random: SeededGenerator
    var createTokens: Double
    var deleteTokens: Double
    var refilledAt: Date
    public private(set) var ledger: [String: Entry] = [:]
    var live: [String: String] = [:]  // idempotency token → id
    var byEndpoint: [String: String] = [:]
    var liveByFlavour: [String: Int] = [:]
    /// Boots and interruptions to come.
    var due = MinHeap<Due>()
    var next = 0
    /// Every refusal the cloud gave, by kind.
    public private(set) var refusals: [String: Int] = [:]
    public private(set) var interruptions = 0

    public init(swarm: InMemorySwarm, clock: VirtualClock, settings: Settings = .init(), seed: UInt64) {
        self.swarm = swarm
        self.clock = clock
        self.settings = settings
        random = SeededGenerator(seed: seed ^ 0x5EED_C10D)
        createTokens = settings.createBucket
        deleteTokens = settings.deleteBucket
        refilledAt = clock.now
    }

    /// The manager describes booting instances as often as it wants: the sim does not throttle reads.
    public nonisolated var describeInterval: Duration { .seconds(1) }

    func refill() {
        let now = clock.now
        let elapsed = now.timeIntervalSince(refilledAt)
        guard elapsed > 0 else { return }
        createTokens = min(settings.createBucket, createTokens + elapsed * settings.createRefillPerSecond)
        deleteTokens = min(settings.deleteBucket, deleteTokens + elapsed * settings.deleteRefillPerSecond)
        refilledAt = now
    }

    func refuse(_ kind: CloudError.Kind, _ message: String) -> CloudError {
        refusals[kind.rawValue, default: 0] += 1
        return CloudError(kind, message)
    }

    public func create(_ request: CreateInstanceRequest) async throws(CloudError) -> CloudInstance {
        if let id = live[request.idempotencyToken], let made = ledger[id] { return made.instance }
        refill()
        guard createTokens >= 1 else {
            let wait = Int(((1 - createTokens) / settings.createRefillPerSecond).rounded(.up))
            throw refuse(.transient, "RequestLimitExceeded: retry after \(wait) s")
        }
        createTokens -= 1
        let flavour = request.flavour
        if flavour.cpus >= settings.scarceCPUs {
            guard liveByFlavour[flavour.name, default: 0] < settings.scarcePoolSize else {
                throw refuse(.capacity, "InsufficientInstanceCapacity: no \(flavour.name) capacity in \(request.location)")
            }
        }
        guard Double.random(in: 0..<1, using: &random) >= settings.capacityRefusalChance else {
            throw refuse(.capacity, "InsufficientInstanceCapacity: \(flavour.name) momentarily unavailable in \(request.location)")
        }
        next += 1
        // 100.64.0.0/10: never an address of this machine's own interfaces.
        let n = next + 256
        let address = "100.\(64 + (n >> 16) & 63).\((n >> 8) & 255).\(n & 255)"
        let id = "sim-\(next)"
        let now = clock.now
        let boot =
            settings.bootBaseSeconds + settings.bootSecondsPerGiB * Double(flavour.memoryMiB) / 1024
            + Double.random(in: 0...settings.bootJitterSeconds, using: &random)
        let instance = CloudInstance(id: id, address: address, state: .booting, engineEndpoint: "tcp://\(address):2376", tags: request.tags)
        ledger[id] = Entry(
            id: id,
            flavour: flavour,
            createdAt: now,
            bootsAt: now.addingTimeInterval(boot),
            instance: instance,
            request: request,
            endpoint: "tcp://\(address):2376"
        )
        live[request.idempotencyToken] = id
        byEndpoint[instance.engineEndpoint] = id
        liveByFlavour[flavour.name, default: 0] += 1
        schedule(id, at: now.addingTimeInterval(boot))
        return instance
    }

    /// Boots that are due come up (their engine answers, not yet in the swarm); interruptions
    /// that are due take their instance back. The simulation calls this as time moves on.
    public func advance() async {
        let now = clock.now
        while let first = due.min, first.at <= now.timeIntervalSinceReferenceDate {
            let id = due.pop()!.name
            guard let entry = ledger[id], entry.deletedAt == nil else { continue }
            if entry.instance.state == .booting, entry.bootsAt <= now {
                ledger[id]?.instance.state = .running
                if settings.meanHoursToInterruption > 0 {
                    let u = Double.random(in: Double.ulpOfOne..<1, using: &random)
                    let interrupts = entry.bootsAt.addingTimeInterval(-log(u) * settings.meanHoursToInterruption * 3600)
                    ledger[id]?.interruptsAt = interrupts
                    schedule(id, at: interrupts)
                }
                await swarm.addMachine(
                    entry.endpoint,
                    address: entry.instance.address,
                    engineLabels: entry.request.userData.labels,
                    memoryMiB: entry.request.userData.capacityMiB
                )
            } else if entry.instance.state == .running, let at = entry.interruptsAt, at <= now {
                interruptions += 1
                ledger[id]?.interruptedAt = at
                await end(id, at: at)
            }
        }
    }

    func schedule(_ id: String, at date: Date) { due.push(Due(at: date.timeIntervalSinceReferenceDate, name: id)) }

    func end(_ id: String, at: Date) async {
        guard let entry = ledger[id], entry.deletedAt == nil else { return }
        liveByFlavour[entry.flavour.name, default: 1] -= 1
        ledger[id]?.deletedAt = at
        ledger[id]?.instance.state = .terminated
        live[entry.request.idempotencyToken] = nil
        await swarm.removeMachine(entry.endpoint)
    }

    public func describe(_ id: String) async throws(CloudError) -> CloudInstance? {
        guard let entry = ledger[id], entry.deletedAt == nil else { return nil }
        return entry.instance
    }

    public func list() async throws(CloudError) -> [CloudInstance] {
        ledger.values.filter { $0.deletedAt == nil }.map(\.instance).sorted { $0.id < $1.id }
    }

    public func find(token: String) async throws(CloudError) -> CloudInstance? {
        live[token].flatMap { ledger[$0]?.instance }
    }

    public func delete(_ id: String) async throws(CloudError) {
        guard let entry = ledger[id], entry.deletedAt == nil else { return }
        refill()
        guard deleteTokens >= 1 else {
            let wait = Int(((1 - deleteTokens) / settings.deleteRefillPerSecond).rounded(.up))
            throw refuse(.transient, "RequestLimitExceeded: retry after \(wait) s")
        }
        deleteTokens -= 1
        await end(id, at: clock.now)
    }

    /// What the instances cost from their create to their delete (or `until`), in the flavours' prices.
    public func cost(until: Date) -> Double {
        ledger.values.reduce(0) { sum, entry in
            let end = entry.deletedAt ?? until
            return sum + max(0, end.timeIntervalSince(entry.createdAt)) / 3600 * entry.flavour.pricePerHour
        }
    }

    /// Instances alive (created, not yet deleted) now.
    public func aliveCount() -> Int { ledger.values.count { $0.deletedAt == nil } }

    /// The instance at this engine endpoint, with when it was created and came up.
    public func entry(atEndpoint endpoint: String) -> Entry? {
        byEndpoint[endpoint].flatMap { ledger[$0] }
    }

    public func entries() -> [Entry] { Array(ledger.values) }
}
