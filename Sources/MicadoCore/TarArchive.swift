/// A tar codec for what micado moves: build contexts (uploaded by users, so hostile until
/// proven otherwise) and single files through the Engine's archive endpoints.
///
/// Reads ustar, GNU long names (`L`, `K`), GNU base-256 numbers and PAX `path`/`linkpath`
/// records; writes ustar, with a PAX record for names longer than ustar allows. Reading
/// never trusts a field: every size is checked against what is left, every PAX record
/// against its own length, and an archive without its end-of-archive block is refused as
/// truncated. Reading works on a `TarSource`, so a large upload can be checked and
/// rewritten from a file without holding it in memory (see `BuildContext`).
public struct TarArchive: Sendable, Equatable {
    public enum Kind: UInt8, Sendable {
        case file = 0x30  // '0'
        case hardLink = 0x31
        case symbolicLink = 0x32
        case directory = 0x35
    }

    public struct Entry: Sendable, Equatable {
        public var name: String
        public var kind: Kind
        public var mode: Int
        public var linkName: String
        public var contents: [UInt8]
        public var modificationTime: Int

        public init(
            name: String,
            kind: Kind = .file,
            mode: Int = 0o644,
            linkName: String = "",
            contents: [UInt8] = [],
            modificationTime: Int = 0
        ) {
            self.name = name
            self.kind = kind
            self.mode = mode
            self.linkName = linkName
            self.contents = contents
            self.modificationTime = modificationTime
        }
    }

    public var entries: [Entry]

    public init(entries: [Entry]) { self.entries = entries }

    /// Reads a whole archive held in memory.
    public init(bytes: [UInt8]) throws(MicadoError) {
        let source = TarBytes(bytes)
        entries = try TarReader.headers(in: source).map { header throws(MicadoError) in
            Entry(
                name: header.name,
                kind: header.kind,
                mode: header.mode,
                linkName: header.linkName,
                contents: header.kind == .file ? try source.read(header.dataOffset..<header.dataOffset + header.size) : [],
                modificationTime: header.modificationTime
            )
        }
    }

    /// The archive's bytes, end-of-archive blocks included.
    public func bytes() -> [UInt8] {
        var out: [UInt8] = []
        for entry in entries {
            let header = TarHeader(
                name: entry.name,
                kind: entry.kind,
                mode: entry.mode,
                linkName: entry.linkName,
                size: entry.kind == .file ? entry.contents.count : 0,
                modificationTime: entry.modificationTime,
                dataOffset: 0
            )
            out += TarWriter.headerBlocks(header)
            if entry.kind == .file { out += TarWriter.padded(entry.contents) }
        }
        out += TarWriter.endOfArchive
        return out
    }

    /// The seed's build layout, re-rooted (see `BuildContext`), for archives in memory.
    public func rerootedBuildContext() throws(MicadoError) -> TarArchive {
        let headers = entries.map {
            TarHeader(
                name: $0.name,
                kind: $0.kind,
                mode: $0.mode,
                linkName: $0.linkName,
                size: $0.contents.count,
                modificationTime: $0.modificationTime,
                dataOffset: 0
            )
        }
        let plan = try BuildContext.reroot(headers)
        var rerooted: [Entry] = []
        for (index, header) in plan {
            var entry = entries[index]
            entry.name = header.name
            entry.linkName = header.linkName
            rerooted.append(entry)
        }
        return TarArchive(entries: rerooted)
    }
}

/// Random access to an archive's bytes: in memory, or a spooled upload on disk.
public protocol TarSource: Sendable {
    var count: Int { get }
    /// The bytes in `range`, which lies within `0..<count`.
    func read(_ range: Range<Int>) throws(MicadoError) -> [UInt8]
}

public struct TarBytes: TarSource {
    let bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public var count: Int { bytes.count }
    public func read(_ range: Range<Int>) throws(MicadoError) -> [UInt8] { Array(bytes[range]) }
}

/// One entry as its headers describe it; its data is `size` bytes at `dataOffset` of the source.
public struct TarHeader: Sendable, Equatable {
    public var name: String
    public var kind: TarArchive.Kind
    public var mode: Int
    public var linkName: String
    public var size: Int
    public var modificationTime: Int
    public var dataOffset: Int

