import Foundation
import Hummingbird
import NIOCore
import Store

/// RFC 9457 problem details: every error the API returns is one of these.
public struct Problem: Error, Sendable, Encodable {
    public var type: String
    public var title: String
    public var status: Int
    public var detail: String
    public var instance: String?
    /// Per-item problems of a rejected batch, or the field at fault.
    public var errors: [ProblemItem]?
    public var requestId: String?
    /// Seconds for `Retry-After`, when asking again later will help; not in the body.
    public var retryAfter: Int?

    public init(_ status: HTTPResponse.Status, type: String, detail: String, errors: [ProblemItem]? = nil) {
        self.type = "https://millwright.dev/problems/\(type)"
        self.title = status.reasonPhrase
        self.status = Int(status.code)
        self.detail = detail
        self.errors = errors
    }

    enum CodingKeys: String, CodingKey { case type, title, status, detail, instance, errors, requestId = "request_id" }

    var json: Data {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? enc.encode(self)) ?? Data()
    }

    func response(retryAfter: Int? = nil) -> Response {
        let data = json
        var headers: HTTPFields = [.contentType: "application/problem+json"]
        if status == 401 { headers[.wwwAuthenticate] = "Bearer realm=\"millwright\"" }
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

public struct ProblemItem: Sendable, Encodable {
    public var index: Int?
    public var field: String?
    public var problem: String
}

/// Turns anything thrown below it — our problems, Hummingbird's HTTP errors (including the
/// router's 404), decoding failures — into a problem document carrying the request id.
struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let requestId = request.headers[.init("X-Request-Id")!].flatMap { $0.count <= 128 ? $0 : nil } ?? UUID().uuidString.lowercased()
        var context = context
        context.logger[metadataKey: "request_id"] = "\(requestId)"
        var response: Response
        do {
            response = try await next(request, context)
        } catch var p as Problem {
            p.instance = request.uri.path
            p.requestId = requestId
            response = p.response(retryAfter: p.retryAfter)
        } catch let e as HTTPResponseError {
            // Also NIOTooManyBytesError: what `collectBody(upTo:)` throws when a body, chunked or not, runs past its limit.
            let body = (e as? HTTPError)?.body
            var p: Problem
            switch e.status {
            case .notFound: p = Problem(.notFound, type: "not-found", detail: "no route \(request.method.rawValue) \(request.uri.path); see GET /openapi.yaml")
            case .contentTooLarge: p = Problem(.contentTooLarge, type: "body-too-large", detail: body ?? "request body is too large")
            case .methodNotAllowed: p = Problem(.methodNotAllowed, type: "method-not-allowed", detail: body ?? "\(request.method.rawValue) is not allowed on \(request.uri.path)")
            default: p = Problem(e.status, type: "http-error", detail: body ?? e.status.reasonPhrase)
            }
            p.instance = request.uri.path
            p.requestId = requestId
            response = p.response()
            // The methods a 405's path does take.
            if let allow = (e as? HTTPError)?.headers[.allow] { response.headers[.allow] = allow }
        } catch let e as any StoreUnavailableError where e.isUnavailable {
            context.logger.warning("database unavailable", metadata: ["error": "\(e)"])
            var p = Problem(.serviceUnavailable, type: "store-unavailable",
                            detail: "the database cannot be reached; nothing was applied. Retry after the delay given (request id \(requestId))")
            p.instance = request.uri.path
            p.requestId = requestId
            response = p.response(retryAfter: 2)
        } catch {
            context.logger.error("request failed", metadata: ["error": "\(error)"])
            var p = Problem(.internalServerError, type: "internal", detail: "the request could not be completed; it was not applied unless the response said so (request id \(requestId))")
            p.instance = request.uri.path
            p.requestId = requestId
            response = p.response()
        }
        response.headers[.init("X-Request-Id")!] = requestId
        return response
    }
}
