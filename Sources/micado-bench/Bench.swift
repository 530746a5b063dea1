import ArgumentParser
import AsyncHTTPClient
import DockerEngine
import Foundation
import Logging
import MicadoClient
import MicadoCore
import MicadoManager
import NIOCore
import NIOHTTP1
import Synchronization

/// `micado-bench`: the benchmarks and the clouds' stand-ins, apart from the `micado` binary
/// users run (`micado bench VERB` starts this one, found beside it).
struct MicadoBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "micado-bench",
        abstract: "Measure micado against a baseline in the same run (figures, not pass/fail); run the clouds' stand-ins.",
        version: MicadoVersion.current,
        subcommands: [
            BenchLaunch.self, BenchPack.self, BenchPlan.self, BenchScale.self, BenchScaleOut.self, BenchProxy.self, BenchExec.self,
            BenchAutoscale.self, BenchSim.self,
            BenchConnections.self, BenchApply.self, BenchStandIn.self, BenchCloudStandIn.self,
        ]
    )
}

extension MicadoBench {
    struct BenchLaunch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "launch",
            abstract:
                "Launch-to-running through micado vs. the same service created directly, through the API and from the CLI; manager RSS and list latency with many containers.",
            discussion: """
                Needs a running manager without clouds: every baseline runs on the manager's own engine. Each run has a tag; it creates containers named container-bench<TAG>-* (through the manager's API or its CLI) and services named bench<TAG>-* labelled micado.bench.run=<TAG> (the baselines), and removes all of them at the end, also when a step fails or on Ctrl-C (a second Ctrl-C leaves them).

                API pair: POST /v1/containers (it answers once the task runs) vs. the Engine API's service create, then its tasks polled every 25 ms. CLI pair: this binary running 'micado launch' until it exits with the task running vs. the docker CLI running 'docker -H <the manager's engine> service create --detach --no-resolve-image', then its tasks polled through the Engine API every 25 ms; interleaved, micado first. Many containers: created through the API with detach, quit without removing (service at 0 replicas), then measured, then removed.
                """
        )

        @Option(help: "API-level launches per side (POST /v1/containers vs. the Engine API's service create), interleaved.")
        var count = 20

        @Option(help: "CLI-level pairs (a 'micado launch' process vs. a 'docker service create' process), interleaved; 0 skips them.")
        var cliPairs = 10

        @Option(
            name: [.customLong("containers"), .customLong("records")],
            help:
                "Containers created through the API and quit (not removed) for the RSS and list figures; 0 skips them. (--records: its former name.)"
        )
        var containers = 200

        @Option(help: "Requests in flight at once while creating, quitting and removing those containers.")
        var concurrency = 16

        @Option(help: "Image to launch (present in the engine).")
        var image = "busybox:local"

        @Option(help: "The docker CLI of the CLI baseline (Debian's docker.io installs it there).")
        var dockerCli = "/usr/bin/docker"

        func validate() throws {
            guard (1...200).contains(count) else { throw ValidationError("--count must be 1...200") }
            guard (0...200).contains(cliPairs) else { throw ValidationError("--cli-pairs must be 0...200") }
            guard (0...2000).contains(containers) else { throw ValidationError("--containers must be 0...2000") }
            guard (1...64).contains(concurrency) else { throw ValidationError("--concurrency must be 1...64") }
        }

        struct Results: Sendable {
            var direct: [Double] = []
            var viaAPI: [Double] = []
            var docker: [Double] = []
            var viaCLI: [Double] = []
            var many: Many?
        }

        struct Many: Sendable {
            var rssMiB: Double?
            var listTimes: [Double]
            /// Containers `list -c -a` showed (this bench's and any others).
            var listed: Int
            /// This bench's containers by observed state when measured.
            var states: [String: Int]
        }

        func run() async throws {
            let target = try await BenchTarget.connect()
            guard try await target.client.json([CloudView].self, .GET, "/v1/clouds").isEmpty else {
                throw MicadoError(
                    .conflict,
                    "bench launch compares against the manager's own engine, which a manager with clouds drains; run it against a manager without a clouds file"
                )
            }
            var dockerVersion = ""
            if cliPairs > 0 {
                guard FileManager.default.isExecutableFile(atPath: dockerCli) else {
                    throw MicadoError(
                        .configuration,
                        "the CLI baseline needs the docker CLI at \(dockerCli) (Debian: apt-get install docker.io); give --docker-cli PATH, or --cli-pairs 0 to skip the CLI pair"
                    )
                }
                let version = try await BenchProcess.run(
                    dockerCli,
                    ["--version"],
                    environment: Self.dockerEnvironment(),
                    timeout: .seconds(30)
                )
                dockerVersion = version.output.trimmingCharacters(in: .whitespacesAndNewlines)
            }
            let rssIdle = Self.rssMiB(pid: target.health.pid)
            let run = BenchRun()
            Console.err("bench run \(run.tag): containers \(run.containerPrefix)*, services \(run.servicePrefix)*; all removed at the end")
            let results = try await run.withCleanup(client: target.client, engine: target.engine, concurrency: concurrency) {
                try await measure(target, run)
            }

            let p = Self.percentile
            func stats(_ values: [Double]) -> String { "median \(Self.ms(p(values, 0.5))) ms, p95 \(Self.ms(p(values, 0.95))) ms" }
            func line(_ label: String, _ values: [Double]) -> String { "  \(label): \(stats(values))" }
            func ratio(_ label: String, _ ours: [Double], _ theirs: [Double]) -> String {
                String(format: "  ratio %@: median %.2fx, p95 %.2fx", label, p(ours, 0.5) / p(theirs, 0.5), p(ours, 0.95) / p(theirs, 0.95))
            }
            print(
                "bench launch, run \(run.tag): \(Self.buildDescription); manager \(target.health.version), engine \(target.engine.engineVersion), API \(target.engine.apiVersion)"
            )
            print("launch-to-running through the API, \(count) interleaved pairs:")
            print(line("direct Engine API (service create, tasks polled every 25 ms)", results.direct))
            print(line("micado POST /v1/containers (answers once the task runs)", results.viaAPI))
            print(ratio("micado/direct", results.viaAPI, results.direct))
            if cliPairs > 0 {
                print("launch-to-running from the CLI, \(cliPairs) interleaved pairs, process start to task running:")
                print(
                    line("docker service create --detach (\(dockerCli), \(dockerVersion)), then tasks polled every 25 ms", results.docker)
                )
                print(line("micado launch (this binary, until it exits with its task running)", results.viaCLI))
                print(ratio("micado/docker", results.viaCLI, results.docker))
            }
            print("manager RSS idle: \(Self.mib(rssIdle)) MiB")
            if let many = results.many {
                let states = many.states.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
                print(
                    "manager RSS with \(containers) containers created through the API and quit (services at 0 replicas; \(states)): \(Self.mib(many.rssMiB)) MiB"
                )
                print(
                    "list -c -a with \(many.listed) containers (\(containers) of this bench), \(many.listTimes.count) calls: \(stats(many.listTimes))"
                )
            }
        }

        func measure(_ target: BenchTarget, _ run: BenchRun) async throws -> Results {
            var results = Results()
            for i in 0..<count {
                let direct = try await timeDirect(
                    engine: target.engine,
                    name: run.service("direct-\(i)"),
                    run: run,
                    configuration: target.configuration
                )
                let viaAPI = try await timeMicado(client: target.client, name: run.container("api-\(i)"))
                results.direct.append(direct)
                results.viaAPI.append(viaAPI)
                Console.err("API pair \(i + 1)/\(count): direct \(Self.ms(direct)) ms, micado \(Self.ms(viaAPI)) ms")
            }
            for i in 0..<cliPairs {
                let viaCLI = try await timeMicadoCLI(client: target.client, name: run.container("cli-\(i)"))
                let docker = try await timeDockerCLI(target: target, name: run.service("docker-\(i)"), run: run)
                results.viaCLI.append(viaCLI)
                results.docker.append(docker)
                Console.err(
                    "CLI pair \(i + 1)/\(cliPairs): micado launch \(Self.ms(viaCLI)) ms, docker service create \(Self.ms(docker)) ms"
                )
            }
            if containers > 0 { results.many = try await measureMany(target, run) }
            return results
        }

        func benchSpec(name: String, run: BenchRun?, configuration: ManagerConfiguration) -> ServiceSpec {
            let reservations =
                configuration.docker.reserveGenericMemory
                ? ServiceSpec.Resources.Reservations(genericResources: [GenericResource(kind: SchedulerResource.memory, value: 16)])
                : ServiceSpec.Resources.Reservations(memoryBytes: 16 << 20)
            var labels = ["micado.bench": "direct"]
            if let run { labels[BenchRun.label] = run.tag }
            return ServiceSpec(
                name: name,
                labels: labels,
                taskTemplate: .init(
                    containerSpec: .init(image: ImageReference.normalized(image), args: ["sleep", "3600"]),
                    resources: .init(limits: .init(memoryBytes: 16 << 20), reservations: reservations)
                ),
                mode: .init(replicas: 1),
                endpointSpec: nil
            )
        }

        /// The baseline through the Engine API: service create, then its tasks polled until one runs.
        func timeDirect(engine: EngineClient, name: String, run: BenchRun?, configuration: ManagerConfiguration) async throws -> Double {
            let start = ContinuousClock.now
            let id = try await engine.createService(benchSpec(name: name, run: run, configuration: configuration))
            try await Self.waitForRunningTask(engine: engine, service: id, name: name, since: start)
            let elapsed = (ContinuousClock.now - start).inSeconds
            try await engine.removeService(id)
            return elapsed
        }

        static func waitForRunningTask(
            engine: EngineClient,
            service: String,
            name: String,
            since start: ContinuousClock.Instant
        ) async throws {
            while try await !engine.tasks(filters: ["service": [service]]).contains(where: { $0.status.state == .running }) {
                if ContinuousClock.now - start > .seconds(60) { throw MicadoError(.timeout, "service \(name) did not run in 60 s") }
                try await Task.sleep(for: .milliseconds(25))
            }
        }

        /// POST /v1/containers without detach: the manager answers once the task runs.
        func timeMicado(client: ManagerClient, name: String) async throws -> Double {
            let request = LaunchRequest(
                image: image,
                client: "bench",
                arguments: ["sleep", "3600"],
                memoryMiB: 16,
                name: try ContainerName.parse(name),
                detach: false
            )
            let start = ContinuousClock.now
            let view = try await client.json(ContainerView.self, .POST, "/v1/containers", body: request)
            let elapsed = (ContinuousClock.now - start).inSeconds
            try await client.send(.POST, "/v1/containers/\(view.name)/quit", json: QuitRequest(remove: true))
            return elapsed
        }

        /// This binary's `micado launch`, from starting the process until it exits (it waits
        /// until the task runs); the manager is then asked whether it does.
        func timeMicadoCLI(client: ManagerClient, name: String) async throws -> Double {
            let child = try await BenchProcess.run(
                Self.micadoExecutable,
                ["launch", "-i", image, "-n", "bench", "-m", "16m", "--container", name, "--timeout", "60", "-a", "sleep", "3600"],
                timeout: .seconds(90)
            )
            guard child.status == 0 else {
                throw MicadoError(.internal, "micado launch of \(name) exited with \(child.status): \(child.output.suffix(600))")
            }
            let view = try await client.json(ContainerView.self, .GET, "/v1/containers/\(name)")
            guard view.state == .running else { throw MicadoError(.internal, "micado launch exited but \(name) is \(view.state.rawValue)") }
            try await client.send(.POST, "/v1/containers/\(name)/quit", json: QuitRequest(remove: true))
            return child.elapsed
        }

        /// The docker CLI's `service create --detach` as a process on the manager's engine, then
        /// its tasks polled through the Engine API until one runs; from starting the process.
        func timeDockerCLI(target: BenchTarget, name: String, run: BenchRun) async throws -> Double {
            var arguments = [
                "-H", target.engineHost, "service", "create", "--detach", "--quiet", "--no-resolve-image", "--name", name,
                "--label", "micado.bench=docker-cli", "--label", "\(BenchRun.label)=\(run.tag)", "--limit-memory", "16m",
            ]
            arguments +=
                target.configuration.docker.reserveGenericMemory
                ? ["--generic-resource", "\(SchedulerResource.memory)=16"] : ["--reserve-memory", "16m"]
            arguments += [ImageReference.normalized(image), "sleep", "3600"]
            let child = try await BenchProcess.run(dockerCli, arguments, environment: Self.dockerEnvironment(), timeout: .seconds(60))
            guard child.status == 0 else {
                throw MicadoError(.engine, "docker service create of \(name) exited with \(child.status): \(child.output.suffix(600))")
            }
            try await Self.waitForRunningTask(engine: target.engine, service: name, name: name, since: child.started)
            let elapsed = (ContinuousClock.now - child.started).inSeconds
            try await target.engine.removeService(name)
            return elapsed
        }

        /// `containers` real containers through the API, each launched detached and quit at
        /// once (its service scaled to 0, so no task loads the machine), then the manager's RSS
        /// and `list -c -a` latency. They are removed by the run's cleanup.
        func measureMany(_ target: BenchTarget, _ run: BenchRun) async throws -> Many {
            let client = target.client
            let names = try (0..<containers).map { i throws(MicadoError) in try ContainerName.parse(run.container("n-\(i)")) }
            let image = self.image
            let start = ContinuousClock.now
            let made = try await BenchScaleOut.inParallel(0..<containers, concurrency) { i in
                let request = LaunchRequest(
                    image: image,
                    client: "bench",
                    arguments: ["sleep", "3600"],
                    memoryMiB: 6,
                    name: names[i],
                    detach: true
                )
                _ = try await client.json(ContainerView.self, .POST, "/v1/containers", body: request, timeout: .seconds(120))
                try await client.send(.POST, "/v1/containers/\(names[i])/quit", json: QuitRequest(remove: false))
            }
            guard made.failed.isEmpty else {
                throw MicadoError(
                    .internal,
                    "\(made.failed.count) of \(containers) launches (or their quits) failed; first: \(made.failed[0])"
                )
            }
            Console.err(
                "\(containers) containers launched and quit through the API in \(Int((ContinuousClock.now - start).inSeconds)) s; waiting until no task of them is left"
            )
            let mine = Set(names.map(\.rawValue))
            var states: [String: Int] = [:]
            let deadline = ContinuousClock.now + .seconds(120 + containers / 4)
            while true {
                let views = try await client.json(
                    [ContainerView].self,
                    .GET,
                    "/v1/containers",
                    query: [("all", "true")],
                    timeout: .seconds(120)
                )
                states = Dictionary(grouping: views.filter { mine.contains($0.name.rawValue) }, by: \.state.rawValue).mapValues(\.count)
                if states.keys.allSatisfy({ $0 == ObservedState.stopped.rawValue }) || ContinuousClock.now > deadline { break }
                try await Task.sleep(for: .seconds(1))
            }
            if states[ObservedState.stopped.rawValue] != containers {
                Console.err("not all stopped by the deadline; measuring anyway: \(states)")
            }
            try await Task.sleep(for: .seconds(2))
            let rss = Self.rssMiB(pid: target.health.pid)
            var listTimes: [Double] = []
            var last = ByteBuffer()
            for _ in 0..<20 {
                let begin = ContinuousClock.now
                last = try await client.send(.GET, "/v1/containers", query: [("all", "true")], timeout: .seconds(120))
                listTimes.append((ContinuousClock.now - begin).inSeconds)
            }
            let listed = (try? WireFormat.decoder().decode([ContainerView].self, from: Data(last.readableBytesView)).count) ?? -1
            return Many(rssMiB: rss, listTimes: listTimes, listed: listed, states: states)
        }

        /// The environment of the docker CLI: nothing that would point it elsewhere than `-H`.
        static func dockerEnvironment() -> [String: String] {
            var environment = ProcessInfo.processInfo.environment
            for key in ["DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_API_VERSION"] {
                environment[key] = nil
            }
            return environment
        }

        /// The `micado` CLI beside this binary (both are built into the same folder).
        static var micadoExecutable: String {
            let own = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
            return URL(fileURLWithPath: own).deletingLastPathComponent().appendingPathComponent("micado").path
        }

        static var buildDescription: String {
            let path = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
            #if DEBUG
            return "this binary is a debug build (\(path))"
            #else
            return "this binary is a release build (\(path))"
            #endif
        }

        static func rssMiB(pid: Int32) -> Double? {
            guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
                let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
                let kb = line.split(separator: " ").dropFirst().first.flatMap({ Double($0) })
            else { return nil }
            return kb / 1024
        }

        static func mib(_ value: Double?) -> String { value.map { String(format: "%.1f", $0) } ?? "?" }
        static func ms(_ s: Double) -> String { String(format: "%.0f", s * 1000) }
        static func percentile(_ values: [Double], _ p: Double) -> Double {
            let sorted = values.sorted()
            guard !sorted.isEmpty else { return .nan }
            return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))]
        }
    }
}

