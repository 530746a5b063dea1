import Foundation
import Logging
import MicadoCore

/// The `ec2` cloud: instances started with `RunInstances` in the subnet of their location,
/// found again by their tags, deleted with `TerminateInstances`.
///
/// The engine's server certificate must name the instance's address, and the user data is
/// fixed when the instance starts, so the driver picks the private address itself: a free
/// one of the location's subnet, at random, sent as `PrivateIpAddress`.
public struct EC2Driver: CloudDriver, ConfigurationResolving {
    public static let enginePort = BootDocument.enginePort
    /// EC2 takes at most 16 KiB of user data (before base64).
    public static let maximumUserDataBytes = 16 << 10
    /// Another address is tried when EC2 says the chosen one is taken, this many times.
    static let addressAttempts = 5
    /// A page of DescribeInstances, and how many pages a listing may take.
    static let pageSize = 100
    static let maximumPages = 200

    /// The boot document for an instance at an address (BootDocument.render, unless a test says otherwise).
    public typealias Renderer = @Sendable (UserData, String) throws(CloudError) -> String

    public let cloud: String
    public let settings: EC2Settings
    public let api: EC2API
    let render: Renderer
    let facts = EC2Facts()
    let logger: Logger
    /// How long `create` waits for a public address when the manager reaches instances by it.
    var publicAddressWait: Duration = .seconds(90)

    public init(cloud: String, settings: EC2Settings, api: EC2API, authority: CertificateAuthority, logger: Logger) {
        self.init(cloud: cloud, settings: settings, api: api, logger: logger) { (userData, address) throws(CloudError) -> String in
            try BootDocument.render(userData, address: address, authority: authority)
        }
    }

    public init(cloud: String, settings: EC2Settings, api: EC2API, logger: Logger, render: @escaping Renderer) {
        self.cloud = cloud
        self.settings = settings
        self.api = api
        self.logger = logger
        self.render = render
    }

    // MARK: tags

    /// micado's tags are `micado.x`; EC2 keeps them as `micado:x`, the way AWS names its own (`aws:…`).
    public static func cloudTagKey(_ key: String) -> String { key.hasPrefix("micado.") ? "micado:" + key.dropFirst(7) : key }
    public static func micadoTagKey(_ key: String) -> String { key.hasPrefix("micado:") ? "micado." + key.dropFirst(7) : key }

    static let managerTag = cloudTagKey(CloudTag.manager)
    static let tokenTag = cloudTagKey(CloudTag.token)
    /// Every state but `terminated`.
    static let liveStates = ["pending", "running", "shutting-down", "stopping", "stopped"]

    // MARK: CloudDriver

    public func create(_ request: CreateInstanceRequest) async throws(CloudError) -> CloudInstance {
        // EC2 honours ClientToken, moto and some compatible clouds do not: the token tag decides.
        if let existing = try await find(token: request.idempotencyToken) { return try await reachable(existing) }
        guard let subnetID = settings.subnets[request.location] else {
            throw CloudError(
                .badRequest,
                "cloud \(cloud) has no location \(Text.escaped(request.location)) (no subnet for it in clouds.yaml)"
            )
        }
        try await requireInstanceType(request.flavour.name)
        let subnet = try await self.subnet(subnetID)
        do throws(CloudError) {
            return try await start(request, subnetID: subnetID, subnet: subnet)
        } catch {
            // What this create chose and did not start, another may choose.
            await facts.release(for: request.idempotencyToken)
            throw error
        }
    }

