import Foundation
import MicadoCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Files written on a user's path as root: no other user's link, FIFO or file redirects them.
@Suite struct NewFileTests {
    /// A world-writable sticky folder, like /tmp, with a root-only file outside it.
    func withSharedFolder(_ body: (_ folder: String, _ secret: String) throws -> Void) throws {
        let base = NSTemporaryDirectory() + "micado-newfile-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: base + "/shared", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: base) }
        chmod(base + "/shared", 0o1777)
        let secret = base + "/secret"
        try "root only\n".write(toFile: secret, atomically: false, encoding: .utf8)
        chmod(secret, 0o600)
        try body(base + "/shared", secret)
    }

    /// Another user's link, planted where the file goes, is replaced, never followed.
    @Test func aPlantedLinkIsReplacedNotFollowed() throws {
        try withSharedFolder { folder, secret in
            let destination = folder + "/copy"
            #expect(symlink(secret, destination) == 0)
            lchown(destination, 65534, 65534)  // nobody's link
            try NewFile.write("container bytes\n", to: destination, mode: 0o644)
            #expect(try String(contentsOfFile: secret, encoding: .utf8) == "root only\n")
            var info = stat()
            #expect(lstat(destination, &info) == 0)
            #expect(info.st_mode & S_IFMT == S_IFREG)
            #expect(info.st_mode & 0o7777 == 0o644)
            #expect(try String(contentsOfFile: destination, encoding: .utf8) == "container bytes\n")
            // Nothing else is left in the folder: no partial file, no name another user could have guessed.
            #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["copy"])
        }
    }

    /// A link to a folder that another user planted on the way (`shared/sub/token`, with `sub`
    /// a link of nobody's to a root-only folder) is refused, not followed: only the last name
    /// was safe, and the attack review wrote over the micado home's token through one.
    @Test func aPlantedFolderLinkOnTheWayIsRefused() throws {
        try withSharedFolder { folder, secret in
            let home = (secret as NSString).deletingLastPathComponent + "/home"
            try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: false)
            try "the token\n".write(toFile: home + "/token", atomically: false, encoding: .utf8)
            #expect(symlink(home, folder + "/sub") == 0)
            lchown(folder + "/sub", 65534, 65534)
            #expect(throws: MicadoError.self) { try NewFile.write("container bytes\n", to: folder + "/sub/token", mode: 0o600) }
            #expect(throws: MicadoError.self) { try NewFile.write("container bytes\n", to: folder + "/./sub/../sub/token", mode: 0o600) }
            #expect(try String(contentsOfFile: home + "/token", encoding: .utf8) == "the token\n")
            // The caller's own links (root's here), relative or absolute, are followed as ever.
            #expect(symlink(home, folder + "/mine") == 0)
            #expect(symlink("shared/../home", folder + "/../relative") == 0)
            try NewFile.write("one\n", to: folder + "/mine/one", mode: 0o600)
            try NewFile.write("two\n", to: folder + "/../relative/two", mode: 0o600)
            #expect(try String(contentsOfFile: home + "/one", encoding: .utf8) == "one\n")
            #expect(try String(contentsOfFile: home + "/two", encoding: .utf8) == "two\n")
            // A folder that is not there is the usual error.
            #expect(throws: MicadoError.self) { try NewFile.write("x", to: folder + "/absent/file", mode: 0o600) }
        }
    }

    /// A FIFO at the destination neither blocks the write nor receives it.
    @Test func aPlantedFIFOIsReplaced() throws {
        try withSharedFolder { folder, _ in
            let destination = folder + "/copy"
            #expect(mkfifo(destination, 0o666) == 0)
            try NewFile.write("x", to: destination, mode: 0o600)
            var info = stat()
            #expect(lstat(destination, &info) == 0 && info.st_mode & S_IFMT == S_IFREG)
        }
    }

    /// The mode asked for is the file's from its first byte to the end, whatever the umask;
    /// set-id bits never survive.
    @Test func theModeIsExactAndNeverSetID() throws {
        try withSharedFolder { folder, _ in
            let old = umask(0)
            defer { umask(old) }
            try NewFile.write("k", to: folder + "/key", mode: 0o600)
            try NewFile.write("s", to: folder + "/setuid", mode: 0o4755)
            #expect((try FileManager.default.attributesOfItem(atPath: folder + "/key")[.posixPermissions] as? Int) == 0o600)
            #expect((try FileManager.default.attributesOfItem(atPath: folder + "/setuid")[.posixPermissions] as? Int) == 0o755)
        }
    }

    /// Without `replacing`, an existing name (a link too) is refused and left as it was.
    @Test func noReplaceRefusesAnExistingName() throws {
        try withSharedFolder { folder, secret in
            let destination = folder + "/backup"
            #expect(symlink(secret, destination) == 0)
            #expect(throws: MicadoError.self) { try NewFile.write("store", to: destination, mode: 0o600, replacing: false) }
            #expect(try String(contentsOfFile: secret, encoding: .utf8) == "root only\n")
            #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: destination)) == secret)
            try NewFile.write("store", to: folder + "/fresh", mode: 0o600, replacing: false)
            #expect(try String(contentsOfFile: folder + "/fresh", encoding: .utf8) == "store")
            #expect(try FileManager.default.contentsOfDirectory(atPath: folder).sorted() == ["backup", "fresh"])
        }
    }

    /// A file given up before its commit leaves nothing, and the old file stays whole.
    @Test func aDiscardedFileLeavesTheOldOne() throws {
        try withSharedFolder { folder, _ in
            let destination = folder + "/page"
            try NewFile.write("old", to: destination, mode: 0o644)
            let file = try NewFile(destination)
            _ = "half".withCString { write(file.descriptor, $0, 4) }
            file.discard()
            #expect(try String(contentsOfFile: destination, encoding: .utf8) == "old")
            #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["page"])
            #expect(throws: MicadoError.self) { try NewFile(folder + "/") }
            #expect(throws: MicadoError.self) { try NewFile(folder + "/missing/file") }
        }
    }
}
