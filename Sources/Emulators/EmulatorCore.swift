import Foundation
import Hummingbird
import MillwrightCore
import NIOCore

/// Behaviour shared by every CMMS emulator: fault injection, credential checks, and the
/// `/_emulator/work-orders` listing in one common shape.
public struct EmulatorOptions: Sendable {
    /// Fraction of API requests that fail. Half fail before doing anything (503); half are
    /// applied and then answered 500, the case that tempts a client into a duplicate.
    public var failRate = 0.0
    public var latencyMs = 0
    /// Answer 503 to every API request for this long after start.
    public var downFor: TimeInterval = 0
    /// Accepted secrets; `nil` accepts any well-formed credentials.
    public var credentials: Set<String>?
    /// Work orders report `in_progress` after this long and `completed` after twice it.
    public var autoProgress: TimeInterval?
    public var seed: UInt64 = 42
    /// Replaces each emulator's own upload size limit, so a test can cross it with a small file.
    public var uploadLimitBytes: Int?
    public init() {}
}

/// A work order as the emulator received it.
public struct EmulatedWorkOrder: Codable, Sendable {
    public var id: String
    public var reference: String?
    public var title: String
    public var asset: String?
    public var priority: String?
    public var status: String
    public var createdAt: Date
    public var notes: [String]
    public var attachments: [String]
    /// The request body exactly as received.
    public var body: JSONValue
    /// The user or group the system assigned the work order to, in its own terms.
    public var assignee: String? = nil

    enum CodingKeys: String, CodingKey {
        case id, reference, title, asset, priority, status, notes, attachments, body, assignee
        case createdAt = "created_at"
    }
}

public actor EmulatorState {
    public private(set) var workOrders: [EmulatedWorkOrder] = []
    public let startedAt = Date()
    public let options: EmulatorOptions
    private var rng: SplitMix64
    private var nextId = 1000
    /// Uploaded files by work order id and file name, byte for byte.
    private var files: [String: [String: Data]] = [:]
    public private(set) var requests = 0
    public private(set) var injectedFailures = 0

    public init(options: EmulatorOptions) {
        self.options = options
        self.rng = SplitMix64(seed: options.seed)
    }

    public enum Fault: Sendable { case none, before, after }

    func nextFault(isWrite: Bool) -> Fault {
        requests += 1
        guard options.failRate > 0 else { return .none }
        let roll = rng.unit()
        guard roll < options.failRate else { return .none }
        injectedFailures += 1
        return isWrite && roll < options.failRate / 2 ? .after : .before
    }

    public func isDown(now: Date = Date()) -> Bool { now.timeIntervalSince(startedAt) < options.downFor }

    public func add(_ make: (String) -> EmulatedWorkOrder) -> EmulatedWorkOrder {
        nextId += 1
        let wo = make(String(nextId))
        workOrders.append(wo)
        return wo
    }

    public func find(id: String) -> EmulatedWorkOrder? { workOrders.first { $0.id == id }.map(progressed) }
    public func find(reference: String) -> [EmulatedWorkOrder] { workOrders.filter { $0.reference == reference }.map(progressed) }
    public func all() -> [EmulatedWorkOrder] { workOrders.map(progressed) }

    public func update(id: String, _ change: (inout EmulatedWorkOrder) -> Void) -> EmulatedWorkOrder? {
        guard let i = workOrders.firstIndex(where: { $0.id == id }) else { return nil }
        workOrders[i] = progressed(workOrders[i])
        change(&workOrders[i])
        return workOrders[i]
    }

    /// Stores an uploaded file on a work order; the same name again replaces it. False when there is no such work order.
    public func attach(id: String, name: String, data: Data) -> Bool {
        guard let i = workOrders.firstIndex(where: { $0.id == id }) else { return false }
        if !workOrders[i].attachments.contains(name) { workOrders[i].attachments.append(name) }
        files[id, default: [:]][name] = data
        return true
    }

    public func file(id: String, name: String) -> Data? { files[id]?[name] }

    /// The upload limit: the emulated system's own, unless the options replace it.
    public func uploadLimit(default limit: Int) -> Int { options.uploadLimitBytes ?? limit }

    /// Applies `autoProgress` as if a technician worked the order.
    private func progressed(_ wo: EmulatedWorkOrder) -> EmulatedWorkOrder {
        guard let step = options.autoProgress, wo.status == "open" || wo.status == "in_progress" else { return wo }
        var w = wo
        let age = Date().timeIntervalSince(wo.createdAt)
        if age >= 2 * step { w.status = "completed" } else if age >= step { w.status = "in_progress" }
        return w
    }
}

