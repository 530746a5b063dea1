import Crypto
import Foundation

/// AWS credentials. The secret and the session token are never logged, printed or put in
/// an error: `description` shows the access key ID only.
public struct AWSCredentials: Sendable, Equatable, CustomStringConvertible, CustomReflectable {
    public var accessKeyID: String
    public var secretAccessKey: String
    public var sessionToken: String?

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }

    public var description: String { "AWS credentials \(accessKeyID)" }

    /// `dump` and other reflection see the access key ID only, too.
    public var customMirror: Mirror { Mirror(self, children: ["accessKeyID": accessKeyID]) }
}

/// Signature Version 4 (header form), as AWS documents it and its public test suite checks.
///
/// `sign` takes the request as it will be sent (method, path, query, headers, body) and
/// returns the headers to add: `X-Amz-Date`, `Authorization` and, with temporary
/// credentials, `X-Amz-Security-Token`.
public struct SignatureV4: Sendable {
    public var credentials: AWSCredentials
    public var region: String
    public var service: String

    public init(credentials: AWSCredentials, region: String, service: String) {
        self.credentials = credentials
        self.region = region
        self.service = service
    }

    public struct Request: Sendable {
        public var method: String
        /// The path as sent, already percent-encoded (`/`, or `/a%20b`).
        public var path: String
        /// Decoded query parameters, in any order; repeated names allowed.
        public var query: [(String, String)]
        /// Every header that will be sent and signed (`Host` included).
        public var headers: [(String, String)]
        public var body: [UInt8]

        public init(method: String, path: String, query: [(String, String)] = [], headers: [(String, String)], body: [UInt8] = []) {
            self.method = method
            self.path = path
            self.query = query
            self.headers = headers
            self.body = body
        }
    }

    /// The headers to add to `request` for it to be accepted at `date`.
    public func sign(_ request: Request, date: Date) -> [(String, String)] {
        let (amzDate, day) = Self.timestamps(date)
        var headers = request.headers
        headers.append(("X-Amz-Date", amzDate))
        if let token = credentials.sessionToken { headers.append(("X-Amz-Security-Token", token)) }
        let canonical = canonicalRequest(
            Request(method: request.method, path: request.path, query: request.query, headers: headers, body: request.body)
        )
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let toSign = stringToSign(canonicalRequest: canonical.text, amzDate: amzDate, scope: scope)
        let signature = Self.hex(HMAC<SHA256>.authenticationCode(for: Data(toSign.utf8), using: signingKey(day: day)))
        var added = [("X-Amz-Date", amzDate)]
        if let token = credentials.sessionToken { added.append(("X-Amz-Security-Token", token)) }
        added.append(
            (
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(canonical.signedHeaders), Signature=\(signature)"
            )
        )
        return added
    }

    // MARK: the steps, each checked against the test suite

    public struct CanonicalRequest: Sendable {
        public var text: String
        public var signedHeaders: String
    }

    public func canonicalRequest(_ request: Request) -> CanonicalRequest {
        // Header names lower-cased and sorted; values trimmed with every inner run of white space
        // (a folded line's line break included) made one space; repeats joined by commas, in order.
        var byName: [String: [String]] = [:]
        for (name, value) in request.headers {
            byName[name.lowercased(), default: []].append(Self.trimAll(value))
        }
        let names = byName.keys.sorted(by: Self.bytewise)
        let headerLines = names.map { "\($0):\((byName[$0] ?? []).joined(separator: ","))\n" }.joined()
        let signedHeaders = names.joined(separator: ";")
        // Query parameters encoded once, sorted by encoded name, then by encoded value.
        let encoded: [(name: String, value: String)] = request.query.map { (Self.encode($0.0), Self.encode($0.1)) }
        let query: String = encoded.sorted { a, b in a.name != b.name ? Self.bytewise(a.name, b.name) : Self.bytewise(a.value, b.value) }
            .map { "\($0.name)=\($0.value)" }.joined(separator: "&")
        let payloadHash: String = Self.sha256Hex(request.body)
        let lines: [String] = [request.method, Self.normalizedPath(request.path), query, headerLines, signedHeaders, payloadHash]
        let text = lines.joined(separator: "\n")
        return CanonicalRequest(text: text, signedHeaders: signedHeaders)
    }

    public func stringToSign(canonicalRequest: String, amzDate: String, scope: String) -> String {
        "AWS4-HMAC-SHA256\n\(amzDate)\n\(scope)\n\(Self.hex(SHA256.hash(data: Data(canonicalRequest.utf8))))"
    }

    func signingKey(day: String) -> SymmetricKey {
        var key = SymmetricKey(data: Data("AWS4\(credentials.secretAccessKey)".utf8))
        for part in [day, region, service, "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key)))
        }
        return key
    }

    /// `20150830T123600Z` and `20150830`, in UTC.
    public static func timestamps(_ date: Date) -> (String, String) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        let day = String(format: "%04d%02d%02d", c.year ?? 0, c.month ?? 0, c.day ?? 0)
        return (day + String(format: "T%02d%02d%02dZ", c.hour ?? 0, c.minute ?? 0, c.second ?? 0), day)
    }

    static let unreserved = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~".utf8)

    /// RFC 3986 unreserved characters stay; every other byte is %XX (upper case).
    public static func encode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            if unreserved.contains(byte) {
                out.append(Character(UnicodeScalar(byte)))
            } else {
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    /// The path with empty and `.` segments dropped, `..` segments resolved and a trailing slash
    /// kept (every service but S3 normalizes), then encoded once more: the path is taken as
    /// sent, already percent-encoded, and every service but S3 signs it encoded twice, so
    /// `/a%20b` is signed as `/a%2520b`. (Decoding it first would sign `/a%20b`, which the
    /// service does not compute.)
    static func normalizedPath(_ path: String) -> String {
        var segments: [Substring] = []
        for segment in path.split(separator: "/", omittingEmptySubsequences: true) {
            if segment == "." { continue }
            if segment == ".." {
                if !segments.isEmpty { segments.removeLast() }
                continue
            }
            segments.append(segment)
        }
        let trailing = path.hasSuffix("/") && !segments.isEmpty ? "/" : ""
        return "/" + segments.map { encode(String($0)) }.joined(separator: "/") + trailing
    }

    /// The value without leading or trailing white space and with each inner run of white
    /// space (space, tab, line feed, vertical tab, form feed, carriage return) made one space.
    static func trimAll(_ value: String) -> String {
        var out: [UInt8] = []
        var pendingSpace = false
        for byte in value.utf8 {
            if byte == 0x20 || (0x09...0x0D).contains(byte) {
                pendingSpace = !out.isEmpty
            } else {
                if pendingSpace { out.append(0x20) }
                pendingSpace = false
                out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Byte order of the UTF-8 text, as the canonical request sorts.
    static func bytewise(_ a: String, _ b: String) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }

    /// The lower-case hex SHA-256 of `bytes` (the canonical request's payload hash).
    static func sha256Hex(_ bytes: [UInt8]) -> String {
        hex(SHA256.hash(data: bytes))
    }

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        digest.map { String(format: "%02x", $0) }.joined()
    }
}
