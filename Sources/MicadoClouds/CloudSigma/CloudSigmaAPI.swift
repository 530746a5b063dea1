import AsyncHTTPClient
import Foundation
import Logging
import MicadoCore
import NIOCore
import NIOHTTP1

/// What micado reads of CloudSigma's API 2.0 JSON: only what it uses, optional where the API
/// may leave it out. Checked against libcloud's recordings of the real API.
public struct CloudSigmaServer: Decodable, Sendable {
    public struct Runtime: Decodable, Sendable {
        public struct NIC: Decodable, Sendable {
            public struct Address: Decodable, Sendable { public var uuid: String? }
            public var ip_v4: Address?
        }
        public var nics: [NIC]?
    }
    public var uuid: String
    public var name: String?
    public var status: String?
    public var meta: [String: String]?
    public var runtime: Runtime?

    enum CodingKeys: String, CodingKey { case uuid, name, status, meta, runtime }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        uuid = try container.decode(String.self, forKey: .uuid)
        name = try container.decodeIfPresent(String.self, forKey: .name)
        status = try container.decodeIfPresent(String.self, forKey: .status)
        runtime = try container.decodeIfPresent(Runtime.self, forKey: .runtime)
        // Meta values are text, but a hand-edited server may hold anything: what is not text is not ours.
        let raw = (try? container.decodeIfPresent([String: LenientText].self, forKey: .meta)) ?? nil
        meta = raw?.compactMapValues(\.text)
    }

    struct LenientText: Decodable {
        var text: String?
        init(from decoder: any Decoder) throws { text = try? decoder.singleValueContainer().decode(String.self) }
    }
}

public struct CloudSigmaDrive: Decodable, Sendable {
    public var uuid: String
    public var name: String?
    public var status: String?
    public var meta: [String: String]?

    enum CodingKeys: String, CodingKey { case uuid, name, status, meta }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        uuid = try container.decode(String.self, forKey: .uuid)
        name = try container.decodeIfPresent(String.self, forKey: .name)
        status = try container.decodeIfPresent(String.self, forKey: .status)
        meta = ((try? container.decodeIfPresent([String: CloudSigmaServer.LenientText].self, forKey: .meta)) ?? nil)?.compactMapValues(
            \.text
        )
    }
}

/// A list answer: `{"meta": {…}, "objects": […]}`.
public struct CloudSigmaList<Object: Decodable & Sendable>: Decodable, Sendable {
    public struct Meta: Decodable, Sendable {
        public var total_count: Int?
    }
    public var meta: Meta?
    /// Each read on its own: one micado cannot read is skipped (see `Lenient`).
    public var objects: [Object]
    /// How many the answer held, readable or not (a page's length).
    public var count: Int

    init(meta: Meta?, objects: [Object]) {
        self.meta = meta
        self.objects = objects
        count = objects.count
    }

    enum CodingKeys: String, CodingKey { case meta, objects }
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        meta = try? container.decodeIfPresent(Meta.self, forKey: .meta)
        let all = try container.decode([Lenient<Object>].self, forKey: .objects)
        objects = all.compactMap(\.value)
        count = all.count
    }
}

/// `GET /pricing/`: every resource's price at each level, and the account's current level of each.
public struct CloudSigmaPricing: Decodable, Sendable {
    public struct Price: Decodable, Sendable {
        public var currency: String?
        public var level: Int?
        public var price: String?
        public var resource: String?
        public var unit: String?
    }
    public var current: [String: Int]?
    public var objects: [Price]

    /// The price per hour of one unit (GHz of CPU, GiB of memory) of `resource` at the current level.
    public func hourly(_ resource: String, currency: String) -> Double? {
        let level = current?[resource] ?? 0
        let matching = objects.filter { $0.resource == resource && $0.currency == currency }
        let chosen = matching.first { ($0.level ?? 0) == level } ?? matching.first { ($0.level ?? 0) == 0 }
        return chosen?.price.flatMap(Double.init)
    }
}

/// CloudSigma's error document: `[{"error_point": …, "error_type": …, "error_message": …}]`.
public struct CloudSigmaError: Decodable, Sendable {
    public var error_type: String?
    public var error_message: String?
}

/// CloudSigma's API 2.0: JSON over HTTP Basic with the account's e-mail and password.
/// Transient failures are retried with backoff and jitter; the others are mapped to the
/// `CloudError` kind the scaler acts on.
public struct CloudSigmaAPI: Sendable {
    let client: CloudAPIClient
    let credentials: CloudSigmaCredentials
    let logger: Logger