/// What a bench against the running manager needs: its configuration, a client, its health
/// (for its pid) and its engine, for the direct baselines.
struct BenchTarget: Sendable {
    var configuration: ManagerConfiguration
    var client: ManagerClient
    var health: HealthView
    var engine: EngineClient
    /// The manager's engine as `docker -H` takes it.
    var engineHost: String

    static func connect() async throws -> BenchTarget {
        let environment = ProcessInfo.processInfo.environment
        let home = MicadoHome.resolve(environment: environment)
        let configuration = try ManagerConfiguration.load(home: home, environment: environment)
        let client = try ManagerClient.fromHome()
        let health = try await client.json(HealthView.self, .GET, "/v1/health")
        let endpoint = try EngineEndpoint.parse(configuration.docker.host ?? EngineEndpoint.defaultSocket.description)
        let engine = try await EngineClient.connect(to: endpoint, http: sharedHTTPClient, logger: Logger(label: "bench"))
        return BenchTarget(configuration: configuration, client: client, health: health, engine: engine, engineHost: endpoint.description)
    }
}

/// One bench run: the names of what it creates carry its tag, so that everything it made is
/// found and removed at the end, whatever happened in between.
struct BenchRun: Sendable {
    static let label = "micado.bench.run"
    let tag: String

    init() {
        let hex = String(UInt32.random(in: 0..<(1 << 24)), radix: 16)
        tag = String(repeating: "0", count: 6 - hex.count) + hex
    }

