import Foundation
import Logging
import MicadoClouds
import MicadoCore
import MicadoStandIns
import MicadoTestSupport
import Testing

/// What micado sends to EC2 is what boots: moto plays EC2 (its subnet is the manager's
/// bridge network), and a stand-in hypervisor boots each instance moto reports, at the
/// address moto gave it, from the user data read back through the API, with the local
/// boot path. The manager then joins it over mutual TLS, runs a container there, and
/// terminates it through the API when it is idle.
@Suite(.enabled(if: (ManagerFixture.enginesAvailable && Moto.executable != nil) || ManagerFixture.mustRun, ManagerFixture.skipNote))
struct EC2EndToEndTests {
    /// Boots what moto runs, tears down what it terminates (at the address moto gave, on the fixture's bridge).
    typealias Hypervisor = StandInMachines

    static func hypervisor(api: EC2API, fixture: ManagerFixture) -> StandInMachines {
        StandInMachines(
            api: api,
            driver: LocalDriver(
                cloud: "hypervisor",
                network: .init(
                    bridge: fixture.bridge,
                    bridgeCIDR: "\(fixture.subnetPrefix).1/24",
                    firstAddress: "\(fixture.subnetPrefix).4",
                    lastAddress: "\(fixture.subnetPrefix).254",
                    managerAddress: fixture.engineIP
                ),
                stateDirectory: fixture.state + "/hypervisor",
                authority: CertificateAuthority(directory: fixture.home + "/tls"),
                logger: Logger(label: "hypervisor")
            )
        )
    }

    /// A manager whose only cloud is EC2 (moto on loopback, its subnet the fixture's bridge
    /// network), with the stand-in hypervisor running; everything stopped by pid at the end.
    /// The manager reaches moto through a fault proxy (it forwards all but what a test injects).
    /// `extraFlavours`: more lines for the cloud's `flavours:` (t3.small, 512 MiB at 0.02/h, is always there).
    static func withEC2(
        extraFlavours: [String] = [],
        _ body: (ManagerFixture, EC2API, Hypervisor, EC2TestSetup.Network, FaultProxy) async throws -> Void
    ) async throws {
        let flavours = (["{name: t3.small, cpus: 2, memoryMiB: 512, pricePerHour: 0.02}"] + extraFlavours).map { "      - " + $0 }.joined(
            separator: "\n"
        )
        try await Moto.withServer { moto in
            try await FaultProxy.withProxy(upstream: moto.endpoint) { proxy in
                let api = try EC2TestSetup.api(moto.endpoint)
                var network: EC2TestSetup.Network?
                var hypervisor: Hypervisor?
                defer { if let hypervisor { Task { await hypervisor.shutdown() } } }
                try await ManagerFixture.with(
                    cloudsFile: { f in
                        // moto's subnet is the fixture's bridge network: what moto hands out is reachable here.
                        let made = try await EC2TestSetup.network(api, cidr: "\(f.subnetPrefix).0/24", vpcCIDR: "10.213.0.0/16")
                        network = made
                        return """
                            clouds:
                              aws:
                                driver: ec2
                                region: \(EC2TestSetup.region)
                                endpoint: \(proxy.endpoint)
                                locations:
                                  \(EC2TestSetup.zone): {min: 0, max: 2, subnet: \(made.subnet)}
                                flavours:
                            \(flavours)
                                applications: {node: \(made.image)}
                                securityGroups: [\(made.securityGroup)]
                                timings: {gracePeriodSeconds: 4, bootTimeoutSeconds: 60, drainTimeoutSeconds: 20}
                            """
                    },
                    environment: [
                        "AWS_ACCESS_KEY_ID": TestCredentials.credentials.accessKeyID, "AWS_SECRET_ACCESS_KEY": TestCredentials.secret,
                    ]
                ) { f in
                    let machine = Self.hypervisor(api: api, fixture: f)
                    hypervisor = machine
                    let running = Task { await machine.run() }
                    defer { running.cancel() }
                    guard let network else { throw TestFailure("no network was made in moto") }
                    do { try await body(f, api, machine, network, proxy) } catch {
                        running.cancel()
                        await machine.shutdown()
                        throw error
                    }
                    running.cancel()
                    await machine.shutdown()
                }
            }
        }
    }

