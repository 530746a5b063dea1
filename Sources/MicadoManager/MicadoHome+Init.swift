import Foundation
import MicadoClouds
import MicadoCore

extension MicadoHome {
    /// `micado init`: writes the config, a random API token and an empty credentials
    /// file (both 0600). Refuses to overwrite an existing home unless `force`.
    public func initialise(
        force: Bool,
        dockerHost: String?,
        advertiseAddress: String,
        port: Int,
        proxy: ManagerConfiguration.Proxy = .init()
    ) throws(MicadoError) -> [String] {
        let fm = FileManager.default
        do {
            try fm.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            try fm.setAttributes([.posixPermissions: 0o700], ofItemAtPath: path)  // an existing home too
        } catch {
            throw .init(.configuration, "cannot create the micado home at \(path): \(error)")
        }
        // Never under a running manager: it would lose its token and certificates.
        let lock = try HomeLock.acquire(self, port: port)
        defer { withExtendedLifetime(lock) {} }
        let files = [configFile, tokenFile, credentialsFile]
        if !force, let existing = files.first(where: { fm.fileExists(atPath: $0) }) {
            throw .init(.alreadyExists, "\(existing) already exists; use --force to overwrite the micado home at \(path)")
        }
        var configuration = ManagerConfiguration()
        configuration.manager.port = port
        configuration.docker.advertiseAddress = advertiseAddress
        configuration.docker.host = dockerHost
        configuration.proxy = proxy
        try configuration.validate()
        do {
            try fm.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            try write(
                ManagerConfiguration.template(
                    home: self,
                    dockerHost: dockerHost,
                    advertiseAddress: advertiseAddress,
                    port: port,
                    proxy: proxy
                ),
                to: configFile,
                mode: 0o644
            )
            try write(Self.randomToken() + "\n", to: tokenFile, mode: 0o600)
            try write("# Cloud credentials, by cloud name. Mode 0600: never commit this file.\n", to: credentialsFile, mode: 0o600)
            if fm.fileExists(atPath: tlsDirectory) { try fm.removeItem(atPath: tlsDirectory) }
        } catch let error as MicadoError {
            throw error
        } catch {
            throw .init(.configuration, "cannot write the micado home at \(path): \(error)")
        }
        // micado's CA: instance engines are reached only with mutual TLS from certificates it signs.
        try CertificateAuthority(directory: tlsDirectory).create()
        return files + [tlsDirectory + "/ca.pem"]
    }

    func write(_ text: String, to file: String, mode: mode_t) throws(MicadoError) {
        // Linked in whole with its final mode: a secret is never readable by others, even
        // briefly, and a link planted at the name is replaced, never followed.
        try NewFile.write(text, to: file, mode: mode)
    }

    /// 32 random bytes from the system's CSPRNG, hex-encoded.
    static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    /// The API token, trimmed.
    public func readToken() throws(MicadoError) -> String {
        guard let data = FileManager.default.contents(atPath: tokenFile) else {
            throw .init(.configuration, "no API token at \(tokenFile): run 'micado init' first (or set MICADO_HOME)")
        }
        let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard token.count >= 16 else {
            throw .init(.configuration, "the API token in \(tokenFile) is too short; run 'micado init --force'")
        }
        return token
    }
}