    var containerPrefix: String { "container-bench\(tag)-" }
    var servicePrefix: String { "bench\(tag)-" }
    func container(_ suffix: String) -> String { containerPrefix + suffix }
    func service(_ suffix: String) -> String { servicePrefix + suffix }

    /// Runs `body`, then removes every container and service of this run: after a failure or
    /// an interrupt (SIGINT, SIGTERM: the work is cancelled) too. A second interrupt during
    /// the cleanup ends the process.
    func withCleanup<T: Sendable>(
        client: ManagerClient,
        engine: EngineClient?,
        concurrency: Int,
        _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        let work = Task { try await body() }
        let interrupts = Interrupts { [tag] number in
            Console.err("interrupted: removing what bench run \(tag) created (interrupt again to leave it)")
            signal(number, SIG_DFL)
            work.cancel()
        }
        let result = await work.result
        let failed: Bool
        switch result {
        case .success: failed = false
        case .failure: failed = true
        }
        let interrupted = work.isCancelled
        var problems = await cleanup(client: client, engine: engine, concurrency: concurrency)
        if failed {
            // A launch a killed child had already sent may land after the first sweep.
            try? await Task.sleep(for: .seconds(1))
            problems += await cleanup(client: client, engine: engine, concurrency: concurrency)
        }
        interrupts.stop()
        for problem in problems.prefix(10) { Console.err("cleanup of bench run \(tag): \(problem)") }
        if !problems.isEmpty {
            Console.err(
                "cleanup of bench run \(tag) left \(problems.count) problem(s): see 'micado list -c -a' (\(containerPrefix)*) and services labelled \(Self.label)=\(tag)"
            )
        }
        if failed, interrupted { throw MicadoError(.internal, "bench run \(tag) interrupted") }
        return try result.get()
    }

