import Foundation
import Hummingbird
import MillwrightCore
import NIOCore

/// Behaviour shared by every CMMS emulator: fault injection, credential checks, and the
/// `/_emulator/work-orders` listing in one common shape.
public struct EmulatorOptions: Sendable {
    /// Fraction of API requests that fail; `failMode` says whether the change was applied first.
    public var failRate = 0.0
    /// Whether an injected failure comes before the change is applied (nothing created) or after it
    /// (created, then the answer is an error), the case that tempts a client into a duplicate.
    public var failMode: FailMode = .mixed
    /// Work orders created before serving: unrelated records over the last 30 days, so a duplicate
    /// lookup has to filter or page on the server.
    public var preload = 0
    /// The tenant's master data (assets, users, categories, priorities, statuses). Without it every
    /// emulator accepts any such value, as before.
    public var tenant: TenantData?
    /// Maximo: how long a `transactionid` is remembered (IBM: the OSLCTXN cron task purges after 5 minutes).
    public var transactionTTL: TimeInterval = 300
    /// Maximo: the attributes of the object structure (`--attributes`); nil = the emulator's default list.
    public var attributes: [String]?
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
    /// The technician's closure code, set when the work order was completed (`/_emulator/…/complete`);
    /// each emulator answers it where its system keeps one.
    public var closureCode: String? = nil
    /// When it was completed, cancelled or closed.
    public var completedAt: Date? = nil

    enum CodingKeys: String, CodingKey {
        case id, reference, title, asset, priority, status, notes, attachments, body, assignee
        case createdAt = "created_at", closureCode = "closure_code", completedAt = "completed_at"
    }
}

