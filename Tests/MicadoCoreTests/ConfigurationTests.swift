import MicadoCore
import Testing

@Suite struct ConfigurationTests {
    @Test func defaultsAreValid() throws {
        try ManagerConfiguration().validate()
    }

    @Test func validationNamesTheKey() {
        var c = ManagerConfiguration()
        c.manager.port = 0
        #expect(throws: MicadoError(.configuration, "config: manager.port 0 is out of range 1-65535")) { try c.validate() }
        c = ManagerConfiguration()
        c.defaults.memoryMiB = 1
        #expect(throws: MicadoError.self) { try c.validate() }
        c = ManagerConfiguration()
        c.defaults.location = "bad location"
        #expect(throws: MicadoError.self) { try c.validate() }
    }

    @Test func homeResolution() {
        #expect(MicadoHome.resolve(environment: ["MICADO_HOME": "/x/"]).path == "/x")
        #expect(MicadoHome.resolve(environment: ["HOME": "/home/u"]).configFile == "/home/u/.micado/config.yaml")
    }
}
