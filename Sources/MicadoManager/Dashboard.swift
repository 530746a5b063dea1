import Foundation
import HTTPTypes
import Hummingbird
import MicadoCore
import NIOCore

/// Serves the dashboard: `/` and `/assets/{file}`, from files embedded in the binary at
/// build (Sources/MicadoManager/Dashboard, Chart.js from Debian's libjs-chart.js; see the
/// EmbedDashboard plugin). No token: the page holds nothing secret; it logs in through
/// `/v1/session` and reads everything from the API.
enum Dashboard {
    struct Asset: Sendable {
        var bytes: ByteBuffer
        var contentType: String
    }

    /// Decoded once, on first use.
    static let assets: [String: Asset] = {
        var assets: [String: Asset] = [:]
        for (name, base64) in DashboardAssets.base64 {
            guard let data = Data(base64Encoded: base64) else { continue }
            assets[name] = Asset(bytes: ByteBuffer(bytes: data), contentType: contentType(of: name))
        }
        return assets
    }()

    static func contentType(of name: String) -> String {
        switch name.split(separator: ".").last {
        case "html": "text/html; charset=utf-8"
        case "js": "text/javascript; charset=utf-8"
        case "css": "text/css; charset=utf-8"
        case "svg": "image/svg+xml"
        default: "application/octet-stream"
        }
    }

    /// Scripts, styles and connections from this origin only; no inline code, no frames,
    /// no plugins. Chart.js styles its canvas through the CSSOM, which this allows.
    static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

    static func addRoutes(to router: Router<APIRequestContext>) {
        router.get("/") { _, _ in try response("index.html") }
        // Only a name it holds is served; any other text is a 404, whatever it contains.
        router.get("/assets/{file}") { _, context in try response(try context.parameters.require("file")) }
    }

    static func response(_ name: String) throws -> Response {
        guard let asset = assets[name] else {
            throw MicadoError.notFound("no dashboard file named \(Text.escaped(String(name.prefix(64))))")
        }
        return Response(
            status: .ok,
            headers: [
                .contentType: asset.contentType, .contentSecurityPolicy: contentSecurityPolicy,
                .xContentTypeOptions: "nosniff", HTTPField.Name("Referrer-Policy")!: "no-referrer",
                HTTPField.Name("X-Frame-Options")!: "DENY", HTTPField.Name("Cross-Origin-Opener-Policy")!: "same-origin",
                .cacheControl: "no-cache",
            ],
            body: .init(byteBuffer: asset.bytes)
        )
    }
}
