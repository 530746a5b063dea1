import Foundation
import Logging
import MicadoCore

#if canImport(Glibc)
import Glibc
#endif

/// The `local` cloud: each instance is a real Docker engine on this machine, in its own
/// network namespace on a bridge micado owns, with its own data root, exec root, pidfile,
/// cgroup (memory-limited to the flavour) and a TLS-only TCP endpoint for the manager.
///
/// Booting runs detached (`setsid`), like a cloud machine that boots whether or not its
/// manager is alive: it starts dockerd and loads the machine image's images; the manager
/// then joins the engine to the swarm through its API. The cloud's own state is the machine: one
/// folder per instance under `stateDirectory`, made first and removed last, so nothing of
/// an instance can exist without the folder that names it.
public struct LocalDriver: CloudDriver {
    public let cloud: String
    public let network: CloudConfiguration.LocalNetwork
    public let stateDirectory: String
    public let authority: CertificateAuthority
    let logger: Logger

    public init(
        cloud: String,
        network: CloudConfiguration.LocalNetwork,
        stateDirectory: String,
        authority: CertificateAuthority,
        logger: Logger
    ) {
        self.cloud = cloud
        self.network = network
        self.stateDirectory = stateDirectory
        self.authority = authority
        self.logger = logger
    }

    /// Instance IDs derive from the idempotency token: a retried create finds the first one.
    public static func instanceID(token: String) -> String {
        "i" + String(token.lowercased().filter { $0.isHexDigit }.prefix(10))
    }

    func directory(_ id: String) -> String { stateDirectory + "/" + id }
    static func namespace(_ id: String) -> String { "micado-" + id }
    static func veth(_ id: String) -> String { "v" + id }

    public func create(_ request: CreateInstanceRequest) async throws(CloudError) -> CloudInstance {
        let id = Self.instanceID(token: request.idempotencyToken)
        guard id.count == 11 else { throw CloudError(.badRequest, "idempotency token must have at least 10 hex digits") }
        if let existing = try await describe(id) {
            // A create that a crash cut short before the boot started is made again from scratch.
            guard !FileManager.default.fileExists(atPath: directory(id) + "/boot.pid") else { return existing }
            try await delete(id)
        }
        guard request.machineImage == "default" else {
            throw CloudError(.badRequest, "the local cloud has only the machine image 'default', not '\(request.machineImage)'")
        }
        let address = try withLock { () throws(CloudError) -> String in
            let address = try freeAddress()
            try claim(id, address: address)
            return address
        }
        let userData: String
        do { userData = try BootDocument.render(request.userData, address: address, authority: authority) } catch {
            try? await delete(id)
            throw error
        }
        try await boot(
            id: id,
            address: address,
            userData: userData,
            memoryMiB: request.flavour.memoryMiB,
            flavour: request.flavour.name,
            tags: request.tags
        )
        return CloudInstance(
            id: id,
            address: address,
            state: .booting,
            engineEndpoint: "tcp://\(address):\(BootDocument.enginePort)",
            tags: request.tags
        )
    }