    public init(name: String, kind: TarArchive.Kind, mode: Int, linkName: String, size: Int, modificationTime: Int, dataOffset: Int) {
        self.name = name
        self.kind = kind
        self.mode = mode
        self.linkName = linkName
        self.size = size
        self.modificationTime = modificationTime
        self.dataOffset = dataOffset
    }
}

public enum TarReader {
    /// Longest GNU long name or PAX header micado reads (PATH_MAX is 4096).
    static let maximumMetadataBytes = 64 << 10
    /// More entries than any build context needs; bounds the header list.
    public static let maximumEntries = 200_000
    /// All names and link targets together: bounds what the header list holds in memory.
    public static let maximumNameBytes = 16 << 20

    /// Every entry's header, validated. Throws `badRequest` with the reason and the byte
    /// offset on anything malformed or truncated.
    public static func headers(in source: some TarSource) throws(MicadoError) -> [TarHeader] {
        var headers: [TarHeader] = []
        var offset = 0
        var pendingName: String?
        var pendingLink: String?
        var nameBytes = 0
        while true {
            guard offset + 512 <= source.count else {
                throw .badRequest(
                    offset == source.count
                        ? "the tar archive is truncated: it ends at byte \(offset) without its end-of-archive block"
                        : "the tar archive is truncated inside a header at byte \(offset)"
                )
            }
            let header = try source.read(offset..<offset + 512)
            if header.allSatisfy({ $0 == 0 }) {
                guard pendingName == nil, pendingLink == nil else {
                    throw .badRequest("the tar archive ends after a long-name header at byte \(offset), without its entry")
                }
                return headers
            }
            guard checksumMatches(header) else {
                throw .badRequest("the file is not a tar archive (bad header checksum at byte \(offset))")
            }
            let start = offset + 512
            guard let size = number(header[124..<136]), size >= 0 else {
                throw .badRequest("the tar archive has a bad size field at byte \(offset)")
            }
            guard size <= source.count - start else {
                throw .badRequest(
                    "the tar archive is truncated: the entry at byte \(offset) needs \(size) bytes, \(source.count - start) are left"
                )
            }
            offset = start + (size + 511) / 512 * 512
            let typeflag = header[156]
            switch typeflag {
            case 0x4c, 0x4b, 0x78:  // 'L', 'K': GNU long name / link; 'x': PAX header for the next entry
                guard size <= maximumMetadataBytes else {
                    throw .badRequest(
                        "the tar archive has a \(size)-byte metadata entry at byte \(start - 512); at most \(maximumMetadataBytes) bytes are read"
                    )
                }
                let body = try source.read(start..<start + size)
                if typeflag == 0x78 {
                    let records = try paxRecords(body, at: start - 512)
                    if let path = records["path"] { pendingName = path }
                    if let link = records["linkpath"] { pendingLink = link }
                } else if typeflag == 0x4c {
                    pendingName = cString(body[...])
                } else {
                    pendingLink = cString(body[...])
                }
                continue
            case 0x67:  // 'g': global PAX header, nothing micado needs
                continue
            default:
                break
            }
            var name = cString(header[0..<100])
            if cString(header[257..<263]).hasPrefix("ustar") {
                let prefix = cString(header[345..<500])
                if !prefix.isEmpty { name = prefix + "/" + name }
            }
            if let long = pendingName { name = long }
            let link = pendingLink ?? cString(header[157..<257])
            pendingName = nil
            pendingLink = nil
            let kind: TarArchive.Kind
            switch typeflag {
            case 0x30, 0x00, 0x37: kind = .file
            case 0x31: kind = .hardLink
            case 0x32: kind = .symbolicLink
            case 0x35: kind = .directory
            default: continue  // devices, fifos: never part of what micado moves
            }
            guard headers.count < maximumEntries else {
                throw .init(.tooLarge, "the tar archive has more than \(maximumEntries) entries")
            }
            nameBytes += name.utf8.count + link.utf8.count
            guard nameBytes <= maximumNameBytes else {
                throw .init(.tooLarge, "the tar archive's names take more than \(maximumNameBytes) bytes")
            }
            headers.append(
                TarHeader(
                    name: name,
                    kind: kind,
                    mode: number(header[100..<108]).map { $0 & 0o7777 } ?? 0o644,
                    linkName: link,
                    size: kind == .file ? size : 0,
                    modificationTime: number(header[136..<148]) ?? 0,
                    dataOffset: start
                )
            )
        }
    }

