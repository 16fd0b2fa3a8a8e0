import Accounts
import Capture
import Connectors
import Evidence
import Foundation
import Gateway
import Hummingbird
import Ingest
import MillwrightCore
import NIOCore
import Prometheus
import Store

/// The REST API (PRODUCT §3). Routes are declared once in `routes`, which both registers
/// them and lets the tests hold `openapi.yaml` to the same list.
public struct APIServer: Sendable {
    public let gateway: Gateway
    public let keyring: APIKeyring
    public let registry: PrometheusCollectorRegistry
    public let accounts: Accounts
    /// Thumbnails (`/v1/evidence/{id}?w=`): two decodes at once, sixteen more waiting.
    let thumbnails = DecodeGate(limit: 2, maxWaiting: 16)

    public init(gateway: Gateway, registry: PrometheusCollectorRegistry) {
        self.gateway = gateway
        self.keyring = APIKeyring(keys: gateway.settings.apiKeys)
        self.registry = registry
        let contacts = gateway.settings.compliance.securityContacts
        self.accounts = Accounts(store: gateway.store, settings: gateway.settings.compliance,
                                 timeZone: TimeZone(identifier: gateway.settings.site.timezone) ?? .gmt) { [gateway] user in
            await gateway.raiseAlert(kind: "security.alert", subject: "user:\(user)",
                                     text: "user \(user) is locked after repeated failed password attempts",
                                     facts: [.init("user", user)], recipients: contacts)
        }
    }

    public typealias Handler = @Sendable (Request, MillwrightContext) async throws -> Response

    public struct Route: Sendable {
        public var method: HTTPRequest.Method
        public var path: String
        public var handler: Handler
    }