    /// RunInstances at a free address of the subnet, until it starts or fails for good.
    func start(_ request: CreateInstanceRequest, subnetID: String, subnet: Block) async throws(CloudError) -> CloudInstance {
        let token = request.idempotencyToken
        var taken = try await addressesInUse(subnet: subnetID)
        var addressTries = 0
        var transientTries = 0
        var address = try await facts.reserveAddress(in: subnet, taken: taken, for: token)
        while true {
            let userData = try render(request.userData, address.description)
            guard userData.utf8.count <= Self.maximumUserDataBytes else {
                throw CloudError(
                    .badRequest,
                    "the boot document is \(userData.utf8.count) bytes; EC2 takes at most \(Self.maximumUserDataBytes)"
                )
            }
            let answer: EC2RunInstancesAnswer
            do {
                // Retried here, not in the API layer: an answer lost on the way may mean an
                // instance, which only the token tag finds where ClientToken is ignored.
                answer = try await api.send(
                    "RunInstances",
                    runParameters(request, subnet: subnetID, address: address.description, userData: userData),
                    as: EC2RunInstancesAnswer.self,
                    attempts: 1
                )
            } catch {
                switch (error.code, error.error.kind) {
                case ("InvalidIPAddress.InUse"?, _):
                    // Taken since we looked (another create, an interface of something else): another one.
                    addressTries += 1
                    guard addressTries < Self.addressAttempts else { throw error.error }
                    taken.insert(address)
                    address = try await facts.reserveAddress(in: subnet, taken: taken, for: token)
                    continue
                case ("IdempotentParameterMismatch"?, _):
                    // The token already started an instance (its answer was lost): that one is ours.
                    if let existing = try await find(token: request.idempotencyToken) { return try await reachable(existing) }
                    throw error.error
                case (_, .transient):
                    if let existing = try await find(token: request.idempotencyToken) { return try await reachable(existing) }
                    transientTries += 1
                    guard transientTries < api.retry.attempts else {
                        throw CloudError(.transient, error.error.message + " (\(transientTries) attempts)")
                    }
                    do { try await Task.sleep(for: api.backoff(attempt: transientTries)) } catch {
                        throw CloudError(.transient, "EC2 RunInstances: cancelled")
                    }
                    // Nothing of ours started: the same request again, unless another manager took the address meanwhile.
                    taken = try await addressesInUse(subnet: subnetID)
                    if taken.contains(address) { address = try await facts.reserveAddress(in: subnet, taken: taken, for: token) }
                    continue
                default:
                    throw error.error
                }
            }
            guard let started = answer.instancesSet.items().first else {
                throw CloudError(.badRequest, "EC2 RunInstances: the answer names no instance")
            }
            let instance = try self.instance(started)
            await facts.remember(created: instance)
            logger.info(
                "EC2 instance started",
                metadata: [
                    "cloud": "\(cloud)", "instance.id": "\(instance.id)", "instance.address": "\(address)",
                    "instance.flavour": "\(request.flavour.name)",
                ]
            )
            return try await reachable(instance)
        }
    }

    public func describe(_ id: String) async throws(CloudError) -> CloudInstance? {
        guard Self.isInstanceID(id) else { return nil }
        let answer: EC2DescribeInstancesAnswer
        do { answer = try await api.send("DescribeInstances", [("InstanceId.1", id)], as: EC2DescribeInstancesAnswer.self) } catch {
            guard error.code == "InvalidInstanceID.NotFound" || error.code == "InvalidInstanceID.Malformed" else { throw error.error }
            // EC2 is eventually consistent: an instance may be unknown for a moment after its start.
            return await facts.recentlyCreated(id)
        }
        guard let found = Self.instances(answer).first(where: { $0.instanceId == id }) else { return nil }
        return try instance(found)
    }

    public func list() async throws(CloudError) -> [CloudInstance] {
        try await describeAll([("tag-key", [Self.managerTag]), ("instance-state-name", Self.liveStates)]).compactMap { found in
            do throws(CloudError) { return try instance(found) } catch {
                // Not one micado could have made: not listed, so never adopted nor deleted.
                logger.warning("EC2 instance skipped", metadata: ["cloud": "\(cloud)", "error": "\(error.message)"])
                return nil
            }
        }
    }

    public func delete(_ id: String) async throws(CloudError) {
        guard Self.isInstanceID(id) else { return }
        await facts.forget(id)
        do {
            _ = try await api.send("TerminateInstances", [("InstanceId.1", id)], as: EC2TerminateInstancesAnswer.self)
            logger.info("EC2 instance terminated", metadata: ["cloud": "\(cloud)", "instance.id": "\(id)"])
        } catch {
            if error.code == "InvalidInstanceID.NotFound" || error.code == "InvalidInstanceID.Malformed" { return }
            throw error.error
        }
    }

    public func find(token: String) async throws(CloudError) -> CloudInstance? {
        let found = try await describeAll([("tag:" + Self.tokenTag, [token]), ("instance-state-name", Self.liveStates)])
        // Two only where the cloud ignored ClientToken and two creates raced: the oldest ID wins, always the same one.
        guard let first = found.filter({ $0.instanceId != nil }).min(by: { ($0.instanceId ?? "") < ($1.instanceId ?? "") }) else {
            return nil
        }
        return try instance(first)
    }