    // MARK: field codecs

    static func cString(_ field: ArraySlice<UInt8>) -> String {
        let end = field.firstIndex(of: 0) ?? field.endIndex
        return String(decoding: field[field.startIndex..<end], as: UTF8.self)
    }

    /// A numeric field: octal digits (spaces and NULs around them), or GNU base-256 when the
    /// first byte has its high bit set. Nil when malformed or beyond `Int`; negative
    /// base-256 values (first byte 0xFF) are returned as nil too, since no field micado
    /// reads can be negative.
    static func number(_ field: ArraySlice<UInt8>) -> Int? {
        guard let first = field.first else { return nil }
        if first & 0x80 != 0 {
            guard first == 0x80 else { return nil }
            var value = 0
            for byte in field.dropFirst() {
                let (shifted, overflow) = value.multipliedReportingOverflow(by: 256)
                guard !overflow, shifted <= Int.max - Int(byte) else { return nil }
                value = shifted + Int(byte)
            }
            return value
        }
        var value = 0
        var digits = 0
        var ended = false
        for byte in field {
            switch byte {
            case 0x30...0x37 where !ended:
                let (shifted, overflow) = value.multipliedReportingOverflow(by: 8)
                guard !overflow else { return nil }
                value = shifted + Int(byte - 0x30)
                digits += 1
            case 0x20 where digits == 0: continue  // leading spaces
            case 0x20, 0x00: ended = true  // trailing space or NUL ends the number
            default: return nil
            }
        }
        return value
    }

    static func checksumMatches(_ header: [UInt8]) -> Bool {
        guard let stored = number(header[148..<156]) else { return false }
        var unsigned = 0
        var signed = 0
        for (i, byte) in header.enumerated() {
            let value = (148..<156).contains(i) ? 0x20 : byte
            unsigned += Int(value)
            signed += Int(Int8(bitPattern: value))
        }
        return stored == unsigned || stored == signed
    }

    /// PAX records: `LENGTH KEY=VALUE\n`, LENGTH counting the whole record.
    static func paxRecords(_ body: [UInt8], at offset: Int) throws(MicadoError) -> [String: String] {
        var records: [String: String] = [:]
        var i = 0
        while i < body.count {
            if body[i] == 0 { break }  // padding some writers leave after the records
            guard let space = body[i...].prefix(20).firstIndex(of: 0x20),
                let length = Int(String(decoding: body[i..<space], as: UTF8.self)), length > space - i + 1,
                length <= body.count - i, body[i + length - 1] == 0x0a
            else {
                throw .badRequest("the tar archive has a malformed PAX record in the header at byte \(offset)")
            }
            let record = body[(space + 1)..<(i + length - 1)]
            if let eq = record.firstIndex(of: 0x3d) {
                records[String(decoding: record[..<eq], as: UTF8.self)] = String(decoding: record[(eq + 1)...], as: UTF8.self)
            }
            i += length
        }
        return records
    }
}

public enum TarWriter {
    public static let endOfArchive = [UInt8](repeating: 0, count: 1024)

    /// The header block(s) of one entry: a PAX header first when a name does not fit ustar.
    public static func headerBlocks(_ entry: TarHeader) -> [UInt8] {
        var name = entry.name
        if entry.kind == .directory, !name.hasSuffix("/") { name += "/" }
        var out: [UInt8] = []
        if name.utf8.count > 100 || entry.linkName.utf8.count > 100 {
            var records = paxRecord("path", name)
            if entry.linkName.utf8.count > 100 { records += paxRecord("linkpath", entry.linkName) }
            out += header(name: "PaxHeader", size: records.count, mode: 0o644, mtime: 0, typeflag: 0x78, link: "")
            out += padded(records)
        }
        out += header(
            name: utf8Prefix(name, 100),
            size: entry.kind == .file ? entry.size : 0,
            mode: entry.mode,
            mtime: entry.modificationTime,
            typeflag: entry.kind.rawValue,
            link: utf8Prefix(entry.linkName, 100)
        )
        return out
    }

