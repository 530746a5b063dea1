import Foundation
import MicadoCore
import Testing

@testable import MicadoClouds

/// An instance's teardown after a crash: its pid files may name processes that are no longer
/// its own. Only a process started for that instance is stopped.
@Suite struct LocalTeardownTests {
    @Test func aStalePidFileNeverStopsAnotherProcess() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("micado-teardown-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let bystander = try ChildProcess.start("/bin/sleep", ["120"], environment: [:], output: "/dev/null")
        // Its own boot, still running: its command line names the folder, as the driver starts it.
        let boot = try ChildProcess.start(
            "/bin/bash",
            ["-c", "trap 'kill %1; exit 1' TERM; sleep 120 & wait", dir],
            environment: [:],
            output: "/dev/null"
        )
        defer {
            bystander.signal(SIGKILL)
            boot.signal(SIGKILL)
        }
        try "\(boot.pid)\n".write(toFile: dir + "/boot.pid", atomically: true, encoding: .utf8)
        try "\(bystander.pid)\n".write(toFile: dir + "/dockerd.pid", atomically: true, encoding: .utf8)
        let id = "td" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let teardown = try ChildProcess.start(
            "/bin/bash",
            ["-c", LocalDriver.teardownScript, "teardown", dir, id, LocalDriver.namespace(id), LocalDriver.veth(id)],
            environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"],
            output: "/dev/null"
        )
        #expect(await teardown.exit() == 0)
        #expect(
            ChildProcess.isAlive(bystander.pid),
            "the teardown stopped pid \(bystander.pid), which dockerd.pid named but is not its engine"
        )
        #expect(await boot.exit() != 0, "the instance's own boot was not stopped")
        #expect(!FileManager.default.fileExists(atPath: dir))
    }
}
