import Foundation
import Logging
import MicadoClouds
import MicadoCore

/// An EC2-compatible API server without machines (moto) made to run what it reports: the
/// machines its instances would be, booted on this host. The EC2 end-to-end tests and
/// `micado bench scale` on an ec2 cloud use it; the manager never does.
///
/// Each instance the API reports as pending or running is booted once, at the address the
/// API gave it, from the user data read back through the API (`DescribeInstanceAttribute`)
/// with the local boot path (`LocalDriver.boot`): what micado sent to the cloud is what
/// boots. A terminated instance's machine is torn down.
public actor StandInMachines {
    let api: EC2API
    let driver: LocalDriver
    let memoryMiB: Int
    var booted: [String: String] = [:]  // API instance id → local machine id
    var bootErrors: [String] = []
    /// A machine image that dies at once: every instance is terminated as soon as it is seen.
    var killOnSight = false

    /// `driver` boots the machines (its network: the bridge the API's subnet lies on).
    public init(api: EC2API, driver: LocalDriver, memoryMiB: Int = 512) {
        self.api = api
        self.driver = driver
        self.memoryMiB = memoryMiB
    }

    public func setKillOnSight(_ value: Bool) { killOnSight = value }
    public func machines() -> [String: String] { booted }
    public func errors() -> [String] { bootErrors }

    /// The local machine that stands in for API instance `id` (its hex digits, `i` first, as local ids are).
    public static func machineID(_ id: String) -> String { "i" + String(id.filter(\.isHexDigit).suffix(10)) }

    struct Ignored: Decodable, Sendable {}

    struct UserDataAnswer: Decodable, Sendable {
        struct Value: Decodable, Sendable { var value: String? }
        var userData: Value?
    }

    /// One look at the API: boots what is new, tears down what is gone.
    public func step() async throws(CloudError) {
        for instance in try await EC2Staging.seen(api) {
            let alive = instance.state == "pending" || instance.state == "running"
            if killOnSight && alive {
                _ = try await api.call("TerminateInstances", [("InstanceId.1", instance.id)], as: Ignored.self)
                continue
            }
            if alive, booted[instance.id] == nil, let address = instance.privateAddress {
                let answer = try await api.call(
                    "DescribeInstanceAttribute",
                    [("InstanceId", instance.id), ("Attribute", "userData")],
                    as: UserDataAnswer.self
                )
                guard let encoded = answer.userData?.value, let data = Data(base64Encoded: encoded) else {
                    bootErrors.append("\(instance.id) has no user data")
                    continue
                }
                let machine = Self.machineID(instance.id)
                booted[instance.id] = machine
                do {
                    try await driver.boot(
                        id: machine,
                        address: address,
                        userData: String(decoding: data, as: UTF8.self),
                        memoryMiB: memoryMiB,
                        flavour: instance.instanceType ?? "?",
                        tags: [:]
                    )
                } catch { bootErrors.append("\(instance.id): \(error)") }
            } else if !alive, let machine = booted[instance.id] {
                try await driver.delete(machine)
                booted[instance.id] = nil
            }
        }
    }

    /// Steps every `interval` until cancelled (an API error waits for the next step).
    public func run(every interval: Duration = .milliseconds(200)) async {
        while !Task.isCancelled {
            try? await step()
            try? await Task.sleep(for: interval)
        }
    }

    /// Tears down every machine it booted.
    public func shutdown() async {
        for machine in booted.values { try? await driver.delete(machine) }
        booted = [:]
    }
}

/// What an EC2-compatible API without machines needs before micado can use it (a VPC, a
/// subnet, a security group, an image), and its own view of instances, read apart from the
/// driver's mapping. For the tests and the bench's stand-in machines.
public enum EC2Staging {
    public struct Network: Sendable, Codable {
        public var vpc: String
        public var subnet: String
        public var cidr: String
        public var securityGroup: String
        public var image: String
    }

