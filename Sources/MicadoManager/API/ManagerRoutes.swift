import DockerEngine
import Foundation
import Hummingbird
import MicadoCore
import NIOCore
import Prometheus

/// The manager's own routes, outside the token: counts for Prometheus, the API contract, and
/// health. None of them says a secret.
enum ManagerRoutes {
    static func add(to router: Router<APIRequestContext>, metrics: ManagerMetrics, engine: any EngineAPI) {
        // Prometheus text format; no token, like /v1/health: counts only, never secrets.
        router.get("/metrics") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4"],
                body: .init(byteBuffer: ByteBuffer(bytes: metrics.registry.emitToBuffer()))
            )
        }
        // The API contract (openapi.yaml, embedded); no token, like /v1/health.
        router.get("/openapi.yaml") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "application/yaml"],
                body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.yaml))
            )
        }
        router.get("/v1/health") { _, _ in
            try HTTPAPI.json(
                HealthView(
                    status: "ok",
                    version: MicadoVersion.current,
                    engineAPIVersion: engine.apiVersion.description,
                    pid: getpid()
                )
            )
        }
    }
}
