import MicadoCore

/// A cloud's catalogue of instance types for simulations and planner benchmarks: families
/// with a public cloud's shape (general purpose 4 GiB per vCPU, compute 2 GiB, memory 8 GiB,
/// burstable), sizes from 1 to 96 vCPUs, and variants priced as such clouds price them
/// (another processor 0.9× or 0.8×, a newer generation 1.05×, local disks 1.13×, a faster
/// network 1.2×). Prices are per hour and linear in size within a family, as on-demand
/// price lists are; what differs between families is the price of a GiB against a vCPU.
public enum FlavourCatalogue {
    struct Family {
        var prefix: String
        var gibPerCPU: Double
        var pricePerCPU: Double
    }
    static let families = [
        Family(prefix: "m", gibPerCPU: 4, pricePerCPU: 0.048),
        Family(prefix: "c", gibPerCPU: 2, pricePerCPU: 0.0425),
        Family(prefix: "r", gibPerCPU: 8, pricePerCPU: 0.063),
    ]
    static let sizes: [(name: String, cpus: Int)] = [
        ("medium", 1), ("large", 2), ("xlarge", 4), ("2xlarge", 8), ("4xlarge", 16), ("8xlarge", 32), ("12xlarge", 48),
        ("16xlarge", 64), ("24xlarge", 96),
    ]
    static let variants: [(suffix: String, factor: Double)] = [
        ("5", 1.0), ("5a", 0.9), ("5d", 1.13), ("5ad", 1.02), ("5n", 1.2), ("5dn", 1.3), ("6i", 1.0), ("6a", 0.9), ("6g", 0.8),
        ("6gd", 0.9), ("6id", 1.13), ("7i", 1.05), ("7a", 1.15), ("7g", 0.85),
    ]
    /// Burstable: 2 vCPUs (shared) from 0.5 to 32 GiB, priced by memory.
    static let burstable: [(name: String, cpus: Int, memoryMiB: Int, price: Double)] = [
        ("nano", 2, 512, 0.0052), ("micro", 2, 1024, 0.0104), ("small", 2, 2048, 0.0208), ("medium", 2, 4096, 0.0416),
        ("large", 2, 8192, 0.0832), ("xlarge", 4, 16384, 0.1664), ("2xlarge", 8, 32768, 0.3328),
    ]

    /// `count` flavours (at most all of them, 406), the burstable ones first, then each family's
    /// variants size by size; the same list for the same count.
    public static func flavours(count: Int = 400) -> [Flavour] {
        var all: [Flavour] = []
        for (generation, factor) in [("t3", 1.0), ("t3a", 0.9), ("t4g", 0.8), ("t2", 1.12)] {
            for b in burstable {
                all.append(Flavour(name: "\(generation).\(b.name)", cpus: b.cpus, memoryMiB: b.memoryMiB, pricePerHour: b.price * factor))
            }
        }
        for variant in variants {
            for family in families {
                for size in sizes {
                    all.append(
                        Flavour(
                            name: "\(family.prefix)\(variant.suffix).\(size.name)",
                            cpus: size.cpus,
                            memoryMiB: Int(Double(size.cpus) * family.gibPerCPU * 1024),
                            pricePerHour: (Double(size.cpus) * family.pricePerCPU * variant.factor * 10_000).rounded() / 10_000
                        )
                    )
                }
            }
        }
        return Array(all.prefix(max(0, count)))
    }
}