    struct CreateVpcAnswer: Decodable, Sendable {
        struct Vpc: Decodable, Sendable { var vpcId: String }
        var vpc: Vpc
    }
    struct CreateSubnetAnswer: Decodable, Sendable {
        struct Subnet: Decodable, Sendable { var subnetId: String }
        var subnet: Subnet
    }
    struct CreateSecurityGroupAnswer: Decodable, Sendable { var groupId: String }
    struct DescribeImagesAnswer: Decodable, Sendable {
        struct Image: Decodable, Sendable {
            var imageId: String?
            var platform: String?
        }
        var imagesSet: EC2Items<Image>?
    }

    /// A VPC, a subnet of `cidr` in `zone`, a security group and one of the API's stock images (moto's).
    public static func network(_ api: EC2API, zone: String, cidr: String, vpcCIDR: String) async throws(CloudError) -> Network {
        let vpc = try await api.call("CreateVpc", [("CidrBlock", vpcCIDR)], as: CreateVpcAnswer.self).vpc.vpcId
        let subnet = try await api.call(
            "CreateSubnet",
            [("VpcId", vpc), ("CidrBlock", cidr), ("AvailabilityZone", zone)],
            as: CreateSubnetAnswer.self
        ).subnet.subnetId
        let group = try await api.call(
            "CreateSecurityGroup",
            [("GroupName", "micado-nodes"), ("GroupDescription", "micado nodes"), ("VpcId", vpc)],
            as: CreateSecurityGroupAnswer.self
        ).groupId
        let images = try await api.call("DescribeImages", [("Owner.1", "amazon")], as: DescribeImagesAnswer.self).imagesSet?.item ?? []
        guard let image = (images.first { $0.platform == nil } ?? images.first)?.imageId else {
            throw CloudError(.badRequest, "the EC2 API offers no image to boot")
        }
        return Network(vpc: vpc, subnet: subnet, cidr: cidr, securityGroup: group, image: image)
    }

    /// The API's own view of an instance.
    public struct Seen: Sendable {
        public var id: String
        public var state: String
        public var privateAddress: String?
        public var subnet: String?
        public var tags: [String: String]
        public var groups: [String]
        public var instanceType: String?
        public var imageId: String?
    }

    struct RawDescribe: Decodable, Sendable {
        struct Reservation: Decodable, Sendable { var instancesSet: EC2Items<RawInstance>? }
        struct RawInstance: Decodable, Sendable {
            struct State: Decodable, Sendable { var name: String }
            struct Tag: Decodable, Sendable {
                var key: String
                var value: String?
            }
            struct Interface: Decodable, Sendable {
                struct Group: Decodable, Sendable { var groupId: String? }
                var groupSet: EC2Items<Group>?
            }
            var instanceId: String
            var instanceState: State
            var privateIpAddress: String?
            var subnetId: String?
            var instanceType: String?
            var imageId: String?
            var tagSet: EC2Items<Tag>?
            var networkInterfaceSet: EC2Items<Interface>?
        }
        var reservationSet: EC2Items<Reservation>?
    }

    public static func seen(_ api: EC2API, _ parameters: [(String, String)] = []) async throws(CloudError) -> [Seen] {
        let answer = try await api.call("DescribeInstances", parameters, as: RawDescribe.self)
        return (answer.reservationSet?.item ?? []).flatMap { $0.instancesSet?.item ?? [] }.map { raw in
            Seen(
                id: raw.instanceId,
                state: raw.instanceState.name,
                privateAddress: raw.privateIpAddress,
                subnet: raw.subnetId,
                tags: Dictionary((raw.tagSet?.item ?? []).map { ($0.key, $0.value ?? "") }, uniquingKeysWith: { a, _ in a }),
                groups: (raw.networkInterfaceSet?.item ?? []).flatMap { $0.groupSet?.item ?? [] }.compactMap(\.groupId),
                instanceType: raw.instanceType,
                imageId: raw.imageId
            )
        }
    }
}
