import Foundation
@testable import MicadoManager
import Testing

/// The contract the manager serves is the repository's openapi.yaml, and it knows every route.
struct APIContractTests {
    static var repositoryDocument: String {
        get throws {
            var url = URL(fileURLWithPath: #filePath)
            for _ in 0..<3 { url.deleteLastPathComponent() }
            return try String(contentsOf: url.appendingPathComponent("openapi.yaml"), encoding: .utf8)
        }
    }

    @Test func theServedDocumentIsTheRepositorysFile() throws {
        #expect(OpenAPIDocument.yaml + "\n" == (try Self.repositoryDocument), "run scripts/embed-openapi.sh after editing openapi.yaml")
    }

    @Test func methodsComeFromTheDocument() {
        #expect(APIContract.methods(of: "/v1/containers") == ["GET", "POST"])
        #expect(APIContract.methods(of: "/v1/containers/container-web") == ["GET", "DELETE"])
        #expect(APIContract.methods(of: "/v1/containers/container-web/quit") == ["POST"])
        #expect(APIContract.methods(of: "/v1/applications/shop") == ["DELETE"])
        #expect(APIContract.methods(of: "/v1/nothing") == nil)
        #expect(APIContract.methods(of: "/v1/containers//quit") == nil)
        #expect(APIContract.methods(of: "/v1/session") == ["POST", "GET", "DELETE"])
        #expect(APIContract.methods(of: "/") == ["GET"])
        #expect(APIContract.methods(of: "/assets/app.js") == ["GET"])
        #expect(APIContract.routes.reduce(0) { $0 + $1.methods.count } == 36, "every operation of HTTPAPI.swift and Dashboard.swift, and GET /openapi.yaml")
    }
}
