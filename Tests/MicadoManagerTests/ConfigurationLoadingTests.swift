import Foundation
import MicadoCore
import MicadoManager
import Testing

@Suite struct ConfigurationLoadingTests {
    @Test func templateParsesBackToDefaults() throws {
        let home = MicadoHome(path: "/tmp/h")
        let text = ManagerConfiguration.template(home: home, dockerHost: "unix:///x.sock", advertiseAddress: "10.1.0.1", port: 7500)
        let c = try ManagerConfiguration.parse(text, file: "config.yaml")
        #expect(c.manager.port == 7500)
        #expect(c.docker.host == "unix:///x.sock")
        #expect(c.docker.advertiseAddress == "10.1.0.1")
        #expect(c.store.path == "/tmp/h/micado.sqlite")
        #expect(c.defaults == ManagerConfiguration.Defaults())
    }

    @Test func partialFileKeepsDefaults() throws {
        let c = try ManagerConfiguration.parse("manager:\n  port: 9000\n", file: "c.yaml")
        #expect(c.manager.port == 9000)
        #expect(c.manager.address == "127.0.0.1")
        #expect(try ManagerConfiguration.parse("", file: "c.yaml") == ManagerConfiguration())
    }

    @Test func errorsNameTheKey() {
        #expect(throws: MicadoError(.configuration, "c.yaml: unknown key 'manager.prot' (known: address, port)")) {
            try ManagerConfiguration.parse("manager:\n  prot: 1\n", file: "c.yaml")
        }
        #expect(
            throws: MicadoError(
                .configuration,
                "c.yaml: unknown section 'manger' (known: defaults, docker, limits, manager, monitor, proxy, registry, store)"
            )
        ) {
            try ManagerConfiguration.parse("manger:\n  port: 1\n", file: "c.yaml")
        }
        #expect(throws: MicadoError(.configuration, "c.yaml: 'manager.port' must be a Int")) {
            try ManagerConfiguration.parse("manager:\n  port: high\n", file: "c.yaml")
        }
        #expect(throws: MicadoError.self) { try ManagerConfiguration.parse("manager: [1, 2\n", file: "c.yaml") }
    }

    /// The cache's upstream is a plain http(s) URL: no credentials in it (the file is readable
    /// by whoever reads the configuration), nothing the registry's YAML could read otherwise.
    @Test func pullThroughIsAPlainURL() throws {
        let c = try ManagerConfiguration.parse("registry:\n  pullThrough: https://registry-1.docker.io\n", file: "c.yaml")
        #expect(c.registry.pullThrough == "https://registry-1.docker.io")
        for bad in ["ftp://x", "https://user:pw@hub.example", "registry-1.docker.io", "https://", "https://h/?q=1"] {
            #expect(throws: MicadoError.self, "\(bad)") {
                try ManagerConfiguration.parse("registry:\n  pullThrough: '\(bad)'\n", file: "c.yaml").validate()
            }
        }
    }

    @Test func initWritesSecretsPrivatelyAndRefusesOverwrite() throws {
        let home = MicadoHome(path: FileManager.default.temporaryDirectory.appendingPathComponent("micado-home-\(UUID().uuidString)").path)
        defer { try? FileManager.default.removeItem(atPath: home.path) }
        _ = try home.initialise(force: false, dockerHost: nil, advertiseAddress: "127.0.0.1", port: 7400)
        let attributes = try FileManager.default.attributesOfItem(atPath: home.tokenFile)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        #expect((try FileManager.default.attributesOfItem(atPath: home.credentialsFile)[.posixPermissions] as? Int) == 0o600)
        let token = try home.readToken()
        #expect(token.count == 64)
        #expect(throws: MicadoError.self) { try home.initialise(force: false, dockerHost: nil, advertiseAddress: "127.0.0.1", port: 7400) }
        #expect(try home.readToken() == token)
        _ = try home.initialise(force: true, dockerHost: nil, advertiseAddress: "127.0.0.1", port: 7400)
        #expect(try home.readToken() != token)
        let loaded = try ManagerConfiguration.load(home: home, environment: ["MICADO_PORT": "7999", "DOCKER_HOST": "unix:///d.sock"])
        #expect(loaded.manager.port == 7999)
        #expect(loaded.docker.host == "unix:///d.sock")
    }

    /// Read without Yams' regular-expression resolver: booleans, merge keys and explicit tags as before.
    @Test func booleansMergeKeysAndTags() throws {
        #expect(try !ManagerConfiguration.parse("proxy:\n  enabled: off\n", file: "c.yaml").proxy.enabled)
        #expect(try ManagerConfiguration.parse("proxy:\n  enabled: Yes\n", file: "c.yaml").proxy.enabled)
        #expect(try ManagerConfiguration.parse("manager:\n  <<: {address: 127.0.0.2, port: 7403}\n", file: "c.yaml").manager.port == 7403)
        #expect(throws: MicadoError.self) { try ManagerConfiguration.parse("proxy:\n  enabled: !!str yes\n", file: "c.yaml") }
        #expect(throws: MicadoError.self) { try ManagerConfiguration.parse("proxy:\n  enabled: 'true'\n", file: "c.yaml") }
    }
}
