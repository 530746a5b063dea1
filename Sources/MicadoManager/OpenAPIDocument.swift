import Foundation

/// The API contract, served at `GET /openapi.yaml`: `openapi.yaml` at the repository's root,
/// embedded at build by the EmbedFiles plugin (never a generated file in git).
public enum OpenAPIDocument {
    public static let yaml: String = {
        guard let base64 = OpenAPIFiles.base64["openapi.yaml"], let data = Data(base64Encoded: base64) else {
            preconditionFailure("the build embeds openapi.yaml")
        }
        return String(decoding: data, as: UTF8.self)
    }()
}
