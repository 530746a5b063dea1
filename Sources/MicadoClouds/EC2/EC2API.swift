import AsyncHTTPClient
import Foundation
import Logging
import MicadoCore
import NIOCore
import NIOHTTP1
import XMLCoder

/// EC2's Query API: a form-encoded POST per action (`Action=…&Version=2016-11-15`), signed
/// with Signature V4 for the service `ec2`, answered in XML. Transient failures (throttling,
/// 5xx, timeouts, lost connections) are retried here with exponential backoff and jitter;
/// every other error is mapped to the `CloudError` kind the scaler acts on.
public struct EC2API: Sendable {
    public static let version = "2016-11-15"
    public static let maximumAnswerBytes = CloudHTTP.maximumAnswerBytes
    public typealias RetryPolicy = CloudHTTP.RetryPolicy

    /// `https://ec2.eu-west-1.amazonaws.com`, or an EC2-compatible API's.
    public let endpoint: String
    public let region: String
    let signer: SignatureV4
    /// The `Host` header as signed: the port only when it is not the scheme's own.
    let host: String
    let http: HTTPClient
    public var retry: RetryPolicy
    /// For one attempt, the answer's body included.
    public var timeout: Duration
    let logger: Logger

    public init(
        region: String,
        endpoint: String?,
        credentials: AWSCredentials,
        http: HTTPClient? = nil,
        retry: RetryPolicy = .init(),
        timeout: Duration = .seconds(15),
        logger: Logger
    ) throws(CloudError) {
        let text = endpoint ?? "https://ec2.\(region).amazonaws.com"
        guard let url = URL(string: text), let scheme = url.scheme, scheme == "http" || scheme == "https", let hostName = url.host,
            !hostName.isEmpty
        else {
            throw CloudError(.badRequest, "the EC2 endpoint \(Text.escaped(text)) is not http(s)://HOST[:PORT]")
        }
        guard scheme == "https" || Self.isLoopback(hostName) else {
            throw CloudError(.badRequest, "the EC2 endpoint \(Text.escaped(text)) must be https:// (plain http only to this machine)")
        }
        let defaultPort = scheme == "https" ? 443 : 80
        self.host = url.port.map { $0 == defaultPort ? hostName : "\(hostName):\($0)" } ?? hostName
        self.endpoint = "\(scheme)://\(host)"
        self.region = region
        self.signer = SignatureV4(credentials: credentials, region: region, service: "ec2")
        self.http = http ?? CloudHTTP.sharedClient
        self.retry = retry
        self.timeout = timeout
        self.logger = logger
    }

    public typealias Failure = CloudHTTP.Failure

    public static func isLoopback(_ host: String) -> Bool { CloudHTTP.isLoopback(host) }

    /// `action` with `parameters`, its answer decoded as `Answer`; retried while transient.
    public func call<Answer: Decodable & Sendable>(
        _ action: String,
        _ parameters: [(String, String)] = [],
        as answer: Answer.Type
    ) async throws(CloudError)
        -> Answer
    {
        do { return try await send(action, parameters, as: answer) } catch { throw error.error }
    }

    /// `call`, with the cloud's error code kept.
    /// `attempts` overrides the policy's (1: the caller retries itself).
    public func send<Answer: Decodable & Sendable>(
        _ action: String,
        _ parameters: [(String, String)] = [],
        as answer: Answer.Type,
        attempts: Int? = nil
    ) async throws(Failure) -> Answer {
        try await CloudHTTP.retrying(retry, label: "EC2 \(action)", attempts: attempts) { () async throws(Failure) -> Answer in
            do throws(Failure) { return try await once(action, parameters, as: answer) } catch {
                if error.error.kind == .transient {
                    logger.debug("EC2 call failed", metadata: ["ec2.action": "\(action)", "ec2.error": "\(error.error.message)"])
                }
                throw error
            }
        }
    }

    func backoff(attempt: Int) -> Duration { retry.backoff(attempt: attempt) }

    /// The form body: every name and value percent-encoded as Signature V4 encodes them.
    static func form(_ action: String, _ parameters: [(String, String)]) -> String {
        ([("Action", action), ("Version", version)] + parameters).map { SignatureV4.encode($0.0) + "=" + SignatureV4.encode($0.1) }.joined(
            separator: "&"
        )
    }