    /// Makes the instance's folder and records its address (under the lock, for `freeAddress`).
    func claim(_ id: String, address: String) throws(CloudError) {
        let dir = directory(id)
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            try write(address, "address", of: id)
        } catch { throw CloudError(.transient, "cannot create \(dir): \(error)") }
    }

    /// Boots a machine at `address` from a cloud-init document, as a cloud's hypervisor
    /// would: in a namespace on the bridge, applying the document (see `apply`). `create`
    /// uses it; so do the tests' stand-in hypervisor for other clouds (EC2 against moto),
    /// which boots what the manager sent to that cloud.
    public func boot(
        id: String,
        address: String,
        userData: String,
        memoryMiB: Int,
        flavour: String,
        tags: [String: String]
    ) async throws(CloudError) {
        let dir = directory(id)
        do {
            if !FileManager.default.fileExists(atPath: dir + "/address") {
                try withLock { () throws(CloudError) in try claim(id, address: address) }
            }
            try prepare(id: id, address: address, userData: userData, memoryMiB: memoryMiB, flavour: flavour, tags: tags)
            let boot = try await ChildProcess.run("/usr/bin/setsid", ["-f", "/bin/bash", dir + "/boot.sh", dir])
            guard boot.status == 0 else { throw CloudError(.transient, "cannot start the boot of \(id): \(boot.output)") }
        } catch let error as CloudError {
            try? await delete(id)
            throw error
        } catch {
            try? await delete(id)
            throw CloudError(.transient, "cannot create instance \(id): \(error)")
        }
        logger.info(
            "local instance booting",
            metadata: ["instance.id": "\(id)", "instance.address": "\(address)", "instance.flavour": "\(flavour)"]
        )
    }

    func prepare(id: String, address: String, userData: String, memoryMiB: Int, flavour: String, tags: [String: String]) throws {
        let dir = directory(id)
        func write(_ text: String, _ name: String, mode: Int16 = 0o600) throws { try self.write(text, name, of: id, mode: mode) }
        // First, so that nothing this instance starts can exist without its way out.
        try write(Self.teardownFile(id: id, directory: dir), "teardown", mode: 0o700)
        try write(String(decoding: try JSONEncoder().encode(tags), as: UTF8.self), "tags.json")
        try write(flavour, "flavour")
        // The same document a real cloud would get as user data (it holds the engine's key: 0600).
        try write(userData, "user-data")
        try Self.apply(try BootDocument.parse(userData), root: dir + "/root")
        let prefix = network.bridgeCIDR.split(separator: "/").last.map(String.init) ?? "24"
        let environment = """
            ID=\(id)
            NS=\(Self.namespace(id))
            VETH=\(Self.veth(id))
            IP=\(address)
            PORT=\(BootDocument.enginePort)
            PREFIX=\(prefix)
            BRIDGE=\(network.bridge)
            BRIDGE_CIDR=\(network.bridgeCIDR)
            MEM_BYTES=\(memoryMiB << 20)
            CA=\(authority.caCertificate)
            CLIENT_CERT=\(authority.clientCertificate)
            CLIENT_KEY=\(authority.clientKey)

            """
        try write(environment, "boot.env")
        try write(Self.bootScript, "boot.sh", mode: 0o700)
    }

    /// What cloud-init's `write_files` does, for the files under /etc/docker: they land under
    /// `root`, which the boot mounts on /etc/docker in the engine's own mount namespace. The
    /// rest of the document is what a namespace cannot do: the systemd drop-in (no systemd
    /// here) and `runcmd` (installing and starting the engine as a service), which the boot
    /// script does instead, starting dockerd with the document's daemon.json.
    static func apply(_ document: BootDocument.CloudConfig, root: String) throws(CloudError) {
        for file in document.write_files where file.path.hasPrefix("/etc/docker/") {
            guard !file.path.split(separator: "/").contains(".."), let mode = Int16(file.permissions, radix: 8) else {
                throw CloudError(.badRequest, "boot document: bad file \(Text.escaped(file.path)) (\(Text.escaped(file.permissions)))")
            }
            let path = root + file.path
            let folder = String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)])
            do {
                try FileManager.default.createDirectory(
                    atPath: folder,
                    withIntermediateDirectories: true,
                    attributes: [.posixPermissions: 0o755]
                )
            } catch { throw CloudError(.transient, "cannot create \(folder): \(error)") }
            do { try NewFile.write(file.content, to: path, mode: mode_t(mode)) } catch {
                throw CloudError(.transient, "cannot write \(path): \(error.message)")
            }
        }
    }

    /// The teardown script with this instance's arguments: `bash DIR/teardown` deletes it.
    static func teardownFile(id: String, directory: String) -> String {
        "#!/bin/bash\nset -- '\(directory)' '\(id)' '\(namespace(id))' '\(veth(id))'\n" + teardownScript + "\n"
    }

    /// A describe here reads a few files: as often as the manager likes.
    public var describeInterval: Duration { .zero }

    public func describe(_ id: String) async throws(CloudError) -> CloudInstance? {
        let dir = directory(id)
        guard FileManager.default.fileExists(atPath: dir + "/address") else { return nil }
        let address = read("address", of: id) ?? "?"
        let tags = read("tags.json", of: id).flatMap { try? JSONDecoder().decode([String: String].self, from: Data($0.utf8)) } ?? [:]
        let engineAlive = read("dockerd.pid", of: id).flatMap { Int32($0) }.map(ChildProcess.isAlive) ?? false
        let state: CloudInstance.State
        var detail: String?
        if let failure = read("boot.failed", of: id) {
            state = .failed
            detail = failure
        } else if FileManager.default.fileExists(atPath: dir + "/boot.done") {
            state = engineAlive ? .running : .failed
            if !engineAlive { detail = "its engine stopped" }
        } else {
            // An empty pid file is one being written (`echo $$ > boot.pid`): still booting.
            let pid = read("boot.pid", of: id)
            let bootAlive = pid.flatMap { Int32($0) }.map(ChildProcess.isAlive) ?? (pid?.isEmpty ?? true)
            state = bootAlive ? .booting : .failed
            if state == .failed { detail = "its boot stopped before joining" }
        }
        return CloudInstance(
            id: id,
            address: address,
            state: state,
            engineEndpoint: "tcp://\(address):\(BootDocument.enginePort)",
            tags: tags,
            detail: detail
        )
    }

    public func list() async throws(CloudError) -> [CloudInstance] {
        let ids = ((try? FileManager.default.contentsOfDirectory(atPath: stateDirectory)) ?? []).filter {
            $0.hasPrefix("i") && $0.count == 11
        }
        var result: [CloudInstance] = []
        for id in ids.sorted() {
            if let instance = try await describe(id) { result.append(instance) }
        }
        return result
    }

    public func delete(_ id: String) async throws(CloudError) {
        let dir = directory(id)
        guard FileManager.default.fileExists(atPath: dir) else { return }
        let result: (status: Int32, output: String)
        do {
            result = try await ChildProcess.run(
                "/bin/bash",
                ["-c", Self.teardownScript, "teardown", dir, id, Self.namespace(id), Self.veth(id)]
            )
        } catch {
            throw CloudError(.transient, "cannot run the teardown of \(id): \(error)")
        }
        guard result.status == 0 else { throw CloudError(.transient, "teardown of \(id) failed: \(result.output.suffix(400))") }
        logger.info("local instance deleted", metadata: ["instance.id": "\(id)"])
    }

    // MARK: helpers

    func read(_ name: String, of id: String) -> String? {
        (try? String(contentsOfFile: directory(id) + "/" + name, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Writes a file of an instance's folder, owner-only unless `mode` says otherwise.
    func write(_ text: String, _ name: String, of id: String, mode: Int16 = 0o600) throws {
        let path = directory(id) + "/" + name
        do { try NewFile.write(text, to: path, mode: mode_t(mode)) } catch {
            throw CloudError(.transient, "cannot write \(path): \(error.message)")
        }
    }

    /// Serialises address allocation between creates, across processes too.
    func withLock<T>(_ body: () throws(CloudError) -> T) throws(CloudError) -> T {
        try? FileManager.default.createDirectory(
            atPath: stateDirectory,
            withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700]
        )
        let fd = open(stateDirectory + "/.lock", O_CREAT | O_RDWR, 0o600)
        guard fd >= 0 else { throw CloudError(.transient, "cannot open \(stateDirectory)/.lock") }
        defer { close(fd) }
        flock(fd, LOCK_EX)
        defer { flock(fd, LOCK_UN) }
        return try body()
    }

    /// The first address of the range that no instance of this cloud holds and that
    /// nothing on the machine already uses.
    func freeAddress() throws(CloudError) -> String {
        let ids = (try? FileManager.default.contentsOfDirectory(atPath: stateDirectory)) ?? []
        var taken = Set(ids.compactMap { read("address", of: $0) })
        taken.insert(network.managerAddress)
        taken.insert(String(network.bridgeCIDR.split(separator: "/")[0]))
        guard let first = IPv4(network.firstAddress), let last = IPv4(network.lastAddress) else {
            throw CloudError(.badRequest, "bad address range \(network.firstAddress)-\(network.lastAddress)")
        }
        // Round robin from the address after the last one given, as a cloud's DHCP does: an
        // address freed a moment ago is not handed out again at once, while the old
        // namespace's ARP entries and the swarm's memory of that node may still point at it.
        let marker = stateDirectory + "/.last-address"
        let previous = (try? String(contentsOfFile: marker, encoding: .utf8)).flatMap {
            IPv4($0.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let count = last.value >= first.value ? last.value - first.value + 1 : 0
        let start = previous.map { $0.value >= first.value && $0.value < last.value ? $0.value + 1 : first.value } ?? first.value
        for step in 0..<count {
            let value = first.value + (start - first.value + step) % count
            let candidate = IPv4(value: value).description
            if !taken.contains(candidate) {
                try? candidate.write(toFile: marker, atomically: true, encoding: .utf8)
                return candidate
            }
        }
        throw CloudError(.quota, "the local cloud's address range \(network.firstAddress)-\(network.lastAddress) is used up")
    }
}
