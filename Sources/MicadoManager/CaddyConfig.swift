import Foundation
import MicadoCore

/// The part of Caddy's JSON configuration (https://caddyserver.com/docs/json/) that micado
/// loads, as types: a misspelt key or a wrong shape is a compile error, not a config Caddy
/// refuses at run time. Only encoded: micado writes Caddy's configuration, never reads it.
struct CaddyConfig: Encodable, Equatable {
    var admin: Admin
    var logging: Logging
    var apps: Apps

    /// Sorted keys: the same routes give the same text, which is how an unchanged config is
    /// told apart from one to load.
    func json() throws(MicadoError) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        do { return String(decoding: try encoder.encode(self), as: UTF8.self) } catch {
            throw .init(.internal, "cannot encode Caddy's configuration: \(error)")
        }
    }

    struct Admin: Encodable, Equatable {
        /// `unix/PATH` for a unix socket.
        var listen: String
        /// Over a unix socket Caddy accepts only the Host named here.
        var origins: [String]
        var config: Config

        struct Config: Encodable, Equatable {
            var persist: Bool
        }
    }

    struct Logging: Encodable, Equatable {
        /// By logger name (`default` is Caddy's own).
        var logs: [String: Log]

        struct Log: Encodable, Equatable {
            var level: String
        }
    }

    struct Apps: Encodable, Equatable {
        var http: HTTPApp
        var tls: TLSApp?
        var pki: PKIApp?
    }

    // MARK: apps.http

    struct HTTPApp: Encodable, Equatable {
        /// A Caddy duration, e.g. `1s`.
        var gracePeriod: String
        /// By server name.
        var servers: [String: Server]

        enum CodingKeys: String, CodingKey {
            case gracePeriod = "grace_period"
            case servers
        }
    }

    struct Server: Encodable, Equatable {
        /// Addresses such as `:80`.
        var listen: [String]
        var routes: [Route]
        var automaticHTTPS: AutomaticHTTPS
        /// Present (even with one empty policy) to serve TLS on this server's listeners.
        var tlsConnectionPolicies: [TLSConnectionPolicy]?

        enum CodingKeys: String, CodingKey {
            case listen, routes
            case automaticHTTPS = "automatic_https"
            case tlsConnectionPolicies = "tls_connection_policies"
        }
    }

    struct AutomaticHTTPS: Encodable, Equatable {
        var disable: Bool
    }

    /// A policy with Caddy's defaults: `{}`.
    struct TLSConnectionPolicy: Encodable, Equatable {
        func encode(to encoder: any Encoder) throws {
            // Written out: an empty object, whatever an encoder does with a value that encodes nothing.
            _ = encoder.container(keyedBy: EmptyKeys.self)
        }

        enum EmptyKeys: CodingKey {}
    }

    struct Route: Encodable, Equatable {
        /// Nil: the route matches every request.
        var match: [Match]?
        var handle: [Handler]
        /// Whether no later route is tried once this one matched.
        var terminal: Bool?
    }

    struct Match: Encodable, Equatable {
        var host: [String]
    }

    /// A handler module, told apart by its `handler` key.
    enum Handler: Encodable, Equatable {
        case reverseProxy(ReverseProxy)
        case staticResponse(StaticResponse)

        func encode(to encoder: any Encoder) throws {
            switch self {
            case .reverseProxy(let handler): try handler.encode(to: encoder)
            case .staticResponse(let handler): try handler.encode(to: encoder)
            }
        }
    }

    struct ReverseProxy: Encodable, Equatable {
        let handler = "reverse_proxy"
        var upstreams: [Upstream]
        var loadBalancing: LoadBalancing
        var healthChecks: HealthChecks

        enum CodingKeys: String, CodingKey {
            case handler, upstreams
            case loadBalancing = "load_balancing"
            case healthChecks = "health_checks"
        }

        struct Upstream: Encodable, Equatable {
            /// `host:port`.
            var dial: String
        }

        struct LoadBalancing: Encodable, Equatable {
            var selectionPolicy: SelectionPolicy
            /// How long a request keeps trying other upstreams when the chosen one refuses (a
            /// replica replaced by a rolling update): the caller sees no error meanwhile.
            var tryDuration: String?
            var tryInterval: String?

            enum CodingKeys: String, CodingKey {
                case selectionPolicy = "selection_policy"
                case tryDuration = "try_duration"
                case tryInterval = "try_interval"
            }

            struct SelectionPolicy: Encodable, Equatable {
                /// The module name, e.g. `round_robin`.
                var policy: String
            }
        }

        struct HealthChecks: Encodable, Equatable {
            var active: Active
            var passive: Passive

            struct Active: Encodable, Equatable {
                var uri: String
                var interval: String
                var timeout: String
            }

            struct Passive: Encodable, Equatable {
                var failDuration: String
                var maxFails: Int

                enum CodingKeys: String, CodingKey {
                    case failDuration = "fail_duration"
                    case maxFails = "max_fails"
                }
            }
        }
    }

    struct StaticResponse: Encodable, Equatable {
        let handler = "static_response"
        var statusCode: Int
        var body: String

        enum CodingKeys: String, CodingKey {
            case handler
            case statusCode = "status_code"
            case body
        }
    }

    // MARK: apps.tls and apps.pki

    struct TLSApp: Encodable, Equatable {
        var certificates: Certificates
        var automation: Automation

        struct Certificates: Encodable, Equatable {
            /// Domains to keep certificates for.
            var automate: [String]
        }

        struct Automation: Encodable, Equatable {
            var policies: [Policy]
        }

        struct Policy: Encodable, Equatable {
            var subjects: [String]
            var issuers: [Issuer]
        }

        struct Issuer: Encodable, Equatable {
            /// `internal`: Caddy's own CA, never ACME.
            var module: String
        }
    }

    struct PKIApp: Encodable, Equatable {
        /// By CA name (`local` is the internal issuer's).
        var certificateAuthorities: [String: CertificateAuthority]

        enum CodingKeys: String, CodingKey {
            case certificateAuthorities = "certificate_authorities"
        }

        struct CertificateAuthority: Encodable, Equatable {
            /// Whether Caddy installs the CA's root into the machine's trust store.
            var installTrust: Bool

            enum CodingKeys: String, CodingKey {
                case installTrust = "install_trust"
            }
        }
    }
}