    func once<Answer: Decodable & Sendable>(
        _ action: String,
        _ parameters: [(String, String)],
        as answer: Answer.Type
    ) async throws(Failure) -> Answer {
        let body = Array(Self.form(action, parameters).utf8)
        let contentType = "application/x-www-form-urlencoded; charset=utf-8"
        var request = HTTPClientRequest(url: endpoint + "/")
        request.method = .POST
        request.headers.add(name: "Host", value: host)
        request.headers.add(name: "Content-Type", value: contentType)
        let signed = signer.sign(
            SignatureV4.Request(method: "POST", path: "/", headers: [("Host", host), ("Content-Type", contentType)], body: body),
            date: Date()
        )
        for (name, value) in signed { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(bytes: body))
        let status: UInt
        let bytes: [UInt8]
        do { (status, bytes) = try await exchange(request, action: action) } catch { throw Failure(code: nil, error: error) }
        guard (200..<300).contains(status) else { throw failure(status: status, bytes: bytes, action: action) }
        do { return try GuardedXML.decode(answer, from: bytes, action: action) } catch { throw Failure(code: nil, error: error) }
    }

    /// The request and its whole answer within `timeout`, the body bounded.
    func exchange(_ request: HTTPClientRequest, action: String) async throws(CloudError) -> (status: UInt, bytes: [UInt8]) {
        let answer = try await CloudHTTP.exchange(request, client: http, timeout: timeout, label: "EC2 \(action)")
        return (answer.status, answer.bytes)
    }

    /// The cloud's error document (`<Response><Errors><Error><Code>`), as a `CloudError`
    /// that keeps its code and message, escaped and with our own secrets blotted out.
    func failure(status: UInt, bytes: [UInt8], action: String) -> Failure {
        let document = try? GuardedXML.decode(EC2ErrorDocument.self, from: bytes, action: action)
        guard let error = document?.first, let code = error.code, !code.isEmpty else {
            return Failure(
                code: nil,
                error: CloudError(CloudHTTP.kind(status: status), "EC2 \(action): HTTP \(status) without an EC2 error document")
            )
        }
        let message = redacted(error.message ?? "")
        let text = "EC2 \(action): \(Text.escaped(String(code.prefix(200)))): \(Text.escaped(String(message.prefix(1000))))"
        return Failure(code: code, error: CloudError(Self.kind(code: code, status: status), text))
    }

    /// The credentials' secrets never leave in an error, even if an endpoint echoes them.
    func redacted(_ text: String) -> String {
        var text = text
        for secret in [signer.credentials.secretAccessKey, signer.credentials.sessionToken ?? ""] where secret.count >= 8 {
            text = text.replacingOccurrences(of: secret, with: "<redacted>")
        }
        return text
    }

    public static func kind(code: String, status: UInt) -> CloudError.Kind {
        switch code {
        case "InsufficientInstanceCapacity", "InsufficientHostCapacity", "InsufficientReservedInstanceCapacity", "Unsupported": .capacity
        case "InstanceLimitExceeded", "VcpuLimitExceeded", "MaxSpotInstanceCountExceeded", "InsufficientFreeAddressesInSubnet": .quota
        case "AuthFailure", "UnauthorizedOperation", "InvalidClientTokenId", "SignatureDoesNotMatch", "OptInRequired", "Blocked",
            "PendingVerification", "ExpiredToken", "RequestExpired":
            .auth
        case "RequestLimitExceeded", "ServiceUnavailable", "Unavailable", "InternalError", "InternalFailure", "Throttling": .transient
        default: (500...599).contains(status) ? .transient : .badRequest
        }
    }
}

/// A cloud's XML (EC2's, CloudBroker's), read with XMLCoder. Before the parser sees an answer, what it cannot take is
/// refused: document type declarations (entity expansion), nesting deeper than any EC2
/// answer (the decoder recurses once per level), and anything but UTF-8 text (Foundation's
/// parser, in libxml2's recover mode, stops the process on a name that is not UTF-8).
public enum GuardedXML {
    public static let maximumDepth = 64