    // MARK: RunInstances

    func runParameters(_ request: CreateInstanceRequest, subnet: String, address: String, userData: String) -> [(String, String)] {
        var parameters: [(String, String)] = [
            ("ImageId", request.machineImage), ("InstanceType", request.flavour.name), ("MinCount", "1"), ("MaxCount", "1"),
            ("ClientToken", request.idempotencyToken), ("UserData", Data(userData.utf8).base64EncodedString()),
            // The user data holds the engine's key: only the instance itself may read it
            // (IMDSv2, one hop: containers behind the bridge cannot reach the metadata service).
            ("MetadataOptions.HttpTokens", "required"), ("MetadataOptions.HttpPutResponseHopLimit", "1"),
        ]
        switch settings.address {
        case .private:
            parameters += [("SubnetId", subnet), ("PrivateIpAddress", address)]
            for (i, group) in settings.securityGroups.enumerated() { parameters.append(("SecurityGroupId.\(i + 1)", group)) }
        case .public:
            // A public address is asked for on the primary interface, which then carries the subnet, address and groups.
            let interface = "NetworkInterface.1."
            parameters += [
                (interface + "DeviceIndex", "0"), (interface + "SubnetId", subnet), (interface + "PrivateIpAddress", address),
                (interface + "AssociatePublicIpAddress", "true"), (interface + "DeleteOnTermination", "true"),
            ]
            for (i, group) in settings.securityGroups.enumerated() { parameters.append((interface + "SecurityGroupId.\(i + 1)", group)) }
        }
        if let key = settings.keyName { parameters.append(("KeyName", key)) }
        var tags = request.tags.map { (Self.cloudTagKey($0.key), $0.value) }.sorted { $0.0 < $1.0 }
        tags.append(("Name", "micado-" + (request.tags[CloudTag.instance] ?? String(request.idempotencyToken.prefix(10)))))
        parameters.append(("TagSpecification.1.ResourceType", "instance"))
        for (i, tag) in tags.enumerated() {
            parameters.append(("TagSpecification.1.Tag.\(i + 1).Key", tag.0))
            parameters.append(("TagSpecification.1.Tag.\(i + 1).Value", tag.1))
        }
        return parameters
    }

    /// With `address: public`, the public address the manager will use (it comes a moment after the start).
    func reachable(_ instance: CloudInstance) async throws(CloudError) -> CloudInstance {
        guard settings.address == .public, instance.address.isEmpty, instance.state == .booting || instance.state == .running else {
            return instance
        }
        let clock = ContinuousClock()
        let deadline = clock.now + publicAddressWait
        while clock.now < deadline {
            do { try await Task.sleep(for: .seconds(2)) } catch {
                throw CloudError(.transient, "cancelled while \(instance.id) waited for its public address")
            }
            if let described = try await describe(instance.id),
                !described.address.isEmpty || described.state != .booting && described.state != .running
            {
                return described
            }
        }
        throw CloudError(
            .transient,
            "\(instance.id) has no public address after \(publicAddressWait); the manager reaches instances by it (address: public)"
        )
    }

    // MARK: addresses

    /// A subnet's IPv4 block.
    public struct Block: Sendable, Equatable {
        public var network: IPv4
        public var prefix: Int
        public init?(_ cidr: String) {
            let parts = cidr.split(separator: "/")
            guard parts.count == 2, let address = IPv4(String(parts[0])), let prefix = Int(parts[1]), (8...30).contains(prefix) else {
                return nil
            }
            let mask = UInt32.max << (32 - prefix)
            self.network = IPv4(value: address.value & mask)
            self.prefix = prefix
        }
        /// What an instance may have: AWS keeps the first four and the last address of every subnet.
        public var usable: ClosedRange<UInt32>? {
            let size = UInt64(1) << (32 - prefix)
            guard size > 5 else { return nil }
            return (network.value + 4)...(network.value + UInt32(size - 2))
        }
        public func contains(_ address: IPv4) -> Bool { address.value >> (32 - prefix) == network.value >> (32 - prefix) }
    }

