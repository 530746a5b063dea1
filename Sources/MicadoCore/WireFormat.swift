import Foundation

/// JSON as micado writes it on the API and for `--output json`: sorted keys, ISO 8601 dates.
public enum WireFormat {
    public static func encoder(pretty: Bool = false) -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        // Milliseconds matter: events of one launch fall within the same second.
        e.dateEncodingStrategy = .custom { date, encoder in
            var c = encoder.singleValueContainer()
            try c.encode(RFC3339.string(date))
        }
        return e
    }

    public static func decoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            if let date = RFC3339.date(text) { return date }
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an ISO 8601 date: \(text)"))
        }
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
