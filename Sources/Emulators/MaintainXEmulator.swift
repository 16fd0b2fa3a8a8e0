import Connectors
import Foundation
import HTTPTypes
import Hummingbird
import MillwrightCore
import NIOCore

/// `millwright emulate maintainx`: MaintainX REST API v1 under `/v1`.
///
/// Covers `POST /v1/workorders` validated against the request schema in MaintainX's OpenAPI
/// (`maintainx-openapi.json`: unknown property, wrong type, value outside an enum, missing title →
/// `400 {"errors": [{"error", "fieldPath"}]}`; `extraFields` labels must be custom fields of the
/// organization: "Millwright Reference", "Defect Class"), `GET /v1/workorders` (`sort`, `limit` ≤ 200,
/// `createdAt[gte]`, `expand=extra_fields`), `GET /v1/workorders/{id}`, `PATCH /v1/workorders/{id}/status`
/// (a technician's change), `POST /v1/workorders/{id}/comments`, `PUT /v1/workorders/{id}/attachments/{filename}`.
/// Bearer auth; `x-organization-id` must be an integer when sent. Rate limit: a fixed window
/// (default 60 requests per 60 s) with `X-Rate-Limit-Limit/Remaining/Reset` on every answer and
/// `429` + `Retry-After` when used up.
public enum MaintainXEmulator {
    public static let customFields: Set<String> = ["Millwright Reference", "Defect Class"]
    public static let statuses = ["OPEN", "IN_PROGRESS", "ON_HOLD", "DONE", "CANCELED"]

    /// Used only when the OpenAPI file is absent; the tests compare it with the file.
    public static let embeddedSchema = OpenAPIBody(properties: [
        "title": OpenAPIProperty(types: ["string"]),
        "description": OpenAPIProperty(types: ["string"], nullable: true),
        "priority": OpenAPIProperty(types: ["string"], enumValues: ["NONE", "LOW", "MEDIUM", "HIGH"]),
        "type": OpenAPIProperty(types: ["string"], enumValues: ["OTHER", "REACTIVE", "PREVENTIVE"]),
        "assetId": OpenAPIProperty(types: ["integer"], nullable: true),
        "locationId": OpenAPIProperty(types: ["integer"], nullable: true),
        "categories": OpenAPIProperty(types: ["array"]),
        "workOrderTemplateId": OpenAPIProperty(types: ["integer"], nullable: true),
        "externalData": OpenAPIProperty(types: ["object", "number", "string"], nullable: true),
        "extraFields": OpenAPIProperty(types: ["object"]),
    ], required: ["title"])

    public static func schema(from dir: URL? = SpecFiles.directory()) -> OpenAPIBody {
        if let u = SpecFiles.file("maintainx-openapi.json", in: dir), let s = try? OpenAPIBody.load(u, path: "/workorders", method: "post") { return s }
        return embeddedSchema
    }

    public static func router(state: EmulatorState) -> Hummingbird.Router<BasicRequestContext> {
        router(state: state, schema: schema(), limit: 60, window: 60)
    }

    actor Window {
        let limit: Int
        let window: TimeInterval
        var start = Date()
        var used = 0
        init(limit: Int, window: TimeInterval) { self.limit = limit; self.window = window }
        /// (allowed, remaining, reset seconds)
        func take(now: Date = Date()) -> (Bool, Int, Int) {
            if now.timeIntervalSince(start) >= window { start = now; used = 0 }
            let reset = max(1, Int((window - now.timeIntervalSince(start)).rounded(.up)))
            guard used < limit else { return (false, 0, reset) }
            used += 1
            return (true, limit - used, reset)
        }
    }

