import Foundation
import MicadoClouds
import MicadoCore

#if canImport(Glibc)
import Glibc
#endif

/// An unprivileged system user that one helper (Caddy, the registry) runs as, so that a
/// flaw in the helper is not root's, and no other helper shares its files.
///
/// The helper's folder lives in the home, whose ancestors (`/root`, say) the user cannot
/// traverse. The manager opens the folder and hands it over as descriptor 3, so the helper
/// reaches its files as `/proc/self/fd/3/…` and the home stays closed to everyone else.
struct HelperUser: Sendable {
    let name: String
    let uid: uid_t
    let gid: gid_t

    /// The user, created (`useradd --system`, no home, no shell) when the machine lacks it.
    static func ensure(_ name: String) async throws(MicadoError) -> HelperUser {
        if let user = lookUp(name) { return user }
        var output = ""
        for _ in 0..<5 {  // useradd fails while another holds /etc/passwd's lock (managers starting together)
            let result = try? await ChildProcess.run(
                "/usr/sbin/useradd",
                ["--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", name]
            )
            if let user = lookUp(name) { return user }
            output = result?.output ?? ""
            try? await Task.sleep(for: .milliseconds(200))
        }
        throw .init(.configuration, "cannot create the system user \(name) that runs a helper unprivileged: \(output)")
    }

    static func lookUp(_ name: String) -> HelperUser? {
        guard let entry = getpwnam(name) else { return nil }
        return HelperUser(name: name, uid: entry.pointee.pw_uid, gid: entry.pointee.pw_gid)
    }

    /// Gives `path` and everything under it to this user, private (directories 0700, files 0600).
    func own(_ path: String) async throws(MicadoError) {
        let result = try? await ChildProcess.run(
            "/bin/sh",
            ["-c", "chown -R \"$0\" \"$1\" && chmod -R u=rwX,go= \"$1\"", "\(uid):\(gid)", path]
        )
        guard result?.status == 0 else { throw .init(.configuration, "cannot give \(path) to \(name): \(result?.output ?? "")") }
    }

    /// Starts `arguments` as this user: no other capability than binding ports below 1024,
    /// no way to gain privileges, killed with the manager, `folder` as descriptor 3.
    func start(_ arguments: [String], folder: String, environment: [String: String], output: String) async throws -> ChildProcess {
        let descriptor = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw MicadoError(.configuration, "cannot open \(folder): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        // From the spawn thread: the parent-death signal follows the thread that started it.
        return try await SpawnThread.shared.run {
            try ChildProcess.start(
                "/usr/bin/setpriv",
                [
                    "--pdeathsig", "KILL", "--reuid=\(uid)", "--regid=\(gid)", "--clear-groups", "--no-new-privs",
                    "--bounding-set=-all,+net_bind_service", "--inh-caps=-all,+net_bind_service", "--ambient-caps=-all,+net_bind_service",
                ] + arguments,
                environment: environment,
                output: output,
                passing: descriptor
            )
        }
    }

    /// Where the helper finds `relative` inside its folder.
    static func inFolder(_ relative: String) -> String { "/proc/self/fd/3/" + relative }
}