public actor EmulatorState {
    private var stored: [EmulatedWorkOrder] = []
    public var workOrders: [EmulatedWorkOrder] { drain(); return stored }
    public let startedAt = Date()
    public let options: EmulatorOptions
    private var rng: SplitMix64
    private var nextId = 1000
    /// Work orders a router asked for before serving (`preload`), added on first access.
    private let pending = PendingPreload()
    /// Uploaded files by work order id and file name, byte for byte, with the type and time they came with.
    private var files: [String: [String: StoredFile]] = [:]
    public private(set) var requests = 0
    public private(set) var injectedFailures = 0

    public init(options: EmulatorOptions) {
        self.options = options
        self.rng = SplitMix64(seed: options.seed)
    }

    public enum Fault: Sendable, Equatable { case none, before, after(AfterApply) }
    /// How a request that was applied is answered.
    public enum AfterApply: Sendable, Equatable {
        /// 500 Internal Server Error.
        case serverError
        /// 503 Service Unavailable: what a proxy or load balancer answers when the backend committed but
        /// its answer came too late (RFC 9110 §15.6.4 lets any intermediary send it).
        case unavailable
        /// The connection is closed with no (complete) answer: a timeout or reset after the commit.
        case dropped
    }

    func nextFault(isWrite: Bool) -> Fault {
        requests += 1
        guard options.failRate > 0 else { return .none }
        let roll = rng.unit()
        guard roll < options.failRate else { return .none }
        injectedFailures += 1
        switch options.failMode {
        case .before: return .before
        case .after:
            // Reads have nothing to apply; they fail before.
            guard isWrite else { return .before }
            afterCount += 1
            return .after([AfterApply.serverError, .unavailable, .dropped][afterCount % 3])
        case .mixed:
            // The same single roll as before the modes existed: half of the failed writes are applied;
            // of those, the lower half answer 500 and the upper half 503.
            guard isWrite, roll < options.failRate / 2 else { return .before }
            return .after(roll < options.failRate / 4 ? .serverError : .unavailable)
        }
    }
    private var afterCount = -1

    public func isDown(now: Date = Date()) -> Bool { now.timeIntervalSince(startedAt) < options.downFor }

    public func add(_ make: (String) -> EmulatedWorkOrder) -> EmulatedWorkOrder {
        drain()
        nextId += 1
        let wo = make(String(nextId))
        stored.append(wo)
        return wo
    }

    /// Asks for `options.preload` unrelated work orders, built by the emulator in its own shape from
    /// `PreloadSample`s; a router calls it once while it is built, before serving. They get the first ids.
    public nonisolated func preload(_ make: (PreloadSample) -> EmulatedWorkOrder) {
        let n = options.preload
        guard n > 0 else { return }
        let assets = options.tenant?.assets ?? []
        pending.set((0..<n).map { make(PreloadSample(index: $0, of: n, seed: options.seed, tenantAssets: assets)) })
    }

    private func drain() {
        guard let items = pending.take() else { return }
        stored.insert(contentsOf: items, at: 0)
        nextId = max(nextId, 1000 + items.count)
    }

    public func find(id: String) -> EmulatedWorkOrder? { drain(); return stored.first { $0.id == id }.map(progressed) }
    public func find(reference: String) -> [EmulatedWorkOrder] { drain(); return stored.filter { $0.reference == reference }.map(progressed) }
    public func all() -> [EmulatedWorkOrder] { drain(); return stored.map(progressed) }

    public func update(id: String, _ change: (inout EmulatedWorkOrder) -> Void) -> EmulatedWorkOrder? {
        drain()
        guard let i = stored.firstIndex(where: { $0.id == id }) else { return nil }
        stored[i] = progressed(stored[i])
        change(&stored[i])
        return stored[i]
    }

    /// Stores an uploaded file on a work order; the same name again replaces it. False when there is no such work order.
    public func attach(id: String, name: String, data: Data, contentType: String? = nil) -> Bool {
        drain()
        guard let i = stored.firstIndex(where: { $0.id == id }) else { return false }
        if !stored[i].attachments.contains(name) { stored[i].attachments.append(name) }
        files[id, default: [:]][name] = StoredFile(data: data, contentType: contentType ?? StoredFile.type(of: name), at: Date())
        return true
    }

    public func file(id: String, name: String) -> Data? { files[id]?[name]?.data }
    public func storedFile(id: String, name: String) -> StoredFile? { files[id]?[name] }

    /// A technician finishing the job: the status (`completed`, `cancelled`, `false_positive`), a
    /// closure code, notes and a photo, each optional. False when there is no such work order.
    public func complete(id: String, status: String, code: String?, notes: [String], photo: (name: String, type: String?, data: Data)?) -> Bool {
        guard update(id: id, { w in
            w.status = status; w.completedAt = Date()
            if let code { w.closureCode = code }
            w.notes += notes
        }) != nil else { return false }
        if let photo { _ = attach(id: id, name: photo.name, data: photo.data, contentType: photo.type) }
        return true
    }

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

/// A file uploaded to (or left on) a work order.
public struct StoredFile: Sendable {
    public var data: Data
    public var contentType: String
    public var at: Date

    /// The type a file name implies, for files that came without one.
    static func type(of name: String) -> String {
        let lower = name.lowercased()
        if lower.hasSuffix(".jpg") || lower.hasSuffix(".jpeg") { return "image/jpeg" }
        if lower.hasSuffix(".png") { return "image/png" }
        if lower.hasSuffix(".pdf") { return "application/pdf" }
        return "application/octet-stream"
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
        case .after(let answer):
            let applied = try await next(request, context)
            switch answer {
            case .serverError:
                return EmulatorHTTP.json(status: .internalServerError, ["title": "Internal Server Error", "detail": "injected failure (--fail-rate) after the change was applied"])
            case .unavailable:
                // A proxy's answer after the backend committed: plain text, as gateways send it.
                return Response(status: .serviceUnavailable, headers: [.contentType: "text/html"],
                                body: .init(byteBuffer: ByteBuffer(string: "<html><body><h1>503 Service Unavailable</h1>No server is available to handle this request.</body></html>")))
            case .dropped:
                // The change is applied; the answer's head promises a body that never comes and the
                // connection is closed, which the client sees as a reset or a read timeout.
                _ = applied
                return Response(status: .ok, headers: [.contentType: "application/json"],
                                body: ResponseBody(contentLength: 4096) { _ in throw DroppedConnection() })
            }
        }
    }
}

/// Thrown from a response body to close the connection mid-answer (`FailMode.after`).
struct DroppedConnection: Error {}

/// `--fail-mode`: when an injected failure (`--fail-rate`) happens relative to applying the change.
public enum FailMode: String, Sendable, CaseIterable {
    /// Nothing is applied; the answer is 503.
    case before
    /// Writes are applied, then answered 500, 503 or with a dropped connection, in turn (reads fail before).
    case after
    /// Half the failed writes are applied, then answered 500 or 503; the rest and all reads fail before.
    case mixed
}

