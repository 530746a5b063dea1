import Foundation
import MicadoClouds
import MicadoCore
import Testing

/// scripts/engine.sh, which every test, the demo and the benchmarks start engines with: two
/// engines whose names share their first characters, or of which one names a prefix of the
/// other's namespace, are two engines; `down` of one leaves the other running; a pidfile
/// whose pid now belongs to another process kills nothing.
@Suite(.serialized) struct EngineScriptTests {
    @Test func enginesOfSharedNamePrefixesOrOfAnotherRunStayApart() async throws {
        guard ManagerFixture.enginesAvailable || ManagerFixture.mustRun else { return }
        let hex = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let id = "it" + String(repeating: "0", count: 8 - hex.count) + hex
        let state = ManagerFixture.root + "/" + id
        let prefix = try await ManagerFixture.freeSubnet()
        await EnvironmentSlots.shared.acquire(1)
        // 14 and 16 characters: the same first 11, and micado-<first> is a prefix of micado-<second>.
        let first = id + "-eng"
        let second = first + "-b"
        let environment = [
            "MICADO_STATE": state + "/engines", "MICADO_BRIDGE": "mb" + id.suffix(8), "MICADO_BRIDGE_CIDR": "\(prefix).1/24",
        ]
        func engine(_ arguments: [String]) async throws -> CommandResult {
            try await CommandResult.run("/bin/bash", [ManagerFixture.engineScript] + arguments, environment: environment)
        }
        func answers(_ name: String) async throws -> Bool {
            try await CommandResult.run("/usr/bin/docker", ["-H", "unix://\(state)/engines/\(name)/docker.sock", "version"]).status == 0
        }
        let bystander: ChildProcess
        do { bystander = try ChildProcess.start("/bin/sleep", ["120"], environment: [:], output: "/dev/null") } catch {
            await EnvironmentSlots.shared.release(1)
            throw error
        }
        do {
            // The longer first: micado-<first> is then a prefix of a namespace that exists.
            let up2 = try await engine(["up", second, "\(prefix).3", "256"])
            try #require(up2.status == 0, "\(up2.stdout) \(up2.stderr)")
            let up1 = try await engine(["up", first, "\(prefix).2", "256"])
            try #require(up1.status == 0, "\(up1.stdout) \(up1.stderr)")
            let down1 = try await engine(["down", first])
            #expect(down1.status == 0, "\(down1)")
            #expect(try await !answers(first))
            #expect(try await answers(second), "down of \(first) stopped \(second)")
            #expect(
                FileManager.default.fileExists(atPath: "/run/netns/micado-\(second)"),
                "down of \(first) deleted the namespace of \(second)"
            )
            let link = try await CommandResult.run("/usr/sbin/ip", ["-n", "micado-\(second)", "-4", "-o", "addr", "show", "dev", "eth0"])
            #expect(link.stdout.contains("\(prefix).3/"), "down of \(first) took the network of \(second): \(link)")
            // A stale pidfile naming a live process that is not its dockerd.
            let stale = state + "/engines/stale"
            try FileManager.default.createDirectory(atPath: stale, withIntermediateDirectories: true)
            try "\(bystander.pid)\n".write(toFile: stale + "/dockerd.pid", atomically: true, encoding: .utf8)
            let down3 = try await engine(["down", "stale"])
            #expect(down3.status == 0, "\(down3)")
            #expect(ChildProcess.isAlive(bystander.pid), "down killed pid \(bystander.pid), which its pidfile named but is not its dockerd")
            // Another run (another state folder) naming the same engine: its up is refused, its
            // down leaves the engine, namespace and veth be.
            var other = environment
            other["MICADO_STATE"] = state + "/other"
            let up3 = try await CommandResult.run(
                "/bin/bash",
                [ManagerFixture.engineScript, "up", second, "\(prefix).4", "256"],
                environment: other
            )
            #expect(up3.status != 0 && up3.stderr.contains("is not"), "\(up3)")
            let down4 = try await CommandResult.run("/bin/bash", [ManagerFixture.engineScript, "down", second], environment: other)
            #expect(down4.status == 0, "\(down4)")
            #expect(try await answers(second), "another run's down stopped \(second)")
            #expect(FileManager.default.fileExists(atPath: "/run/netns/micado-\(second)"), "another run's down deleted its namespace")
            // Another run's bridge on the same subnet: refused before anything is made.
            var sameSubnet = other
            sameSubnet["MICADO_BRIDGE"] = "mc" + id.suffix(8)
            let up4 = try await CommandResult.run(
                "/bin/bash",
                [ManagerFixture.engineScript, "up", id + "-c", "\(prefix).5", "256"],
                environment: sameSubnet
            )
            #expect(up4.status != 0 && up4.stderr.contains("already on"), "\(up4)")
            let links = try await CommandResult.run("/usr/sbin/ip", ["-o", "link"])
            #expect(!links.stdout.contains("mc" + id.suffix(8)), "a second bridge was made on \(prefix).0/24")
        } catch is ExpectationFailedError {
            // recorded where it failed
        } catch {
            Issue.record(error)
        }
        for name in [first, second] { _ = try? await engine(["down", name]) }
        _ = try? await engine(["bridge-down"])
        bystander.signal(SIGKILL)
        _ = await bystander.exit()
        for name in [first, second] {
            #expect(!FileManager.default.fileExists(atPath: "/run/netns/micado-\(name)"), "namespace of \(name) left")
        }
        let links = (try? await CommandResult.run("/usr/sbin/ip", ["-o", "link"]))?.stdout ?? ""
        #expect(!links.contains("mb" + id.suffix(8)), "bridge left")
        try? FileManager.default.removeItem(atPath: state)
        await EnvironmentSlots.shared.release(1)
    }
}
