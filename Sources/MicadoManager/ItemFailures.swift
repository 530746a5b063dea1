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

extension Orchestrator {
    /// Runs one item's step of a loop (reconciler, scaler). A failure is an event naming the
    /// item, once per distinct reason, and never stops the pass: one bad record must not
    /// hold back every other one. `kind` names the step: one kind per kind of step, since
    /// the item's success in one must not count as the end of its failure in another.
    /// Returns whether the step succeeded.
    @discardableResult
    func step(_ kind: String, _ subject: String, _ body: () async throws(MicadoError) -> Void) async -> Bool {
        let key = kind + " " + subject
        do {
            try await body()
            if await itemFailures.succeed(key) { await note(kind, subject, "\(subject): the earlier failure is resolved") }
            return true
        } catch {
            if await itemFailures.fail(key, error.message) { await note(kind, subject, "\(subject): \(error.message)") }
            return false
        }
    }
}