    /// A random usable address of `block` that is not `taken`.
    public static func freeAddress(in block: Block, taken: Set<IPv4>) throws(CloudError) -> IPv4 {
        guard let usable = block.usable else {
            throw CloudError(.quota, "subnet \(block.network)/\(block.prefix) has no address an instance may have")
        }
        var generator = SystemRandomNumberGenerator()
        // Mostly free, mostly found at once; a crowded subnet is walked from a random start.
        for _ in 0..<32 {
            let candidate = IPv4(value: UInt32.random(in: usable, using: &generator))
            if !taken.contains(candidate) { return candidate }
        }
        let count = UInt64(usable.upperBound - usable.lowerBound) + 1
        let start = UInt64.random(in: 0..<count, using: &generator)
        for step in 0..<count {
            let candidate = IPv4(value: usable.lowerBound + UInt32((start + step) % count))
            if !taken.contains(candidate) { return candidate }
        }
        throw CloudError(.quota, "subnet \(block.network)/\(block.prefix) has no free address left")
    }

    func subnet(_ id: String) async throws(CloudError) -> Block {
        if let known = await facts.block(of: id) { return known }
        let answer = try await api.call("DescribeSubnets", [("SubnetId.1", id)], as: EC2DescribeSubnetsAnswer.self)
        guard let subnet = answer.subnetSet.items().first(where: { $0.subnetId == id }) else {
            throw CloudError(.badRequest, "EC2 DescribeSubnets: subnet \(Text.escaped(id)) not in the answer")
        }
        guard let cidr = subnet.cidrBlock, let block = Block(cidr) else {
            throw CloudError(.badRequest, "EC2 DescribeSubnets: subnet \(Text.escaped(id)) has no IPv4 block micado can use")
        }
        await facts.remember(block, of: id)
        return block
    }

    /// Every address an instance of the subnet holds (or held: a terminated one may still show it).
    func addressesInUse(subnet: String) async throws(CloudError) -> Set<IPv4> {
        // Terminated ones too: moto never gives their addresses back (RunInstances then fails
        // with a bare 500), and on EC2 they are described for a while after. Conservative: a
        // location with churn needs room in its subnet (the scaler's boot backoff bounds churn).
        Set(try await describeAll([("subnet-id", [subnet])]).compactMap { $0.privateIpAddress.flatMap(IPv4.init) })
    }

    // MARK: instance types

    func requireInstanceType(_ name: String) async throws(CloudError) {
        if await facts.instanceType(name) != nil { return }
        let known = try await describeInstanceTypes([name])
        guard let info = known[name] else {
            let field = settings.flavourSources[name].map { "\($0.position): \($0.path).name " } ?? "flavour "
            throw CloudError(
                .badRequest,
                "\(field)'\(Text.escaped(name))' is not an instance type of \(api.region) (DescribeInstanceTypes does not know it)"
            )
        }
        await facts.remember(info, of: name)
    }

    /// What EC2 says of each of `names` that it knows; the others are absent.
    func describeInstanceTypes(_ names: [String]) async throws(CloudError) -> [String: EC2InstanceTypeInfo] {
        guard !names.isEmpty else { return [:] }
        do {
            var parameters = names.enumerated().map { ("InstanceType.\($0.offset + 1)", $0.element) }
            var result: [String: EC2InstanceTypeInfo] = [:]
            for _ in 0..<Self.maximumPages {
                let answer = try await api.send("DescribeInstanceTypes", parameters, as: EC2DescribeInstanceTypesAnswer.self)
                for info in answer.instanceTypeSet.items() { if let name = info.instanceType { result[name] = info } }
                guard let next = answer.nextToken, !next.isEmpty else { break }
                parameters = parameters.filter { $0.0 != "NextToken" } + [("NextToken", next)]
            }
            return result
        } catch {
            guard error.code == "InvalidInstanceType" else { throw error.error }
            // One unknown name fails the whole call: ask one at a time, which names it.
            guard names.count > 1 else { return [:] }
            var result: [String: EC2InstanceTypeInfo] = [:]
            for name in names { result.merge(try await describeInstanceTypes([name])) { a, _ in a } }
            return result
        }
    }

