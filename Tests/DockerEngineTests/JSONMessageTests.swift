import DockerEngine
import MicadoCore
import Testing

@Suite struct JSONMessageTests {
    /// The engine ends lines with "\r\n": a failed step must fail the build even then,
    /// and even when the tag already names an older image.
    @Test(arguments: ["\n", "\r\n"])
    func aFailedStepFailsTheBuild(_ newline: String) throws {
        let stream =
            [
                #"{"stream":"Step 1/2 : FROM busybox:local"}"#, #"{"stream":"Step 2/2 : RUN false"}"#,
                #"{"errorDetail":{"code":1,"message":"The command '/bin/sh -c false' returned a non-zero code: 1"},"error":"The command '/bin/sh -c false' returned a non-zero code: 1"}"#,
            ].joined(separator: newline) + newline
        let messages = JSONMessage.decodeAll(Array(stream.utf8))
        #expect(messages.count == 3)
        #expect(
            throws: MicadoError(
                .buildFailed,
                "the build failed: The command '/bin/sh -c false' returned a non-zero code: 1\nStep 1/2 : FROM busybox:local\nStep 2/2 : RUN false"
            )
        ) {
            try EngineClient.buildResult(messages)
        }
    }

    @Test func aStreamWithoutTheImageIsAFailure() {
        let messages = JSONMessage.decodeAll(Array(#"{"stream":"Step 1/1 : FROM x"}\#r\#n"#.utf8))
        #expect(throws: MicadoError.self) { try EngineClient.buildResult(messages) }
    }

    @Test func theBuiltImageIsTheOneNamedInAux() throws {
        let stream =
            "{\"stream\":\"Step 1/1 : FROM x\\n\"}\r\n{\"aux\":{\"ID\":\"sha256:abc\"}}\r\n{\"stream\":\"Successfully built abc\\n\"}\r\n"
        let result = try EngineClient.buildResult(JSONMessage.decodeAll(Array(stream.utf8)))
        #expect(result.imageID == "sha256:abc")
        #expect(result.log == ["Step 1/1 : FROM x", "Successfully built abc"])
    }

    @Test func garbageLinesAreSkippedNotFatal() {
        #expect(JSONMessage.decodeAll(Array("not json\r\n\r\n{\"status\":\"x\"}\n{".utf8)).map(\.status) == ["x"])
    }
}
