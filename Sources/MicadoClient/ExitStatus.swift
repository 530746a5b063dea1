import MicadoCore

/// Exit codes: 0 ok, 1 a failed operation, 64 usage (ArgumentParser's), 69 manager unreachable.
public enum ExitStatus {
    public static let failure: Int32 = 1
    public static let usage: Int32 = 64
    public static let unavailable: Int32 = 69

    public static func code(for error: MicadoError) -> Int32 {
        switch error.code {
        case .unreachable: unavailable
        case .usage: usage
        default: failure
        }
    }
}
