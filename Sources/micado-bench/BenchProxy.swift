import ArgumentParser
import AsyncHTTPClient
import Foundation
import MicadoClient
import MicadoCore
import NIOCore
import NIOHTTP1

extension MicadoBench {
    /// The proxy's overhead and build-and-push time, against a running manager with a cloud.
    struct BenchProxy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "proxy",
            abstract: "Requests through Caddy against direct to the container (bounded in time); build-and-push time of a small image."
        )

        @Option(help: "Seconds of load per side.")
        var seconds = 5

        @Option(help: "Concurrent requests.")
        var concurrency = 8

        @Option(help: "Port the Caddy of this manager serves (proxy.listenPort).")
        var proxyPort: Int

        func validate() throws {
            guard (1...60).contains(seconds) else { throw ValidationError("--seconds must be 1...60") }
            guard (1...64).contains(concurrency) else { throw ValidationError("--concurrency must be 1...64") }
        }

        func run() async throws {
            let client = try ManagerClient.fromHome()
            let run = BenchRun()
            Console.err("bench run \(run.tag): container \(run.containerPrefix)proxy; removed at the end")
            try await run.withCleanup(client: client, engine: nil, concurrency: 4) {
                try await measure(client: client, run: run)
            }
        }

        func measure(client: ManagerClient, run: BenchRun) async throws {
            // Build and push: a small image, three times (the first pushes every layer).
            var builds: [Double] = []
            for i in 0..<3 {
                let tar = TarArchive(entries: [
                    .init(
                        name: "app/Dockerfile",
                        contents: Array(
                            "FROM busybox:local\nCOPY index.html /www/index.html\nCMD [\"httpd\", \"-f\", \"-p\", \"80\", \"-h\", \"/www\"]\n"
                                .utf8
                        )
                    ),
                    .init(name: "app/index.html", contents: Array("bench \(i) \(UInt32.random(in: 0...UInt32.max))\n".utf8)),
                ]).bytes()
                let start = ContinuousClock.now
                _ = try await client.send(
                    .POST,
                    "/v1/images",
                    query: [("name", "container-benchproxy")],
                    body: tar,
                    contentType: "application/x-tar",
                    timeout: .seconds(300)
                )
                builds.append((ContinuousClock.now - start).inSeconds)
            }
            let port = Int.random(in: 18000...18999)
            let request = LaunchRequest(
                image: "container-benchproxy",
                client: "benchproxy",
                domain: "bench.proxy.test",
                port: PortMapping(published: port, target: 80),
                memoryMiB: 32,
                name: try ContainerName.parse(run.container("proxy")),
                detach: true
            )
            let created = try await client.json(ContainerView.self, .POST, "/v1/containers", body: request)
            let view = try await Progress.waitUntilRunning(created, client: client, timeout: .seconds(120))
            guard let endpoint = view.endpoint else { throw MicadoError(.internal, "the bench container has no endpoint") }
            let http = sharedHTTPClient
            // Wait for the route.
            for _ in 0..<100 {
                if let r = try? await Self.get(http, "http://127.0.0.1:\(proxyPort)/", host: "bench.proxy.test"), r == 200 { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            let direct = try await load(http, url: "http://\(endpoint)/", host: nil)
            let proxied = try await load(http, url: "http://127.0.0.1:\(proxyPort)/", host: "bench.proxy.test")
            try await client.send(.POST, "/v1/containers/\(view.name)/quit", json: QuitRequest(remove: true))
            func p(_ v: [Double], _ q: Double) -> Double { BenchLaunch.percentile(v, q) * 1000 }
            print("proxy overhead, \(seconds) s per side, \(concurrency) concurrent keep-alive clients (\(BenchLaunch.buildDescription)):")
            print(
                String(
                    format: "  direct to the container: %.0f req/s, p50 %.2f ms, p99 %.2f ms",
                    Double(direct.count) / Double(seconds),
                    p(direct, 0.5),
                    p(direct, 0.99)
                )
            )
            print(
                String(
                    format: "  through Caddy:           %.0f req/s, p50 %.2f ms, p99 %.2f ms",
                    Double(proxied.count) / Double(seconds),
                    p(proxied, 0.5),
                    p(proxied, 0.99)
                )
            )
            print(
                String(
                    format: "  ratio proxy/direct: throughput %.2fx, p50 %.2fx, p99 %.2fx",
                    Double(proxied.count) / Double(direct.count),
                    p(proxied, 0.5) / p(direct, 0.5),
                    p(proxied, 0.99) / p(direct, 0.99)
                )
            )
            print(
                String(
                    format: "build and push of a small image (2 MiB): first %.0f ms, then median %.0f ms",
                    builds[0] * 1000,
                    BenchLaunch.percentile(Array(builds.dropFirst()), 0.5) * 1000
                )
            )
        }

        static func get(_ http: HTTPClient, _ url: String, host: String?) async throws -> UInt {
            var request = HTTPClientRequest(url: url)
            if let host { request.headers.replaceOrAdd(name: "Host", value: host) }
            let response = try await http.execute(request, timeout: .seconds(5))
            _ = try await response.body.collect(upTo: 1 << 20)
            return response.status.code
        }

        /// Latencies (seconds) of every successful request within the time bound.
        func load(_ http: HTTPClient, url: String, host: String?) async throws -> [Double] {
            let deadline = ContinuousClock.now + .seconds(seconds)
            return try await withThrowingTaskGroup(of: [Double].self) { group in
                for _ in 0..<concurrency {
                    group.addTask {
                        var latencies: [Double] = []
                        while ContinuousClock.now < deadline {
                            let start = ContinuousClock.now
                            if (try? await Self.get(http, url, host: host)) == 200 {
                                latencies.append((ContinuousClock.now - start).inSeconds)
                            }
                        }
                        return latencies
                    }
                }
                var all: [Double] = []
                for try await part in group { all += part }
                return all
            }
        }
    }
}
