import MicadoCore
import Testing
import Yams

/// YAML read without Yams' regular-expression resolver: the words it resolved are read by hand.
struct YAMLDocumentTests {
    struct Settings: Decodable, Equatable {
        var enabled: Bool
        var name: String?
        var count: Int
        var ratio: Double
    }

    @Test(arguments: ["true", "True", "TRUE", "yes", "Yes", "on", "ON"])
    func plainWordsAreTrue(_ word: String) throws {
        #expect(try YAMLDocument.compose("k: \(word)")?["k"]?.plainBool == true)
        #expect(try YAMLDocument.decode(Settings.self, from: "enabled: \(word)\ncount: 1\nratio: 0.5\n").enabled)
    }

    @Test(arguments: ["false", "False", "FALSE", "no", "No", "off", "OFF"])
    func plainWordsAreFalse(_ word: String) throws {
        #expect(try YAMLDocument.compose("k: \(word)")?["k"]?.plainBool == false)
        #expect(try !YAMLDocument.decode(Settings.self, from: "enabled: \(word)\ncount: 1\nratio: 0.5\n").enabled)
    }

    @Test func quotedWordsStayText() throws {
        let root = try #require(try YAMLDocument.compose("a: 'true'\nb: \"null\"\nc: maybe\nd: 1"))
        #expect(root["a"]?.plainBool == nil)
        #expect(root["a"]?.string == "true")
        #expect(root["b"]?.isPlainNull == false)
        #expect(root["c"]?.plainBool == nil)
        #expect(root["d"]?.int == 1)
        #expect(throws: (any Error).self) { try YAMLDocument.decode(Settings.self, from: "enabled: 'true'\ncount: 1\nratio: 0.5\n") }
    }

    @Test func nullsAndNumbersDecode() throws {
        let settings = try YAMLDocument.decode(Settings.self, from: "enabled: off\nname: ~\ncount: 0x10\nratio: 1e3\n")
        #expect(settings == Settings(enabled: false, name: nil, count: 16, ratio: 1000))
        for null in ["~", "null", "Null", "NULL", ""] {
            #expect(try YAMLDocument.compose("k: \(null)")?["k"]?.isPlainNull == true)
        }
    }

    @Test func mergeKeysMergeWhenDecoding() throws {
        let text = "base: &base {enabled: yes, count: 2, ratio: 0.25}\nvalue:\n  <<: *base\n  count: 3\n"
        struct Wrapper: Decodable { var value: Settings }
        #expect(try YAMLDocument.decode(Wrapper.self, from: text).value == Settings(enabled: true, name: nil, count: 3, ratio: 0.25))
    }

    /// Text through aliases is counted in bytes as well as nodes, and a document inside both
    /// bounds passes whole.
    @Test func expansionCountsBytesThroughAliases() throws {
        let text = "a: &a \"" + String(repeating: "x", count: 1000) + "\"\nb: [*a, *a, *a, *a]\n"
        let root = try #require(try YAMLDocument.compose(text))
        #expect(throws: Never.self) { try YAMLDocument.requireExpansion(of: root, atMost: .init(nodes: 100, scalarBytes: 5003)) }
        #expect { try YAMLDocument.requireExpansion(of: root, atMost: .init(nodes: 100, scalarBytes: 4999)) } throws: { error in
            (error as? YAMLDocument.TooLarge)?.line ?? 0 >= 1
        }
        #expect(throws: YAMLDocument.TooLarge.self) {
            try YAMLDocument.requireExpansion(of: root, atMost: .init(nodes: 5, scalarBytes: 1 << 20))
        }
    }

    /// Counting walks every path through the aliases, so a billion laughs is refused, not expanded.
    @Test func anAliasBombIsRefusedWhenDecoding() {
        var bomb = "a0: &a0 [l, l, l, l, l, l, l, l, l, l]\n"
        for level in 1...9 {
            bomb += "a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ") + "]\n"
        }
        #expect(throws: YAMLDocument.TooLarge.self) {
            try YAMLDocument.decode(Settings.self, from: bomb + "enabled: true\ncount: 1\nratio: 1\n")
        }
    }

    @Test func anEmptyDocumentIsAnEmptyMapping() throws {
        struct Nothing: Decodable, Equatable { var x: Int? }
        #expect(try YAMLDocument.compose("") == nil)
        #expect(try YAMLDocument.decode(Nothing.self, from: "") == Nothing(x: nil))
    }
}

/// What the attack review of the ICU-free YAML found, each kept from coming back.
struct YAMLDocumentHostileTests {
    static func bomb(levels: Int) -> String {
        var text = "x: [&a0 [l, l, l, l, l, l, l, l, l, l]"
        for level in 1...levels { text += ", &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ") + "]" }
        return text + "]\n"
    }

    /// Yams hashes keys to find duplicates; a key holding a bomb would hash for hours.
    @Test(arguments: ["? *a9\n: x\n", "*a9 : x\n", "[*a9, *a9]: x\n", "{k: *a9}: x\n", "y:\n  - ? [*a9]\n    : x\n"])
    func anAliasInsideAKeyIsRefused(_ key: String) {
        #expect(throws: YAMLDocument.AliasInKey.self) { try YAMLDocument.compose(Self.bomb(levels: 9) + key) }
    }

    @Test(arguments: [
        "base: &b {a: 1}\nweb:\n  <<: *b\n  c: [*b, *b]\n",
        "base: &b {a: 1}\nweb: {<<: *b, c: *b}\n",
        "quoted: \"*b: x\"\nlit: |\n  *b: y\nk: 'a *b'\n# *b: z\n",
        "a,*b: plain text key\n",
    ])
    func aliasesInValuesAndLookalikesPass(_ text: String) throws {
        #expect(try YAMLDocument.compose(text) != nil)
    }

    @Test func explicitStrTagsKeepWordsText() throws {
        let root = try #require(try YAMLDocument.compose("a: !!str yes\nb: !!str null\nc: yes\n"))
        #expect(root["a"]?.plainBool == nil)
        #expect(root["b"]?.isPlainNull == false)
        #expect(root["c"]?.plainBool == true)
    }

    @Test func anExplicitlyTaggedMappingDecodes() throws {
        struct Nothing: Decodable, Equatable { var x: Int? }
        #expect(try YAMLDocument.decode(Nothing.self, from: "!!map {x: 1}") == Nothing(x: 1))
    }
}
