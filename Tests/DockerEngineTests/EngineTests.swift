import DockerEngine
import MicadoCore
import Testing

@Suite struct APIVersionTests {
    @Test func debianEngineSpeaks141() {
        #expect(APIVersion.negotiate(server: APIVersion(1, 41), serverMinimum: APIVersion(1, 12)) == APIVersion(1, 41))
    }

    @Test func currentEngineGetsOurNewest() {
        // Docker 28 speaks 1.50 and refuses clients below 1.44.
        #expect(APIVersion.negotiate(server: APIVersion(1, 50), serverMinimum: APIVersion(1, 44)) == APIVersion.newestKnown)
    }

    @Test func tooOldOrTooNewIsRefused() {
        #expect(APIVersion.negotiate(server: APIVersion(1, 40), serverMinimum: nil) == nil)
        #expect(APIVersion.negotiate(server: APIVersion(1, 60), serverMinimum: APIVersion(1, 50)) == nil)
    }

    @Test func parsingAndOrder() {
        #expect(APIVersion("1.41")! < APIVersion("1.100")!)
        #expect(APIVersion("x") == nil)
        #expect(APIVersion("1.41")?.description == "1.41")
    }
}

@Suite struct EngineEndpointTests {
    @Test func parses() throws {
        #expect(try EngineEndpoint.parse("unix:///run/docker.sock").transport == .unix(path: "/run/docker.sock"))
        #expect(try EngineEndpoint.parse("tcp://10.0.0.5:2376").transport == .tcp(host: "10.0.0.5", port: 2376))
        #expect(try EngineEndpoint.parse("tcp://[::1]:2376").transport == .tcp(host: "::1", port: 2376))
        #expect(try EngineEndpoint.parse("tcp://[::1]:2376").description == "tcp://[::1]:2376")
    }

    @Test(arguments: ["", "unix://relative.sock", "tcp://host", "tcp://host:99999", "http://x:1"])
    func rejects(_ text: String) {
        #expect(throws: MicadoError.self) { try EngineEndpoint.parse(text) }
    }
}

@Suite struct LogDemultiplexerTests {
    static func frame(_ stream: UInt8, _ text: String) -> [UInt8] {
        let bytes = Array(text.utf8)
        let n = bytes.count
        return [stream, 0, 0, 0, UInt8(n >> 24 & 0xff), UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)] + bytes
    }

    @Test func splitsStreamsAndLines() {
        let bytes = Self.frame(1, "hel") + Self.frame(2, "oops\n") + Self.frame(1, "lo\nworld\n") + Self.frame(1, "tail")
        #expect(
            LogDemultiplexer.lines(bytes) == [
                LogLine(stream: .stderr, text: "oops"), LogLine(stream: .stdout, text: "hello"),
                LogLine(stream: .stdout, text: "world"), LogLine(stream: .stdout, text: "tail"),
            ]
        )
        let (out, err) = LogDemultiplexer.split(bytes)
        #expect(String(decoding: out, as: UTF8.self) == "hello\nworld\ntail")
        #expect(String(decoding: err, as: UTF8.self) == "oops\n")
    }

    @Test func decodesFramesSplitAtAnyByte() {
        let bytes = Self.frame(1, "out") + Self.frame(2, "err") + Self.frame(1, "") + Self.frame(1, "more")
        var decoder = StreamFrameDecoder()
        var frames: [StreamFrameDecoder.Frame] = []
        for byte in bytes { frames += decoder.feed([byte]) }
        #expect(frames.map(\.stream) == [.stdout, .stderr, .stdout, .stdout])
        #expect(frames.map { String(decoding: $0.bytes, as: UTF8.self) } == ["out", "err", "", "more"])
        #expect(decoder.finish().isEmpty)
    }

    @Test func ttyOutputIsPlain() {
        #expect(LogDemultiplexer.lines(Array("a\nb\n".utf8)) == [LogLine(stream: .stdout, text: "a"), LogLine(stream: .stdout, text: "b")])
    }
}
