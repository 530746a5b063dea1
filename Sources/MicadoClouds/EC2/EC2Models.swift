import Foundation

// EC2's answers, as much of them as micado reads. EC2 writes a list as `<fooSet><item>…`;
// an empty list is `<fooSet/>` or absent. Every field is optional: what is missing is
// checked where it is used, with a message that says what.

/// `<fooSet><item>…</item>…</fooSet>`
public struct EC2Items<Element: Decodable & Sendable>: Decodable, Sendable {
    public var item: [Element]
    enum CodingKeys: String, CodingKey { case item }
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        item = try container.decodeIfPresent([Element].self, forKey: .item) ?? []
    }
}

extension Optional {
    /// The elements of an optional EC2 list.
    func items<Element>() -> [Element] where Wrapped == EC2Items<Element> { self?.item ?? [] }
}

/// `<Response><Errors><Error><Code>…` (EC2) or `<ErrorResponse><Error><Code>…` (some fronts).
public struct EC2ErrorDocument: Decodable, Sendable {
    public struct Entry: Decodable, Sendable {
        public var code: String?
        public var message: String?
        enum CodingKeys: String, CodingKey {
            case code = "Code"
            case message = "Message"
        }
    }
    struct Errors: Decodable, Sendable {
        var error: [Entry]?
        enum CodingKeys: String, CodingKey { case error = "Error" }
    }
    var errors: Errors?
    var error: Entry?
    enum CodingKeys: String, CodingKey {
        case errors = "Errors"
        case error = "Error"
    }
    public var first: Entry? { errors?.error?.first ?? error }
}

public struct EC2Tag: Decodable, Sendable {
    public var key: String?
    public var value: String?
}

public struct EC2Instance: Decodable, Sendable {
    public struct State: Decodable, Sendable {
        public var code: Int?
        public var name: String?
    }
    public struct StateReason: Decodable, Sendable {
        public var code: String?
        public var message: String?
    }
    public struct Placement: Decodable, Sendable {
        public var availabilityZone: String?
    }
    public var instanceId: String?
    public var instanceType: String?
    public var instanceState: State?
    public var stateReason: StateReason?
    public var privateIpAddress: String?
    /// The public IPv4 address (EC2 calls it `ipAddress`).
    public var ipAddress: String?
    public var subnetId: String?
    public var placement: Placement?
    public var tagSet: EC2Items<EC2Tag>?
}

public struct EC2Reservation: Decodable, Sendable {
    public var instancesSet: EC2Items<EC2Instance>?
}

public struct EC2DescribeInstancesAnswer: Decodable, Sendable {
    public var reservationSet: EC2Items<EC2Reservation>?
    public var nextToken: String?
}

public struct EC2RunInstancesAnswer: Decodable, Sendable {
    public var instancesSet: EC2Items<EC2Instance>?
}

public struct EC2TerminateInstancesAnswer: Decodable, Sendable {
    public struct Change: Decodable, Sendable {
        public var instanceId: String?
        public var currentState: EC2Instance.State?
    }
    public var instancesSet: EC2Items<Change>?
}

public struct EC2InstanceTypeInfo: Decodable, Sendable {
    public struct VCPUInfo: Decodable, Sendable {
        public var defaultVCpus: Int?
    }
    public struct MemoryInfo: Decodable, Sendable {
        public var sizeInMiB: Int?
    }
    public var instanceType: String?
    public var vCpuInfo: VCPUInfo?
    public var memoryInfo: MemoryInfo?
}

public struct EC2DescribeInstanceTypesAnswer: Decodable, Sendable {
    public var instanceTypeSet: EC2Items<EC2InstanceTypeInfo>?
    public var nextToken: String?
}

public struct EC2Subnet: Decodable, Sendable {
    public var subnetId: String?
    public var vpcId: String?
    public var cidrBlock: String?
    public var availabilityZone: String?
}

public struct EC2DescribeSubnetsAnswer: Decodable, Sendable {
    public var subnetSet: EC2Items<EC2Subnet>?
}

/// Answers whose content micado does not need (only that they came, as a 2xx).
public struct EC2AnyAnswer: Decodable, Sendable {
    public init(from decoder: any Decoder) throws {}
}
