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

    // MARK: hostile archives

    static let sample = TarArchive(entries: [
        .init(name: "app", kind: .directory, mode: 0o755),
        .init(name: "app/Dockerfile", contents: Array("FROM busybox:local\nCOPY . /\n".utf8)),
        .init(name: "app/" + String(repeating: "é", count: 70) + ".txt", contents: Array(repeating: 9, count: 700)),
        .init(name: "app/empty"),
    ]).bytes()

    /// A header with `field` overwritten at `offset` and its checksum made right again.
    static func patched(_ bytes: [UInt8], at offset: Int, _ field: [UInt8]) -> [UInt8] {
        var b = bytes
        b.replaceSubrange(offset..<offset + field.count, with: field)
        let header = Array(b[0..<512])
        var sum = 0
        for (i, byte) in header.enumerated() { sum += (148..<156).contains(i) ? 0x20 : Int(byte) }
        let octal = Array(String(sum, radix: 8).utf8)
        let checksum = Array(repeating: UInt8(0x30), count: 6 - octal.count) + octal + [0, 0x20]
        b.replaceSubrange(148..<156, with: checksum)
        return b
    }

    static let oneFile = TarArchive(entries: [.init(name: "app/Dockerfile", contents: Array("FROM x\n".utf8))]).bytes()

    /// Each of these once crashed the manager; each now gets a reason.
    @Test(arguments: [
        ("base-256 size of 0xFF bytes", patched(oneFile, at: 124, Array(repeating: 0xFF, count: 12))),
        ("base-256 size of Int.max", patched(oneFile, at: 124, [0x80, 0, 0, 0, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])),
        ("base-256 size past Int", patched(oneFile, at: 124, [0x80, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])),
        ("octal size -1", patched(oneFile, at: 124, Array("-0000000001\u{0}".utf8))),
        ("octal size with a letter", patched(oneFile, at: 124, Array("0000000009a\u{0}".utf8))),
    ])
    func craftedSizesAreRefused(_ name: String, _ bytes: [UInt8]) {
        #expect(throws: MicadoError.self, "\(name)") { try TarArchive(bytes: bytes) }
    }

    @Test(arguments: ["1 x", "0 x", "5 path", "99 path=a\n", "3 =\n", "-1 path=a\n", "2 a"])
    func malformedPAXRecordsAreRefused(_ record: String) {
        let body = Array(record.utf8)
        var bytes = Self.patched(
            TarWriter.headerBlocks(
                TarHeader(name: "p", kind: .file, mode: 0o644, linkName: "", size: body.count, modificationTime: 0, dataOffset: 0)
            ),
            at: 156,
            [0x78]
        )
        bytes += body + Array(repeating: 0, count: TarWriter.padding(for: body.count)) + Self.oneFile
        #expect(throws: MicadoError.self, "\(record)") { try TarArchive(bytes: bytes) }
    }

    @Test func aWellFormedPAXPathIsRead() throws {
        let record = TarWriter.paxRecord("path", "app/Dockerfile")
        var bytes = Self.patched(
            TarWriter.headerBlocks(
                TarHeader(name: "p", kind: .file, mode: 0o644, linkName: "", size: record.count, modificationTime: 0, dataOffset: 0)
            ),
            at: 156,
            [0x78]
        )
        bytes += record + Array(repeating: 0, count: TarWriter.padding(for: record.count)) + Self.oneFile
        #expect(try TarArchive(bytes: bytes).entries.map(\.name) == ["app/Dockerfile"])
    }

    /// Names whose 100th byte falls inside a multibyte character are written with a PAX
    /// record and a ustar name cut at a character boundary, and read back whole.
    @Test(arguments: [98, 99, 100, 101, 150, 300])
    func multibyteNamesRoundTrip(_ asciiPrefix: Int) throws {
        let name = "app/" + String(repeating: "a", count: asciiPrefix - 4) + "€😀ü"
        let archive = TarArchive(entries: [.init(name: "app/Dockerfile"), .init(name: name, contents: [1, 2, 3])])
        let read = try TarArchive(bytes: archive.bytes())
        #expect(read.entries.map(\.name) == ["app/Dockerfile", name])
        #expect(try read.rerootedBuildContext().entries.map(\.name) == ["Dockerfile", String(name.dropFirst(4))])
    }

    /// Every proper prefix that cuts the archive before its end-of-archive block is refused:
    /// inside a header, inside data, at a block boundary, right after the Dockerfile.
    @Test func everyTruncationIsRefused() {
        let bytes = Self.sample
        for cut in 0..<(bytes.count - 512) {
            #expect(throws: MicadoError.self, "cut at \(cut)") { try TarArchive(bytes: Array(bytes.prefix(cut))) }
        }
        #expect(throws: Never.self) { try TarArchive(bytes: bytes) }
    }

    /// Random byte mutations of a valid archive: read and re-rooted without a crash, and
    /// whatever reads back stays within the bytes it came from.
    @Test func mutatedArchivesNeverCrash() {
        var generator = SeededGenerator(seed: 0x7a11)
        for round in 0..<3000 {
            var bytes = Self.sample
            for _ in 0..<Int.random(in: 1...8, using: &generator) {
                let at = Int.random(in: 0..<bytes.count, using: &generator)
                switch Int.random(in: 0..<4, using: &generator) {
                case 0: bytes[at] = UInt8.random(in: 0...255, using: &generator)
                case 1: bytes[at] = [0x00, 0xFF, 0x80, 0x20, 0x2D, 0x37][Int.random(in: 0..<6, using: &generator)]
                case 2: bytes.removeSubrange(at..<min(bytes.count, at + Int.random(in: 1...600, using: &generator)))
                default:
                    bytes.insert(
                        contentsOf: Array(
                            repeating: UInt8.random(in: 0...255, using: &generator),
                            count: Int.random(in: 1...600, using: &generator)
                        ),
                        at: at
                    )
                }
                if bytes.isEmpty { break }
            }
            // Mutations of the size, checksum and typeflag fields only matter with a valid checksum.
            if round % 2 == 0, bytes.count >= 512 { bytes = Self.patched(bytes, at: 0, Array(bytes[0..<1])) }
            if let archive = try? TarArchive(bytes: bytes) {
                #expect(archive.entries.reduce(0) { $0 + $1.contents.count } <= bytes.count)
                _ = try? archive.rerootedBuildContext()
            }
        }
    }

    /// Random archives (names with multibyte characters, sizes around block edges) survive
    /// a round trip, and the streamed re-rooted form equals the in-memory one.
    @Test func randomArchivesRoundTripAndStream() throws {
        var generator = SeededGenerator(seed: 42)
        let alphabet = Array("abcxyz-_.é€😀") + ["\u{301}"]
        for _ in 0..<200 {
            var entries: [TarArchive.Entry] = [.init(name: "top/Dockerfile", contents: Array("FROM x\n".utf8))]
            for i in 0..<Int.random(in: 0...6, using: &generator) {
                let length = Int.random(in: 1...160, using: &generator)
                let name = "top/\(i)" + String((0..<length).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
                let size = [0, 1, 511, 512, 513, 1024, Int.random(in: 0...3000, using: &generator)][
                    Int.random(in: 0..<7, using: &generator)
                ]
                entries.append(.init(name: name, contents: (0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) }))
            }
            let bytes = TarArchive(entries: entries).bytes()
            let read = try TarArchive(bytes: bytes)
            #expect(read.entries.map(\.name) == entries.map(\.name))
            #expect(read.entries.map(\.contents) == entries.map(\.contents))
            let source = TarBytes(bytes)
            var stream = TarStream(source: source, entries: try BuildContext.reroot(TarReader.headers(in: source)).map(\.1), chunk: 700)
            var streamed: [UInt8] = []
            var pieces: [Int] = []
            while let piece = try stream.next() {
                streamed += piece
                pieces.append(piece.count)
            }
            #expect(pieces.dropLast().allSatisfy { $0 >= 700 }, "many small files go out in few pieces: \(pieces)")
            #expect(streamed.count == stream.length)
            #expect(try TarArchive(bytes: streamed) == read.rerootedBuildContext())
        }
    }

    /// Paths are checked as bytes: "/" followed by a combining mark is one Character.
    @Test(arguments: ["app/../\u{301}x", "app/..\u{301}/../x", "/app/Dockerfile", "app/\u{1B}[2J", "app/a/../../b"])
    func entriesOutsideTheFolderAreRefused(_ name: String) {
        let archive = TarArchive(entries: [.init(name: "app/Dockerfile"), .init(name: name)])
        let reread = try? TarArchive(bytes: archive.bytes())
        #expect(throws: MicadoError.self, "\(name.unicodeScalars.map(\.value))") {
            try reread?.rerootedBuildContext() ?? archive.rerootedBuildContext()
        }
    }

    /// The names an archive makes the reader hold are bounded, whatever the archive's size.
    @Test func namesAreBounded() {
        let long = String(repeating: "n", count: 65_000)
        let entries =
            [TarArchive.Entry(name: "app/Dockerfile")]
            + (0..<(TarReader.maximumNameBytes / 65_000 + 1)).map { TarArchive.Entry(name: "app/\($0)" + long) }
        #expect(throws: MicadoError.self) { try TarArchive(bytes: TarArchive(entries: entries).bytes()) }
    }
}
