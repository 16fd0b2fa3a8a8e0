import AsyncHTTPClient
import Foundation
import MillwrightCore
import NIOCore
import NIOHTTP1

/// Shared HTTP plumbing for connectors: timeouts, bounded bodies, and the one place that
/// turns transport failures and status codes into delivery outcomes.
public struct HTTPTransport: Sendable {
    public let client: HTTPClient
    public let timeout: Duration
    public static let maxResponseBytes = 4 << 20

    public init(client: HTTPClient, timeout: Duration) { self.client = client; self.timeout = timeout }

    public struct Response: Sendable {
        public var status: Int
        public var headers: HTTPHeaders
        public var body: Data
        public init(status: Int, headers: HTTPHeaders, body: Data) { self.status = status; self.headers = headers; self.body = body }
        public var json: JSONValue? { try? JSONValue.parse(body) }
        public var text: String { String(decoding: body.prefix(2000), as: UTF8.self) }
    }

    public func send(_ method: HTTPMethod, _ url: String, headers: [(String, String)] = [], body: Data? = nil) async throws -> Response {
        var req = HTTPClientRequest(url: url)
        req.method = method
        for (k, v) in headers { req.headers.add(name: k, value: v) }
        if let body { req.body = .bytes(ByteBuffer(bytes: body)) }
        let timeoutAmount = TimeAmount.nanoseconds(Int64(timeout.seconds * 1e9))
        let resp = try await client.execute(req, timeout: timeoutAmount)
        let buf = try await resp.body.collect(upTo: Self.maxResponseBytes)
        return Response(status: Int(resp.status.code), headers: resp.headers, body: Data(buf.readableBytesView))
    }

    /// A file (a completion photo) read under its own bound: an answer longer than `maxBytes`
    /// (by its `Content-Length`, or as it arrives) is `nil` and its body is not kept.
    public func download(_ url: String, headers: [(String, String)] = [], maxBytes: Int) async throws -> Response? {
        var req = HTTPClientRequest(url: url)
        for (k, v) in headers { req.headers.add(name: k, value: v) }
        let resp = try await client.execute(req, timeout: TimeAmount.nanoseconds(Int64(timeout.seconds * 1e9)))
        if let n = resp.headers.first(name: "Content-Length").flatMap({ Int($0) }), n > maxBytes { return nil }
        do {
            let buf = try await resp.body.collect(upTo: maxBytes)
            return Response(status: Int(resp.status.code), headers: resp.headers, body: Data(buf.readableBytesView))
        } catch is NIOTooManyBytesError { return nil }
    }

    /// Classifies a create's HTTP answer. Every 5xx may have been applied before the error —
    /// a 503 included: a proxy or gateway answers it after the backend committed — so they are
    /// `.unknown` and get looked up before any retry. 429 and 423 say nothing was done.
    public static func classify(_ r: Response, describe: (Response) -> String) -> DeliveryState.Outcome? {
        switch r.status {
        case 200..<300: return nil
        case 429: return .retryable(error: "HTTP 429: \(describe(r))", retryAfter: retryAfter(r.headers))
        case 423: return .retryable(error: "HTTP 423 locked: \(describe(r))", retryAfter: retryAfter(r.headers))
        case 408, 500...599: return .unknown(error: "HTTP \(r.status): \(describe(r))", retryAfter: retryAfter(r.headers))
        case 401, 403: return .retryable(error: "HTTP \(r.status) (check credentials): \(describe(r))", retryAfter: nil)
        default: return .permanent(error: "HTTP \(r.status): \(describe(r))")
        }
    }

    /// A transport failure during a create: we cannot know whether the CMMS applied it.
    public static func transportFailure(_ error: Error) -> DeliveryState.Outcome {
        .unknown(error: "no answer: \(describe(error))")
    }

    public static func describe(_ error: Error) -> String {
        if let e = error as? HTTPClientError {
            switch e {
            case .deadlineExceeded, .readTimeout: return "timed out"
            case .connectTimeout: return "connect timed out"
            case .remoteConnectionClosed: return "connection closed by the CMMS"
            default: return String(describing: e)
            }
        }
        return String(describing: error)
    }

    /// `Retry-After` as seconds or an HTTP date.
    public static func retryAfter(_ headers: HTTPHeaders) -> Duration? {
        guard let v = headers.first(name: "Retry-After")?.trimmingCharacters(in: .whitespaces) else { return nil }
        if let s = Double(v), s >= 0 { return .milliseconds(Int64(min(s, 3600) * 1000)) }
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "GMT")
        f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        if let d = f.date(from: v) { return .milliseconds(Int64(max(0, min(3600, d.timeIntervalSinceNow)) * 1000)) }
        return nil
    }

    public static func authHeaders(_ auth: CMMSAuth) -> [(String, String)] {
        switch auth {
        case .none: return []
        case .basic(let u, let p), .session(let u, let p), .client(let u, let p):
            return [("Authorization", "Basic " + Data("\(u):\(p)".utf8).base64EncodedString())]
        case .bearer(let t): return [("Authorization", "Bearer \(t)")]
        case .apiKey(let k): return [("apikey", k)]
        case .hmac: return []
        }
    }
}
