import ArgumentParser
import Foundation
import Logging
import MicadoClient
import MicadoClouds
import MicadoCore
import MicadoStandIns

extension MicadoBench {
    /// Machines for an EC2-compatible API server that has none (moto), so that `bench scale`
    /// can time an ec2 cloud end to end on one host: stages a VPC, subnet, security group and
    /// image in the API, writes their ids, then boots each instance the API runs from the
    /// user data micado sent, until SIGINT or SIGTERM, and tears its machines down.
    struct BenchStandIn: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ec2-stand-in",
            abstract: "Boot what an EC2-compatible API without machines (moto) runs, on this host, for bench scale.",
            discussion: "Credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY. Runs until SIGINT or SIGTERM.",
            shouldDisplay: false
        )

        @Option(help: "The API's endpoint (loopback).") var endpoint: String
        @Option(help: "Region.") var region = "us-east-1"
        @Option(help: "Availability zone of the subnet.") var zone = "us-east-1a"
        @Option(help: "The subnet's range: a part of the bridge's network.") var subnetCIDR: String
        @Option(help: "The VPC's range.") var vpcCIDR: String
        @Option(help: "Bridge the machines are plugged into.") var bridge: String
        @Option(help: "The bridge's address and prefix.") var bridgeCIDR: String
        @Option(help: "The manager's address on the bridge.") var managerAddress: String
        @Option(help: "Where the machines' state goes.") var state: String
        @Option(help: "micado's home (its CA signs the machines' engines).") var home: String
        @Option(help: "Machine memory in MiB.") var memory = 512
        @Option(help: "Where to write the staged ids (JSON).") var staged: String

        func run() async throws {
            let environment = ProcessInfo.processInfo.environment
            let credentials = try EC2Credentials.resolve(cloud: "stand-in", profile: nil, micadoHome: home, environment: environment)
            var logger = Logger(label: "micado.stand-in")
            logger.logLevel = .warning
            let api = try EC2API(region: region, endpoint: endpoint, credentials: credentials, logger: logger)
            let network = try await EC2Staging.network(api, zone: zone, cidr: subnetCIDR, vpcCIDR: vpcCIDR)
            try JSONEncoder().encode(network).write(to: URL(fileURLWithPath: staged), options: .atomic)
            let driver = LocalDriver(
                cloud: "stand-in",
                network: .init(
                    bridge: bridge,
                    bridgeCIDR: bridgeCIDR,
                    firstAddress: managerAddress,
                    lastAddress: managerAddress,
                    managerAddress: managerAddress
                ),
                stateDirectory: state,
                authority: CertificateAuthority(directory: home + "/tls"),
                logger: logger
            )
            let machines = StandInMachines(api: api, driver: driver, memoryMiB: memory)
            let work = Task { await machines.run() }
            let interrupts = Interrupts { _ in work.cancel() }
            await work.value
            await machines.shutdown()
            interrupts.stop()
            for error in await machines.errors() { Console.err("stand-in: \(error)") }
        }
    }
}
