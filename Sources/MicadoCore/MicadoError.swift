/// The one error type of micado, shared by the manager, its API and the CLI.
///
/// `code` is a stable identifier that clients may match on (add codes, never rename
/// them); `message` is for people and says what to do next. Secrets never go into
/// either.
public struct MicadoError: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    /// A stable error code. The raw value travels in API answers as `error.code`.
    public struct Code: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The request is malformed or a value is out of range.
        public static let badRequest = Code(rawValue: "bad_request")
        /// The named thing does not exist.
        public static let notFound = Code(rawValue: "not_found")
        /// The name is already taken.
        public static let alreadyExists = Code(rawValue: "already_exists")
        /// The operation conflicts with the current state (e.g. removing a running container).
        public static let conflict = Code(rawValue: "conflict")
        /// The API token is missing or wrong.
        public static let unauthorized = Code(rawValue: "unauthorized")
        /// Authenticated, but the request may not do this: a page's state change without its
        /// session's CSRF token, or a WebSocket opened from another origin (HTTP 403).
        public static let forbidden = Code(rawValue: "forbidden")
        /// Too many attempts (wrong dashboard logins) in a short time (HTTP 429).
        public static let tooManyRequests = Code(rawValue: "too_many_requests")
        /// No cloud is configured for an operation that needs one.
        public static let noCloud = Code(rawValue: "no_cloud")
        /// The Docker engine answered with an error or could not be reached.
        public static let engine = Code(rawValue: "engine_error")
        /// A command's arguments are wrong in a way only the CLI sees: a request it would send is
        /// longer than the manager reads (CLI side only; exit 64).
        public static let usage = Code(rawValue: "usage")
        /// The manager could not be reached (CLI side only).
        public static let unreachable = Code(rawValue: "manager_unreachable")
        /// The operation did not finish in time.
        public static let timeout = Code(rawValue: "timeout")
        /// A body, upload or value is over its limit (HTTP 413).
        public static let tooLarge = Code(rawValue: "too_large")
        /// The manager is at its limit of concurrent work of this kind; try again (HTTP 503).
        public static let busy = Code(rawValue: "busy")
        /// This manager no longer leads (another took over its store's lease): it refused the write
        /// and stops; ask the one that leads now (HTTP 503).
        public static let deposed = Code(rawValue: "deposed")
        /// The path exists, with other methods (HTTP 405).
        public static let methodNotAllowed = Code(rawValue: "method_not_allowed")
        /// A build failed.
        public static let buildFailed = Code(rawValue: "build_failed")
        /// Local files or configuration are wrong.
        public static let configuration = Code(rawValue: "configuration")
        /// A cloud has no capacity for the flavour now (HTTP 503); the scaler tries the next cheapest.
        public static let cloudCapacity = Code(rawValue: "cloud_capacity")
        /// An account limit of the cloud (HTTP 429).
        public static let cloudQuota = Code(rawValue: "cloud_quota")
        /// The cloud refused micado's credentials (HTTP 502: the fault is between micado and the cloud).
        public static let cloudAuth = Code(rawValue: "cloud_auth")
        /// The cloud failed for now; retried with backoff (HTTP 503).
        public static let cloudTransient = Code(rawValue: "cloud_transient")
        /// The cloud refused the request as malformed (HTTP 400).
        public static let cloudBadRequest = Code(rawValue: "cloud_bad_request")
        /// Anything else: a bug or an unexpected answer.
        public static let `internal` = Code(rawValue: "internal")
    }
}

extension MicadoError {
    public static func badRequest(_ message: String) -> MicadoError { .init(.badRequest, message) }
    public static func notFound(_ message: String) -> MicadoError { .init(.notFound, message) }
    public static func conflict(_ message: String) -> MicadoError { .init(.conflict, message) }
}