    public var routes: [Route] {
        [
            Route(method: .get, path: "/healthz") { _, _ in json(["status": "ok"]) },
            Route(method: .get, path: "/readyz", handler: readyz),
            Route(method: .get, path: "/metrics", handler: metrics),
            Route(method: .get, path: "/openapi.yaml") { _, ctx in
                try ctx.require(.read)
                return Response(status: .ok, headers: [.contentType: "application/yaml"], body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.yaml)))
            },
            Route(method: .post, path: "/v1/detections", handler: postDetections),
            Route(method: .get, path: "/v1/detections", handler: listDetections),
            Route(method: .get, path: "/v1/detections/{id}") { _, ctx in
                try ctx.require(.read)
                guard let d = try await gateway.store.detection(id: try ctx.parameters.require("id")) else { throw notFound("detection") }
                return json(d)
            },
            Route(method: .get, path: "/v1/incidents", handler: listIncidents),
            Route(method: .get, path: "/v1/incidents/{id}") { _, ctx in
                try ctx.require(.read)
                guard let i = try await gateway.store.incident(id: try ctx.parameters.require("id")) else { throw notFound("incident") }
                return json(i)
            },
            Route(method: .post, path: "/v1/incidents/{id}/feedback", handler: feedback),
            Route(method: .get, path: "/v1/work-orders", handler: listWorkOrders),
            Route(method: .get, path: "/v1/work-orders/{id}") { _, ctx in
                try ctx.require(.read)
                guard let w = try await gateway.store.workOrder(id: try ctx.parameters.require("id")) else { throw notFound("work order") }
                return json(w)
            },
            Route(method: .post, path: "/v1/work-orders/{id}/redrive") { request, ctx in
                try ctx.require(.admin)
                let id = try ctx.parameters.require("id")
                let input = try await optionalJSONObject(request, example: "{\"signature\": {\"user\", \"password\", \"meaning\"}}")
                let signature = try await sign("redrive", input, ctx, needs: .admin)
                do {
                    guard try await gateway.store.redrive(workOrderId: id, by: signature?.user ?? ctx.caller?.name ?? "?", signature: signature, now: Date()) else {
                        throw Problem(.conflict, type: "not-dead-lettered", detail: "work order \(id) is not dead-lettered, quarantined or waiting for review; only those can be re-driven")
                    }
                } catch StoreError.notFound { throw notFound("work order") }
                gateway.wakeDispatchers()
                let wo = try await gateway.store.workOrder(id: id)
                if let wo {
                    gateway.events.note("work_order", ["id": .string(wo.id), "incident_id": .string(wo.incidentId), "reference": .string(wo.reference),
                                                       "phase": .string(wo.phase), "cmms_id": wo.cmmsId.map(JSONValue.string) ?? .null])
                }
                return json(wo, status: .accepted)
            },
            Route(method: .post, path: "/v1/work-orders/{id}/ack", handler: acknowledge),
            Route(method: .get, path: "/v1/technicians", handler: listTechnicians),
            Route(method: .get, path: "/v1/inventory/reservations", handler: listReservations),
            Route(method: .get, path: "/v1/evidence/{id}", handler: evidenceImage),
            Route(method: .get, path: "/v1/events") { request, ctx in
                try ctx.require(.read)
                return try EventStream.response(request, journal: gateway.events)
            },
            Route(method: .get, path: "/v1/stats") { _, ctx in
                try ctx.require(.read)
                return json(try await gateway.store.stats())
            },
            Route(method: .get, path: "/v1/cluster") { _, ctx in
                try ctx.require(.read)
                let store = gateway.store
                // Three missed heartbeats (see ClusterMembership) and a node is gone from the list.
                let nodes = try await store.liveNodes(window: max(15, store.lease / 2), now: Date())
                return json(ClusterView(node: store.node, shared: store.isShared, leaseSeconds: store.lease, nodes: nodes))
            },
            Route(method: .get, path: "/v1/cmms/check", handler: cmmsCheck),
            Route(method: .post, path: "/v1/capture/{camera}/relearn", handler: relearn),
            Route(method: .post, path: "/v1/login", handler: login),
            Route(method: .post, path: "/v1/logout", handler: logout),
            Route(method: .get, path: "/v1/audit", handler: listAudit),
        ] + pages + analyticsRoutes + exportRoutes + shadowRoutes
    }

    public func router() -> Hummingbird.Router<MillwrightContext> {
        let router = Hummingbird.Router(context: MillwrightContext.self)
        router.add(middleware: ProblemMiddleware())
        router.add(middleware: MethodNotAllowedMiddleware(routes: routes.map { ($0.method, $0.path) }))
        router.add(middleware: AuthMiddleware(keyring: keyring, accounts: accounts))
        for r in routes { router.on(RouterPath(r.path), method: r.method, use: r.handler) }
        return router
    }

    /// The whole body, up to `server.max_body_bytes`: a declared length past it is refused
    /// before reading, a chunked body when it runs past. `fix` tells the client what to do.
    func limitedBody(_ request: Request, fix: String) async throws -> ByteBuffer {
        let limit = gateway.settings.server.maxBodyBytes
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
            throw Problem(.contentTooLarge, type: "body-too-large", detail: "body is \(length) bytes; the limit is \(limit) bytes (server.max_body_bytes). \(fix)")
        }
        var req = request
        do { return try await req.collectBody(upTo: limit) } catch is NIOTooManyBytesError {
            throw Problem(.contentTooLarge, type: "body-too-large", detail: "body exceeds \(limit) bytes (server.max_body_bytes). \(fix)")
        }
    }

    // MARK: Handlers

    func postDetections(_ request: Request, _ ctx: MillwrightContext) async throws -> Response {
        try ctx.require(.ingest)
        let body = try await limitedBody(request, fix: "Send smaller batches.")
        let q = request.uri.queryParameters
        var format: VisionFormat?
        if let f = q.get("format"), f != "auto" {
            guard let v = VisionFormat(rawValue: f) else {
                throw Problem(.badRequest, type: "unknown-format", detail: "format '\(f)' is not supported; use one of \(VisionFormat.allCases.map(\.rawValue).joined(separator: ", ")) or leave it out to auto-detect")
            }
            format = v
        }
        var source = Gateway.Source(format: format, camera: q.get("camera"))
        source.messageKey = request.headers[.init("Idempotency-Key")!]
        if let a = q.get("assumed_confidence") {
            guard let v = Double(a), v.isFinite, (0...1).contains(v) else {
                throw Problem(.badRequest, type: "invalid-query", detail: "assumed_confidence must be a number from 0 to 1")
            }
            source.assumedConfidence = v
        }
        let report: Gateway.IngestReport
        do {
            report = try await gateway.ingest(body: Data(body.readableBytesView), source: source)
        } catch Gateway.IngestError.unreadable(let p) {
            throw Problem(.badRequest, type: "invalid-json", detail: p.problem)
        } catch Gateway.IngestError.tooManyItems(let n, let limit) {
            throw Problem(.contentTooLarge, type: "batch-too-large", detail: "batch has \(n) items; the limit is \(limit). Split it into smaller batches.")
        } catch Gateway.IngestError.quarantined(let crashes, let sha) {
            throw Problem(.unprocessableContent, type: "quarantined",
                          detail: "the gateway stopped \(crashes) times while processing this exact payload (SHA-256 \(sha)); it is refused and recorded in the audit trail. Report it to the Millwright team.")
        } catch Gateway.IngestError.shuttingDown {
            throw Problem(.serviceUnavailable, type: "shutting-down", detail: "the gateway is stopping; nothing was stored. Send it again.")
        }
        let rejected = report.rejected.map { ProblemItem(index: $0.index, field: $0.field, problem: $0.problem) }
        if report.accepted.isEmpty && !rejected.isEmpty {
            let first = rejected[0]
            throw Problem(.unprocessableContent, type: "invalid-detection",
                          detail: "no detection accepted: " + (first.field.map { "\($0) " } ?? "") + first.problem
                              + (rejected.count > 1 ? " (and \(rejected.count - 1) more)" : ""),
                          errors: rejected)
        }
        return IngestResponse(report).response
    }

    func listDetections(_ request: Request, _ ctx: MillwrightContext) async throws -> Response {
        try ctx.require(.read)
        let q = request.uri.queryParameters
        var f = DetectionFilter(camera: q.get("camera"), limit: try limit(q))
        if let s = q.get("status") {
            guard let st = DetectionStatus(rawValue: s) else {
                throw Problem(.badRequest, type: "invalid-query", detail: "status '\(s)' is not one of \(DetectionStatus.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            f.status = st
        }
        if let s = q.get("since") {
            guard let d = Timestamps.parseISO(s) else { throw Problem(.badRequest, type: "invalid-query", detail: "since '\(s)' is not an ISO 8601 time") }
            f.since = d
        }
        let after = try ListCursor.after(request, list: .detections)
        return ListCursor.response(try await gateway.store.detectionsPage(f, after: after), list: .detections, request: request)
    }

    func listIncidents(_ request: Request, _ ctx: MillwrightContext) async throws -> Response {
        try ctx.require(.read)
        let q = request.uri.queryParameters
        var open: Bool?
        switch q.get("state") {
        case nil: break
        case "open": open = true
        case "closed": open = false
        case let s?: throw Problem(.badRequest, type: "invalid-query", detail: "state '\(s)' must be open or closed")
        }
        let limit = try limit(q), after = try ListCursor.after(request, list: .incidents)
        return ListCursor.response(try await gateway.store.incidentsPage(open: open, limit: limit, after: after), list: .incidents, request: request)
    }

    func listWorkOrders(_ request: Request, _ ctx: MillwrightContext) async throws -> Response {
        try ctx.require(.read)
        let q = request.uri.queryParameters
        var shadow: Bool?
        if let s = q.get("shadow") {
            guard let b = Bool(s) else { throw Problem(.badRequest, type: "invalid-query", detail: "shadow must be true or false") }
            shadow = b
        }
        if let p = q.get("phase"), DeliveryState.Phase(rawValue: p) == nil {
            throw Problem(.badRequest, type: "invalid-query", detail: "phase '\(p)' is not one of \(DeliveryState.Phase.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let limit = try limit(q), after = try ListCursor.after(request, list: .workOrders)
        let page = try await gateway.store.workOrdersPage(shadow: shadow, phase: q.get("phase"), limit: limit, after: after)
        return ListCursor.response(page, list: .workOrders, request: request)
    }

    func feedback(_ request: Request, _ ctx: MillwrightContext) async throws -> Response {
        try ctx.require(.feedback)
        let id = try ctx.parameters.require("id")
        var req = request
        let body = try await req.collectBody(upTo: 64 << 10)
        guard let input = try? JSONValue.parse(Data(body.readableBytesView)), input.objectValue != nil else {
            throw Problem(.badRequest, type: "invalid-json", detail: "body must be a JSON object {\"verdict\": \"false_positive\"|\"confirmed\", \"by\": …, \"note\": …, \"signature\": …}")
        }
        guard let verdict = input["verdict"]?.stringValue, ["false_positive", "confirmed"].contains(verdict) else {
            throw Problem(.unprocessableContent, type: "invalid-feedback", detail: "verdict must be \"false_positive\" or \"confirmed\"",
                          errors: [ProblemItem(index: nil, field: "verdict", problem: "must be false_positive or confirmed")])
        }
        for field in ["by", "note"] {
            if let v = input[field], v != .null, v.stringValue == nil {
                throw Problem(.unprocessableContent, type: "invalid-feedback", detail: "\(field) must be a string",
                              errors: [ProblemItem(index: nil, field: field, problem: "must be a string")])
            }
        }
        let signature = try await sign("feedback", input, ctx, needs: .feedback)
        do {
            // A signed verdict is the signer's, whatever `by` says.
            _ = try await gateway.store.feedback(incidentId: id, falsePositive: verdict == "false_positive",
                                                 by: signature?.user ?? input["by"]?.stringValue ?? ctx.caller?.name, note: input["note"]?.stringValue,
                                                 signature: signature, now: Date())
        } catch StoreError.notFound { throw notFound("incident") }
        let incident = try await gateway.store.incident(id: id)
        if let incident {
            gateway.events.note("incident", ["id": .string(incident.id), "camera": .string(incident.cameraId), "state": .string(incident.state),
                                             "detail": .string("verdict \(verdict)")])
        }
        return json(incident)
    }

    /// The annotated image, by its SHA-256 or by incident id. With a key (viewer and up) or a
    /// signed, unexpired link; content-addressed, so it is cacheable forever. `?w=` asks for a
    /// thumbnail that many pixels wide (see `thumbnail`).
    func evidenceImage(_ request: Request, _ ctx: MillwrightContext) async throws -> Response {
        let id = try ctx.parameters.require("id")
        // Who may ask comes before whether there is anything to give.
        if ctx.caller != nil { try ctx.require(.read) }
        guard let evidence = gateway.evidence else { throw notFound("evidence") }
        var hash = id
        if !EvidenceStore.isValidHash(id) {
            if ctx.caller == nil { throw Problem(.unauthorized, type: "unauthorized", detail: "signed links name the image by its SHA-256") }
            try ctx.require(.read)
            guard let h = try await gateway.store.evidenceHash(incidentId: id) else { throw notFound("evidence for incident \(id)") }
            hash = h
        }
        if ctx.caller == nil {
            let q = request.uri.queryParameters
            guard let secret = gateway.settings.evidence.signingSecret, let exp = q.get("exp"), let sig = q.get("sig") else {
                throw Problem(.unauthorized, type: "unauthorized", detail: "send Authorization: Bearer <api key> or use a signed link")
            }
            switch EvidenceLink.check(hash: hash, token: "exp=\(exp)&sig=\(sig)", secret: Data(secret.utf8)) {
            case .valid: break
            case .expired: throw Problem(.forbidden, type: "link-expired", detail: "this evidence link has expired; open the incident in Millwright for a new one")
            default: throw Problem(.forbidden, type: "bad-signature", detail: "this evidence link is not valid")
            }
        } else {
            try ctx.require(.read)
        }
        let width = try thumbnailWidth(request.uri.queryParameters)
        let etag = width.map { "\"\(hash)-w\($0)\"" } ?? "\"\(hash)\""
        if request.headers[.ifNoneMatch] == etag {
            return Response(status: .notModified, headers: [.eTag: etag])
        }
        var data: Data
        do { data = try evidence.images.get(hash) } catch { throw notFound("evidence \(hash.prefix(12))…") }
        if let width { data = try await thumbnail(data, width: width) }
        return Response(status: .ok, headers: [.contentType: "image/jpeg", .eTag: etag, .cacheControl: "private, max-age=31536000, immutable"],
                        body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// `w`, when asked for: a whole number of pixels in `JPEG.thumbnailWidths`.
    func thumbnailWidth(_ q: Hummingbird.Parameters) throws -> Int? {
        guard let s = q.get("w") else { return nil }
        let range = JPEG.thumbnailWidths
        guard s.utf8.count <= 4, let w = Int(s), range.contains(w) else {
            throw Problem(.badRequest, type: "invalid-query", detail: "w must be a whole number of pixels from \(range.lowerBound) to \(range.upperBound)")
        }
        return w
    }

    /// A scaled copy of a stored image, decoded under `thumbnails`' bound. Only the gateway
    /// writes the evidence store, so a failure here is the store's, not the caller's.
    func thumbnail(_ data: Data, width: Int) async throws -> Data {
        do {
            return try await thumbnails.run { try JPEG.thumbnail(data, width: width) }
        } catch is DecodeGate.Busy {
            var p = Problem(.serviceUnavailable, type: "busy", detail: "too many thumbnails are being made at once; ask again in a moment")
            p.retryAfter = 1
            throw p
        } catch {
            throw Problem(.internalServerError, type: "evidence-unreadable", detail: "the stored image could not be scaled: \(error)")
        }
    }

    func readyz(_ request: Request, _ ctx: MillwrightContext) async throws -> Response {
        try ctx.require(.read)
        var checks: [String: String] = [:]
        var ok = true
        do { try await gateway.store.ping(); checks["store"] = "ok" } catch { checks["store"] = "unreachable: \(error)"; ok = false }
        await withTaskGroup(of: (String, String, Bool).self) { group in
            for c in gateway.connectors.values {
                group.addTask {
                    let results = await c.checkConnection()
                    let failed = results.first { !$0.ok && ($0.step == "reach" || $0.step == "authenticate") }
                    return ("cmms:\(c.name)", failed.map { "\($0.step): \($0.detail)" } ?? "ok", failed == nil)
                }
            }
            for await (k, v, good) in group { checks[k] = v; ok = ok && good }
        }
        if let mqtt = gateway.mqttStatus.current {
            checks.merge(mqtt.readyFields) { a, _ in a }
            ok = ok && mqtt.state == .connected
        }
        // Reported, not required: a container often cannot see the host's time service.
        checks["time_sync"] = TimeSync.status().rawValue
        // Capture cameras are reported, not required: a camera that is down costs a detection its
        // picture, never its work order.
        for s in gateway.capture?.statuses ?? [] {
            checks["capture:\(s.camera)"] = CaptureHub.readyText(s)
            if let d = gateway.capture?.detectorStatus(s.camera) { checks["capture:\(s.camera):detector"] = d.text }
        }
        return json(["ready": ok ? "true" : "false"].merging(checks) { a, _ in a }, status: ok ? .ok : .serviceUnavailable)
    }

    /// The camera's reference detector learns its reference again from the next frames: after
    /// a repair, a new product, a moved light. Admin only: until it is learnt, the camera raises nothing.
    func relearn(_ request: Request, _ ctx: MillwrightContext) async throws -> Response {
        try ctx.require(.admin)
        let camera = try ctx.parameters.require("camera")
        switch gateway.capture?.relearn(camera: camera) ?? .notCaptured {
        case .notCaptured: throw notFound("capture camera \(camera.prefix(200))")
        case .noDetector: throw Problem(.conflict, type: "no-detector", detail: "capture camera \(camera.prefix(200)) has no detector; add detector: { kind: reference } to it")
        case .learnsNothing: throw Problem(.conflict, type: "no-detector", detail: "capture camera \(camera.prefix(200))'s detector is a worker (kind: command); it has no reference to learn")
        case .started:
            gateway.logger.info("detector relearn asked", metadata: ["camera": "\(camera)", "by": "\(ctx.caller?.name ?? "?")"])
            let status = gateway.capture?.detectorStatus(camera)
            return json(["camera": camera, "detector": status?.text ?? "learning"], status: .accepted)
        }
    }

    /// `check-connection` over the API: admin only, because it makes each CMMS answer up to 500 reads.
    /// Origins name the configuration as `config` (the server does not keep the file's name).
    func cmmsCheck(_ request: Request, _ ctx: MillwrightContext) async throws -> Response {
        try ctx.require(.admin)
        var out: [JSONValue] = []
        for entry in gateway.settings.cmms {
            guard let c = gateway.connectors[entry.name] else { continue }
            let checks = await c.checkConnection()
            let refs = MappedReferences.collect(settings: gateway.settings, cmms: entry, register: gateway.register,
                                                registerFile: gateway.settings.assets.registerPath, configFile: "config")
            let results = await c.checkReferences(refs)
            out.append(.object([
                "name": .string(c.name), "kind": .string(c.kind),
                "checks": .array(checks.map { ch in
                    var o: [String: JSONValue] = ["step": .string(ch.step), "ok": .bool(ch.ok), "detail": .string(ch.detail)]
                    if let f = ch.fix { o["fix"] = .string(f) }
                    return .object(o)
                }),
                "references": .array(results.map { r in
                    var o: [String: JSONValue] = ["kind": .string(r.reference.kind.rawValue), "id": .string(r.reference.id),
                                                  "origin": .string(r.reference.origin), "status": .string(r.status.label)]
                    if let a = r.asked { o["asked"] = .string(a) }
                    if let d = r.status.detail { o["detail"] = .string(d) }
                    return .object(o)
                }),
                "missing": .number(Double(results.filter { $0.status.label == "missing" }.count)),
            ]))
        }
        return json(JSONValue.object(["cmms": .array(out)]))
    }

    func metrics(_ request: Request, _ ctx: MillwrightContext) async throws -> Response {
        try ctx.require(.read)
        gateway.mqttStatus.publishMetrics()
        if let capture = gateway.capture { CaptureService.publishMetrics(capture) }
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
    }

    func limit(_ q: Hummingbird.Parameters) throws -> Int {
        guard let s = q.get("limit") else { return 100 }
        guard let n = Int(s), (1...1000).contains(n) else { throw Problem(.badRequest, type: "invalid-query", detail: "limit must be 1–1000") }
        return n
    }

    struct ClusterView: Encodable {
        var node: String
        var shared: Bool
        var leaseSeconds: Double
        var nodes: [Store.NodeView]
    }

    func notFound(_ what: String) -> Problem { Problem(.notFound, type: "not-found", detail: "\(what) not found") }
}

/// A path the API has, asked with a method it does not take, is a 405 naming the methods it
/// takes (`Allow`), not the router's 404.
struct MethodNotAllowedMiddleware: RouterMiddleware {
    typealias Context = MillwrightContext
    let routes: [(method: HTTPRequest.Method, segments: [Substring])]

    init(routes: [(HTTPRequest.Method, String)]) {
        self.routes = routes.map { ($0.0, $0.1.split(separator: "/", omittingEmptySubsequences: true)) }
    }

    func allowed(_ path: String) -> [String] {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        let methods = routes.filter { r in
            r.segments.count == segments.count && zip(r.segments, segments).allSatisfy { $0.hasPrefix("{") || $0 == $1 }
        }.map(\.method.rawValue)
        return Array(Set(methods)).sorted()
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let e as HTTPError where e.status == .notFound {
            let methods = allowed(request.uri.path)
            guard !methods.isEmpty, !methods.contains(request.method.rawValue) else { throw e }
            throw HTTPError(.methodNotAllowed, headers: [.allow: methods.joined(separator: ", ")],
                            message: "\(request.method.rawValue) is not allowed on \(request.uri.path); it takes \(methods.joined(separator: ", "))")
        }
    }
}

/// The 202 body: what `apiEncoder` would write for it (keys sorted and in snake case, absent
/// fields left out), written directly since every submission gets one.
struct IngestResponse {
    let report: Gateway.IngestReport

    init(_ report: Gateway.IngestReport) { self.report = report }

    var body: String {
        var out = "{\"accepted\":["
        for (i, o) in report.accepted.enumerated() {
            if i > 0 { out += "," }
            CanonicalJSON.writeString(o.id, into: &out)
        }
        out += "]"
        if let format = report.format {
            out += ",\"format\":"
            CanonicalJSON.writeString(format, into: &out)
        }
        out += ",\"rejected\":["
        for (i, r) in report.rejected.enumerated() {
            if i > 0 { out += "," }
            out += "{"
            if let field = r.field {
                out += "\"field\":"
                CanonicalJSON.writeString(field, into: &out)
                out += ","
            }
            out += "\"index\":\(r.index),\"problem\":"
            CanonicalJSON.writeString(r.problem, into: &out)
            out += "}"
        }
        out += "],\"results\":["
        for (i, o) in report.accepted.enumerated() {
            if i > 0 { out += "," }
            out += o.duplicate ? "{\"duplicate\":true,\"id\":" : "{\"duplicate\":false,\"id\":"
            CanonicalJSON.writeString(o.id, into: &out)
            if let incident = o.incidentId {
                out += ",\"incident_id\":"
                CanonicalJSON.writeString(incident, into: &out)
            }
            out += ",\"reason\":"
            CanonicalJSON.writeString(o.reason, into: &out)
            out += ",\"status\":"
            CanonicalJSON.writeString(o.status.rawValue, into: &out)
            out += "}"
        }
        return out + "]}"
    }

    var response: Response {
        Response(status: .accepted, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}

let apiEncoder: JSONEncoder = {
    let e = JSONEncoder()
    e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    e.keyEncodingStrategy = .convertToSnakeCase
    e.dateEncodingStrategy = .custom { d, enc in var c = enc.singleValueContainer(); try c.encode(Timestamps.format(d)) }
    return e
}()

func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
    let data = (try? apiEncoder.encode(value)) ?? Data("{}".utf8)
    return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
}