    @Test func aContainerRunsOnAnEC2InstanceBootedFromWhatMicadoSent() async throws {
        try await Self.withEC2 { f, api, machine, network, _ in
            let launch = try await f.micado([
                "launch", "-i", "busybox:local", "-n", "web", "--container", "container-web", "-p", "8080", "-m", "100m", "--timeout", "90",
                "-s", "/bin/httpd", "-a", "-f", "-p", "8080", "-h", "/www",
            ])
            let bootErrors = await machine.errors()
            #expect(launch.status == 0, "\(launch)\n\(bootErrors)")
            // moto ran exactly one instance, tagged as micado's, in the subnet.
            let seen = try await EC2TestSetup.seen(api).filter { $0.state == "running" || $0.state == "pending" }
            #expect(seen.count == 1, "\(seen)")
            let instance = try #require(seen.first)
            #expect(instance.subnet == network.subnet)
            #expect(instance.tags["micado:tag"] == "auto" && instance.tags["micado:manager"] != nil && instance.tags["micado:token"] != nil)
            // micado's view agrees, and the container answers at the address moto gave.
            let views = try WireFormat.decoder().decode(
                [InstanceView].self,
                from: Data(try await f.micado(["list", "-i", "--output", "json"]).stdout.utf8)
            )
            let view = try #require(views.first { $0.cloud == "aws" })
            #expect(view.cloudID == instance.id && view.address == instance.privateAddress && view.state == .ready, "\(view)")
            let container = try WireFormat.decoder().decode(
                [ContainerView].self,
                from: Data(try await f.micado(["list", "-c", "--output", "json"]).stdout.utf8)
            )
            #expect(container.first?.node == view.id.rawValue)
            let address = try #require(instance.privateAddress)
            #expect(try await f.fetchEventually("http://\(address):8080/").contains("busybox"), "served from the EC2 instance")
            // No key material in the manager's events or log.
            let events = try await f.micado(["events", "--limit", "200"]).stdout
            #expect(!events.contains("PRIVATE KEY"))
            #expect(!((try? String(contentsOfFile: f.state + "/manager.log", encoding: .utf8)) ?? "").contains("PRIVATE KEY"))

            // Idle: drained and terminated through the API; the machine goes with it.
            #expect(try await f.micado(["quit", "-n", "container-web", "-rm"]).status == 0)
            try await CloudTests.eventually(60, "the idle instance is terminated in moto") {
                try await EC2TestSetup.seen(api).allSatisfy { $0.state == "terminated" || $0.state == "shutting-down" }
            }
            try await CloudTests.eventually(20, "the hypervisor tears the machine down") { await machine.machines().isEmpty }
            #expect(try await ManagerFixture.leftovers(of: Hypervisor.machineID(instance.id)).isEmpty)
            let errors = await machine.errors()
            #expect(errors.isEmpty, "\(errors)")
        }
    }

