import Foundation

// What micado reads of Keystone's and Nova's JSON: only the fields it uses, every one
// optional where the API may leave it out, so a new field or a missing one never fails a
// whole answer. Checked against the API samples Nova's and Keystone's own tests generate.

/// `POST /v3/auth/tokens`'s answer (the token itself is the `X-Subject-Token` header).
public struct KeystoneTokenAnswer: Decodable, Sendable {
    public struct Token: Decodable, Sendable {
        public var expiresAt: String?
        public var catalog: [Service]?
        enum CodingKeys: String, CodingKey {
            case expiresAt = "expires_at"
            case catalog
        }
    }
    public struct Service: Decodable, Sendable {
        public var type: String?
        public var name: String?
        public var endpoints: [Endpoint]?
    }
    public struct Endpoint: Decodable, Sendable {
        public var interface: String?
        public var region: String?
        public var regionID: String?
        public var url: String?
        enum CodingKeys: String, CodingKey {
            case interface, region, url
            case regionID = "region_id"
        }
    }
    public var token: Token
}

/// `GET /flavors/detail`.
public struct NovaFlavorList: Decodable, Sendable {
    public struct Flavor: Decodable, Sendable {
        public var id: String
        public var name: String
        /// MiB.
        public var ram: Int?
        public var vcpus: Int?
        public var disabled: Bool?
        enum CodingKeys: String, CodingKey {
            case id, name, ram, vcpus
            case disabled = "OS-FLV-DISABLED:disabled"
        }
    }
    public var flavors: [Flavor]
}

/// A server as `GET /servers/{id}` and `GET /servers/detail` describe it.
public struct NovaServer: Decodable, Sendable {
    public struct Address: Decodable, Sendable {
        public var addr: String?
        public var version: Int?
        /// `fixed` or `floating`.
        public var type: String?
        enum CodingKeys: String, CodingKey {
            case addr, version
            case type = "OS-EXT-IPS:type"
        }
    }
    public struct Fault: Decodable, Sendable {
        public var code: Int?
        public var message: String?
    }
    public var id: String
    public var name: String?
    public var status: String?
    /// Network name → its addresses.
    public var addresses: [String: [Address]]?
    public var metadata: [String: String]?
    public var tags: [String]?
    public var fault: Fault?
}

public struct NovaServerAnswer: Decodable, Sendable {
    public var server: NovaServer
}

/// `POST /servers`'s answer: the new server's ID (and its admin password, not kept).
public struct NovaCreateAnswer: Decodable, Sendable {
    public struct Created: Decodable, Sendable { public var id: String }
    public var server: Created
}

public struct NovaServerList: Decodable, Sendable {
    public struct Link: Decodable, Sendable {
        public var rel: String?
    }
    /// Each read on its own: one micado cannot read is skipped (see `Lenient`).
    public var servers: [NovaServer]
    /// A `next` link says there is another page, whatever this one's length (Nova's max_limit may be below micado's page).
    public var hasNext: Bool
    enum CodingKeys: String, CodingKey {
        case servers
        case links = "servers_links"
    }
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        servers = try container.decode([Lenient<NovaServer>].self, forKey: .servers).compactMap(\.value)
        hasNext = ((try? container.decodeIfPresent([Link].self, forKey: .links)) ?? nil)?.contains { $0.rel == "next" } ?? false
    }
}

/// Nova's error document, `{"badRequest": {"message": …, "code": 400}}` (the key names the
/// kind), and Keystone's, `{"error": {"message": …, "code": 401, "title": …}}`.
public struct OpenStackErrorDocument: Decodable, Sendable {
    public struct Body: Decodable, Sendable {
        public var message: String?
        public var code: Int?
    }
    public var kind: String
    public var body: Body

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        guard let key = container.allKeys.first, container.allKeys.count == 1 else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "not one error object"))
        }
        kind = key.stringValue
        body = try container.decode(Body.self, forKey: key)
    }
}
