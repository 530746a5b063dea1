import Foundation
import MicadoCore

/// micado's own CA, made by `micado init`: it signs each instance engine's server
/// certificate and the manager's client certificate, so engines are reached only over
/// mutual TLS. Uses the system's openssl (Debian's `openssl`), keys are EC P-256, 0600.
public struct CertificateAuthority: Sendable {
    public let directory: String

    public init(directory: String) { self.directory = directory }

    public var caCertificate: String { directory + "/ca.pem" }
    var caKey: String { directory + "/ca-key.pem" }
    public var clientCertificate: String { directory + "/client.pem" }
    public var clientKey: String { directory + "/client-key.pem" }

    public var exists: Bool { FileManager.default.fileExists(atPath: caCertificate) && FileManager.default.fileExists(atPath: clientKey) }

    /// Creates the CA and the manager's client certificate.
    public func create() throws(MicadoError) {
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try openssl(["ecparam", "-genkey", "-name", "prime256v1", "-noout", "-out", caKey])
        try openssl(["req", "-x509", "-new", "-key", caKey, "-sha256", "-days", "3650", "-subj", "/CN=micado CA", "-out", caCertificate])
        try issue(commonName: "micado manager", ipAddress: nil, certificate: clientCertificate, key: clientKey, usage: "clientAuth")
    }

    /// A server certificate for an engine at `ipAddress`.
    public func issueServer(ipAddress: String, certificate: String, key: String) throws(MicadoError) {
        try issue(commonName: ipAddress, ipAddress: ipAddress, certificate: certificate, key: key, usage: "serverAuth")
    }

    func issue(commonName: String, ipAddress: String?, certificate: String, key: String, usage: String) throws(MicadoError) {
        let csr = certificate + ".csr", ext = certificate + ".ext"
        defer {
            try? FileManager.default.removeItem(atPath: csr)
            try? FileManager.default.removeItem(atPath: ext)
        }
        try openssl(["ecparam", "-genkey", "-name", "prime256v1", "-noout", "-out", key])
        try openssl(["req", "-new", "-key", key, "-subj", "/CN=\(commonName)", "-out", csr])
        var extensions = "extendedKeyUsage=\(usage)\n"
        if let ipAddress { extensions += "subjectAltName=IP:\(ipAddress)\n" }
        guard FileManager.default.createFile(atPath: ext, contents: Data(extensions.utf8)) else {
            throw .init(.configuration, "cannot write \(ext)")
        }
        try openssl(["x509", "-req", "-in", csr, "-CA", caCertificate, "-CAkey", caKey, "-CAcreateserial", "-days", "825", "-sha256",
                     "-extfile", ext, "-out", certificate])
    }

    func openssl(_ arguments: [String]) throws(MicadoError) {
        let result: (status: Int32, output: String)
        do { result = try ChildProcess.run("/usr/bin/openssl", arguments) } catch {
            throw .init(.configuration, "cannot run openssl (apt-get install openssl): \(error)")
        }
        guard result.status == 0 else {
            throw .init(.configuration, "openssl \(arguments.first ?? "") failed: \(result.output.suffix(300))")
        }
        // Keys are secrets: owner-only, whatever the umask.
        for (i, a) in arguments.enumerated() where a == "-out" || a == "-keyout" {
            if i + 1 < arguments.count, arguments[i + 1].hasSuffix("-key.pem") { chmod(arguments[i + 1], 0o600) }
        }
    }
}