    /// The longest prefix of `text` that fits in `bytes` UTF-8 bytes without cutting a character.
    static func utf8Prefix(_ text: String, _ bytes: Int) -> String {
        var used = 0
        var end = text.unicodeScalars.startIndex
        for scalar in text.unicodeScalars {
            let width = String(scalar).utf8.count
            guard used + width <= bytes else { break }
            used += width
            end = text.unicodeScalars.index(after: end)
        }
        return String(text.unicodeScalars[..<end])
    }

    public static func paxRecord(_ key: String, _ value: String) -> [UInt8] {
        let payload = " \(key)=\(value)\n"
        var length = payload.utf8.count + 1
        while String(length).utf8.count + payload.utf8.count != length { length += 1 }
        return Array((String(length) + payload).utf8)
    }

    public static func padding(for size: Int) -> Int { (512 - size % 512) % 512 }

    static func padded(_ bytes: [UInt8]) -> [UInt8] {
        bytes + [UInt8](repeating: 0, count: padding(for: bytes.count))
    }

    static func header(name: String, size: Int, mode: Int, mtime: Int, typeflag: UInt8, link: String) -> [UInt8] {
        var h = [UInt8](repeating: 0, count: 512)
        func put(_ text: String, at offset: Int, width: Int) {
            for (i, b) in text.utf8.prefix(width).enumerated() { h[offset + i] = b }
        }
        func putNumber(_ value: Int, at offset: Int, width: Int) {
            let octal = String(max(0, value), radix: 8)
            if octal.count <= width - 1 {
                put(String(repeating: "0", count: width - 1 - octal.count) + octal, at: offset, width: width - 1)
            } else {  // GNU base-256 for values octal cannot hold (files of 8 GiB and more)
                h[offset] = 0x80
                var v = value
                for i in stride(from: width - 1, to: 0, by: -1) {
                    h[offset + i] = UInt8(v & 0xff)
                    v >>= 8
                }
            }
        }
        put(name, at: 0, width: 100)
        putNumber(mode & 0o7777, at: 100, width: 8)
        putNumber(0, at: 108, width: 8)
        putNumber(0, at: 116, width: 8)
        putNumber(size, at: 124, width: 12)
        putNumber(mtime, at: 136, width: 12)
        h[156] = typeflag
        put(link, at: 157, width: 100)
        put("ustar", at: 257, width: 6)
        put("00", at: 263, width: 2)
        for i in 148..<156 { h[i] = 0x20 }
        let sum = h.reduce(0) { $0 + Int($1) }
        let octal = String(sum, radix: 8)
        put(String(repeating: "0", count: max(0, 6 - octal.count)) + octal, at: 148, width: 6)
        h[154] = 0
        h[155] = 0x20
        return h
    }
}

