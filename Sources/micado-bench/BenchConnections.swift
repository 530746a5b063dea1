import ArgumentParser
import Foundation
import MicadoClient
import MicadoCore
import MicadoManager
import NIOHTTP1

#if canImport(Glibc)
import Glibc
#endif

extension MicadoBench {
    struct BenchConnections: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "connections",
            abstract: "A connection storm against the running manager: its memory and descriptors before, at the peak and after.",
            discussion: """
                Opens --count connections to the manager's API one after another; each asks GET /v1/health once and then idles, as a \
                careless or hostile client does. Then closes them all and waits --settle seconds. Reports the manager's resident \
                memory and open descriptors before (the baseline), at the peak and after, as ratios of the baseline, with \
                limits.connections (the bound the descriptors must stay under) and how the connections were answered (served, shed \
                with 503, closed for a newer one).
                """
        )

        @Option(help: "Connections opened and held.")
        var count = 4000

        @Option(help: "Seconds to wait after closing them before the last figure.")
        var settle = 30

        func validate() throws {
            guard (1...20_000).contains(count) else { throw ValidationError("--count must be 1...20000") }
            guard (0...600).contains(settle) else { throw ValidationError("--settle must be 0...600") }
        }

        struct Sample {
            var rssMiB: Double
            var descriptors: Int
            init(pid: Int32) {
                rssMiB = BenchLaunch.rssMiB(pid: pid) ?? .nan
                descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
            }
        }

        func run() async throws {
            let environment = ProcessInfo.processInfo.environment
            let configuration = try ManagerConfiguration.load(home: MicadoHome.resolve(environment: environment), environment: environment)
            let client = try ManagerClient.fromHome()
            let health = try await client.json(HealthView.self, .GET, "/v1/health")
            let port = configuration.manager.port
            // One descriptor per connection here too.
            var limit = rlimit()
            getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
            limit.rlim_cur = limit.rlim_max
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)

            let before = Sample(pid: health.pid)
            var peak = before
            var open: [Int32] = []
            defer { for fd in open { close(fd) } }
            var served = 0
            var shed = 0
            var closed = 0
            var refused = 0
            let request = Array("GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8)
            for i in 0..<count {
                guard let fd = Self.connect(address: configuration.manager.address, port: port) else {
                    refused += 1
                    continue
                }
                open.append(fd)
                _ = request.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                switch Self.statusLine(fd) {
                case let line? where line.hasPrefix("HTTP/1.1 200"): served += 1
                case let line? where line.hasPrefix("HTTP/1.1 503"): shed += 1
                default: closed += 1
                }
                if i % 100 == 99 {
                    let now = Sample(pid: health.pid)
                    peak = Sample.max(peak, now)
                }
            }
            peak = Sample.max(peak, Sample(pid: health.pid))
            for fd in open { close(fd) }
            open = []
            try await Task.sleep(for: .seconds(settle))
            let after = Sample(pid: health.pid)

            func ratio(_ value: Double) -> String { String(format: "%.2fx", value / before.rssMiB) }
            print("bench connections: \(BenchLaunch.buildDescription); manager \(health.version), pid \(health.pid)")
            print(
                "  \(count) connections, each asking once then idling; limits.connections \(configuration.limits.connections), per peer \(configuration.limits.connectionsPerPeer)"
            )
            print("  answered: \(served) served, \(shed) shed (503), \(closed) closed unanswered, \(refused) not accepted")
            print(
                "  manager RSS: before \(BenchLaunch.mib(before.rssMiB)) MiB, peak \(BenchLaunch.mib(peak.rssMiB)) MiB (\(ratio(peak.rssMiB))), \(settle) s after \(BenchLaunch.mib(after.rssMiB)) MiB (\(ratio(after.rssMiB)))"
            )
            print(
                "  manager descriptors: before \(before.descriptors), peak \(peak.descriptors) (bound: before + \(configuration.limits.connections)), after \(after.descriptors)"
            )
        }

        static func connect(address: String, port: Int) -> Int32? {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { return nil }
            var peer = sockaddr_in()
            peer.sin_family = sa_family_t(AF_INET)
            peer.sin_port = in_port_t(UInt16(port).bigEndian)
            peer.sin_addr.s_addr = inet_addr(address == "localhost" ? "127.0.0.1" : address)
            let connected = withUnsafePointer(to: &peer) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard connected == 0 else {
                close(fd)
                return nil
            }
            return fd
        }

        /// The first line of the answer, or nil when the connection closed first (or 10 s passed).
        static func statusLine(_ fd: Int32) -> String? {
            var received: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 2048)
            let deadline = ContinuousClock.now + .seconds(10)
            while ContinuousClock.now < deadline, !received.contains(0x0A) {
                var poll = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard Glibc.poll(&poll, 1, 200) > 0 else { continue }
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                guard n > 0 else { return nil }
                received += buffer[0..<n]
            }
            return received.contains(0x0A) ? String(decoding: received.prefix { $0 != 0x0D && $0 != 0x0A }, as: UTF8.self) : nil
        }
    }
}

extension MicadoBench.BenchConnections.Sample {
    static func max(_ a: Self, _ b: Self) -> Self {
        var result = a
        result.rssMiB = Swift.max(a.rssMiB, b.rssMiB)
        result.descriptors = Swift.max(a.descriptors, b.descriptors)
        return result
    }
}