    struct RateLimit<Context: RequestContext>: RouterMiddleware {
        let window: Window
        func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
            let (ok, remaining, reset) = await window.take()
            var h = HTTPFields()
            h[HTTPField.Name("X-Rate-Limit-Limit")!] = String(window.limit)
            h[HTTPField.Name("X-Rate-Limit-Remaining")!] = String(remaining)
            h[HTTPField.Name("X-Rate-Limit-Reset")!] = String(reset)
            guard ok else {
                h[.retryAfter] = String(reset)
                var r = errors(.tooManyRequests, [(nil, "Too many requests, please retry in \(reset) seconds")])
                for f in h { r.headers.append(f) }
                return r
            }
            var r = try await next(request, context)
            for f in h { r.headers[f.name] = f.value }
            return r
        }
    }

    struct Auth<Context: RequestContext>: RouterMiddleware {
        let state: EmulatorState
        func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
            guard let a = request.headers[.authorization], a.lowercased().hasPrefix("bearer "), a.count > 7 else {
                return Response(status: .unauthorized, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: "Invalid token")))
            }
            if let valid = state.options.credentials, !valid.contains(String(a.dropFirst(7))) {
                return Response(status: .unauthorized, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: "Invalid token")))
            }
            if let org = request.headers[HTTPField.Name("x-organization-id")!], Int(org) == nil {
                return errors(.badRequest, [("x-organization-id", "x-organization-id must be an integer")])
            }
            return try await next(request, context)
        }
    }

    actor Store {
        var records: [String: [String: JSONValue]] = [:]
        var raw: [String: String] = [:]
        func put(_ id: String, _ r: [String: JSONValue]) { records[id] = r }
        func get(_ id: String) -> [String: JSONValue] { records[id] ?? [:] }
        func set(_ id: String, status: String) { raw[id] = status }
        func status(_ id: String) -> String? { raw[id] }
    }

    static func common(_ s: String) -> String {
        switch s { case "IN_PROGRESS": "in_progress"; case "DONE": "completed"; case "CANCELED", "SKIPPED": "cancelled"; default: "open" }
    }
    static func native(_ common: String) -> String {
        switch common { case "in_progress": "IN_PROGRESS"; case "completed", "false_positive": "DONE"; case "cancelled": "CANCELED"; default: "OPEN" }
    }

    public static func router(state: EmulatorState, schema: OpenAPIBody, limit: Int, window: TimeInterval) -> Hummingbird.Router<BasicRequestContext> {
        let router = Hummingbird.Router()
        let store = Store()
        router.add(middleware: FaultInjection(state: state))
        EmulatorHTTP.addInspection(to: router, state: state, kind: "maintainx")
        let api = router.group("v1")
        api.add(middleware: RateLimit(window: Window(limit: limit, window: window)))
        api.add(middleware: Auth(state: state))

        @Sendable func view(_ w: EmulatedWorkOrder, extra: Bool) async -> JSONValue {
            var v = await store.get(w.id)
            if !extra { v.removeValue(forKey: "extraFields") }
            v["id"] = .number(Double(w.id) ?? 0)
            v["sequentialId"] = .number(Double((Int(w.id) ?? 1000) - 1000))
            let raw = await store.status(w.id)
            v["status"] = .string(raw.flatMap { common($0) == w.status ? $0 : nil } ?? native(w.status))
            v["createdAt"] = .string(Timestamps.format(w.createdAt))
            v["updatedAt"] = .string(Timestamps.format(w.createdAt))
            v["attachments"] = .array(w.attachments.map { .object(["fileName": .string($0), "mimeType": .string("image/jpeg")]) })
            return .object(v)
        }

        api.post("workorders") { request, _ in
            guard let body = (try? JSONValue.parse(try await EmulatorHTTP.body(request)))?.objectValue else {
                return errors(.badRequest, [(nil, "Body must be a JSON object")])
            }
            var problems = schema.validate(body)
            for (label, value) in body["extraFields"]?.objectValue ?? [:] {
                if !customFields.contains(label) { problems.append(("extraFields.\(label)", "Custom field \"\(label)\" does not exist in this organization")) }
                else if value.stringValue == nil { problems.append(("extraFields.\(label)", "\"\(label)\" must be a string")) }
            }
            for (i, a) in (body["assignees"]?.arrayValue ?? []).enumerated() {
                // The OpenAPI's item schema: {type: USER|TEAM, id: integer | string (a user's e-mail)}.
                if !["USER", "TEAM"].contains(a["type"]?.stringValue ?? "") { problems.append(("assignees[\(i)].type", "\"type\" must be one of [USER, TEAM]")) }
                if a["id"]?.doubleValue == nil && a["id"]?.stringValue == nil { problems.append(("assignees[\(i)].id", "\"id\" must be an integer or a string")) }
            }
            if let t = body["title"]?.stringValue, t.trimmingCharacters(in: .whitespaces).isEmpty { problems.append(("title", "\"title\" is not allowed to be empty")) }
            if !problems.isEmpty { return errors(.badRequest, problems) }
            let wo = await state.add { id in
                EmulatedWorkOrder(id: id, reference: body["externalData"]?["millwrightReference"]?.stringValue ?? body["extraFields"]?["Millwright Reference"]?.stringValue,
                                  title: body["title"]?.stringValue ?? "", asset: body["assetId"]?.stringOrNumber, priority: body["priority"]?.stringValue,
                                  status: "open", createdAt: Date(), notes: [], attachments: [], body: .object(body),
                                  assignee: body["assignees"]?.arrayValue?.first?["id"]?.stringOrNumber)
            }
            await store.put(wo.id, body)
            return EmulatorHTTP.json(status: .ok, ["id": Int(wo.id) ?? 0])
        }

        api.get("workorders") { request, _ in
            let q = request.uri.queryParameters
            let limit = q.get("limit").flatMap(Int.init) ?? 100
            guard (1...200).contains(limit) else { return errors(.badRequest, [("limit", "\"limit\" must be between 1 and 200")]) }
            if let s = q.get("sort"), !["createdAt", "-createdAt", "updatedAt", "-updatedAt"].contains(s) { return errors(.badRequest, [("sort", "\"sort\" is not supported by the emulator")]) }
            var items = await state.all()
            if let since = q.get("createdAt[gte]") {
                guard let d = Timestamps.parseISO(since) else { return errors(.badRequest, [("createdAt[gte]", "must be a date-time")]) }
                items = items.filter { $0.createdAt >= d }
            }
            items.sort { $0.createdAt == $1.createdAt ? (Int($0.id) ?? 0) > (Int($1.id) ?? 0) : $0.createdAt > $1.createdAt }
            if q.get("sort") == "createdAt" || q.get("sort") == "updatedAt" { items.reverse() }
            let extra = q.getAll("expand").contains("extra_fields")
            var out: [JSONValue] = []
            for w in items.prefix(limit) { out.append(await view(w, extra: extra)) }
            return EmulatorHTTP.json(status: .ok, ["workOrders": JSONValue.array(out), "nextCursor": .null])
        }

        api.get("workorders/:id") { _, context in
            guard let id = context.parameters.get("id"), let w = await state.find(id: id) else { return errors(.notFound, [(nil, "Work order not found")]) }
            return EmulatorHTTP.json(status: .ok, ["workOrder": await view(w, extra: true)])
        }

        api.patch("workorders/:id/status") { request, context in
            let s = (try? JSONValue.parse(try await EmulatorHTTP.body(request)))?["status"]?.stringValue ?? ""
            guard statuses.contains(s) else { return errors(.badRequest, [("status", "\"status\" must be one of [\(statuses.joined(separator: ", "))]")]) }
            guard let id = context.parameters.get("id"), await state.update(id: id, { $0.status = common(s) }) != nil else { return errors(.notFound, [(nil, "Work order not found")]) }
            await store.set(id, status: s)
            return EmulatorHTTP.json(status: .ok, ["status": s])
        }

        api.post("workorders/:id/comments") { request, context in
            guard let text = (try? JSONValue.parse(try await EmulatorHTTP.body(request)))?["content"]?.stringValue, !text.isEmpty else {
                return errors(.badRequest, [("content", "\"content\" is required")])
            }
            guard let id = context.parameters.get("id"), await state.update(id: id, { $0.notes.append(text) }) != nil else { return errors(.notFound, [(nil, "Work order not found")]) }
            return EmulatorHTTP.json(status: .ok, ["id": 1])
        }

        api.put("workorders/:id/attachments/:filename") { request, context in
            guard let ct = request.headers[.contentType], ct == "application/octet-stream" || ct.hasPrefix("image/") || ct.hasPrefix("application/") else {
                return errors(.badRequest, [(nil, "Content-Type must be application/octet-stream or the file's type")])
            }
            let data = try await EmulatorHTTP.body(request)
            guard !data.isEmpty else { return errors(.badRequest, [(nil, "Attachment is empty")]) }
            let raw = context.parameters.get("filename") ?? ""
            let name = raw.removingPercentEncoding ?? raw
            guard let id = context.parameters.get("id"), await state.attach(id: id, name: name, data: data) else {
                return errors(.notFound, [(nil, "Work order not found")])
            }
            return EmulatorHTTP.json(status: .ok, ["fileName": name])
        }
        return router
    }

    static func errors(_ status: HTTPResponse.Status, _ list: [(String?, String)]) -> Response {
        EmulatorHTTP.json(status: status, ["errors": JSONValue.array(list.map { p in
            var o: [String: JSONValue] = ["error": .string(p.1)]
            if let f = p.0 { o["fieldPath"] = .string(f) }
            return .object(o)
        })])
    }
}