/// The seed's build layout: one top folder holding a `Dockerfile` and what it uses. The
/// folder is stripped, so it becomes the build context.
public enum BuildContext {
    /// The entries to keep, each with its index in `headers` and its re-rooted names.
    /// `dockerfile`: its path in the context (Compose's `build.dockerfile`), which must be there.
    public static func reroot(_ headers: [TarHeader], dockerfile: String = "Dockerfile") throws(MicadoError) -> [(Int, TarHeader)] {
        let names = try headers.map { header throws(MicadoError) in
            let name = normalize(header.name)
            try checkPath(name, of: header.name)
            return name
        }
        // Paths are compared as bytes: "/" then a combining mark is one Character, not a separator.
        let tops = Set(
            names.filter { !$0.isEmpty }.map { String(decoding: $0.utf8.split(separator: 0x2F, maxSplits: 1)[0], as: UTF8.self) }
        )
        guard tops.count == 1, let top = tops.first else {
            if tops.isEmpty { throw .badRequest("the tarball is empty: put a folder with a Dockerfile in it") }
            throw .badRequest(
                "the tarball must hold a single top folder with the Dockerfile inside; it holds \(tops.sorted().prefix(5).map { Text.escaped($0) }.joined(separator: ", "))"
            )
        }
        let inside = Array((top + "/").utf8)
        func strip(_ path: String) -> String? {
            path.utf8.starts(with: inside) ? String(decoding: path.utf8.dropFirst(inside.count), as: UTF8.self) : nil
        }
        guard names.contains(where: { strip($0) != nil }) else {
            throw .badRequest("the tarball holds only '\(Text.escaped(top))'; put a folder with a Dockerfile in it (tar -cf app.tar app/)")
        }
        let wanted = normalize(dockerfile)
        guard names.contains(where: { strip($0) == wanted }) else {
            throw .badRequest(
                "the tarball's folder '\(Text.escaped(top))' has no \(Text.escaped(wanted)) (expected \(Text.escaped(top))/\(Text.escaped(wanted)))"
            )
        }
        var kept: [(Int, TarHeader)] = []
        for (index, var header) in headers.enumerated() {
            guard let name = strip(names[index]) else { continue }  // the top folder itself
            header.name = name
            if header.kind == .hardLink {
                let link = normalize(header.linkName)
                try checkPath(link, of: header.linkName)
                header.linkName = strip(link) ?? link
            }
            kept.append((index, header))
        }
        return kept
    }

    /// Entries outside the context (absolute, `..`) or with control characters are refused.
    static func checkPath(_ name: String, of original: String) throws(MicadoError) {
        // Bytes, not Characters: "/" followed by a combining mark is one Character.
        guard name.utf8.first != 0x2F, !name.utf8.split(separator: 0x2F).contains(where: { $0.elementsEqual("..".utf8) }),
            !name.unicodeScalars.contains(where: { Text.isUnsafe($0) })
        else {
            throw .badRequest("the tarball has an entry outside its folder or with control characters: \(Text.escaped(original))")
        }
    }

    static func normalize(_ name: String) -> String {
        var n = Substring(name).utf8[...]
        while n.starts(with: "./".utf8) { n = n.dropFirst(2) }
        while n.last == 0x2F { n = n.dropLast() }
        let text = String(decoding: n, as: UTF8.self)
        return text == "." ? "" : text
    }
}

/// Writes an archive of `plan`'s entries in pieces of at most `chunk` bytes of file data,
/// reading each file's data from `source` (at the entry's `dataOffset`) only when its turn
/// comes: a re-rooted build context, or one file copied into a container.
public struct TarStream: Sendable {
    let source: any TarSource
    let entries: [TarHeader]
    let chunk: Int
    var entry = 0
    var written = 0  // of the current entry's data
    var headerDone = false
    var finished = false

    public init(source: any TarSource, entries: [TarHeader], chunk: Int = 256 << 10) {
        self.source = source
        self.entries = entries
        self.chunk = chunk
    }

    /// Size of the whole archive, for a request's Content-Length.
    public var length: Int {
        entries.reduce(TarWriter.endOfArchive.count) { total, header in
            total + TarWriter.headerBlocks(header).count + header.size + TarWriter.padding(for: header.size)
        }
    }

    /// The next piece, at least `chunk` bytes unless the archive ends first (an archive
    /// of many small files would otherwise go out as tens of thousands of tiny pieces), or
    /// nil at the end.
    public mutating func next() throws(MicadoError) -> [UInt8]? {
        guard var piece = try nextPart() else { return nil }
        while piece.count < chunk, let more = try nextPart() { piece += more }
        return piece
    }

    mutating func nextPart() throws(MicadoError) -> [UInt8]? {
        guard entry < entries.count else {
            if finished { return nil }
            finished = true
            return TarWriter.endOfArchive
        }
        let header = entries[entry]
        if !headerDone {
            headerDone = true
            if header.size == 0 { advance() }
            return TarWriter.headerBlocks(header)
        }
        let count = min(chunk, header.size - written)
        var piece = try source.read(header.dataOffset + written..<header.dataOffset + written + count)
        written += count
        if written == header.size {
            piece += [UInt8](repeating: 0, count: TarWriter.padding(for: header.size))
            advance()
        }
        return piece
    }

    mutating func advance() {
        entry += 1
        written = 0
        headerDone = false
    }
}
