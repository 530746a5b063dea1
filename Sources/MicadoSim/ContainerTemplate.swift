import MicadoCore

/// Container sizes as Karpenter's scheduling benchmark draws them: a CPU request from
/// {100, 250, 500, 1000, 1500} millicores and a memory reservation from {100, 256, 512, 1024,
/// 2048, 4096} MiB, each uniformly and independently.
public enum ContainerTemplate {
    public static let milliCPUs = [100, 250, 500, 1000, 1500]
    public static let memoryMiBs = [100, 256, 512, 1024, 2048, 4096]

    public static func draw(using rng: inout SeededGenerator) -> (milliCPU: Int, memoryMiB: Int) {
        (milliCPUs[Int.random(in: milliCPUs.indices, using: &rng)], memoryMiBs[Int.random(in: memoryMiBs.indices, using: &rng)])
    }
}
