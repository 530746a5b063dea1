import Foundation
import MicadoCore

/// A workload: container launches in time, each with its size and how long it runs. As a
/// file it is JSON lines, one launch per line (see docs/simulation.md):
///
///     {"at": 12.5, "memoryMiB": 512, "milliCPU": 250, "lifetime": 3600}
///
/// `at` and `lifetime` are seconds (from the trace's start; of running). A user replays
/// their own day by writing one. A file is read as hostile input: bounded in size and lines,
/// every value checked, and an error names the line.
public struct Trace: Sendable, Equatable {
    public struct Launch: Sendable, Equatable, Codable {
        public var at: Double
        public var memoryMiB: Int
        public var milliCPU: Int
        public var lifetime: Double
        public init(at: Double, memoryMiB: Int, milliCPU: Int, lifetime: Double) {
            self.at = at
            self.memoryMiB = memoryMiB
            self.milliCPU = milliCPU
            self.lifetime = lifetime
        }
    }

    /// In launch order (by `at`, then as given).
    public var launches: [Launch]

    public init(launches: [Launch]) {
        self.launches = launches.enumerated().sorted { ($0.element.at, $0.offset) < ($1.element.at, $1.offset) }.map(\.element)
    }

    public static let maxLaunches = 2_000_000
    public static let maxLineBytes = 1024
    public static let maxSeconds = 7.0 * 86_400
    /// As a launch's `-m` (6 MiB, Docker's least, to 1 TiB).
    public static let memoryRange = 6...1_048_576

    /// The end of the last launch's life.
    public var end: Double { launches.map { $0.at + $0.lifetime }.max() ?? 0 }

    public func jsonLines() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return launches.map { String(decoding: (try? encoder.encode($0)) ?? Data(), as: UTF8.self) }.joined(separator: "\n") + "\n"
    }

    /// Lines of any kind (blank and comments too) a file may hold.
    public static let maxLines = 4_000_000

    /// Reads JSON lines; blank lines and lines starting with `#` are skipped. Line by line: a
    /// file of millions of empty lines costs no list of them.
    public static func parse(_ bytes: [UInt8]) throws(MicadoError) -> Trace {
        var launches: [Launch] = []
        var number = 0
        let decoder = JSONDecoder()
        var start = bytes.startIndex
        while start <= bytes.endIndex {
            let end = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.endIndex
            defer { start = end + 1 }
            number += 1
            guard number <= maxLines else { throw MicadoError(.usage, "trace line \(number): more than \(maxLines) lines") }
            let line = bytes[start..<end]
            guard line.count <= maxLineBytes else { throw MicadoError(.usage, "trace line \(number): longer than \(maxLineBytes) bytes") }
            let text = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespaces)
            if text.isEmpty || text.hasPrefix("#") { continue }
            guard launches.count < maxLaunches else { throw MicadoError(.usage, "trace line \(number): more than \(maxLaunches) launches") }
            let launch: Launch
            do { launch = try decoder.decode(Launch.self, from: Data(text.utf8)) } catch {
                throw MicadoError(
                    .usage,
                    "trace line \(number): not a launch ({\"at\":…,\"memoryMiB\":…,\"milliCPU\":…,\"lifetime\":…}): \(Self.reason(error))"
                )
            }
            guard Self.keysOnce(text) else { throw MicadoError(.usage, "trace line \(number): a key is given twice") }
            guard launch.at.isFinite, (0...maxSeconds).contains(launch.at) else {
                throw MicadoError(.usage, "trace line \(number): at must be 0 to \(Int(maxSeconds)) seconds")
            }
            guard launch.lifetime.isFinite, (1...maxSeconds).contains(launch.lifetime) else {
                throw MicadoError(.usage, "trace line \(number): lifetime must be 1 to \(Int(maxSeconds)) seconds")
            }
            guard memoryRange.contains(launch.memoryMiB) else {
                throw MicadoError(.usage, "trace line \(number): memoryMiB must be \(memoryRange.lowerBound) to \(memoryRange.upperBound)")
            }
            guard (0...1_000_000).contains(launch.milliCPU) else {
                throw MicadoError(.usage, "trace line \(number): milliCPU must be 0 to 1000000")
            }
            launches.append(launch)
        }
        return Trace(launches: launches)
    }

    /// No key of a launch twice (JSON's decoders differ on which one wins).
    static func keysOnce(_ text: String) -> Bool {
        ["at", "memoryMiB", "milliCPU", "lifetime"].allSatisfy { text.components(separatedBy: "\"\($0)\"").count <= 2 }
    }

    static func reason(_ error: any Error) -> String {
        switch error as? DecodingError {
        case .keyNotFound(let key, _): "no \(key.stringValue)"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            context.codingPath.last.map { "bad \($0.stringValue)" } ?? "not JSON"
        default: "not JSON"
        }
    }
}