    public init(
        endpoint: String,
        credentials: CloudSigmaCredentials,
        http: HTTPClient? = nil,
        retry: CloudHTTP.RetryPolicy = .init(),
        timeout: Duration = .seconds(15),
        logger: Logger
    ) throws(CloudError) {
        client = try CloudAPIClient(base: endpoint, cloud: "CloudSigma", http: http, retry: retry, timeout: timeout)
        self.credentials = credentials
        self.logger = logger
    }

    /// `https://zrh.cloudsigma.com/api/2.0`.
    public var endpoint: String { client.base }
    public var retry: CloudHTTP.RetryPolicy { client.retry }

    public typealias Failure = CloudHTTP.Failure

    /// `method path` (which ends with `/`, as the API's do), decoded as `Answer`; retried while transient.
    public func call<Answer: Decodable & Sendable>(
        _ method: HTTPMethod,
        _ path: String,
        query: [(String, String)] = [],
        body: [UInt8]? = nil,
        as answer: Answer.Type,
        attempts: Int? = nil
    ) async throws(Failure) -> Answer {
        let bytes = try await send(method, path, query: query, body: body, attempts: attempts)
        do { return try JSONDecoder().decode(answer, from: Data(bytes)) } catch {
            throw Failure(
                error: CloudError(
                    .badRequest,
                    "CloudSigma \(method) \(path): the answer is not CloudSigma's JSON (\(OpenStackAPI.reason(error)))"
                )
            )
        }
    }

    public func send(
        _ method: HTTPMethod,
        _ path: String,
        query: [(String, String)] = [],
        body: [UInt8]? = nil,
        attempts: Int? = nil
    ) async throws(Failure)
        -> [UInt8]
    {
        try await client.send(
            method,
            path,
            query: query,
            headers: [CloudAPIClient.basic(credentials.username, credentials.password), ("Accept", "application/json")],
            body: body,
            contentType: "application/json",
            attempts: attempts
        ) { answer, label in
            (200..<300).contains(answer.status)
                ? nil : Failure(status: answer.status, error: failure(status: answer.status, bytes: answer.bytes, label: label))
        }
    }

    func failure(status: UInt, bytes: [UInt8], label: String) -> CloudError {
        guard let first = (try? JSONDecoder().decode([CloudSigmaError].self, from: Data(bytes)))?.first else {
            return CloudError(CloudHTTP.kind(status: status), "\(label): HTTP \(status) without a CloudSigma error document")
        }
        var message = first.error_message ?? ""
        if credentials.password.count >= 4 { message = message.replacingOccurrences(of: credentials.password, with: "<redacted>") }
        let type = first.error_type ?? ""
        return CloudError(
            Self.kind(status: status, type: type, message: message),
            "\(label): \(Text.escaped(String(type.prefix(100)))): \(Text.escaped(String(message.prefix(1000))))"
        )
    }

    public static func kind(status: UInt, type: String, message: String) -> CloudError.Kind {
        let limit = message.localizedCaseInsensitiveContains("limit") || message.localizedCaseInsensitiveContains("quota")
        switch status {
        case 401: return .auth
        case 402: return .quota
        case 403: return limit ? .quota : .auth
        case 409, 429, 500...599: return .transient
        default:
            switch type {
            case "backend", "concurrency": return .transient
            case "billing", "insufficient_funds": return .quota
            default: return limit ? .quota : .badRequest
            }
        }
    }
}

/// A CloudSigma login (the account's e-mail and password). `description` never shows the password.
public struct CloudSigmaCredentials: Sendable, Equatable, CustomStringConvertible {
    public var username: String
    public var password: String
    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }
    public var description: String { "CloudSigma account \(Text.escaped(username))" }

    /// `CLOUDSIGMA_USERNAME` and `CLOUDSIGMA_PASSWORD`, else micado's own
    /// `<home>/credentials/<cloud>` (0600), section `[profile]` else `[default]`: `username`, `password`.
    public static func resolve(
        cloud: String,
        profile: String?,
        micadoHome: String,
        environment: [String: String]
    ) throws(CloudError) -> CloudSigmaCredentials {
        let login = try CredentialsFile.basicLogin(
            cloud: cloud,
            profile: profile,
            micadoHome: micadoHome,
            environment: environment,
            service: "CloudSigma",
            userVariable: "CLOUDSIGMA_USERNAME",
            passwordVariable: "CLOUDSIGMA_PASSWORD",
            userKey: "username"
        )
        return CloudSigmaCredentials(username: login.user, password: login.password)
    }
}
