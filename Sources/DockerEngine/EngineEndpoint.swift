public import MicadoCore

/// Where a Docker engine listens, as `DOCKER_HOST` spells it.
///
/// `unix:///path` for a local socket; `tcp://host:port` for a remote engine, which
/// micado reaches with mutual TLS when certificates are given.
public struct EngineEndpoint: Sendable, Equatable, CustomStringConvertible {
    public enum Transport: Sendable, Equatable {
        case unix(path: String)
        case tcp(host: String, port: Int)
    }

    /// Client certificate, key and the CA that signed the engine's certificate (PEM files).
    public struct TLSFiles: Sendable, Equatable {
        public var caCertificate: String
        public var certificate: String
        public var key: String
        public init(caCertificate: String, certificate: String, key: String) {
            self.caCertificate = caCertificate
            self.certificate = certificate
            self.key = key
        }
    }

    public var transport: Transport
    public var tls: TLSFiles?
    /// The name the engine's certificate is checked against, when not its address: an
    /// instance's engine certificate names the instance, so that it is the same whichever
    /// of its addresses (private, public) micado connects to. Connections still go to `host`.
    public var serverName: String?

    public init(transport: Transport, tls: TLSFiles? = nil, serverName: String? = nil) {
        self.transport = transport
        self.tls = tls
        self.serverName = serverName
    }

    public static let defaultSocket = EngineEndpoint(transport: .unix(path: "/var/run/docker.sock"))

    public static func parse(_ text: String, tls: TLSFiles? = nil) throws(MicadoError) -> EngineEndpoint {
        if text.hasPrefix("unix://") {
            let path = String(text.dropFirst("unix://".count))
            guard path.utf8.first == 0x2F else {
                throw .init(
                    .configuration,
                    "invalid Docker endpoint '\(text)': a unix socket needs an absolute path, e.g. unix:///var/run/docker.sock"
                )
            }
            return EngineEndpoint(transport: .unix(path: path))
        }
        if text.hasPrefix("tcp://") {
            let rest = text.dropFirst("tcp://".count).split(separator: "/", maxSplits: 1).first.map(String.init) ?? ""
            guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]), (1...65535).contains(port)
            else {
                throw .init(.configuration, "invalid Docker endpoint '\(text)': write tcp://HOST:PORT")
            }
            var host = String(rest[..<colon])
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            return EngineEndpoint(transport: .tcp(host: host, port: port), tls: tls)
        }
        throw .init(.configuration, "invalid Docker endpoint '\(text)': use unix:///path/to/docker.sock or tcp://HOST:PORT")
    }

    public var description: String {
        switch transport {
        case .unix(let path): "unix://\(path)"
        case .tcp(let host, let port): "tcp://\(host.contains(":") ? "[\(host)]" : host):\(port)"
        }
    }
}
