import AsyncHTTPClient
import DockerEngine
import Foundation
import Logging
import MicadoClouds
import MicadoCore
import NIOCore
import Testing

/// A private world for one integration test: its own bridge and subnet, a Docker engine
/// in its own network namespace (started by the project's `scripts/engine.sh`), a micado
/// home and a manager process. Everything carries a random name and is torn down by pid,
/// in reverse order, even when the test fails.
///
/// Use `ManagerFixture.with { fixture in … }`.
final class ManagerFixture: @unchecked Sendable {
    // @unchecked: `manager` is only touched by the one test that owns the fixture.
    let id: String
    let state: String
    let bridge: String
    let subnetPrefix: String
    let engineName: String
    let engineIP: String
    let home: String
    let port: Int
    let proxyPort: Int
    var manager: ChildProcess?
    /// Makes clouds.yaml once the fixture's engine and bridge exist (nil: no clouds).
    var cloudsFile: ((ManagerFixture) async throws -> String)?
    /// Added to the manager's environment (a cloud's credentials, say).
    var managerEnvironment: [String: String] = [:]
    let http = EngineClient.makeHTTPClient()

    static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }
        return url.path
    }()

    static var micadoBinary: String {
        ProcessInfo.processInfo.environment["MICADO_BIN"] ?? packageRoot + "/.build/debug/micado"
    }

    /// Where fixtures keep their state: MICADO_TEST_ROOT, which `.ci/run` makes for its run
    /// alone (so that its sweep after a kill touches no concurrent run's fixtures).
    static var root: String { ProcessInfo.processInfo.environment["MICADO_TEST_ROOT"] ?? "/tmp/micado-it" }

    static var engineScript: String { packageRoot + "/scripts/engine.sh" }

    /// Whether this machine can run engines: root, dockerd and busybox-static.
    static var enginesAvailable: Bool {
        getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/bin/busybox")
            && (FileManager.default.isExecutableFile(atPath: "/usr/sbin/dockerd")
                || FileManager.default.isExecutableFile(atPath: "/usr/bin/dockerd"))
    }

    /// In CI the integration tests must run: a missing dockerd fails them instead of skipping.
    static var mustRun: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    static var skipNote: Comment {
        "SKIPPED: integration tests need root and dockerd (apt-get install docker.io busybox-static); run .ci/run"
    }

    init() async throws {
        let hex = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        id = "it" + String(repeating: "0", count: 8 - hex.count) + hex
        state = Self.root + "/\(id)"
        bridge = "mb\(id.suffix(8))"
        subnetPrefix = try await Self.freeSubnet()
        engineName = id
        engineIP = "\(subnetPrefix).2"
        home = state + "/home"
        port = Self.freePorts(1, in: 20000..<26000)
        proxyPort = Self.freePorts(3, in: 26000..<32000)
    }

    /// A 10.213.X.0/24 that no interface of this machine uses yet.
    static func freeSubnet() async throws -> String {
        let used = try await CommandResult.run("/usr/sbin/ip", ["-4", "-o", "addr"]).stdout
        for _ in 0..<50 {
            let prefix = "10.213.\(Int.random(in: 100...250))"
            if !used.contains(" \(prefix).") { return prefix }
        }
        throw MicadoError(.internal, "no free 10.213.X.0/24 subnet for a test")
    }

    var scriptEnvironment: [String: String] {
        ["MICADO_STATE": state + "/engines", "MICADO_BRIDGE": bridge, "MICADO_BRIDGE_CIDR": "\(subnetPrefix).1/24"]
    }

    var dockerHost: String { "unix://\(state)/engines/\(engineName)/docker.sock" }

    /// A local cloud on the fixture's bridge: flavours small (256 MiB) and medium (512 MiB).
    func cloudsFile(max: Int = 3, grace: Int = 4) -> String {
        """
        clouds:
          local:
            driver: local
            network: {bridge: \(bridge), bridgeCIDR: \(subnetPrefix).1/24, first: \(subnetPrefix).10, last: \(subnetPrefix).40, manager: \(engineIP)}
            locations:
              local: {min: 0, max: \(max)}
            flavours:
              - {name: small, cpus: 1, memoryMiB: 256, pricePerHour: 0.010}
              - {name: medium, cpus: 2, memoryMiB: 512, pricePerHour: 0.018}
            applications: {node: default}
            timings: {gracePeriodSeconds: \(grace), bootTimeoutSeconds: 60, drainTimeoutSeconds: 20}
        """
    }

    var instancesDirectory: String { home + "/instances/local" }

    /// The first of `count` consecutive loopback ports that are free now, below the kernel's
    /// ephemeral range (32768 and up), where outgoing connections would take them at random.
    static func freePorts(_ count: Int, in range: Range<Int>) -> Int {
        for _ in 0..<200 {
            let first = Int.random(in: range.lowerBound..<(range.upperBound - count))
            if (first..<(first + count)).allSatisfy(isFree) { return first }
        }
        return Int.random(in: range.lowerBound..<(range.upperBound - count))
    }

    static func isFree(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    /// Instance IDs the local cloud holds for this fixture right now.
    func instanceIDs() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: instancesDirectory)) ?? []).filter { $0.hasPrefix("i") && $0.count == 11 }
            .sorted()
    }

    /// Whether anything of an instance is left on the machine: namespace, veth, engine process, cgroups.
    static func leftovers(of id: String) async throws -> [String] {
        var found: [String] = []
        if try await CommandResult.run("/usr/sbin/ip", ["netns", "list"]).stdout.contains("micado-\(id)") {
            found.append("namespace micado-\(id)")
        }
        if try await CommandResult.run("/usr/sbin/ip", ["link", "show", "v\(id)"]).status == 0 { found.append("veth v\(id)") }
        if try await CommandResult.run("/usr/bin/pgrep", ["-f", "/\(id)/dockerd.pid"]).status == 0 { found.append("dockerd of \(id)") }
        // Its containers' processes would keep its cgroups alive.
        let cgroups = try await CommandResult.run(
            "/bin/sh",
            ["-c", "ls -d /sys/fs/cgroup/*/micado-\(id) /sys/fs/cgroup/micado-\(id) 2>/dev/null"]
        ).stdout
        if !cgroups.isEmpty { found.append("cgroups \(cgroups.split(separator: "\n").joined(separator: " "))") }
        return found
    }

    /// `quiet`: the test measures CPU use (an autoscaling policy): it runs alone, with every
    /// environment slot, so that other tests' load does not decide what it asserts.
    static func with(clouds: Bool, quiet: Bool = false, _ body: (ManagerFixture) async throws -> Void) async throws {
        try await with(cloudsFile: clouds ? { $0.cloudsFile() } : nil, quiet: quiet, body)
    }

    static func with(_ body: (ManagerFixture) async throws -> Void) async throws {
        try await with(cloudsFile: nil, body)
    }

    static func with(
        cloudsFile: ((ManagerFixture) async throws -> String)?,
        environment: [String: String] = [:],
        quiet: Bool = false,
        _ body: (ManagerFixture) async throws -> Void
    ) async throws {
        if !enginesAvailable && mustRun {
            Issue.record("CI=true but this machine cannot run dockerd as root: the integration tests must run in CI")
            return
        }
        let slots = quiet ? EnvironmentSlots.shared.limit : 1
        await EnvironmentSlots.shared.acquire(slots)
        let fixture: ManagerFixture
        do { fixture = try await ManagerFixture() } catch {
            await EnvironmentSlots.shared.release(slots)
            throw error
        }
        fixture.cloudsFile = cloudsFile
        fixture.managerEnvironment = environment
        do {
            try await fixture.setUp()
            try await body(fixture)
        } catch {
            fixture.dumpLogs()
            await fixture.tearDown()
            await EnvironmentSlots.shared.release(slots)
            throw error
        }
        await fixture.tearDown()
        await EnvironmentSlots.shared.release(slots)
    }

    func setUp() async throws {
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        let up = try await CommandResult.run(
            "/bin/bash",
            [Self.engineScript, "up", engineName, engineIP, "2048"],
            environment: scriptEnvironment
        )
        guard up.status == 0 else { throw MicadoError(.internal, "engine.sh up failed: \(up)") }
        let image = try await CommandResult.run("/bin/bash", [Self.packageRoot + "/scripts/busybox-image.sh", dockerHost])
        guard image.status == 0 else { throw MicadoError(.internal, "busybox-image.sh failed: \(image)") }
        let initialised = try await micado([
            "init", "--docker-host", dockerHost, "--advertise-address", engineIP, "--port", String(port),
            "--proxy-port", String(proxyPort), "--proxy-tls-port", String(proxyPort + 2),
        ])
        guard initialised.status == 0 else { throw MicadoError(.internal, "micado init failed: \(initialised)") }
        if let cloudsFile { try await cloudsFile(self).write(toFile: home + "/clouds.yaml", atomically: true, encoding: .utf8) }
        try await startManager()
    }

    /// Runs the CLI against this fixture's home.
    @discardableResult
    func micado(_ arguments: [String], environment: [String: String] = [:], input: String? = nil) async throws -> CommandResult {
        try await CommandResult.run(
            Self.micadoBinary,
            arguments,
            environment: ["MICADO_HOME": home].merging(environment) { _, b in b },
            input: input
        )
    }

    /// Runs micado on a terminal of its own (util-linux `script` makes one) of the given
    /// size, with `input` typed at it; its terminal output comes back as stdout.
    func micadoOnTerminal(_ arguments: [String], size: TerminalSize, input: String) async throws -> CommandResult {
        try await CommandResult.run(
            "/usr/bin/script",
            [
                "--quiet", "--return", "--command", "stty cols \(size.columns) rows \(size.rows); exec \(Self.quoted(arguments))",
                "/dev/null",
            ],
            environment: ["MICADO_HOME": home, "TERM": "screen-256color"],
            input: input
        )
    }

    /// Starts micado on a terminal of its own in the background; what it shows goes to `log`.
    /// `then`, a shell command, runs on the same terminal after micado exits.
    func startOnTerminal(_ arguments: [String], log: String, then: String? = nil) throws -> ChildProcess {
        let command = then.map { "\(Self.quoted(arguments)); \($0)" } ?? "exec \(Self.quoted(arguments))"
        return try ChildProcess.start(
            "/usr/bin/script",
            ["--quiet", "--return", "--command", command, "/dev/null"],
            environment: ProcessInfo.processInfo.environment.merging(["MICADO_HOME": home]) { _, b in b },
            output: log
        )
    }

    /// micado and its arguments as one sh command line.
    static func quoted(_ arguments: [String]) -> String {
        ([micadoBinary] + arguments).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
    }

    /// Starts `micado manager` and waits until its API answers.
    func startManager(_ arguments: [String] = []) async throws {
        let log = state + "/manager.log"
        let environment = ProcessInfo.processInfo.environment.merging(managerEnvironment.merging(["MICADO_HOME": home]) { _, b in b }) {
            _,
            b in b
        }
        let process = try ChildProcess.start(Self.micadoBinary, ["manager"] + arguments, environment: environment, output: log)
        manager = process
        // A start takes about a second; 60 s covers a machine that the parallel suites saturate.
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if let status = process.poll() {
                manager = nil
                throw MicadoError(.internal, "the manager exited with \(status); see \(log)")
            }
            if try await micado(["events", "--limit", "1"]).status == 0 { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw MicadoError(.timeout, "the manager did not answer within 60 s")
    }

    /// Waits until the manager exits by itself (a crash point, say); returns its status.
    func managerExit(within seconds: Int) async throws -> Int32 {
        guard let process = manager else { throw MicadoError(.internal, "no manager running") }
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if let status = process.poll() {
                manager = nil
                return status
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw MicadoError(.timeout, "the manager did not exit within \(seconds) s")
    }

    /// Stops the manager with `signal` and waits for it; returns its exit status.
    @discardableResult
    func stopManager(signal: Int32 = SIGTERM) async throws -> Int32 {
        guard let process = manager else { return 0 }
        process.signal(signal)
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if let status = process.poll() {
                manager = nil
                return status
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        process.signal(SIGKILL)
        manager = nil
        return process.wait()
    }

    func engine() async throws -> EngineClient {
        try await EngineClient.connect(to: try EngineEndpoint.parse(dockerHost), http: http, logger: Logger(label: "test"))
    }

    /// GET over the network, from the root namespace to an address in the test's subnet.
    func fetch(_ url: String) async throws -> String {
        let response = try await http.execute(HTTPClientRequest(url: url), timeout: .seconds(5))
        let body = try await response.body.collect(upTo: 1 << 20)
        return String(buffer: body)
    }

    /// Retries `fetch` while the container's port comes up.
    func fetchEventually(_ url: String, seconds: Int = 15) async throws -> String {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while true {
            do { return try await fetch(url) } catch {
                if ContinuousClock.now >= deadline { throw error }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    func dumpLogs() {
        if let log = try? String(contentsOfFile: state + "/manager.log", encoding: .utf8) {
            print("--- manager log of \(id) (last 40 lines)\n" + log.split(separator: "\n").suffix(40).joined(separator: "\n"))
        }
    }

    func tearDown() async {
        if let process = manager {
            process.signal(SIGKILL)
            _ = process.wait()
        }
        // Instances first (they hang off the bridge), through the driver's own teardown.
        let driver = LocalDriver(
            cloud: "local",
            network: .init(
                bridge: bridge,
                bridgeCIDR: "\(subnetPrefix).1/24",
                firstAddress: "\(subnetPrefix).10",
                lastAddress: "\(subnetPrefix).40",
                managerAddress: engineIP
            ),
            stateDirectory: instancesDirectory,
            authority: CertificateAuthority(directory: home + "/tls"),
            logger: Logger(label: "teardown")
        )
        for id in instanceIDs() { try? await driver.delete(id) }
        // The registry's trust entry, which a killed manager cannot remove itself.
        for port in [5000, 5001] { try? FileManager.default.removeItem(atPath: "/etc/docker/certs.d/\(subnetPrefix).1:\(port)") }
        _ = try? await CommandResult.run("/bin/bash", [Self.engineScript, "down", engineName], environment: scriptEnvironment)
        _ = try? await CommandResult.run("/bin/bash", [Self.engineScript, "bridge-down"], environment: scriptEnvironment)
        try? await http.shutdown()
        try? FileManager.default.removeItem(atPath: state)
    }
}

/// How many integration environments (each a dockerd, a manager, and often instances,
/// Caddy and a registry) run at once. Started all together on a small machine, every one
/// becomes slow enough to miss its deadlines; a few at a time finish sooner in all.
/// `MICADO_TEST_ENVIRONMENTS` overrides the default.
actor EnvironmentSlots {
    static let shared = EnvironmentSlots(limit: Int(ProcessInfo.processInfo.environment["MICADO_TEST_ENVIRONMENTS"] ?? "") ?? 4)

    nonisolated let limit: Int
    var inUse = 0
    var waiting: [(slots: Int, continuation: CheckedContinuation<Void, Never>)] = []

    init(limit: Int) { self.limit = max(1, limit) }

    /// Takes `slots` (all of them: the test runs alone), first come first served.
    func acquire(_ slots: Int = 1) async {
        let slots = min(max(1, slots), limit)
        if waiting.isEmpty, inUse + slots <= limit {
            inUse += slots
            return
        }
        await withCheckedContinuation { waiting.append((slots, $0)) }
    }

    /// Gives `slots` back and hands them on to the waiters at the head of the line that fit.
    func release(_ slots: Int = 1) {
        inUse -= min(max(1, slots), limit)
        while let first = waiting.first, inUse + first.slots <= limit {
            waiting.removeFirst()
            inUse += first.slots
            first.continuation.resume()
        }
    }
}
