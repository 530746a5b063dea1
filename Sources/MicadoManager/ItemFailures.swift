import MicadoCore

/// The last failure of each item a loop works on, so a failure that repeats every pass is
/// an event once, and its end is an event too.
actor ItemFailures {
    var failures: [String: String] = [:]

    /// Records `message` for `key`; true when it is new (not the same as last time).
    func fail(_ key: String, _ message: String) -> Bool {
        defer { failures[key] = message }
        return failures[key] != message
    }

    /// Forgets `key`'s failure; true when there was one.
    func succeed(_ key: String) -> Bool { failures.removeValue(forKey: key) != nil }
}
