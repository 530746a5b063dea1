import Foundation
import MicadoCore

/// What an instance needs when it boots (cloud-init on a real cloud): enough to start an
/// engine that only micado can reach. It carries no swarm join token: once the engine
/// answers over mutual TLS, the manager joins it to the swarm through its API.
public struct UserData: Codable, Sendable, Equatable {
    /// Labels the engine boots with (`micado.instance` among them: the manager finds the
    /// instance's swarm node by it).
    public var labels: [String: String]
    /// MiB the node advertises to the scheduler as the generic resource `mem`.
    public var capacityMiB: Int
    /// The CA that signed the manager's client certificate: the engine trusts only it.
    public var caCertificatePEM: String
    /// micado's registry (`10.213.0.1:5000`), whose certificate micado's CA signed.
    public var registryAddress: String?
    /// micado's pull-through cache beside it (`10.213.0.1:5001`), if it runs one.
    public var pullThroughAddress: String?

    public init(
        labels: [String: String],
        capacityMiB: Int,
        caCertificatePEM: String,
        registryAddress: String? = nil,
        pullThroughAddress: String? = nil
    ) {
        self.labels = labels
        self.capacityMiB = capacityMiB
        self.caCertificatePEM = caCertificatePEM
        self.registryAddress = registryAddress
        self.pullThroughAddress = pullThroughAddress
    }
}

/// The one boot path of every cloud: a cloud-init `#cloud-config` document per instance.
/// Real clouds pass it as user data; the `local` driver applies the same document in the
/// instance's namespace (see `LocalDriver.apply`).
///
/// Everything the engine needs lives under `/etc/docker`: its configuration, micado's CA,
/// its server certificate and key (`/etc/docker/micado/`), and the registry's trust
/// (`/etc/docker/certs.d/`). It listens only on TCP 2376 with client verification.
public enum BootDocument {
    public static let enginePort = 2376
    static let tlsFolder = "/etc/docker/micado"

    /// The `#cloud-config` document, as cloud-init reads it.
    public struct CloudConfig: Codable, Sendable, Equatable {
        public struct File: Codable, Sendable, Equatable {
            public var path: String
            public var permissions: String
            public var content: String
            public var owner: String = "root:root"
        }
        public var write_files: [File]
        /// Each command as an argument list (no shell unless the command is `sh -c`).
        public var runcmd: [[String]]
    }

    /// The name an instance's engine certificate holds besides its address, and that micado
    /// checks it against: the same whichever address (private, public) micado connects to.
    /// Never resolved through DNS (`.micado` is no domain); the client maps it to the address.
    public static func engineServerName(instance: String) -> String { "\(instance).engine.micado" }

    /// The document for an instance whose engine answers at `address`: micado's CA, a
    /// server certificate for `address` and the instance's name issued by it, daemon.json,
    /// and the commands that start the engine. Holds a private key: never log it, never put
    /// it in an event. Without an address (clouds that hand one out by DHCP once the
    /// instance runs), the certificate holds the instance's name only.
    public static func render(_ userData: UserData, address: String?, authority: CertificateAuthority) throws(CloudError) -> String {
        let issued: CertificateAuthority.Issued
        let name = userData.labels[CloudTag.instance].map { engineServerName(instance: $0) }
        do throws(MicadoError) {
            if let address {
                issued = try authority.issueServer(ipAddress: address, dnsName: name)
            } else {
                guard let name else { throw MicadoError(.internal, "an instance without an address needs its micado.instance label") }
                issued = try authority.issueServer(dnsName: name)
            }
        } catch { throw CloudError(.badRequest, error.message) }
        return try text(of: document(userData, certificatePEM: issued.certificatePEM, keyPEM: issued.keyPEM))
    }

