import Foundation
import MicadoClouds
import Synchronization
import Testing

@Suite struct ChildProcessTests {
    @Test func runCollectsBothStreamsAndLeavesNoFile() async throws {
        // A folder of its own: other tests run children at the same time.
        let folder = NSTemporaryDirectory() + "micado-run-test-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let result = try await ChildProcess.run(
            "/bin/sh",
            ["-c", "echo out; echo err >&2; head -c 200000 /dev/zero | tr '\\0' x; exit 3"],
            outputDirectory: folder
        )
        #expect(result.status == 3)
        #expect(result.output.hasPrefix("out\nerr\n"))
        #expect(result.output.count == 8 + 200_000, "a large output is read whole")
        #expect(result.output.hasSuffix("xxxx"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).isEmpty, "the output file is unlinked at once")
    }

    /// A secret goes to a child on stdin, where no other local user can see it (`ps` shows arguments).
    @Test func inputReachesStdinNotTheArguments() async throws {
        let result = try await ChildProcess.run(
            "/bin/sh",
            ["-c", "read -r secret; echo \"got $secret\"; cat /proc/$$/cmdline | tr '\\0' ' '"],
            input: Array("s3cr3t\n".utf8)
        )
        #expect(result.status == 0)
        #expect(result.output.hasPrefix("got s3cr3t\n"), "\(result.output)")
        #expect(!result.output.dropFirst("got s3cr3t\n".count).contains("s3cr3t"))
        #expect(try await ChildProcess.run("/bin/cat", []).output == "", "without input, stdin is /dev/null")
        await #expect(throws: POSIXError.self) { try await ChildProcess.run("/bin/cat", [], input: Array(repeating: 0x61, count: 5000)) }
    }

    /// Awaiting children holds no thread of the concurrency pool: more children than pool
    /// threads are awaited at once, and the task that lets them end still runs. (If `exit()`
    /// blocked a pool thread, this would never finish and hit the time limit.)
    @Test(.timeLimit(.minutes(1))) func awaitingManyChildrenLeavesThePoolFree() async throws {
        let flag = NSTemporaryDirectory() + "micado-exit-\(UUID().uuidString)"
        defer { unlink(flag) }
        let count = ProcessInfo.processInfo.activeProcessorCount * 2 + 2
        let children = try (0..<count).map { _ in
            try ChildProcess.start(
                "/bin/sh",
                ["-c", "while [ ! -e \"$0\" ]; do sleep 0.02; done; exit 7", flag],
                environment: [:],
                output: "/dev/null"
            )
        }
        let statuses = try await withThrowingTaskGroup(of: Int32.self) { group in
            for child in children { group.addTask { await child.exit() } }
            group.addTask {
                try await Task.sleep(for: .milliseconds(100))
                #expect(FileManager.default.createFile(atPath: flag, contents: nil))
                return 7
            }
            var all: [Int32] = []
            for try await status in group { all.append(status) }
            return all
        }
        #expect(statuses == Array(repeating: 7, count: count + 1))
    }

    /// Children start with no signal blocked or ignored, whatever the spawning thread had.
    @Test func childrenStartWithDefaultSignals() async throws {
        // Builtins only: dash blocks every signal while it forks, so a forked grep could catch it mid-fork.
        let result = try await ChildProcess.run(
            "/bin/sh",
            ["-c", "while read -r line; do case $line in SigBlk*) echo \"$line\";; esac; done < /proc/$$/status"]
        )
        #expect(result.output.hasPrefix("SigBlk:") && result.output.contains("0000000000000000"), "\(result.output)")
        #expect(result.status == 0)
    }

    /// A child with a parent-death signal, started from a thread that then ends, lives on
    /// when started through the spawn thread (Linux signals it when its starting thread exits).
    @Test func childrenOfTheSpawnThreadOutliveTheThreadThatAsked() async throws {
        final class Started: Sendable { let child = Mutex<ChildProcess?>(nil) }
        let started = Started()
        let thread = Thread {
            Task {
                let child = try? await SpawnThread.shared.run {
                    try ChildProcess.start(
                        "/usr/bin/setpriv",
                        ["--pdeathsig", "KILL", "/bin/sleep", "30"],
                        environment: [:],
                        output: "/dev/null"
                    )
                }
                started.child.withLock { $0 = child }
            }
        }
        thread.start()
        while !thread.isFinished || started.child.withLock({ $0 == nil }) { try await Task.sleep(for: .milliseconds(10)) }
        try await Task.sleep(for: .milliseconds(300))
        let child = try #require(started.child.withLock { $0 })
        #expect(ChildProcess.isAlive(child.pid))
        child.signal(SIGKILL)
        _ = child.wait()
    }
}
