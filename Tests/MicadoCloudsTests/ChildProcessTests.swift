import Foundation
import Synchronization
import MicadoClouds
import Testing

@Suite struct ChildProcessTests {
    @Test func runCollectsBothStreamsAndLeavesNoFile() throws {
        let before = try FileManager.default.contentsOfDirectory(atPath: NSTemporaryDirectory()).filter { $0.hasPrefix("micado-run-") }
        let result = try ChildProcess.run("/bin/sh", ["-c", "echo out; echo err >&2; head -c 200000 /dev/zero | tr '\\0' x; exit 3"])
        #expect(result.status == 3)
        #expect(result.output.hasPrefix("out\nerr\n"))
        #expect(result.output.count == 8 + 200_000, "a large output is read whole")
        #expect(result.output.hasSuffix("xxxx"))
        let after = try FileManager.default.contentsOfDirectory(atPath: NSTemporaryDirectory()).filter { $0.hasPrefix("micado-run-") }
        #expect(after == before)
    }

    /// A secret goes to a child on stdin, where no other local user can see it (`ps` shows arguments).
    @Test func inputReachesStdinNotTheArguments() throws {
        let result = try ChildProcess.run("/bin/sh", ["-c", "read -r secret; echo \"got $secret\"; cat /proc/$$/cmdline | tr '\\0' ' '"], input: Array("s3cr3t\n".utf8))
        #expect(result.status == 0)
        #expect(result.output.hasPrefix("got s3cr3t\n"), "\(result.output)")
        #expect(!result.output.dropFirst("got s3cr3t\n".count).contains("s3cr3t"))
        #expect(try ChildProcess.run("/bin/cat", []).output == "", "without input, stdin is /dev/null")
        #expect(throws: POSIXError.self) { try ChildProcess.run("/bin/cat", [], input: Array(repeating: 0x61, count: 5000)) }
    }

    /// Children start with no signal blocked or ignored, whatever the spawning thread had.
    @Test func childrenStartWithDefaultSignals() throws {
        // Builtins only: dash blocks every signal while it forks, so a forked grep could catch it mid-fork.
        let result = try ChildProcess.run("/bin/sh", ["-c", "while read -r line; do case $line in SigBlk*) echo \"$line\";; esac; done < /proc/$$/status"])
        #expect(result.output.hasPrefix("SigBlk:") && result.output.contains("0000000000000000"), "\(result.output)")
        #expect(result.status == 0)
    }

    /// A child with a parent-death signal, started from a thread that then ends, lives on
    /// when started through the spawn thread (Linux signals it when its starting thread exits).
    @Test func childrenOfTheSpawnThreadOutliveTheThreadThatAsked() async throws {
        let started = Mutex<ChildProcess?>(nil)
        let thread = Thread {
            started.withLock { $0 = try? SpawnThread.shared.run { try ChildProcess.start("/usr/bin/setpriv", ["--pdeathsig", "KILL", "/bin/sleep", "30"], environment: [:], output: "/dev/null") } }
        }
        thread.start()
        while !thread.isFinished { try await Task.sleep(for: .milliseconds(10)) }
        try await Task.sleep(for: .milliseconds(300))
        let child = try #require(started.withLock { $0 })
        #expect(ChildProcess.isAlive(child.pid))
        child.signal(SIGKILL)
        _ = child.wait()
    }
}
