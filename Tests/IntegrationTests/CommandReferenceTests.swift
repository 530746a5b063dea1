import Foundation
import Testing

/// docs/commands.md's reference is the binaries' own `--help` for every command and
/// benchmark (scripts/command-reference.sh prints it): a command or flag that changes without
/// its reference fails here, and so does a reference of a command that is gone.
@Suite struct CommandReferenceTests {
    @Test func theReferenceIsWhatTheCommandsSay() async throws {
        let script = ManagerFixture.packageRoot + "/scripts/command-reference.sh"
        let generated = try await CommandResult.run("/bin/bash", [script], environment: ["BIN": ManagerFixture.micadoBinary])
        try #require(generated.status == 0, "\(generated.stderr)")
        #expect(generated.stdout.components(separatedBy: "\n### ").count > 30, "the reference has too few commands")
        let document = try String(contentsOfFile: ManagerFixture.packageRoot + "/docs/commands.md", encoding: .utf8)
        let range = try #require(document.range(of: "## Reference\n"), "docs/commands.md has no '## Reference' section")
        let checkedIn = String(document[range.lowerBound...])
        if checkedIn != generated.stdout {
            let old = checkedIn.split(separator: "\n", omittingEmptySubsequences: false)
            let new = generated.stdout.split(separator: "\n", omittingEmptySubsequences: false)
            let first = zip(old, new).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(old.count, new.count)
            Issue.record(
                "docs/commands.md's reference differs from --help from its line \(first + 1) on: '\(first < old.count ? old[first] : "")' vs '\(first < new.count ? new[first] : "")'; regenerate it with scripts/command-reference.sh (its header says how)"
            )
        }
    }
}
