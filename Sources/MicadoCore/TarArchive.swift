/// A minimal tar codec: enough to re-root a build context and to move single files
/// through the Engine's archive endpoints.
///
/// Reads ustar, GNU long names (`L`) and PAX path records (`x`); writes ustar, with a
/// PAX record for names longer than ustar allows.
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

        public init(name: String, kind: Kind = .file, mode: Int = 0o644, linkName: String = "", contents: [UInt8] = [], modificationTime: Int = 0) {
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

    // MARK: reading

    public init(bytes: [UInt8]) throws(MicadoError) {
        var entries: [Entry] = []
        var offset = 0
        var pendingName: String?
        var pendingLink: String?
        while offset + 512 <= bytes.count {
            let header = Array(bytes[offset..<offset + 512])
            if header.allSatisfy({ $0 == 0 }) { break }
            guard Self.checksumMatches(header) else {
                throw .badRequest("the file is not a tar archive (bad header checksum at byte \(offset))")
            }
            guard let size = Self.octal(header[124..<136]) else {
                throw .badRequest("the tar archive has a bad size field at byte \(offset)")
            }
            let start = offset + 512
            guard start + size <= bytes.count else {
                throw .badRequest("the tar archive is truncated")
            }
            let body = Array(bytes[start..<start + size])
            offset = start + (size + 511) / 512 * 512
            let typeflag = header[156]
            switch typeflag {
            case 0x4c:  // 'L': GNU long name for the next entry
                pendingName = Self.cString(body[...])
                continue
            case 0x4b:  // 'K': GNU long link name
                pendingLink = Self.cString(body[...])
                continue
            case 0x78:  // 'x': PAX extended header for the next entry
                let records = Self.paxRecords(body)
                if let path = records["path"] { pendingName = path }
                if let link = records["linkpath"] { pendingLink = link }
                continue
            case 0x67:  // 'g': global PAX header, nothing we need
                continue
            default:
                break
            }
            var name = Self.cString(header[0..<100])
            let magic = Self.cString(header[257..<263])
            if magic.hasPrefix("ustar") {
                let prefix = Self.cString(header[345..<500])
                if !prefix.isEmpty { name = prefix + "/" + name }
            }
            if let long = pendingName { name = long }
            let link = pendingLink ?? Self.cString(header[157..<257])
            pendingName = nil
            pendingLink = nil
            let kind: Kind
            switch typeflag {
            case 0x30, 0x00, 0x37: kind = .file
            case 0x31: kind = .hardLink
            case 0x32: kind = .symbolicLink
            case 0x35: kind = .directory
            default: continue  // devices, fifos: never part of what micado moves
            }
            entries.append(
                Entry(
                    name: name, kind: kind, mode: Self.octal(header[100..<108]) ?? 0o644, linkName: link,
                    contents: kind == .file ? body : [], modificationTime: Self.octal(header[136..<148]) ?? 0))
        }
        self.entries = entries
    }

    // MARK: writing

    public func bytes() -> [UInt8] {
        var out: [UInt8] = []
        for entry in entries {
            var name = entry.name
            if entry.kind == .directory, !name.hasSuffix("/") { name += "/" }
            if name.utf8.count > 100 || entry.linkName.utf8.count > 100 {
                var records = Self.paxRecord("path", name)
                if entry.linkName.utf8.count > 100 { records += Self.paxRecord("linkpath", entry.linkName) }
                out += Self.header(name: "PaxHeader", size: records.count, mode: 0o644, mtime: 0, typeflag: 0x78, link: "")
                out += Self.padded(records)
            }
            let size = entry.kind == .file ? entry.contents.count : 0
            out += Self.header(
                name: String(name.utf8.prefix(100))!, size: size, mode: entry.mode, mtime: entry.modificationTime,
                typeflag: entry.kind.rawValue, link: String(entry.linkName.utf8.prefix(100))!)
            if entry.kind == .file { out += Self.padded(entry.contents) }
        }
        out += [UInt8](repeating: 0, count: 1024)
        return out
    }

    // MARK: build contexts

    /// The seed's build layout: one top folder holding a `Dockerfile` and what it uses.
    /// Returns the archive with that folder stripped, so the folder becomes the build context.
    public func rerootedBuildContext() throws(MicadoError) -> TarArchive {
        let names = entries.map { Self.normalize($0.name) }.filter { !$0.isEmpty }
        let tops = Set(names.map { String($0.split(separator: "/", maxSplits: 1)[0]) })
        guard tops.count == 1, let top = tops.first else {
            if tops.isEmpty { throw .badRequest("the tarball is empty: put a folder with a Dockerfile in it") }
            throw .badRequest(
                "the tarball must hold a single top folder with the Dockerfile inside; it holds \(tops.sorted().prefix(5).joined(separator: ", "))")
        }
        guard names.contains(where: { $0.hasPrefix(top + "/") }) else {
            throw .badRequest("the tarball holds only '\(top)'; put a folder with a Dockerfile in it (tar -cf app.tar app/)")
        }
        guard names.contains(top + "/Dockerfile") else {
            throw .badRequest("the tarball's folder '\(top)' has no Dockerfile (expected \(top)/Dockerfile)")
        }
        var rerooted: [Entry] = []
        for var entry in entries {
            let name = Self.normalize(entry.name)
            guard name != top else { continue }
            entry.name = String(name.dropFirst(top.count + 1))
            if entry.kind == .hardLink {
                let link = Self.normalize(entry.linkName)
                entry.linkName = link.hasPrefix(top + "/") ? String(link.dropFirst(top.count + 1)) : link
            }
            rerooted.append(entry)
        }
        return TarArchive(entries: rerooted)
    }

    static func normalize(_ name: String) -> String {
        var n = Substring(name)
        while n.hasPrefix("./") { n = n.dropFirst(2) }
        while n.hasSuffix("/") { n = n.dropLast() }
        return n == "." ? "" : String(n)
    }

    // MARK: field codecs

    static func cString(_ field: ArraySlice<UInt8>) -> String {
        let end = field.firstIndex(of: 0) ?? field.endIndex
        return String(decoding: field[field.startIndex..<end], as: UTF8.self)
    }

    static func octal(_ field: ArraySlice<UInt8>) -> Int? {
        if let first = field.first, first & 0x80 != 0 {  // GNU base-256 for large sizes
            return field.dropFirst().reduce(0) { $0 << 8 | Int($1) }
        }
        let text = cString(field).trimmingCharacters(in: " ")
        if text.isEmpty { return 0 }
        return Int(text, radix: 8)
    }

    static func checksumMatches(_ header: [UInt8]) -> Bool {
        guard let stored = octal(header[148..<156]) else { return false }
        var sum = 0
        for (i, byte) in header.enumerated() { sum += (148..<156).contains(i) ? 0x20 : Int(byte) }
        return sum == stored
    }

    static func paxRecords(_ body: [UInt8]) -> [String: String] {
        var records: [String: String] = [:]
        var i = 0
        while i < body.count {
            guard let space = body[i...].firstIndex(of: 0x20), let length = Int(String(decoding: body[i..<space], as: UTF8.self)),
                length > 0, i + length <= body.count
            else { break }
            let record = String(decoding: body[(space + 1)..<(i + length - 1)], as: UTF8.self)
            if let eq = record.firstIndex(of: "=") {
                records[String(record[..<eq])] = String(record[record.index(after: eq)...])
            }
            i += length
        }
        return records
    }

    static func paxRecord(_ key: String, _ value: String) -> [UInt8] {
        let payload = " \(key)=\(value)\n"
        var length = payload.utf8.count + 1
        while String(length).utf8.count + payload.utf8.count != length { length += 1 }
        return Array((String(length) + payload).utf8)
    }

    static func padded(_ bytes: [UInt8]) -> [UInt8] {
        bytes + [UInt8](repeating: 0, count: (512 - bytes.count % 512) % 512)
    }

    static func header(name: String, size: Int, mode: Int, mtime: Int, typeflag: UInt8, link: String) -> [UInt8] {
        var h = [UInt8](repeating: 0, count: 512)
        func put(_ text: String, at offset: Int, width: Int) {
            for (i, b) in text.utf8.prefix(width).enumerated() { h[offset + i] = b }
        }
        func putOctal(_ value: Int, at offset: Int, width: Int) {
            put(String(String(value, radix: 8).suffix(width - 1)).leftPadded(to: width - 1), at: offset, width: width - 1)
        }
        put(name, at: 0, width: 100)
        putOctal(mode & 0o7777, at: 100, width: 8)
        putOctal(0, at: 108, width: 8)
        putOctal(0, at: 116, width: 8)
        putOctal(size, at: 124, width: 12)
        putOctal(mtime, at: 136, width: 12)
        h[156] = typeflag
        put(link, at: 157, width: 100)
        put("ustar", at: 257, width: 6)
        put("00", at: 263, width: 2)
        for i in 148..<156 { h[i] = 0x20 }
        let sum = h.reduce(0) { $0 + Int($1) }
        put(String(String(sum, radix: 8)).leftPadded(to: 6), at: 148, width: 6)
        h[154] = 0
        h[155] = 0x20
        return h
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }

    func trimmingCharacters(in set: Character) -> String {
        var s = Substring(self)
        while s.first == set { s.removeFirst() }
        while s.last == set { s.removeLast() }
        return String(s)
    }
}
