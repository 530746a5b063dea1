import AsyncHTTPClient
import Foundation
import MicadoStandIns
import NIOCore
import NIOHTTP1
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A loopback port nothing listens on now.
public func closedLoopbackPort() throws -> Int { try Moto.freePort() }

/// An HTTP proxy in front of moto that answers chosen Actions itself (an EC2 error
/// document, a malformed or huge answer, silence) and forwards everything else. It keeps
/// every request it saw, to prove retries and that no secret went over the wire.
public final class FaultProxy: Sendable {
    public enum Fault: Sendable {
        case error(status: UInt, code: String, message: String)
        case raw(status: UInt, body: [UInt8])
        /// No answer for this long.
        case stall(Duration)
        /// moto's answer, its head and half its body at once and the rest after this long.
        case stallBody(Duration)
    }

    let upstream: String
    let faults = Mutex<[String: [Fault]]>([:])
    let requests = Mutex<[(action: String, raw: String)]>([])
    let portBox = Mutex(0)

    init(upstream: String) { self.upstream = upstream }

    public var endpoint: String { "http://127.0.0.1:\(portBox.withLock { $0 })" }

    /// The next calls of `action` get these, in order; later ones go to moto.
    public func inject(_ action: String, _ list: Fault...) { faults.withLock { $0[action, default: []] += list } }

    public func count(_ action: String) -> Int { requests.withLock { $0.filter { $0.action == action }.count } }
    public var everything: String { requests.withLock { $0.map(\.raw).joined(separator: "\n") } }

    public static func withProxy<T>(upstream: String, _ body: (FaultProxy) async throws -> T) async throws -> T {
        let proxy = FaultProxy(upstream: upstream)
        return try await LoopbackHTTPServer.withServer({ request in await proxy.answer(request) }) { server in
            proxy.portBox.withLock { $0 = server.port }
            return try await body(proxy)
        }
    }

    static func errorDocument(code: String, message: String) -> [UInt8] {
        Array(
            """
            <?xml version="1.0" encoding="UTF-8"?>
            <Response><Errors><Error><Code>\(code)</Code><Message>\(message)</Message></Error></Errors><RequestID>fault-proxy</RequestID></Response>
            """.utf8
        )
    }

    static func reply(_ status: UInt, contentType: String, _ body: [UInt8], bodyStall: Duration? = nil) -> LoopbackHTTPServer.Response {
        LoopbackHTTPServer.Response(
            HTTPResponseStatus(statusCode: Int(status)),
            headers: [("Content-Type", contentType)],
            body: body,
            bodyStall: bodyStall
        )
    }

    func answer(_ request: LoopbackHTTPServer.Request) async -> LoopbackHTTPServer.Response {
        let action = Self.formValue("Action", in: request.text) ?? ""
        let headerText = request.headers.map { "\($0.name): \($0.value)" }.joined(separator: "\n")
        requests.withLock { $0.append((action, headerText + "\n\n" + request.text)) }
        let fault: Fault? = faults.withLock { pending in
            guard var list = pending[action], !list.isEmpty else { return nil }
            let first = list.removeFirst()
            pending[action] = list
            return first
        }
        switch fault {
        case .error(let status, let code, let message)?:
            return Self.reply(status, contentType: "text/xml", Self.errorDocument(code: code, message: message))
        case .raw(let status, let bytes)?:
            return Self.reply(status, contentType: "text/xml", bytes)
        case .stall(let duration)?:
            try? await Task.sleep(for: duration)
            return Self.reply(503, contentType: "text/plain", Array("too late".utf8))
        case .stallBody(let duration)?:
            var reply = await forward(request)
            reply.bodyStall = duration
            return reply
        case nil:
            return await forward(request)
        }
    }

    func forward(_ incoming: LoopbackHTTPServer.Request) async -> LoopbackHTTPServer.Response {
        var request = HTTPClientRequest(url: upstream + incoming.uri)
        request.method = incoming.method
        for (name, value) in incoming.headers where name.lowercased() != "host" && name.lowercased() != "content-length" {
            request.headers.add(name: name, value: value)
        }
        request.body = .bytes(ByteBuffer(bytes: incoming.body))
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
            let bytes = try await response.body.collect(upTo: 64 << 20)
            return Self.reply(
                UInt(response.status.code),
                contentType: response.headers.first(name: "content-type") ?? "text/xml",
                Array(bytes.readableBytesView)
            )
        } catch {
            return Self.reply(502, contentType: "text/plain", Array("proxy: \(error)".utf8))
        }
    }

    static func formValue(_ name: String, in form: String) -> String? {
        for pair in form.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2, parts[0] == name { return String(parts[1]).removingPercentEncoding }
        }
        return nil
    }
}
