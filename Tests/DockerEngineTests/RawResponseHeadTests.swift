import MicadoCore
import Testing

@testable import DockerEngine

/// The head of the engine's answer to a hijacking request, read off a raw connection.
@Suite struct RawResponseHeadTests {
    @Test func upgradeHeadAndTheBytesAfterIt() throws {
        let bytes = Array(
            "HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\nhello"
                .utf8
        )
        let (head, bodyStart) = try #require(try RawResponseHead.parse(bytes))
        #expect(head.status == 101)
        #expect(head.headers["upgrade"] == "tcp")
        #expect(String(decoding: bytes[bodyStart...], as: UTF8.self) == "hello")
    }

    @Test func incompleteHeadWaitsForMore() throws {
        let whole = Array("HTTP/1.1 404 Not Found\r\nContent-Length: 29\r\n\r\n".utf8)
        for cut in 0..<whole.count {
            #expect(try RawResponseHead.parse(Array(whole[..<cut])) == nil, "cut at \(cut)")
        }
        let (head, _) = try #require(try RawResponseHead.parse(whole))
        #expect(head.status == 404)
        #expect(head.contentLength == 29)
    }

    @Test func garbageIsAnEngineError() {
        #expect(throws: MicadoError.self) { try RawResponseHead.parse(Array("SSH-2.0-OpenSSH\r\n\r\n".utf8)) }
    }
}
