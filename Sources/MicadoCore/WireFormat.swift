import Foundation

/// JSON as micado writes it on the API and for `--output json`: sorted keys, ISO 8601 dates.
public enum WireFormat {
    public static func encoder(pretty: Bool = false) -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        e.dateEncodingStrategy = .iso8601
        return e
    }

    public static func decoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        return d
    }
}

/// The body of every error answer: `{"error":{"code":…,"message":…}}`.
public struct ErrorBody: Codable, Sendable {
    public struct Detail: Codable, Sendable {
        public var code: MicadoError.Code
        public var message: String
    }
    public var error: Detail

    public init(_ error: MicadoError) {
        self.error = Detail(code: error.code, message: error.message)
    }

    public var micadoError: MicadoError { MicadoError(error.code, error.message) }
}
