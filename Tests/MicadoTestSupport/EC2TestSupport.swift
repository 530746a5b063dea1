// Shared by the EC2 driver's tests and the integration tests (moto, credentials, a network in moto).
import Foundation
import Logging
import MicadoClouds
import MicadoCore
import MicadoStandIns
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// moto's EC2 API server on 127.0.0.1, one per test: started on a free port, awaited until
/// it answers, and stopped by its pid whatever the test did. Nothing in these tests talks
/// to anything but 127.0.0.1.
public enum Moto {
    /// `moto_server` on PATH (else pyenv's shims), or nil.
    public static let executable: String? = {
        let environment = ProcessInfo.processInfo.environment
        let folders =
            (environment["PATH"] ?? "").split(separator: ":").map(String.init) + [(environment["HOME"] ?? "/root") + "/.pyenv/shims"]
        return folders.map { $0 + "/moto_server" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    public static var inCI: Bool { ProcessInfo.processInfo.environment["CI"] != nil }

    /// Without moto the EC2 tests skip, except in CI, where they run and fail.
    public static var runnable: Bool { executable != nil || inCI }

    public struct Server: Sendable {
        public let port: Int
        public var endpoint: String { "http://127.0.0.1:\(port)" }
    }

    /// A few servers at a time: Swift Testing starts every test at once, and each moto is a Python process.
    static let slots = Slots(4)

    /// moto under a watchdog shell: SIGTERM to the shell stops moto, and moto stops by itself
    /// when the test process is gone (a crashed run leaves no server behind).
    static let watchdog = """
        "$0" -H 127.0.0.1 -p "$1" & moto=$!
        trap 'kill $moto 2>/dev/null; wait $moto; exit 0' TERM INT
        while kill -0 "$2" 2>/dev/null && kill -0 $moto 2>/dev/null; do sleep 1 & wait $!; done
        kill $moto 2>/dev/null; wait $moto
        """

    public static func withServer<T>(_ body: (Server) async throws -> T) async throws -> T {
        guard let executable else {
            throw TestFailure("moto_server is not installed (scripts/install-deps.sh installs it: python3 -m pip install 'moto[server]')")
        }
        await slots.acquire()
        defer { Task { await slots.release() } }
        // A port that was free can be taken before moto binds it (the tests' own servers bind
        // port 0 all the time): moto then exits, and another port is tried.
        var attempt = 0
        while true {
            attempt += 1
            let port = try freePort()
            let log = NSTemporaryDirectory() + "micado-moto-\(port)-\(UUID().uuidString).log"
            let child = try ChildProcess.start(
                "/bin/sh",
                ["-c", watchdog, executable, String(port), String(getpid())],
                environment: ProcessInfo.processInfo.environment,
                output: log
            )
            defer { try? FileManager.default.removeItem(atPath: log) }
            do {
                try await waitUntilAnswering(port: port, child: child, log: log)
                try await warm(Server(port: port))
            } catch {
                await stop(child)
                if attempt < 3 { continue }
                throw error
            }
            do {
                let result = try await body(Server(port: port))
                await stop(child)
                return result
            } catch {
                await stop(child)
                throw error
            }
        }
    }

    /// moto builds a region's EC2 backend, with its catalogue of thousands of images, on the
    /// region's first call: seconds of Python on a quiet machine, more than a test's 20 s
    /// timeout (times its retries) with four of them and the integration suites on 2 cores.
    /// That one call is made here, once, with a deadline for a loaded machine, so the tests'
    /// timeouts measure the driver and the proxy, not moto's start.
    static func warm(_ server: Server) async throws {
        let api = try EC2API(
            region: EC2TestSetup.region,
            endpoint: server.endpoint,
            credentials: TestCredentials.credentials,
            retry: .init(attempts: 1, initialDelay: .milliseconds(20), maximumDelay: .milliseconds(20)),
            timeout: .seconds(240),
            logger: EC2TestSetup.quietLogger
        )
        _ = try await api.call("DescribeRegions", [], as: Ignored.self)
    }

    struct Ignored: Decodable, Sendable {}

    static func stop(_ child: ChildProcess) async {
        child.signal(SIGTERM)
        _ = await child.exit()
    }

    static func waitUntilAnswering(port: Int, child: ChildProcess, log: String) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(30)
        while clock.now < deadline {
            // moto itself, not whatever else listens there: its own API answers.
            if canConnect(port: port), isMoto(port: port) { return }
            if child.poll() != nil {
                let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
                throw TestFailure("moto_server exited at start: \(output.suffix(2000))")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestFailure("moto_server did not answer on 127.0.0.1:\(port) within 30 s")
    }

    /// Whether the server at `port` answers moto's own API (`/moto-api/`) with 200.
    static func isMoto(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = loopback(port: port)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard connected else { return false }
        let request = Array("GET /moto-api/data.json HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".utf8)
        guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, 0) }) == request.count else { return false }
        var head = [UInt8](repeating: 0, count: 16)
        let read = head.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_WAITALL)) }
        guard read >= 12 else { return false }
        let status = String(decoding: head[9..<12], as: UTF8.self)
        return String(decoding: head[0..<5], as: UTF8.self) == "HTTP/" && status == "200"
    }

    static func canConnect(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = loopback(port: port)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    /// A port nothing listens on now (the kernel's pick for a socket bound to port 0).
    /// A loopback port nothing listens on now (the kernel's pick for a socket bound to port 0).
    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket: \(errno)") }
        defer { close(fd) }
        var address = loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw TestFailure("bind: \(errno)") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { throw TestFailure("getsockname: \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// A counting semaphore for tasks.
public actor Slots {
    var free: Int
    var waiting: [CheckedContinuation<Void, Never>] = []
    public init(_ count: Int) { free = count }

    public func acquire() async {
        if free > 0 {
            free -= 1
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    public func release() {
        if waiting.isEmpty { free += 1 } else { waiting.removeFirst().resume() }
    }
}

public struct TestFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Credentials for moto (which does not check them), recognisable if they ever leaked.
public enum TestCredentials {
    public static let secret = "TESTSECRETdoNotLeak0123456789abcdefghijkl"
    public static let sessionToken = "TESTSESSIONTOKENdoNotLeak9876543210"
    public static let credentials = AWSCredentials(accessKeyID: "AKIAMICADOTEST000001", secretAccessKey: secret, sessionToken: sessionToken)

    public static func leaks(_ text: String) -> Bool { text.contains(secret) || text.contains(sessionToken) }
}

public enum EC2TestSetup {
    public static let region = "us-east-1"
    public static let zone = "us-east-1a"

    public static var quietLogger: Logger {
        var logger = Logger(label: "micado.test.ec2")
        logger.logLevel = .critical
        return logger
    }

    public static func api(
        _ endpoint: String,
        retry: EC2API.RetryPolicy = .init(attempts: 4, initialDelay: .milliseconds(20), maximumDelay: .milliseconds(200)),
        timeout: Duration = .seconds(20)
    ) throws -> EC2API {
        try EC2API(
            region: region,
            endpoint: endpoint,
            credentials: TestCredentials.credentials,
            retry: retry,
            timeout: timeout,
            logger: quietLogger
        )
    }

    public typealias Network = EC2Staging.Network

    /// A VPC, a subnet in `zone` (a /28 by default: 11 usable addresses), a security group
    /// and one of moto's stock images.
    public static func network(_ api: EC2API, cidr: String = "10.7.1.0/28", vpcCIDR: String = "10.7.0.0/16") async throws -> Network {
        try await EC2Staging.network(api, zone: zone, cidr: cidr, vpcCIDR: vpcCIDR)
    }

    public static func settings(
        _ network: Network,
        endpoint: String,
        address: EC2Settings.AddressKind = .private
    ) -> EC2Settings {
        EC2Settings(
            region: region,
            endpoint: endpoint,
            subnets: [zone: network.subnet],
            securityGroups: [network.securityGroup],
            keyName: nil,
            address: address,
            flavourSources: [
                "t3.micro": .init(position: "clouds.yaml:9", path: "clouds.aws.flavours[0]", memoryWritten: false, cpusWritten: false)
            ]
        )
    }

    /// The rendered boot documents, by address, so a test sees what each instance got.
    public final class Rendered: Sendable {
        public init() {}
        public let documents = Mutex<[String: UserData]>([:])
        public var renderer: EC2Driver.Renderer {
            { (userData, address) throws(CloudError) -> String in
                self.documents.withLock { $0[address] = userData }
                return "#cloud-config\n# micado test instance at \(address)\n"
            }
        }
        public var addresses: [String] { documents.withLock { Array($0.keys) } }
    }

    public static func driver(
        _ api: EC2API,
        _ network: Network,
        rendered: Rendered = Rendered(),
        address: EC2Settings.AddressKind = .private
    )
        -> EC2Driver
    {
        EC2Driver(
            cloud: "aws",
            settings: settings(network, endpoint: api.endpoint, address: address),
            api: api,
            logger: quietLogger,
            render: rendered.renderer
        )
    }

    public static func request(
        _ network: Network,
        token: String = randomToken(),
        instance: String = "m0123456789",
        flavour: String = "t3.micro"
    ) -> CreateInstanceRequest {
        CreateInstanceRequest(
            idempotencyToken: token,
            location: zone,
            flavour: Flavour(name: flavour, cpus: 2, memoryMiB: 1024, pricePerHour: 0.01),
            machineImage: network.image,
            userData: UserData(labels: ["micado.instance": instance], capacityMiB: 1024, caCertificatePEM: "-----BEGIN CERTIFICATE-----\n"),
            tags: [CloudTag.manager: "mtest", CloudTag.instance: instance, CloudTag.token: token, CloudTag.tag: "web"]
        )
    }

    public static func randomToken() -> String { (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined() }

    /// moto's own view of instances, read apart from the driver's mapping.
    public typealias Seen = EC2Staging.Seen

    public static func seen(_ api: EC2API, _ parameters: [(String, String)] = []) async throws -> [Seen] {
        try await EC2Staging.seen(api, parameters)
    }
}