    /// An EC2 answer to `action`.
    public static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8], action: String) throws(CloudError) -> T {
        try decode(type, from: bytes, label: "EC2 \(action)", cloud: "EC2")
    }

    /// An answer of `cloud`'s (EC2, CloudBroker) to the call `label` names.
    public static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8], label: String, cloud: String) throws(CloudError) -> T {
        if let problem = refusal(bytes) { throw CloudError(.badRequest, "\(label): the answer is not \(cloud)'s XML (\(problem))") }
        let decoder = XMLDecoder(trimValueWhitespaces: true, removeWhitespaceElements: true)
        do { return try decoder.decode(type, from: Data(bytes)) } catch {
            throw CloudError(.badRequest, "\(label): the answer is not \(cloud)'s XML (\(reason(error)))")
        }
    }

    /// Why `bytes` must not reach the parser, if they must not. A scan of the tag structure:
    /// every end tag must close the element open at that level, by name, and nothing may
    /// nest deeper than `maximumDepth` (Foundation's parser recovers from broken structure,
    /// so a depth it would reach by recovering must be refused here; an attack nested 200,000
    /// levels through `</x/>`, which an earlier count took for two end tags). Text and quoted
    /// attribute values cannot fake a tag.
    static func refusal(_ bytes: [UInt8]) -> String? {
        guard String(validating: bytes, as: UTF8.self) != nil else { return "it is not UTF-8" }
        if bytes.contains(where: { $0 < 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D }) { return "it has control characters" }
        // The declaration may name no encoding but UTF-8: libxml2 would convert from any other.
        let text = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? bytes.dropFirst(3) : bytes[...]
        if text.starts(with: Array("<?xml".utf8)) {
            let declaration = String(decoding: text.prefix(while: { $0 != UInt8(ascii: ">") }), as: UTF8.self).lowercased()
            if declaration.contains("encoding") && !declaration.contains("utf-8") { return "it declares an encoding other than UTF-8" }
        }
        func isNameByte(_ byte: UInt8) -> Bool {
            !(byte == UInt8(ascii: " ") || byte == 0x09 || byte == 0x0A || byte == 0x0D || byte == UInt8(ascii: "/")
                || byte == UInt8(ascii: ">")
                || byte == UInt8(ascii: "<") || byte == UInt8(ascii: "=") || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'"))
        }
        var open: [ArraySlice<UInt8>] = []
        var index = 0
        while index < bytes.count {
            guard bytes[index] == UInt8(ascii: "<") else {
                index += 1
                continue
            }
            let next = index + 1 < bytes.count ? bytes[index + 1] : 0
            if next == UInt8(ascii: "!") { return "it has a declaration (<!…)" }
            if next == UInt8(ascii: "?") {
                // <?xml …?>: skipped whole.
                while index + 1 < bytes.count && !(bytes[index] == UInt8(ascii: "?") && bytes[index + 1] == UInt8(ascii: ">")) {
                    index += 1
                }
                index += 2
                continue
            }
            let closing = next == UInt8(ascii: "/")
            var cursor = index + (closing ? 2 : 1)
            let nameStart = cursor
            while cursor < bytes.count && isNameByte(bytes[cursor]) { cursor += 1 }
            let name = bytes[nameStart..<cursor]
            guard !name.isEmpty else { return "it has a tag without a name" }
            // The rest of the tag: attributes (quoted values skipped whole), then > or />.
            var quote: UInt8?
            var selfClosing = false
            while true {
                guard cursor < bytes.count else { return "it ends inside a tag" }
                let byte = bytes[cursor]
                if let q = quote {
                    if byte == q { quote = nil }
                } else if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'") {
                    if closing { return "it has an end tag with attributes" }
                    quote = byte
                } else if byte == UInt8(ascii: "<") {
                    return "it has a < inside a tag"
                } else if byte == UInt8(ascii: ">") {
                    selfClosing = bytes[cursor - 1] == UInt8(ascii: "/")
                    break
                }
                cursor += 1
            }
            if closing {
                if selfClosing
                    || bytes[(index + 2 + name.count)..<cursor].contains(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D })
                {
                    return "it has a malformed end tag"
                }
                guard let top = open.popLast(), top.elementsEqual(name) else { return "its end tags do not match its start tags" }
            } else if !selfClosing {
                open.append(name)
                if open.count > maximumDepth { return "it nests deeper than \(maximumDepth) elements" }
            }
            index = cursor + 1
        }
        return open.isEmpty ? nil : "it ends before its elements are closed"
    }

    /// A decoding error in a line, without the answer's text.
    static func reason(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, let context):
            "\(Text.escaped((context.codingPath.map(\.stringValue) + [key.stringValue]).joined(separator: "."))) is missing"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            "\(Text.escaped(context.codingPath.map(\.stringValue).joined(separator: "."))) is not what EC2 sends"
        // The parser's own errors (NSError from libxml2) and corrupted data alike.
        default: "malformed XML"
        }
    }
}
