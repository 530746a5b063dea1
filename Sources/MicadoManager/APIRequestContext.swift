import Hummingbird
import NIOCore

/// The API's request context: Hummingbird's basic one plus the peer's address, which the
/// login throttle counts wrong tokens by.
public struct APIRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// Who is asking, for throttles: the peer's IP address (all of a machine's local users
    /// share 127.0.0.1, so the correct token must never depend on it).
    public var peer: String { remoteAddress?.ipAddress ?? "unknown" }
}