    /// The cloud's configuration with each flavour's memory and CPUs as EC2 says (where
    /// the file did not say), every instance type and subnet checked: errors name the line
    /// and field of clouds.yaml.
    public func resolve(_ configuration: CloudConfiguration) async throws(MicadoError) -> CloudConfiguration {
        var configuration = configuration
        let known: [String: EC2InstanceTypeInfo]
        do { known = try await describeInstanceTypes(configuration.flavours.map(\.name)) } catch {
            throw MicadoError(error.kind.code, "cloud \(cloud): \(error.message)")
        }
        for index in configuration.flavours.indices {
            let name = configuration.flavours[index].name
            let source =
                settings.flavourSources[name]
                ?? .init(position: "clouds.yaml", path: "clouds.\(cloud).flavours[\(index)]", memoryWritten: true, cpusWritten: true)
            guard let info = known[name] else {
                throw MicadoError(
                    .configuration,
                    "\(source.position): \(source.path).name '\(Text.escaped(name))' is not an instance type of \(api.region) (DescribeInstanceTypes does not know it)"
                )
            }
            await facts.remember(info, of: name)
            let memory = info.memoryInfo?.sizeInMiB ?? 0
            let cpus = info.vCpuInfo?.defaultVCpus ?? 0
            if source.memoryWritten {
                guard memory == 0 || configuration.flavours[index].memoryMiB <= memory else {
                    throw MicadoError(
                        .configuration,
                        "\(source.position): \(source.path).memoryMiB (\(configuration.flavours[index].memoryMiB)) is above the \(memory) MiB of \(Text.escaped(name))"
                    )
                }
            } else {
                guard memory > 0 else {
                    throw MicadoError(
                        .configuration,
                        "\(source.position): \(source.path).memoryMiB is missing and EC2 does not say the memory of \(Text.escaped(name))"
                    )
                }
                configuration.flavours[index].memoryMiB = memory
            }
            if !source.cpusWritten { configuration.flavours[index].cpus = max(cpus, 1) }
        }
        for (location, subnetID) in settings.subnets.sorted(by: { $0.key < $1.key }) {
            let position = settings.subnetPositions[location] ?? "clouds.yaml"
            let field = "clouds.\(cloud).locations.\(location).subnet"
            let answer: EC2DescribeSubnetsAnswer
            do { answer = try await api.send("DescribeSubnets", [("SubnetId.1", subnetID)], as: EC2DescribeSubnetsAnswer.self) } catch {
                if error.code == "InvalidSubnetID.NotFound" || error.code == "InvalidSubnetID.Malformed" {
                    throw MicadoError(.configuration, "\(position): \(field) '\(Text.escaped(subnetID))' is not a subnet of \(api.region)")
                }
                throw MicadoError(error.error.kind.code, "cloud \(cloud): \(error.error.message)")
            }
            guard let subnet = answer.subnetSet.items().first(where: { $0.subnetId == subnetID }),
                let block = subnet.cidrBlock.flatMap(Block.init)
            else {
                throw MicadoError(.configuration, "\(position): \(field) '\(Text.escaped(subnetID))' has no IPv4 block micado can use")
            }
            // A location named like a zone of the region must be that zone.
            if let zone = subnet.availabilityZone, location.hasPrefix(api.region), zone != location {
                throw MicadoError(
                    .configuration,
                    "\(position): \(field) '\(Text.escaped(subnetID))' is in \(Text.escaped(zone)), not \(location)"
                )
            }
            await facts.remember(block, of: subnetID)
        }
        return configuration
    }

    // MARK: DescribeInstances

    /// Every instance matching `filters`, page by page.
    func describeAll(_ filters: [(String, [String])]) async throws(CloudError) -> [EC2Instance] {
        var parameters: [(String, String)] = [("MaxResults", String(Self.pageSize))]
        for (i, filter) in filters.enumerated() {
            parameters.append(("Filter.\(i + 1).Name", filter.0))
            for (j, value) in filter.1.enumerated() { parameters.append(("Filter.\(i + 1).Value.\(j + 1)", value)) }
        }
        var result: [EC2Instance] = []
        var token: String?
        for _ in 0..<Self.maximumPages {
            let answer = try await api.call(
                "DescribeInstances",
                parameters + (token.map { [("NextToken", $0)] } ?? []),
                as: EC2DescribeInstancesAnswer.self
            )
            result += Self.instances(answer)
            guard let next = answer.nextToken, !next.isEmpty else { return result }
            token = next
        }
        throw CloudError(.badRequest, "EC2 DescribeInstances: more than \(Self.maximumPages) pages; refused")
    }

    static func instances(_ answer: EC2DescribeInstancesAnswer) -> [EC2Instance] {
        answer.reservationSet.items().flatMap { $0.instancesSet.items() }
    }