    /// Quits and removes this run's containers and removes its engine services; answers what failed.
    func cleanup(client: ManagerClient, engine: EngineClient?, concurrency: Int) async -> [String] {
        var problems: [String] = []
        do {
            let views = try await client.json(
                [ContainerView].self,
                .GET,
                "/v1/containers",
                query: [("all", "true")],
                timeout: .seconds(120)
            )
            let names = views.map(\.name.rawValue).filter { $0.hasPrefix(containerPrefix) }
            let removed = try await MicadoBench.BenchScaleOut.inParallel(0..<names.count, concurrency) { i in
                do {
                    try await client.send(.POST, "/v1/containers/\(names[i])/quit", json: QuitRequest(remove: true))
                } catch let error as MicadoError where error.code == .notFound {}
            }
            problems += removed.failed
        } catch {
            problems.append("listing the containers: \(error)")
        }
        guard let engine else { return problems }
        do {
            for service in try await engine.services(label: "\(Self.label)=\(tag)") {
                do { try await engine.removeService(service.id) } catch  where error.code == .notFound {} catch {
                    problems.append("service \(service.spec.name): \(error)")
                }
            }
        } catch {
            problems.append("listing the engine's services: \(error)")
        }
        return problems
    }
}

/// A child process of a bench, timed from just before it starts until it has exited.
enum BenchProcess {
    struct Finished: Sendable {
        var status: Int32
        var started: ContinuousClock.Instant
        var elapsed: Double
        /// Its stdout and stderr, together.
        var output: String
    }