    public static func document(_ userData: UserData, certificatePEM: String, keyPEM: String) throws(CloudError) -> CloudConfig {
        let daemon = DaemonConfiguration(
            hosts: ["tcp://0.0.0.0:\(enginePort)"],
            tls: true,
            tlsverify: true,
            tlscacert: tlsFolder + "/ca.pem",
            tlscert: tlsFolder + "/server.pem",
            tlskey: tlsFolder + "/server-key.pem",
            nodeGenericResources: ["\(SchedulerResource.memory)=\(userData.capacityMiB)"],
            labels: userData.labels.map { "\($0.key)=\($0.value)" }.sorted(),
            // An instance is deleted only once drained: what is left is not worth waiting for.
            shutdownTimeout: 2,
            // Away from the addresses clouds and the local bridge usually take.
            defaultAddressPools: [.init(base: "10.214.0.0/16", size: 24)]
        )
        let json: String
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            json = String(decoding: try encoder.encode(daemon), as: UTF8.self) + "\n"
        } catch { throw CloudError(.badRequest, "cannot encode daemon.json: \(error)") }
        var files = [
            CloudConfig.File(path: tlsFolder + "/ca.pem", permissions: "0644", content: userData.caCertificatePEM),
            CloudConfig.File(path: tlsFolder + "/server.pem", permissions: "0644", content: certificatePEM),
            CloudConfig.File(path: tlsFolder + "/server-key.pem", permissions: "0600", content: keyPEM),
            CloudConfig.File(path: "/etc/docker/daemon.json", permissions: "0644", content: json),
            // systemd's docker.service passes -H fd://, which clashes with daemon.json's hosts.
            CloudConfig.File(
                path: "/etc/systemd/system/docker.service.d/micado.conf",
                permissions: "0644",
                content: "[Service]\nExecStart=\nExecStart=/usr/bin/dockerd\n"
            ),
        ]
        for registry in [userData.registryAddress, userData.pullThroughAddress].compactMap({ $0 }) {
            guard registry.allSatisfy({ $0.isLetter || $0.isNumber || ".:-".contains($0) }) else {
                throw CloudError(.badRequest, "invalid registry address \(Text.escaped(registry))")
            }
            files.append(.init(path: "/etc/docker/certs.d/\(registry)/ca.crt", permissions: "0644", content: userData.caCertificatePEM))
        }
        return CloudConfig(
            write_files: files,
            runcmd: [
                // Machine images without an engine get Debian's.
                [
                    "sh", "-c",
                    "command -v dockerd >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io; }",
                ],
                ["systemctl", "daemon-reload"],
                ["systemctl", "enable", "docker"],
                ["systemctl", "restart", "docker"],
            ]
        )
    }

    /// The document as JSON after its `#cloud-config` line: JSON is YAML, cloud-init reads it
    /// as such, and it is written without Yams' emitter, whose quoting rules are its resolver's
    /// regular expressions (ICU, resident for good after the first instance started).
    public static func text(of document: CloudConfig) throws(CloudError) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        do { return "#cloud-config\n" + String(decoding: try encoder.encode(document), as: UTF8.self) + "\n" } catch {
            throw CloudError(.badRequest, "cannot encode the boot document: \(error)")
        }
    }

    public static func parse(_ text: String) throws(CloudError) -> CloudConfig {
        guard text.hasPrefix("#cloud-config\n") else { throw CloudError(.badRequest, "not a #cloud-config document") }
        do { return try YAMLDocument.decode(CloudConfig.self, from: text) } catch {
            throw CloudError(.badRequest, "malformed boot document: \(error)")
        }
    }

    /// daemon.json, as dockerd reads it.
    struct DaemonConfiguration: Codable {
        struct AddressPool: Codable {
            var base: String
            var size: Int
        }
        var hosts: [String]
        var tls: Bool
        var tlsverify: Bool
        var tlscacert: String
        var tlscert: String
        var tlskey: String
        var nodeGenericResources: [String]
        var labels: [String]
        var shutdownTimeout: Int
        var defaultAddressPools: [AddressPool]
        enum CodingKeys: String, CodingKey {
            case hosts, tls, tlsverify, tlscacert, tlscert, tlskey, labels
            case nodeGenericResources = "node-generic-resources"
            case shutdownTimeout = "shutdown-timeout"
            case defaultAddressPools = "default-address-pools"
        }
    }
}
