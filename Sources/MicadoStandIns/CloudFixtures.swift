import Foundation

/// The clouds' own recorded documents (scripts/fetch-cloud-fixtures.sh puts them here):
/// Nova's API samples and Keystone's, from their source distributions, and libcloud's
/// recordings of CloudSigma's API, from the installed package. The drivers' tests parse
/// them, and the loopback stand-ins of the clouds answer with them.
public enum CloudFixtures {
    /// A recorded document that is not there, or not what it should be.
    public struct Missing: Error, CustomStringConvertible {
        public let description: String
        public init(_ description: String) { self.description = description }
    }

    public static var directory: String { ProcessInfo.processInfo.environment["MICADO_FIXTURES"] ?? "/var/cache/micado-fixtures" }
    public static var nova: String { directory + "/nova-api-samples" }
    public static var keystone: String { directory + "/keystone-samples" }
    public static var cloudSigma: String { directory + "/libcloud-cloudsigma" }

    public static var available: Bool {
        [
            nova + "/servers/v2.52/server-get-resp.json", keystone + "/admin/auth-password-project-scoped-response.json",
            cloudSigma + "/servers_get.json",
        ]
        .allSatisfy { FileManager.default.fileExists(atPath: $0) }
    }

    /// Without the documents the tests skip, except in CI, where they run and fail.
    public static var runnable: Bool { available || ProcessInfo.processInfo.environment["CI"] != nil }
    public static let skipNote = "SKIPPED: the clouds' recorded documents are missing; run scripts/fetch-cloud-fixtures.sh"

    public static func data(_ path: String) throws -> Data {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CloudFixtures.Missing("no recorded document at \(path): run scripts/fetch-cloud-fixtures.sh")
        }
        return data
    }

    /// A document as a tree to change before it is served.
    public static func object(_ path: String) throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: data(path)) as? [String: Any] else {
            throw CloudFixtures.Missing("\(path) is not a JSON object")
        }
        return object
    }
}