    /// An ID as EC2 writes them (`i-0abc…`): anything else is not looked up, nor stored.
    static func isInstanceID(_ id: String) -> Bool {
        !id.isEmpty && id.count <= 64
            && id.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-") }
    }

    /// EC2's description as micado's: the state mapped, the tags back to `micado.…`.
    func instance(_ found: EC2Instance) throws(CloudError) -> CloudInstance {
        guard let id = found.instanceId, Self.isInstanceID(id) else {
            throw CloudError(
                .badRequest,
                "EC2: an instance without a usable ID (\(Text.escaped(String((found.instanceId ?? "none").prefix(80))))"
            )
        }
        let stateName = found.instanceState?.name ?? ""
        var detail: String?
        let state: CloudInstance.State
        switch stateName {
        case "pending": state = .booting
        case "running": state = .running
        case "shutting-down", "terminated": state = .terminated
        case "stopping", "stopped":
            state = .failed
            let reason = [found.stateReason?.code, found.stateReason?.message].compactMap { $0 }.filter { !$0.isEmpty }.joined(
                separator: ": "
            )
            detail = Text.escaped(String((stateName + (reason.isEmpty ? "" : ": " + reason)).prefix(500)))
        default:
            state = .failed
            detail = "EC2 state '\(Text.escaped(String(stateName.prefix(40))))'"
        }
        let chosen = settings.address == .public ? found.ipAddress : found.privateIpAddress
        let address = chosen.flatMap(IPv4.init)?.description ?? ""
        var tags: [String: String] = [:]
        for tag in found.tagSet.items() {
            guard let key = tag.key else { continue }
            tags[Self.micadoTagKey(key)] = tag.value ?? ""
        }
        return CloudInstance(
            id: id,
            address: address,
            state: state,
            engineEndpoint: address.isEmpty ? "" : "tcp://\(address):\(Self.enginePort)",
            tags: tags,
            detail: detail
        )
    }
}

/// What the driver learns once and keeps: subnets' blocks and instance types do not change;
/// the instances it started in the last minutes, which EC2 may not describe yet; and the
/// addresses its creates chose lately, so that two creates at once never choose the same.
actor EC2Facts {
    static let creationGrace: Duration = .seconds(120)
    var blocks: [String: EC2Driver.Block] = [:]
    var instanceTypes: [String: EC2InstanceTypeInfo] = [:]
    var created: [String: (instance: CloudInstance, at: ContinuousClock.Instant)] = [:]
    var reserved: [IPv4: (token: String, at: ContinuousClock.Instant)] = [:]

    /// A free address that no create of this driver chose in the last minutes (those that
    /// started keep theirs until EC2 surely describes the instance).
    func reserveAddress(in block: EC2Driver.Block, taken: Set<IPv4>, for token: String) throws(CloudError) -> IPv4 {
        let now = ContinuousClock.now
        reserved = reserved.filter { now - $0.value.at < Self.creationGrace }
        let address = try EC2Driver.freeAddress(in: block, taken: taken.union(reserved.keys))
        reserved[address] = (token, now)
        return address
    }

    func release(for token: String) { reserved = reserved.filter { $0.value.token != token } }

    func remember(created instance: CloudInstance) {
        let now = ContinuousClock.now
        created = created.filter { now - $0.value.at < Self.creationGrace }
        created[instance.id] = (instance, now)
    }

    /// A deleted instance gives its address back at once: churn (instances that die while
    /// booting) used up a subnet for two minutes at a time otherwise.
    func forget(_ id: String) {
        if let instance = created[id]?.instance {
            if let token = instance.tags[CloudTag.token] { release(for: token) }
            if let address = IPv4(instance.address) { reserved[address] = nil }
        }
        created[id] = nil
    }

    /// The instance as RunInstances answered, still booting, if it started moments ago.
    func recentlyCreated(_ id: String) -> CloudInstance? {
        guard let entry = created[id], ContinuousClock.now - entry.at < Self.creationGrace else { return nil }
        var instance = entry.instance
        instance.state = .booting
        return instance
    }

    func block(of subnet: String) -> EC2Driver.Block? { blocks[subnet] }
    func remember(_ block: EC2Driver.Block, of subnet: String) { blocks[subnet] = block }
    func instanceType(_ name: String) -> EC2InstanceTypeInfo? { instanceTypes[name] }
    func remember(_ info: EC2InstanceTypeInfo, of name: String) { instanceTypes[name] = info }
}
