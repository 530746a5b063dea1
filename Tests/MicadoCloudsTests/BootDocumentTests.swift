import Foundation
import MicadoClouds
import MicadoCore
import Testing

/// The one boot path: the document micado renders is valid cloud-init, carries exactly what
/// an engine reachable only by micado needs, and is what the local driver applies.
@Suite struct BootDocumentTests {
    static let schemaTool = "/usr/bin/cloud-init"

    static func withAuthority(_ body: (CertificateAuthority, String) async throws -> Void) async throws {
        let dir = NSTemporaryDirectory() + "micado-boot-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let authority = CertificateAuthority(directory: dir + "/tls")
        try authority.create()
        try await body(authority, dir)
    }

    static func userData(_ authority: CertificateAuthority) throws -> UserData {
        UserData(
            labels: ["micado.instance": "m0123456789", "micado.location": "eu", "micado.purpose": "application"],
            capacityMiB: 512,
            caCertificatePEM: try String(contentsOfFile: authority.caCertificate, encoding: .utf8),
            registryAddress: "10.213.0.1:5000"
        )
    }

    @Test func everyRenderedDocumentIsValidCloudInit() async throws {
        // In CI the tool is installed (scripts/install-deps.sh): there, its absence is a failure.
        let available = FileManager.default.isExecutableFile(atPath: Self.schemaTool)
        if ProcessInfo.processInfo.environment["CI"] != nil { #expect(available, "cloud-init must be installed in CI") }
        guard available else { return }
        try await Self.withAuthority { authority, dir in
            for (address, registry) in [("10.213.0.10", "10.213.0.1:5000"), ("172.31.5.9", nil)] {
                var data = try Self.userData(authority)
                data.registryAddress = registry
                let file = dir + "/user-data-\(address)"
                try BootDocument.render(data, address: address, authority: authority).write(toFile: file, atomically: true, encoding: .utf8)
                let checked = try await ChildProcess.run(Self.schemaTool, ["schema", "--config-file", file])
                #expect(checked.status == 0, "\(checked.output)")
                #expect(checked.output.contains("Valid cloud-config"), "\(checked.output)")
            }
            // And the tool does refuse a broken one: the check above can fail.
            try "#cloud-config\nwrite_files: 3\n".write(toFile: dir + "/bad", atomically: true, encoding: .utf8)
            #expect(try await ChildProcess.run(Self.schemaTool, ["schema", "--config-file", dir + "/bad"]).status != 0)
        }
    }

    @Test func theDocumentHoldsWhatTheEngineNeedsAndNoJoinToken() async throws {
        try await Self.withAuthority { authority, dir in
            let text = try BootDocument.render(try Self.userData(authority), address: "10.213.0.10", authority: authority)
            #expect(text.hasPrefix("#cloud-config\n"))
            #expect(!text.lowercased().contains("token"), "no swarm join token in user data")
            let document = try BootDocument.parse(text)
            let files = Dictionary(uniqueKeysWithValues: document.write_files.map { ($0.path, $0) })
            #expect(files["/etc/docker/micado/server-key.pem"]?.permissions == "0600")
            #expect(files["/etc/docker/micado/server-key.pem"]?.content.contains("PRIVATE KEY") == true)
            #expect(
                files["/etc/docker/certs.d/10.213.0.1:5000/ca.crt"]?.content
                    == (try String(contentsOfFile: authority.caCertificate, encoding: .utf8))
            )
            let daemon = try #require(files["/etc/docker/daemon.json"]?.content)
            let json = try #require(try JSONSerialization.jsonObject(with: Data(daemon.utf8)) as? [String: Any])
            #expect(json["hosts"] as? [String] == ["tcp://0.0.0.0:2376"], "TLS TCP only, no socket")
            #expect(json["tlsverify"] as? Bool == true)
            #expect(json["node-generic-resources"] as? [String] == ["mem=512"])
            #expect((json["labels"] as? [String])?.contains("micado.instance=m0123456789") == true)
            // The server certificate names the address and chains to micado's CA.
            try files["/etc/docker/micado/server.pem"]?.content.write(toFile: dir + "/server.pem", atomically: true, encoding: .utf8)
            let verified = try await ChildProcess.run(
                "/usr/bin/openssl",
                ["verify", "-purpose", "sslserver", "-CAfile", authority.caCertificate, dir + "/server.pem"]
            )
            #expect(verified.status == 0, "\(verified.output)")
            let details = try await ChildProcess.run(
                "/usr/bin/openssl",
                ["x509", "-in", dir + "/server.pem", "-noout", "-ext", "subjectAltName"]
            )
            #expect(details.output.contains("IP Address:10.213.0.10"), "\(details.output)")
        }
    }

    @Test func hostileValuesAreRefusedOrQuoted() async throws {
        try await Self.withAuthority { authority, _ in
            var data = try Self.userData(authority)
            data.registryAddress = "10.0.0.1:5000/../../../etc"
            #expect(throws: CloudError.self) { try BootDocument.render(data, address: "10.213.0.10", authority: authority) }
            #expect(throws: CloudError.self) {
                try BootDocument.render(try Self.userData(authority), address: "10.0.0.1\nruncmd:", authority: authority)
            }
            // A label value that looks like YAML stays a value.
            data = try Self.userData(authority)
            data.labels["micado.tag"] = "x\nruncmd: [[rm, -rf, /]]"
            let document = try BootDocument.parse(try BootDocument.render(data, address: "10.213.0.10", authority: authority))
            #expect(document.runcmd.allSatisfy { !$0.contains("rm") })
        }
    }

    @Test func parseRefusesWhatIsNotADocument() {
        #expect(throws: CloudError.self) { try BootDocument.parse("#!/bin/sh\nrm -rf /\n") }
        #expect(throws: CloudError.self) { try BootDocument.parse("#cloud-config\nwrite_files: 3\n") }
    }
}
