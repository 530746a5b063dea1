import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Testing

@testable import MicadoManager

/// Holds every answer of the API under test to openapi.yaml: the status must be one the
/// operation documents and the content type one documented for it. The routes are written
/// by hand (see the README: swift-openapi-generator's build cost), so this is what keeps
/// code and document together in every in-process test, as Schemathesis does against the
/// live manager.
struct ContractCheckingResponder<Inner: HTTPResponder>: HTTPResponder where Inner.Context == APIRequestContext {
    let inner: Inner

    func respond(to request: Request, context: APIRequestContext) async throws -> Response {
        let path = request.uri.path
        let method = request.method.rawValue
        var response = try await inner.respond(to: request, context: context)
        let status = String(response.status.code)
        guard let answers = APIContract.contentTypes(of: method, path: path) else {
            // Undocumented path or method: only the generic 404 and 405 may answer.
            #expect([404, 405].contains(response.status.code), "\(method) \(path) is not in openapi.yaml but answered \(status)")
            return response
        }
        guard let types = answers[status] ?? answers["default"] else {
            Issue.record("\(method) \(path) answered \(status), which openapi.yaml does not give it (it has \(answers.keys.sorted()))")
            return response
        }
        let type = response.headers[.contentType].map { String($0.split(separator: ";")[0]) }
        if let type, !types.isEmpty {
            #expect(types.contains(type), "\(method) \(path) answered \(status) as \(type), openapi.yaml says \(types.sorted())")
        } else if type != nil, types.isEmpty, response.status != .noContent {
            Issue.record("\(method) \(path) answered \(status) with a body (\(type ?? "")) that openapi.yaml does not describe")
        }
        guard type == "application/json", let schema = SchemaCheck.responseSchema(method: method, path: path, status: status) else {
            return response
        }
        // A JSON body is read whole (the API's JSON answers are small), checked, and sent on.
        let collector = BodyCollector()
        try await response.body.write(CollectingWriter(collector: collector))
        let body = collector.buffer
        do {
            let value = try JSONDecoder().decode(SchemaCheck.JSON.self, from: Data(body.readableBytesView))
            let problems = SchemaCheck.problems(value, schema)
            #expect(problems.isEmpty, "\(method) \(path) answered \(status) outside its schema in openapi.yaml: \(problems.prefix(5))")
        } catch {
            Issue.record("\(method) \(path) answered \(status) with JSON that does not parse: \(error)")
        }
        response.body = ResponseBody(byteBuffer: body)
        return response
    }
}

/// Collects a response body into a buffer.
final class BodyCollector: @unchecked Sendable {
    // @unchecked: one response's writer fills it, then the responder reads it.
    var buffer = ByteBuffer()
}

struct CollectingWriter: ResponseBodyWriter {
    let collector: BodyCollector

    mutating func write(_ buffer: ByteBuffer) async throws { collector.buffer.writeImmutableBuffer(buffer) }
    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
}
