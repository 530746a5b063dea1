import Foundation
import Testing

@testable import MicadoClouds

/// `SignatureV4` against AWS's published Signature V4 test suite (aws-c-auth's
/// tests/aws-signing-test-suite/v4, copied under Resources/aws-signing-test-suite; see its README).
///
/// Every case is checked step by step and exactly: the canonical request, the string to sign,
/// the signature, and the signed request (the headers `sign` adds, with their values).
///
/// Cases of the suite left out (not copied), and why:
/// - the seven `*-unnormalized` cases (`"normalize": false`): get-relative-unnormalized,
///   get-relative-relative-unnormalized, get-slash-unnormalized, get-slash-dot-slash-unnormalized,
///   get-slash-pointless-dot-unnormalized, get-slashes-unnormalized, get-space-unnormalized. They
///   sign the path without normalizing it, as only S3 does; `SignatureV4` signs for EC2 and
///   always normalizes, as every service but S3 requires, and has no switch for S3's rules.
/// - post-sts-header-after (`"omit_session_token": true`): it adds X-Amz-Security-Token after
///   signing, unsigned, as a few services (IoT) want; `SignatureV4` always signs the token, which
///   EC2 accepts, as post-sts-header-before (included) checks.
/// - every query-signed form (query-*.txt, presigned URLs) and the v4a (ECDSA) cases:
///   `SignatureV4` signs in the Authorization header with HMAC-SHA256 only.
/// The suite's v4 cases need no unsigned payload and no chunked encoding, so none is left out
/// for that. The two `"sign_body": true` cases are included: there the signer of the suite
/// also sends `x-amz-content-sha256`, which `SignatureV4` leaves to its caller, so the test
/// adds that header (the SHA-256 of the body) to the request before signing, as a caller would.
@Suite struct SignatureV4Tests {
    /// The cases checked: every folder under Resources/aws-signing-test-suite/v4.
    static let cases = [
        "get-header-key-duplicate",
        "get-header-value-multiline",
        "get-header-value-order",
        "get-header-value-trim",
        "get-relative-normalized",
        "get-relative-relative-normalized",
        "get-slash-dot-slash-normalized",
        "get-slash-normalized",
        "get-slash-pointless-dot-normalized",
        "get-slashes-normalized",
        "get-space-normalized",
        "get-unreserved",
        "get-utf8",
        "get-vanilla",
        "get-vanilla-empty-query-key",
        "get-vanilla-query",
        "get-vanilla-query-order-encoded",
        "get-vanilla-query-order-key-case",
        "get-vanilla-query-unreserved",
        "get-vanilla-utf8-query",
        "get-vanilla-with-session-token",
        "post-header-key-case",
        "post-header-key-sort",
        "post-header-value-case",
        "post-sts-header-before",
        "post-vanilla",
        "post-vanilla-empty-query-value",
        "post-vanilla-query",
        "post-x-www-form-urlencoded",
        "post-x-www-form-urlencoded-parameters",
    ]

    /// The copied Resources folder is the bundle's resource folder on Linux, a folder inside it on macOS.
    static var suiteDirectory: String {
        let resources = Bundle.module.resourcePath ?? ""
        let candidates = [resources + "/Resources/aws-signing-test-suite/v4", resources + "/aws-signing-test-suite/v4"]
        return candidates.first { FileManager.default.fileExists(atPath: $0) } ?? candidates[0]
    }

    @Test func everyCopiedCaseIsChecked() throws {
        let folders = try FileManager.default.contentsOfDirectory(atPath: Self.suiteDirectory).sorted()
        #expect(folders == Self.cases.sorted())
    }

    @Test(arguments: cases)
    func suiteCase(_ name: String) throws {
        let folder = Self.suiteDirectory + "/" + name
        let context = try JSONDecoder().decode(Context.self, from: try Data(contentsOf: URL(fileURLWithPath: folder + "/context.json")))
        let expectedCanonical = try Self.text(folder + "/header-canonical-request.txt")
        let expectedStringToSign = try Self.text(folder + "/header-string-to-sign.txt")
        let expectedSignature = try Self.text(folder + "/header-signature.txt")
        let unsigned = try RawRequest(try Self.bytes(folder + "/request.txt"))
        let signed = try RawRequest(try Self.bytes(folder + "/header-signed-request.txt"))

        // What the cases model and this signer does not offer is not in the copied cases (see above).
        try #require(context.normalize && context.omit_session_token != true)

        let credentials = AWSCredentials(
            accessKeyID: context.credentials.access_key_id,
            secretAccessKey: context.credentials.secret_access_key,
            sessionToken: context.credentials.token
        )
        let signer = SignatureV4(credentials: credentials, region: context.region, service: context.service)
        let date = try #require(ISO8601DateFormatter().date(from: context.timestamp))

        var request = try unsigned.signatureRequest()
        if context.sign_body { request.headers.append(("x-amz-content-sha256", SignatureV4.sha256Hex(request.body))) }

        // Step 1: the canonical request, of the request with the headers sign adds before signing.
        let (amzDate, day) = SignatureV4.timestamps(date)
        #expect(amzDate == "20150830T123600Z" && day == "20150830")
        var withDate = request
        withDate.headers.append(("X-Amz-Date", amzDate))
        if let token = credentials.sessionToken { withDate.headers.append(("X-Amz-Security-Token", token)) }
        let canonical = signer.canonicalRequest(withDate)
        #expect(canonical.text == expectedCanonical)

        // Step 2: the string to sign.
        let scope = "\(day)/\(context.region)/\(context.service)/aws4_request"
        #expect(signer.stringToSign(canonicalRequest: canonical.text, amzDate: amzDate, scope: scope) == expectedStringToSign)
        #expect(signer.stringToSign(canonicalRequest: expectedCanonical, amzDate: amzDate, scope: scope) == expectedStringToSign)

        // Step 3: sign, as a caller does: the signature, and the headers added, exactly.
        let added = signer.sign(request, date: date)
        let authorization = added.filter { $0.0 == "Authorization" }.map(\.1)
        try #require(authorization.count == 1)
        let signature = authorization[0].components(separatedBy: ", Signature=").last ?? ""
        #expect(signature == expectedSignature)

        #expect(signed.requestLine == unsigned.requestLine)
        #expect(signed.body == unsigned.body)
        let sent = (request.headers + added).map { "\($0.0):\($0.1)" }.sorted()
        let expectedSent = signed.headers.map { "\($0.0):\($0.1)" }.sorted()
        #expect(sent == expectedSent)
    }

