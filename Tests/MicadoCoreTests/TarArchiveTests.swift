import MicadoCore
import Testing

@Suite struct TarArchiveTests {
    @Test func roundTrip() throws {
        let long = String(repeating: "d/", count: 60) + "file.txt"
        let archive = TarArchive(entries: [
            .init(name: "app", kind: .directory, mode: 0o755),
            .init(name: "app/Dockerfile", contents: Array("FROM busybox:local\n".utf8), modificationTime: 1_700_000_000),
            .init(name: long, mode: 0o600, contents: Array(repeating: 7, count: 1000)),
            .init(name: "app/link", kind: .symbolicLink, linkName: "Dockerfile"),
        ])
        let read = try TarArchive(bytes: archive.bytes())
        #expect(read.entries.map(\.name) == ["app/", "app/Dockerfile", long, "app/link"])
        #expect(read.entries[1].contents == Array("FROM busybox:local\n".utf8))
        #expect(read.entries[1].modificationTime == 1_700_000_000)
        #expect(read.entries[2].mode == 0o600)
        #expect(read.entries[2].contents.count == 1000)
        #expect(read.entries[3].kind == .symbolicLink)
        #expect(read.entries[3].linkName == "Dockerfile")
    }

    @Test func rerootStripsTheTopFolder() throws {
        let archive = TarArchive(entries: [
            .init(name: "./app/", kind: .directory),
            .init(name: "./app/Dockerfile", contents: Array("FROM x\n".utf8)),
            .init(name: "./app/www/index.html", contents: Array("hi".utf8)),
        ])
        let context = try archive.rerootedBuildContext()
        #expect(context.entries.map(\.name) == ["Dockerfile", "www/index.html"])
    }

    @Test func rerootRejectsBadLayouts() {
        let twoTops = TarArchive(entries: [.init(name: "a/Dockerfile"), .init(name: "b/Dockerfile")])
        #expect(throws: MicadoError.self) { try twoTops.rerootedBuildContext() }
        let noDockerfile = TarArchive(entries: [.init(name: "app/index.html")])
        #expect(throws: MicadoError(.badRequest, "the tarball's folder 'app' has no Dockerfile (expected app/Dockerfile)")) {
            try noDockerfile.rerootedBuildContext()
        }
        let flat = TarArchive(entries: [.init(name: "Dockerfile")])
        #expect(throws: MicadoError.self) { try flat.rerootedBuildContext() }
        #expect(throws: MicadoError.self) { try TarArchive(entries: []).rerootedBuildContext() }
    }

    @Test func rejectsGarbage() {
        #expect(throws: MicadoError.self) { try TarArchive(bytes: Array(repeating: 0x41, count: 1024)) }
        var truncated = TarArchive(entries: [.init(name: "f", contents: Array(repeating: 1, count: 2000))]).bytes()
        truncated.removeLast(2000)
        #expect(throws: MicadoError.self) { try TarArchive(bytes: truncated) }
    }
}