/// Latency, outage and failure injection for every `/api` request; `/_emulator` is exempt.
struct FaultInjection<Context: RequestContext>: RouterMiddleware {
    let state: EmulatorState

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.uri.path.hasPrefix("/_emulator") { return try await next(request, context) }
        let opts = state.options
        if opts.latencyMs > 0 { try await Task.sleep(for: .milliseconds(opts.latencyMs)) }
        if await state.isDown() {
            return EmulatorHTTP.json(status: .serviceUnavailable, ["title": "Service Unavailable", "detail": "emulated outage (--down-for)"])
        }
        switch await state.nextFault(isWrite: request.method != .get && request.method != .head) {
        case .none: return try await next(request, context)
        case .before: return EmulatorHTTP.json(status: .serviceUnavailable, ["title": "Service Unavailable", "detail": "injected failure (--fail-rate), nothing applied"])
        case .after:
            _ = try await next(request, context)
            return EmulatorHTTP.json(status: .internalServerError, ["title": "Internal Server Error", "detail": "injected failure (--fail-rate) after the change was applied"])
        }
    }
}

public enum EmulatorHTTP {
    public static func json(status: HTTPResponse.Status, _ value: some Encodable, headers: HTTPFields = [:]) -> Response {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        enc.dateEncodingStrategy = .custom { d, e in var c = e.singleValueContainer(); try c.encode(Timestamps.format(d)) }
        let data = (try? enc.encode(value)) ?? Data("{}".utf8)
        var h = headers
        h[.contentType] = "application/json"
        return Response(status: status, headers: h, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    public static func body(_ request: Request, limit: Int = 16 << 20) async throws -> Data {
        var req = request
        let buf = try await req.collectBody(upTo: limit)
        return Data(buffer: buf)
    }

    /// The `/_emulator` routes every emulator has.
    static func addInspection(to router: Hummingbird.Router<BasicRequestContext>, state: EmulatorState, kind: String) {
        router.get("/_emulator/work-orders") { _, _ in
            let all = await state.all()
            return json(status: .ok, EmulatorListing(kind: kind, count: all.count, items: all))
        }
        router.get("/_emulator/work-orders/:id/attachments/:name") { _, context in
            guard let id = context.parameters.get("id"), let name = context.parameters.get("name"),
                  let data = await state.file(id: id, name: name.removingPercentEncoding ?? name) else {
                return json(status: .notFound, ["detail": "no such file on that work order (only uploads are kept byte for byte)"])
            }
            return Response(status: .ok, headers: [.contentType: "application/octet-stream"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
        router.get("/_emulator/stats") { _, _ in
            json(status: .ok, ["requests": await state.requests, "injected_failures": await state.injectedFailures, "work_orders": await state.all().count])
        }
    }
}

struct EmulatorListing: Encodable {
    var kind: String
    var count: Int
    var items: [EmulatedWorkOrder]
}

/// Reads `--credentials FILE`: one accepted secret (token, API key or `user:password`) per line.
public enum EmulatorCredentials {
    public static func load(path: String) throws -> Set<String> {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return Set(text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty && !$0.hasPrefix("#") })
    }
}

/// A `multipart/form-data` body as the emulators receive uploads: the emulators' own parser (the
/// connectors only build such bodies), written from RFC 7578 (`multipart/form-data`, the `name` and
/// `filename` parameters of `Content-Disposition`) and RFC 2046 section 5.1.1 (the `boundary`
/// parameter, `--boundary` delimiters after CRLF, the closing `--boundary--`).
enum MultipartForm {
    struct Part {
        var name: String
        var filename: String?
        var contentType: String?
        var data: Data
    }

    /// The parts, or nil when the body is not well-formed multipart with the header's boundary.
    static func parse(_ body: Data, contentType: String) -> [Part]? {
        guard contentType.lowercased().hasPrefix("multipart/form-data"),
              let param = contentType.components(separatedBy: "boundary=").dropFirst().first?.split(separator: ";").first else { return nil }
        let boundary = param.trimmingCharacters(in: CharacterSet(charactersIn: "\" "))
        guard !boundary.isEmpty, var rest = body.range(of: Data("--\(boundary)".utf8)).map({ body[$0.upperBound...] }) else { return nil }
        let next = Data("\r\n--\(boundary)".utf8), crlf = Data("\r\n".utf8)
        var parts: [Part] = []
        while !rest.starts(with: Data("--".utf8)) {
            guard rest.starts(with: crlf) else { return nil }
            rest = rest.dropFirst(crlf.count)
            guard let headEnd = rest.range(of: Data("\r\n\r\n".utf8)) else { return nil }
            let head = String(decoding: rest[..<headEnd.lowerBound], as: UTF8.self)
            rest = rest[headEnd.upperBound...]
            guard let end = rest.range(of: next) else { return nil }
            var part = Part(name: "", filename: nil, contentType: nil, data: Data(rest[..<end.lowerBound]))
            rest = rest[end.upperBound...]
            for line in head.components(separatedBy: "\r\n") {
                let lower = line.lowercased()
                if lower.hasPrefix("content-type:") { part.contentType = line.dropFirst(13).trimmingCharacters(in: .whitespaces) }
                guard lower.hasPrefix("content-disposition:") else { continue }
                for p in line.split(separator: ";").dropFirst() {
                    let kv = p.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                    guard kv.count == 2 else { continue }
                    let value = kv[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                    if kv[0] == "name" { part.name = value } else if kv[0] == "filename" { part.filename = value }
                }
            }
            parts.append(part)
        }
        return parts
    }
}
