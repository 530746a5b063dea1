import AsyncHTTPClient
import Foundation
import Logging
import MicadoCore
import NIOCore
import NIOHTTP1

// The CloudBroker Platform's REST API as its reference clients use it (Occopus' resource
// handler, MiCADO's launcher, CloudBroker's Java client): XML chosen by a `.xml` suffix,
// HTTP Basic with the account's e-mail and password. No API manual was found; this has not
// met the real service.

/// `<instance>`: what the clients read of it.
public struct CloudBrokerInstance: Decodable, Sendable {
    public var id: String
    public var name: String?
    public var status: String?
    public var externalIPAddress: String?
    public var internalIPAddress: String?
    enum CodingKeys: String, CodingKey {
        case id, name, status
        case externalIPAddress = "external-ip-address"
        case internalIPAddress = "internal-ip-address"
    }
}

/// `<instances type="array"><instance>…</instance>…</instances>`.
public struct CloudBrokerInstances: Decodable, Sendable {
    /// Each read on its own: one micado cannot read is skipped (see `Lenient`).
    public var instance: [CloudBrokerInstance]?
    enum CodingKeys: String, CodingKey { case instance }
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        instance = try container.decodeIfPresent([Lenient<CloudBrokerInstance>].self, forKey: .instance)?.compactMap(\.value)
    }
}

/// `<instance-type>`: `cpus`, and `memory` (a number without a unit: GiB, as the platform's
/// examples read).
public struct CloudBrokerInstanceType: Decodable, Sendable {
    public var id: String
    public var name: String?
    public var cpus: Int?
    public var memory: Double?
}

public struct CloudBrokerInstanceTypes: Decodable, Sendable {
    public var instanceType: [CloudBrokerInstanceType]?
    enum CodingKeys: String, CodingKey { case instanceType = "instance-type" }
}

/// `<instance-type-price>`: the runtime fee, per hour.
public struct CloudBrokerPrice: Decodable, Sendable {
    public var instanceRuntimeFee: Double?
    enum CodingKeys: String, CodingKey { case instanceRuntimeFee = "instance-runtime-fee" }
}

/// `<errors><error>…</error><type>authentication|missing rights|wrong status</type></errors>`.
public struct CloudBrokerErrors: Decodable, Sendable {
    public var error: [String]?
    public var type: String?
}

public struct CloudBrokerAPI: Sendable {
    let client: CloudAPIClient
    let credentials: CloudBrokerCredentials
    let logger: Logger

    public init(
        endpoint: String,
        credentials: CloudBrokerCredentials,
        http: HTTPClient? = nil,
        retry: CloudHTTP.RetryPolicy = .init(),
        timeout: Duration = .seconds(15),
        logger: Logger
    ) throws(CloudError) {
        client = try CloudAPIClient(base: endpoint, cloud: "CloudBroker", http: http, retry: retry, timeout: timeout)
        self.credentials = credentials
        self.logger = logger
    }

    public var endpoint: String { client.base }
    public var retry: CloudHTTP.RetryPolicy { client.retry }

    /// Its `code` is the `<type>` of the platform's `<errors>` (`wrong status`, `authentication`, …).
    public typealias Failure = CloudHTTP.Failure

    /// `method path` (with its `.xml`), decoded as `Answer`; retried while transient.
    public func call<Answer: Decodable & Sendable>(
        _ method: HTTPMethod,
        _ path: String,
        query: [(String, String)] = [],
        body: [UInt8]? = nil,
        as answer: Answer.Type,
        attempts: Int? = nil
    ) async throws(Failure) -> Answer {
        let bytes = try await send(method, path, query: query, body: body, attempts: attempts)
        do { return try GuardedXML.decode(answer, from: bytes, label: "CloudBroker \(method) \(path)", cloud: "CloudBroker") } catch {
            throw Failure(error: error)
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
            headers: [CloudAPIClient.basic(credentials.email, credentials.password)],
            body: body,
            contentType: "application/xml",
            attempts: attempts
        ) { answer, label in
            // The Java client looks for <errors> whatever the status: a failed POST may come with 200.
            if let errors = try? GuardedXML.decode(CloudBrokerErrors.self, from: answer.bytes, label: label, cloud: "CloudBroker"),
                errors.error != nil
            {
                return failure(status: answer.status, errors: errors, label: label)
            }
            guard (200..<300).contains(answer.status) else {
                return Failure(
                    status: answer.status,
                    error: CloudError(
                        CloudHTTP.kind(status: answer.status),
                        "\(label): HTTP \(answer.status) without a CloudBroker error document"
                    )
                )
            }
            return nil
        }
    }

    func failure(status: UInt, errors: CloudBrokerErrors, label: String) -> Failure {
        var message = (errors.error ?? []).joined(separator: "; ")
        if credentials.password.count >= 4 { message = message.replacingOccurrences(of: credentials.password, with: "<redacted>") }
        let type = errors.type ?? ""
        return Failure(
            status: status,
            code: type,
            error: CloudError(
                Self.kind(status: status, type: type, message: message),
                "\(label): \(Text.escaped(String(message.prefix(1000))))"
            )
        )
    }

    public static func kind(status: UInt, type: String, message: String) -> CloudError.Kind {
        let limit = ["limit", "quota", "credit", "budget", "insufficient funds"].contains { message.localizedCaseInsensitiveContains($0) }
        switch (type, status) {
        case ("authentication", _), ("missing rights", _), (_, 401), (_, 403): return limit ? .quota : .auth
        case (_, 402): return .quota
        case (_, 409), (_, 429), (_, 500...599): return .transient
        default: return limit ? .quota : .badRequest
        }
    }
}

/// A CloudBroker login (the account's e-mail and password). `description` never shows the password.
public struct CloudBrokerCredentials: Sendable, Equatable, CustomStringConvertible {
    public var email: String
    public var password: String
    public init(email: String, password: String) {
        self.email = email
        self.password = password
    }
    public var description: String { "CloudBroker account \(Text.escaped(email))" }

    /// `CLOUDBROKER_EMAIL` and `CLOUDBROKER_PASSWORD`, else micado's own
    /// `<home>/credentials/<cloud>` (0600), section `[profile]` else `[default]`: `email`, `password`.
    public static func resolve(
        cloud: String,
        profile: String?,
        micadoHome: String,
        environment: [String: String]
    ) throws(CloudError) -> CloudBrokerCredentials {
        let login = try CredentialsFile.basicLogin(
            cloud: cloud,
            profile: profile,
            micadoHome: micadoHome,
            environment: environment,
            service: "CloudBroker",
            userVariable: "CLOUDBROKER_EMAIL",
            passwordVariable: "CLOUDBROKER_PASSWORD",
            userKey: "email"
        )
        return CloudBrokerCredentials(email: login.user, password: login.password)
    }
}