    /// `start`, `list -i` and `stop -t` are real API calls: moto's state agrees with micado's after each.
    @Test func startListAndStopFollowMoto() async throws {
        try await Self.withEC2 { f, api, machine, network, _ in
            let live = { try await EC2TestSetup.seen(api).filter { $0.state == "pending" || $0.state == "running" } }
            #expect(try await live().isEmpty)
            let start = try await f.micado(["start", "-c", "aws", "-a", "node", "-f", "t3.small", "-t", "batch01"])
            let bootErrors = await machine.errors()
            #expect(start.status == 0, "\(start)\n\(bootErrors)")
            let id = try #require(start.stdout.split(separator: " ").first.map(String.init))
            let started = try await live()
            #expect(started.count == 1, "\(started)")
            let instance = try #require(started.first)
            #expect(instance.tags["micado:tag"] == "batch01" && instance.tags["micado:instance"] == id, "\(instance.tags)")
            #expect(instance.instanceType == "t3.small" && instance.imageId == network.image && instance.subnet == network.subnet)
            let views = try WireFormat.decoder().decode(
                [InstanceView].self,
                from: Data(try await f.micado(["list", "-i", "--output", "json"]).stdout.utf8)
            )
            let view = try #require(views.first { $0.id.rawValue == id })
            #expect(
                view.cloudID == instance.id && view.address == instance.privateAddress && view.state == .ready
                    && view.flavour == "t3.small",
                "\(view)"
            )

            let stop = try await f.micado(["stop", "-t", "batch01"])
            #expect(stop.status == 0, "\(stop)")
            #expect(try await live().isEmpty, "moto terminated it before stop answered")
            let after = try WireFormat.decoder().decode(
                [InstanceView].self,
                from: Data(try await f.micado(["list", "-i", "--output", "json"]).stdout.utf8)
            )
            #expect(!after.contains { $0.id.rawValue == id })
            try await CloudTests.eventually(20, "the hypervisor tears the machine down") { await machine.machines().isEmpty }
            let errors = await machine.errors()
            #expect(errors.isEmpty, "\(errors)")
        }
    }

    /// No capacity for the cheapest flavour: the scaler says so, with EC2's own message, and
    /// starts the next cheapest that holds the load.
    @Test func noCapacityFallsBackToTheNextCheapestFlavour() async throws {
        try await Self.withEC2(extraFlavours: ["{name: t3.medium, cpus: 2, memoryMiB: 1024, pricePerHour: 0.04}"]) {
            f,
            api,
            machine,
            _,
            proxy in
            proxy.inject("RunInstances", .error(status: 500, code: "InsufficientInstanceCapacity", message: "No t3.small here today."))
            let launch = try await f.micado([
                "launch", "-i", "busybox:local", "-n", "fb", "--container", "container-fb", "-m", "100m", "--timeout", "90", "-a", "sleep",
                "3600",
            ])
            let bootErrors = await machine.errors()
            #expect(launch.status == 0, "\(launch)\n\(bootErrors)")
            let live = try await EC2TestSetup.seen(api).filter { $0.state == "pending" || $0.state == "running" }
            #expect(live.map(\.instanceType) == ["t3.medium"], "\(live)")
            #expect(proxy.count("RunInstances") == 2)
            let events = try WireFormat.decoder().decode(
                [EventView].self,
                from: Data(try await f.micado(["events", "--limit", "1000", "--output", "json"]).stdout.utf8)
            )
            let retried = try #require(events.first { $0.kind == .scalerRetryFlavour })
            #expect(retried.message.contains("t3.small refused") && retried.message.contains("No t3.small here today."), "\(retried)")
            #expect(try await f.micado(["quit", "-n", "container-fb", "-rm"]).status == 0)
        }
    }

    /// kill -9 between the record and RunInstances, and between RunInstances and storing its
    /// answer (moto ignores ClientToken: the resumed create must find the first by its token tag).
    @Test(arguments: ["instance.before-create", "instance.after-create"])
    func managerKilledMidCreateLeavesExactlyOneInstance(crashAt point: String) async throws {
        try await Self.withEC2 { f, api, machine, _, _ in
            try await f.stopManager()
            f.managerEnvironment["MICADO_CRASH_AT"] = point
            try await f.startManager()
            // The scaler may reach the crash point before the launch's answer is sent: its exit status is not the point.
            _ = try await f.micado([
                "launch", "-i", "busybox:local", "-n", "c", "--container", "container-c", "-m", "100m", "--detach", "-a", "sleep", "3600",
            ])
            #expect(try await f.managerExit(within: 30) == 128 + SIGKILL, "the manager died at \(point)")
            let alive = { try await EC2TestSetup.seen(api).filter { $0.state == "pending" || $0.state == "running" } }
            #expect(try await alive().count == (point == "instance.after-create" ? 1 : 0))

            f.managerEnvironment["MICADO_CRASH_AT"] = nil
            try await f.startManager()
            try await CloudTests.eventually(90, "the container runs") { try await CloudTests.containers(f).first?.state == .running }
            #expect(try await alive().count == 1, "exactly one instance in moto")
            let views = try WireFormat.decoder().decode(
                [InstanceView].self,
                from: Data(try await f.micado(["list", "-i", "--output", "json"]).stdout.utf8)
            )
            #expect(views.filter { $0.cloud == "aws" }.count == 1)
            let errors = await machine.errors()
            #expect(errors.isEmpty, "\(errors)")
        }
    }

    /// A machine image whose instances die at once: the scaler backs off in the location
    /// (5 s, then 10 s, …) instead of starting one every pass (an attack saw 251 in 4 s).
    @Test func instancesThatDieAtOnceSlowTheScalerDown() async throws {
        try await Self.withEC2 { f, api, machine, _, _ in
            await machine.setKillOnSight(true)
            #expect(
                try await f.micado([
                    "launch", "-i", "busybox:local", "-n", "c", "--container", "container-c", "-m", "100m", "--detach", "-a", "sleep",
                    "3600",
                ]).status == 0
            )
            try await CloudTests.eventually(30, "a backoff is reported") {
                try await f.micado(["events", "--limit", "50"]).stdout.contains("scaler.backoff")
            }
            let started = Date()
            try await Task.sleep(for: .seconds(12))
            // Within 12 s of the first failure: at most the ones after 5 s and 15 s, not 24 passes' worth.
            let made = try await EC2TestSetup.seen(api).count
            #expect(made <= 3, "\(made) instances started within \(Int(Date().timeIntervalSince(started))) s of the first failure")
            let explain = try await f.micado(["explain", "container-c"])
            #expect(explain.stdout.contains("failed to come up in a row"), "\(explain)")
        }
    }

    /// A cloud that stops answering must not hold the manager's shutdown (an attack saw
    /// SIGTERM ignored for 9 minutes, the home lock held): graceful within a bound, then
    /// the cloud call is cancelled, and the next start finds nothing half-made.
    @Test func aStalledCloudDoesNotHoldTheShutdown() async throws {
        try await Self.withEC2 { f, api, _, _, proxy in
            proxy.inject("RunInstances", .stall(.seconds(600)), .stall(.seconds(600)), .stall(.seconds(600)), .stall(.seconds(600)))
            let cli = try ChildProcess.start(
                ManagerFixture.micadoBinary,
                ["start", "-c", "aws", "-a", "node", "-f", "t3.small", "-t", "stalled", "--detach"],
                environment: ProcessInfo.processInfo.environment.merging(["MICADO_HOME": f.home]) { _, b in b },
                output: f.state + "/start.log"
            )
            defer { if cli.poll() == nil { cli.signal(SIGKILL) } }
            try await CloudTests.eventually(30, "the create call is under way") { proxy.count("RunInstances") >= 1 }
            let clock = ContinuousClock()
            let began = clock.now
            f.manager?.signal(SIGTERM)
            let status = try await f.managerExit(within: 60)
            let took = clock.now - began
            #expect(status != 128 + SIGKILL && took < .seconds(30), "the manager took \(took) to stop (status \(status))")
            // The next start resumes the create with its token (past the stalls left): micado and moto agree on one instance.
            try await f.startManager()
            try await CloudTests.eventually(120, "micado and moto agree on one instance") {
                let views = try WireFormat.decoder().decode(
                    [InstanceView].self,
                    from: Data(try await f.micado(["list", "-i", "--output", "json"]).stdout.utf8)
                )
                let alive = try await EC2TestSetup.seen(api).filter { $0.state == "pending" || $0.state == "running" }
                return views.filter { $0.cloud == "aws" }.map(\.cloudID) == alive.map(\.id) && alive.count == 1
            }
        }
    }
}