    /// Signing twice gives the same headers; a different day, a different signature.
    @Test func signingIsDeterministicAndDated() throws {
        let signer = SignatureV4(
            credentials: AWSCredentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
            region: "us-east-1",
            service: "service"
        )
        let request = SignatureV4.Request(method: "GET", path: "/", headers: [("Host", "example.amazonaws.com")])
        let date = Date(timeIntervalSince1970: 1_440_938_160)  // 2015-08-30T12:36:00Z, the suite's
        let first = signer.sign(request, date: date).map { "\($0.0):\($0.1)" }
        #expect(first == signer.sign(request, date: date).map { "\($0.0):\($0.1)" })
        #expect(
            first == [
                "X-Amz-Date:20150830T123600Z",
                "Authorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
            ]
        )
        #expect(first != signer.sign(request, date: date.addingTimeInterval(86_400)).map { "\($0.0):\($0.1)" })
    }

    /// A path as sent is already percent-encoded; every service but S3 signs it encoded again.
    @Test func pathIsEncodedTwice() {
        #expect(SignatureV4.normalizedPath("/a%20b/c d/") == "/a%2520b/c%20d/")
        #expect(SignatureV4.normalizedPath("/a/./b/../c") == "/a/c")
        #expect(SignatureV4.normalizedPath("/..") == "/")
    }

    @Test func credentialsNeverShowTheSecretOrTheToken() {
        let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
        let token = "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"
        let credentials = AWSCredentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: secret, sessionToken: token)
        var dumped = ""
        dump(credentials, to: &dumped)
        for shown in [credentials.description, "\(credentials)", String(describing: credentials), String(reflecting: credentials), dumped] {
            #expect(shown.contains("AKIDEXAMPLE"))
            #expect(!shown.contains(secret))
            #expect(!shown.contains(token))
        }
    }

    // MARK: reading the suite

    struct Context: Decodable {
        struct Credentials: Decodable {
            var access_key_id: String
            var secret_access_key: String
            var token: String?
        }
        var credentials: Credentials
        var normalize: Bool
        var region: String
        var service: String
        var sign_body: Bool
        var timestamp: String
        var omit_session_token: Bool?
    }

    struct SuiteError: Error, CustomStringConvertible {
        var description: String
    }

    static func bytes(_ path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else { throw SuiteError(description: "cannot read \(path)") }
        return [UInt8](data)
    }

    static func text(_ path: String) throws -> String {
        String(decoding: try bytes(path), as: UTF8.self)
    }

    /// A request.txt as the suite's own harness reads it: the request line (`METHOD TARGET HTTP/1.1`),
    /// then headers (`Name:value`, a line starting with white space continuing the previous value,
    /// its line break kept), up to an empty line, then the body (the rest of the file, byte for byte).
    struct RawRequest {
        var requestLine: String
        var headers: [(String, String)] = []
        var body: [UInt8] = []

        init(_ bytes: [UInt8]) throws {
            var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)[...]
            guard let first = lines.popFirst() else { throw SuiteError(description: "empty request") }
            requestLine = String(decoding: first, as: UTF8.self)
            var offset = first.count + 1
            while let line = lines.popFirst() {
                offset += line.count + 1
                if line.isEmpty {
                    body = offset <= bytes.count ? Array(bytes[offset...]) : []
                    break
                }
                let text = String(decoding: line, as: UTF8.self)
                if let c = line.first, c == 0x20 || c == 0x09 {
                    guard !headers.isEmpty else { throw SuiteError(description: "continuation line first: \(text)") }
                    headers[headers.count - 1].1 += "\n" + text
                } else {
                    guard let colon = text.firstIndex(of: ":") else { throw SuiteError(description: "not a header: \(text)") }
                    headers.append((String(text[..<colon]), String(text[text.index(after: colon)...])))
                }
            }
        }

        /// The request for `SignatureV4`: the path verbatim (as the suite's harness signs it), the
        /// query split at `&` and `=` and percent-decoded, the headers and body as read.
        func signatureRequest() throws -> SignatureV4.Request {
            let parts = requestLine.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[1].hasSuffix(" HTTP/1.1") else {
                throw SuiteError(description: "bad request line: \(requestLine)")
            }
            let target = parts[1].dropLast(" HTTP/1.1".count)
            let path: Substring
            var query: [(String, String)] = []
            if let mark = target.firstIndex(of: "?") {
                path = target[..<mark]
                for item in target[target.index(after: mark)...].split(separator: "&") {
                    let pair = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                    let name = String(pair[0])
                    let value = pair.count > 1 ? String(pair[1]) : ""
                    guard let decodedName = name.removingPercentEncoding, let decodedValue = value.removingPercentEncoding else {
                        throw SuiteError(description: "bad query item: \(item)")
                    }
                    query.append((decodedName, decodedValue))
                }
            } else {
                path = target
            }
            return SignatureV4.Request(method: String(parts[0]), path: String(path), query: query, headers: headers, body: body)
        }
    }
}