/// A synthetic day: launches at a diurnal rate (lowest at 04:00, highest at 16:00) with
/// bursts of batch jobs, sizes from Karpenter's template, and lifetimes mixing long-running
/// services (log-normal, median 2 h) with jobs (exponential, mean 15 min). Seeded: the same
/// arguments give the same trace.
public enum DiurnalTrace {
    /// Containers running at the peak per instance the trace is sized for: with the template's
    /// mean of 1.3 GiB, about what micado packs on its cheapest fitting flavours.
    public static let containersPerInstance = 5.0
    static let serviceShare = 0.6
    static let serviceMedianSeconds = 7200.0
    static let serviceSigma = 0.8
    static let jobMeanSeconds = 900.0

    public static func generate(hours: Double, peakInstances: Int, seed: UInt64) -> Trace {
        var random = SeededGenerator(seed: seed)
        let seconds = max(60, hours * 3600)
        // Little's law: the launch rate at the peak that keeps this many containers running.
        let meanLifetime =
            serviceShare * serviceMedianSeconds * exp(serviceSigma * serviceSigma / 2) + (1 - serviceShare) * jobMeanSeconds
        let peakRate = Double(peakInstances) * containersPerInstance / meanLifetime
        // The trace starts at 04:00, the quietest hour; 16:00, twelve hours on, is the peak.
        func rate(_ t: Double) -> Double {
            let phase = (t / 86_400).truncatingRemainder(dividingBy: 1) * 2 * .pi
            return peakRate * (0.3 + 0.7 * (1 - cos(phase)) / 2)
        }
        var launches: [Launch] = []
        // Poisson arrivals by thinning against the peak rate.
        var t = 0.0
        while peakRate > 0 {
            t += -log(Double.random(in: Double.ulpOfOne..<1, using: &random)) / peakRate
            guard t < seconds else { break }
            guard Double.random(in: 0..<1, using: &random) < rate(t) / peakRate else { continue }
            launches.append(launch(at: t, job: Double.random(in: 0..<1, using: &random) >= serviceShare, using: &random))
        }
        // Bursts: about one every four hours, a batch of jobs sized at 2 % of the peak's containers.
        let burstSize = max(1, Int(Double(peakInstances) * containersPerInstance * 0.02))
        var b = 0.0
        while true {
            b += -log(Double.random(in: Double.ulpOfOne..<1, using: &random)) * 4 * 3600
            guard b < seconds else { break }
            for _ in 0..<burstSize { launches.append(launch(at: b, job: true, using: &random)) }
        }
        return Trace(launches: launches)
    }

    typealias Launch = Trace.Launch

    static func launch(at t: Double, job: Bool, using random: inout SeededGenerator) -> Launch {
        let size = ContainerTemplate.draw(using: &random)
        let lifetime: Double
        if job {
            lifetime = -log(Double.random(in: Double.ulpOfOne..<1, using: &random)) * jobMeanSeconds
        } else {
            // Box–Muller: a standard normal from two uniforms.
            let u1 = Double.random(in: Double.ulpOfOne..<1, using: &random)
            let u2 = Double.random(in: 0..<1, using: &random)
            let z = sqrt(-2 * log(u1)) * cos(2 * .pi * u2)
            lifetime = serviceMedianSeconds * exp(serviceSigma * z)
        }
        return Launch(
            at: (t * 1000).rounded() / 1000,
            memoryMiB: size.memoryMiB,
            milliCPU: size.milliCPU,
            lifetime: min(Trace.maxSeconds, max(1, lifetime.rounded()))
        )
    }
}