/// One unrelated work order for `--preload`: a realistic title, asset and creation time over the
/// last 30 days, and a reference that is not Millwright's.
public struct PreloadSample: Sendable {
    public var index: Int
    /// The emulator's sequence id for it (preloaded records take the first ones: 1001, 1002, …).
    public var id: String { String(1001 + index) }
    public var title: String
    public var reference: String
    public var asset: String
    /// The asset's numeric id, for systems that number assets (MaintainX, Limble).
    public var assetNumber: Int
    public var createdAt: Date
    /// `open`, `in_progress` or `completed`, spread over the set.
    public var status: String
    public var priority: Int

    static let what = ["Replace worn drive belt", "Lubricate bearings", "Inspect guard interlock", "Tighten loose mounting bolts",
                       "Clear blocked chute", "Calibrate load cell", "Repair hydraulic leak", "Replace proximity sensor",
                       "Monthly PM inspection", "Check motor vibration", "Re-align conveyor tracking", "Replace damaged roller"]
    static let assets = ["CV-100", "CV-210", "PMP-7", "PRS-03", "MIX-12", "FAN-4", "HX-2", "WLD-9"]

    /// With a tenant, the records name the tenant's own assets, so they pass its checks.
    init(index i: Int, of n: Int, seed: UInt64, tenantAssets: [TenantData.Entry] = []) {
        var r = SplitMix64(seed: seed &+ UInt64(i) &* 7919)
        index = i
        if tenantAssets.isEmpty {
            asset = Self.assets[i % Self.assets.count]
            assetNumber = 3300 + i % Self.assets.count
        } else {
            let a = tenantAssets[i % tenantAssets.count]
            asset = a.id
            assetNumber = a.number ?? 3300 + i % tenantAssets.count
        }
        title = "\(Self.what[(i * 5 + 3) % Self.what.count]) on \(asset)"
        reference = "PM-\(String(format: "%05d", 20_000 + i))"
        // Oldest first, evenly over the last 30 days, a few minutes of jitter, never in the future.
        let span: TimeInterval = 30 * 86_400
        let step = span / Double(max(n, 1))
        createdAt = Date().addingTimeInterval(-span + Double(i) * step + r.unit() * min(step, 600) * 0.5 - 60)
        status = ["completed", "completed", "open", "in_progress"][i % 4]
        priority = i % 4 + 1
    }
}

/// Work orders a router asked for, waiting until the state is first used.
final class PendingPreload: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [EmulatedWorkOrder]?
    func set(_ w: [EmulatedWorkOrder]) { lock.withLock { items = w } }
    func take() -> [EmulatedWorkOrder]? { lock.withLock { defer { items = nil }; return items } }
}

/// Paging over an already sorted list by offset and page size: the one slicing rule every emulator's
/// list endpoint uses with its own parameter names.
enum Paging {
    static func slice<T>(_ items: [T], offset: Int, limit: Int) -> (page: [T], hasMore: Bool) {
        let start = min(max(offset, 0), items.count)
        let end = min(items.count, start + max(limit, 0))
        return (Array(items[start..<end]), end < items.count)
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
        // A technician completing the work order, for tests and demos: {"status": "completed" (default) |
        // "cancelled" | "false_positive", "code", "notes": [...], "photo": {"name", "content_type", "data_base64"}}.
        router.post("/_emulator/work-orders/:id/complete") { request, context in
            guard let body = (try? JSONValue.parse(try await EmulatorHTTP.body(request, limit: 24 << 20)))?.objectValue else {
                return json(status: .badRequest, ["detail": "body must be a JSON object"])
            }
            let status = body["status"]?.stringValue ?? "completed"
            guard ["completed", "cancelled", "false_positive"].contains(status) else {
                return json(status: .badRequest, ["detail": "status must be completed, cancelled or false_positive"])
            }
            var photo: (name: String, type: String?, data: Data)?
            if let p = body["photo"] {
                guard let name = p["name"]?.stringValue, !name.isEmpty, let data = p["data_base64"]?.stringValue.flatMap({ Data(base64Encoded: $0) }) else {
                    return json(status: .badRequest, ["detail": "photo needs name and data_base64"])
                }
                photo = (name, p["content_type"]?.stringValue, data)
            }
            let notes = (body["notes"]?.arrayValue ?? []).compactMap(\.stringValue)
            guard let id = context.parameters.get("id"),
                  await state.complete(id: id, status: status, code: body["code"]?.stringValue, notes: notes, photo: photo) else {
                return json(status: .notFound, ["detail": "no such work order"])
            }
            return json(status: .ok, ["status": status])
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