    private enum State {
        case starting
        case running(pid_t)
        case exited
    }
    private final class Child: Sendable {
        let state = Mutex<State>(.starting)
        /// Kills it if it still runs (SIGKILL: a child inherits blocked signals).
        func kill() {
            state.withLock { state in
                if case .running(let pid) = state { _ = Glibc.kill(pid, SIGKILL) }
            }
        }
    }

    /// Runs `executable` with stdin from /dev/null and stdout and stderr to an unlinked file;
    /// kills it after `timeout` or when the calling task is cancelled.
    static func run(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String]? = nil,
        timeout: Duration
    ) async throws -> Finished {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("micado-bench-\(UUID().uuidString)").path
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw MicadoError(.internal, "cannot create a temporary file in \(FileManager.default.temporaryDirectory.path)")
        }
        unlink(path)
        let output = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = output
        process.standardError = output
        let child = Child()
        let watchdog = Task {
            try await Task.sleep(for: timeout)
            child.kill()
        }
        defer { watchdog.cancel() }
        var started = ContinuousClock.now
        let ended: ContinuousClock.Instant = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<ContinuousClock.Instant, any Error>) in
                process.terminationHandler = { _ in
                    let now = ContinuousClock.now
                    child.state.withLock { $0 = .exited }
                    continuation.resume(returning: now)
                }
                started = ContinuousClock.now
                do {
                    try process.run()
                } catch {
                    process.terminationHandler = nil
                    continuation.resume(throwing: MicadoError(.internal, "cannot start \(executable): \(error)"))
                    return
                }
                let pid = process.processIdentifier
                child.state.withLock { state in
                    if case .starting = state { state = .running(pid) }
                }
                if Task.isCancelled { child.kill() }
            }
        } onCancel: {
            child.kill()
        }
        try Task.checkCancellation()
        _ = try? output.seek(toOffset: 0)
        let text = String(decoding: (try? output.readToEnd()) ?? Data(), as: UTF8.self)
        if process.terminationReason == .uncaughtSignal {
            throw MicadoError(
                .timeout,
                "\(executable) \(arguments.prefix(3).joined(separator: " ")) … was killed after \(timeout) (signal \(process.terminationStatus)): \(text.suffix(600))"
            )
        }
        return Finished(status: process.terminationStatus, started: started, elapsed: (ended - started).inSeconds, output: text)
    }
}
