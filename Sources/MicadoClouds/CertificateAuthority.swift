import Crypto
import Foundation
import MicadoCore
import SwiftASN1
import X509

/// micado's own CA, made by `micado init`: it signs each instance engine's server
/// certificate and the manager's client certificate, so engines are reached only over
/// mutual TLS. Made in process (swift-certificates); keys are EC P-256, files 0600.
public struct CertificateAuthority: Sendable {
    public let directory: String

    public init(directory: String) { self.directory = directory }

    public var caCertificate: String { directory + "/ca.pem" }
    var caKey: String { directory + "/ca-key.pem" }
    public var clientCertificate: String { directory + "/client.pem" }
    public var clientKey: String { directory + "/client-key.pem" }

    public var exists: Bool { FileManager.default.fileExists(atPath: caCertificate) && FileManager.default.fileExists(atPath: clientKey) }

    /// A certificate and its key, PEM-encoded. The key is a secret: never logged.
    public struct Issued: Sendable {
        public var certificatePEM: String
        public var keyPEM: String
    }

    /// Creates the CA and the manager's client certificate.
    public func create() throws(MicadoError) {
        do {
            try FileManager.default.createDirectory(
                atPath: directory,
                withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700]
            )
        } catch { throw .init(.configuration, "cannot create \(directory): \(error)") }
        let key = P256.Signing.PrivateKey()
        let name = try Self.name("micado CA")
        let now = Date()
        let certificate = try Self.certify {
            try Certificate(
                version: .v3,
                serialNumber: .init(),
                publicKey: .init(key.publicKey),
                notValidBefore: now - 300,
                notValidAfter: now + 3650 * 86400,
                issuer: name,
                subject: name,
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                    Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                    SubjectKeyIdentifier(hash: .init(key.publicKey))
                },
                issuerPrivateKey: .init(key)
            )
        }
        try write(key.pemRepresentation, to: caKey, mode: 0o600)
        try write(try Self.pem(certificate), to: caCertificate, mode: 0o644)
        let client = try issue(commonName: "micado manager", ipAddresses: [], usage: .clientAuth)
        try write(client.keyPEM, to: clientKey, mode: 0o600)
        try write(client.certificatePEM, to: clientCertificate, mode: 0o644)
    }

    /// A server certificate for an engine (or the registry) answering at `ipAddress`.
    /// `dnsName`: a name the certificate holds besides the address (an instance's, see `BootDocument.engineServerName`).
    public func issueServer(ipAddress: String, dnsName: String? = nil) throws(MicadoError) -> Issued {
        try issue(commonName: ipAddress, ipAddresses: [ipAddress], dnsNames: dnsName.map { [$0] } ?? [], usage: .serverAuth)
    }

    /// A server certificate for a name only: an instance whose address its cloud hands out
    /// once it runs (DHCP), which micado then checks against the name, not the address.
    public func issueServer(dnsName: String) throws(MicadoError) -> Issued {
        try issue(commonName: dnsName, ipAddresses: [], dnsNames: [dnsName], usage: .serverAuth)
    }

    /// The same, written as files (the key 0600).
    public func issueServer(ipAddress: String, certificate: String, key: String) throws(MicadoError) {
        let issued = try issueServer(ipAddress: ipAddress)
        try write(issued.keyPEM, to: key, mode: 0o600)
        try write(issued.certificatePEM, to: certificate, mode: 0o644)
    }

    func issue(
        commonName: String,
        ipAddresses: [String],
        dnsNames: [String] = [],
        usage: ExtendedKeyUsage.Usage
    ) throws(MicadoError) -> Issued {
        let (authority, authorityKey) = try load()
        let key = P256.Signing.PrivateKey()
        var addresses: [GeneralName] = []
        for address in ipAddresses {
            guard let ip = IPv4(address) else { throw .init(.badRequest, "not an IPv4 address: \(Text.escaped(address))") }
            let bytes: [UInt8] = [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: ip.value >> $0) }
            addresses.append(.ipAddress(ASN1OctetString(contentBytes: ArraySlice(bytes))))
        }
        addresses += dnsNames.map { .dnsName($0) }
        let now = Date()
        let subject = try Self.name(commonName)
        let certificate = try Self.certify {
            try Certificate(
                version: .v3,
                serialNumber: .init(),
                publicKey: .init(key.publicKey),
                notValidBefore: now - 300,
                notValidAfter: now + 825 * 86400,
                issuer: authority.subject,
                subject: subject,
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.notCertificateAuthority)
                    Critical(KeyUsage(digitalSignature: true))
                    try ExtendedKeyUsage([usage])
                    if !addresses.isEmpty { SubjectAlternativeNames(addresses) }
                },
                issuerPrivateKey: .init(authorityKey)
            )
        }
        return Issued(certificatePEM: try Self.pem(certificate), keyPEM: key.pemRepresentation)
    }

    /// The CA's certificate and key, read from the home.
    func load() throws(MicadoError) -> (Certificate, P256.Signing.PrivateKey) {
        do {
            let certificate = try Certificate(pemEncoded: try String(contentsOfFile: caCertificate, encoding: .utf8))
            let key = try P256.Signing.PrivateKey(pemRepresentation: try String(contentsOfFile: caKey, encoding: .utf8))
            return (certificate, key)
        } catch {
            throw .init(.configuration, "cannot read micado's CA in \(directory) (\(error)); run 'micado init --force' to make a new one")
        }
    }

    static func name(_ commonName: String) throws(MicadoError) -> DistinguishedName {
        do { return try DistinguishedName { CommonName(commonName) } } catch { throw .init(.internal, "bad certificate name: \(error)") }
    }

    static func certify(_ make: () throws -> Certificate) throws(MicadoError) -> Certificate {
        do { return try make() } catch { throw .init(.internal, "cannot sign a certificate: \(error)") }
    }

    static func pem(_ certificate: Certificate) throws(MicadoError) -> String {
        do { return try certificate.serializeAsPEM().pemString } catch { throw .init(.internal, "cannot encode a certificate: \(error)") }
    }

    func write(_ text: String, to path: String, mode: mode_t) throws(MicadoError) {
        // Linked in whole with its mode, so a key is never readable by others, not even for a moment.
        try NewFile.write(text, to: path, mode: mode)
    }
}
