import ArgumentParser
import Foundation
import Logging
import MicadoClient
import MicadoClouds
import MicadoCore
import MicadoStandIns

extension MicadoBench {
    /// A stand-in of the OpenStack, CloudSigma or CloudBroker API on loopback (answers built
    /// from the clouds' recorded documents: scripts/fetch-cloud-fixtures.sh), whose servers
    /// boot on this host from what micado sent, so that the demo shows those drivers end to
    /// end. Writes what a clouds.yaml needs (JSON) to `--ready`, runs until SIGINT or
    /// SIGTERM, and tears its machines down.
    struct BenchCloudStandIn: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "cloud-stand-in",
            abstract: "Serve a stand-in OpenStack, CloudSigma or CloudBroker API on loopback whose servers boot on this host.",
            discussion: "Runs until SIGINT or SIGTERM. Its login is a fixed test one (written to --ready), never a real account's.",
            shouldDisplay: false
        )

        @Option(help: "openstack, cloudsigma or cloudbroker.") var driver: String
        @Option(help: "Bridge the machines are plugged into.") var bridge: String
        @Option(help: "The bridge's address and prefix.") var bridgeCIDR: String
        @Option(help: "The manager's address on the bridge.") var managerAddress: String
        @Option(help: "First address the stand-in hands out.") var first: String
        @Option(help: "Last address the stand-in hands out.") var last: String
        @Option(help: "Where the machines' state goes.") var state: String
        @Option(help: "micado's home (its CA signs the machines' engines).") var home: String
        @Option(help: "Where to write the endpoint, login and IDs (JSON).") var ready: String

        func validate() throws {
            guard ["openstack", "cloudsigma", "cloudbroker"].contains(driver) else {
                throw ValidationError("--driver must be openstack, cloudsigma or cloudbroker")
            }
            guard let a = IPv4(first), let b = IPv4(last), a <= b else {
                throw ValidationError("--first and --last must be IPv4 addresses, first ≤ last")
            }
        }

        func run() async throws {
            var logger = Logger(label: "micado.cloud-stand-in")
            logger.logLevel = .warning
            let hypervisor = StandInHypervisor(
                bridge: bridge,
                bridgeCIDR: bridgeCIDR,
                managerAddress: managerAddress,
                state: state,
                home: home,
                logger: logger
            )
            let addresses = IPv4(first)!...IPv4(last)!
            let readyFile = ready
            func announce(_ fields: [String: String]) throws {
                let data = try JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])
                // The test login travels in this file: owner only, like any credentials file.
                guard
                    FileManager.default.createFile(atPath: readyFile + ".partial", contents: data, attributes: [.posixPermissions: 0o600]),
                    rename(readyFile + ".partial", readyFile) == 0
                else { throw MicadoError(.internal, "cannot write \(readyFile)") }
            }
            switch driver {
            case "openstack":
                try await OpenStackStandIn.serve(addresses: addresses, hypervisor: hypervisor) { cloud in
                    try announce([
                        "authURL": cloud.authURL, "username": OpenStackStandIn.username, "password": OpenStackStandIn.password,
                        "project": OpenStackStandIn.project, "network": OpenStackStandIn.network, "image": OpenStackStandIn.image,
                    ])
                    await Interrupts.first()
                }
            case "cloudsigma":
                try await CloudSigmaStandIn.serve(addresses: addresses, hypervisor: hypervisor) { cloud in
                    try announce([
                        "endpoint": cloud.endpoint, "username": CloudSigmaStandIn.username, "password": CloudSigmaStandIn.password,
                        "drive": CloudSigmaStandIn.libraryDrive,
                    ])
                    await Interrupts.first()
                }
            default:
                try await CloudBrokerStandIn.serve(addresses: addresses, hypervisor: hypervisor) { cloud in
                    try announce([
                        "endpoint": cloud.endpoint, "email": CloudBrokerStandIn.email, "password": CloudBrokerStandIn.password,
                        "deployment": CloudBrokerStandIn.deployment,
                    ])
                    await Interrupts.first()
                }
            }
            await hypervisor.shutdown()
            for error in hypervisor.errors { Console.err("cloud-stand-in: \(error)") }
        }
    }
}
