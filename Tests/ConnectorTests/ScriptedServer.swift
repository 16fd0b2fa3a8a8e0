import Foundation
import HTTPTypes
import Hummingbird
import MillwrightTesting
import NIOCore

/// A tiny HTTP server whose answers a test writes as a function of the request: it serves what the
/// vendor documents (paging, encoded keys, error objects) where the emulators do not (yet), and
/// keeps every request for the test to inspect.
final class ScriptedServer: Sendable {
    struct Request: Sendable {
        var method: String
        var path: String
        var query: String
        var headers: [String: String]
        var body: Data

        /// One query parameter, percent-decoded.
        func param(_ name: String) -> String? {
            for pair in query.split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1).map(String.init)
                if kv.first?.removingPercentEncoding == name { return kv.count > 1 ? (kv[1].removingPercentEncoding ?? kv[1]) : "" }
            }
            return nil
        }
        var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] }
    }

    struct Answer: Sendable {
        var status: Int
        var headers: [(String, String)] = []
        var body: String = ""
        static func json(_ status: Int, _ object: Any, headers: [(String, String)] = []) -> Answer {
            let data = (try? JSONSerialization.data(withJSONObject: object)) ?? Data()
            return Answer(status: status, headers: [("Content-Type", "application/json")] + headers, body: String(decoding: data, as: UTF8.self))
        }
    }

    actor Log {
        var requests: [Request] = []
        func add(_ r: Request) { requests.append(r) }
    }

    let baseURL: String
    let log: Log
    private let server: LocalHTTPServer

    private init(baseURL: String, log: Log, server: LocalHTTPServer) { self.baseURL = baseURL; self.log = log; self.server = server }

    static func start(_ script: @escaping @Sendable (Request) async -> Answer) async throws -> ScriptedServer {
        let log = Log()
        let router = Hummingbird.Router()
        let handler: @Sendable (Hummingbird.Request, BasicRequestContext) async throws -> Response = { request, _ in
            var req = request
            let body = try await req.collectBody(upTo: 8 << 20)
            var headers: [String: String] = [:]
            for f in request.headers { headers[f.name.canonicalName] = f.value }
            let r = Request(method: request.method.rawValue, path: request.uri.path, query: request.uri.query ?? "", headers: headers, body: Data(body.readableBytesView))
            await log.add(r)
            let a = await script(r)
            var fields = HTTPFields()
            for (k, v) in a.headers { if let n = HTTPField.Name(k) { fields.append(HTTPField(name: n, value: v)) } }
            return Response(status: .init(code: a.status), headers: fields, body: .init(byteBuffer: ByteBuffer(string: a.body)))
        }
        for m in [HTTPRequest.Method.get, .post, .put, .patch, .delete] { router.on("**", method: m, use: handler) }
        let server = try await LocalHTTPServer.start(router)
        return ScriptedServer(baseURL: server.baseURL, log: log, server: server)
    }

    func stop() { server.stop() }
    var requests: [Request] { get async { await log.requests } }
}
