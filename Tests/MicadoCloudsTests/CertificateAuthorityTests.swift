import Foundation
import MicadoClouds
import MicadoCore
import Testing

/// micado's CA is made in process; what it makes must be what openssl and Go's TLS
/// (dockerd, the registry) accept: a CA that may sign, leaves with the right usage and SAN.
@Suite struct CertificateAuthorityTests {
    static func openssl(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        try await ChildProcess.run("/usr/bin/openssl", arguments)
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl")))
    func issuesCertificatesThatVerifyAgainstTheCA() async throws {
        let dir = NSTemporaryDirectory() + "micado-ca-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let authority = CertificateAuthority(directory: dir)
        try authority.create()
        #expect(authority.exists)
        try authority.issueServer(ipAddress: "10.213.0.7", certificate: dir + "/server.pem", key: dir + "/server-key.pem")

        for (leaf, purpose) in [(authority.clientCertificate, "sslclient"), (dir + "/server.pem", "sslserver")] {
            let verified = try await Self.openssl(["verify", "-purpose", purpose, "-CAfile", authority.caCertificate, leaf])
            #expect(verified.status == 0, "\(leaf): \(verified.output)")
        }
        // The client certificate is not a server's, and no leaf may sign.
        #expect(
            try await Self.openssl(["verify", "-purpose", "sslserver", "-CAfile", authority.caCertificate, authority.clientCertificate])
                .status != 0
        )
        let text = try await Self.openssl(["x509", "-in", dir + "/server.pem", "-noout", "-text"]).output
        #expect(text.contains("IP Address:10.213.0.7"), "\(text)")
        #expect(text.contains("CA:FALSE"))
        // Keys are secrets: owner-only.
        for key in [dir + "/ca-key.pem", authority.clientKey, dir + "/server-key.pem"] {
            let mode = try #require(try FileManager.default.attributesOfItem(atPath: key)[.posixPermissions] as? Int)
            #expect(mode == 0o600, "\(key): \(String(mode, radix: 8))")
        }
    }

    @Test func refusesAnAddressThatIsNotOne() throws {
        let dir = NSTemporaryDirectory() + "micado-ca-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let authority = CertificateAuthority(directory: dir)
        try authority.create()
        #expect(throws: MicadoError.self) { try authority.issueServer(ipAddress: "10.0.0.1\u{1b}[2J") }
        #expect(throws: MicadoError.self) { try authority.issueServer(ipAddress: "example.com") }
    }

    @Test func aMissingCAIsAClearError() {
        let authority = CertificateAuthority(directory: "/nonexistent/micado-ca")
        #expect { try authority.issueServer(ipAddress: "10.0.0.1") } throws: { error in
            (error as? MicadoError)?.message.contains("micado init --force") == true
        }
    }
}
