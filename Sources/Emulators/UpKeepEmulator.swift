import Foundation
import HTTPTypes
import Hummingbird
import MillwrightCore
import NIOCore

/// `millwright emulate upkeep`: UpKeep API v2 under `/api/v2`.
///
/// Covers `POST /api/v2/auth/` (email + password → `sessionToken`), `Session-Token` on every other
/// call (401 when missing, unknown or expired), `POST /api/v2/work-orders/` (title required, priority
/// 0–3, unknown fields rejected → 400 `{"success": false, "message"}`), `GET /api/v2/work-orders/`
/// and `/{id}`, `PATCH /api/v2/work-orders/{id}` (JSON: status open/onHold/inProgress/complete, as a
/// technician would; multipart: the `image` file), the files' links (`/files/{id}/{name}`, no session).
/// Helper `POST /_emulator/upkeep/expire-sessions`.
/// No public machine-readable spec exists (SOURCES.md): fields follow UpKeep's v2 documentation.
public enum UpKeepEmulator {
    static let fields: Set<String> = ["title", "description", "priority", "category", "asset", "location", "dueDate", "assignedToUser", "team"]
    static let statuses: Set<String> = ["open", "onHold", "inProgress", "complete"]

    actor Sessions {
        var tokens: Set<String> = []
        var status: [String: String] = [:]
        func issue() -> String { let t = UUID().uuidString; tokens.insert(t); return t }
        func valid(_ t: String?) -> Bool { t.map(tokens.contains) ?? false }
        func expire() { tokens.removeAll() }
    }

    static func fail(_ status: HTTPResponse.Status, _ message: String) -> Response {
        EmulatorHTTP.json(status: status, ["success": JSONValue.bool(false), "message": .string(message)])
    }

    static func common(_ s: String) -> String { ["inProgress": "in_progress", "complete": "completed"][s] ?? "open" }

    public static func router(state: EmulatorState) -> Hummingbird.Router<BasicRequestContext> {
        let router = Hummingbird.Router()
        let sessions = Sessions()
        router.add(middleware: FaultInjection(state: state))
        EmulatorHTTP.addInspection(to: router, state: state, kind: "upkeep")
        // --preload: unrelated work orders in UpKeep's create shape.
        state.preload { s in
            let b: [String: JSONValue] = ["title": .string(s.title), "description": .string("Routine job \(s.reference)"),
                                          "priority": .number(Double(s.index % 4)), "asset": .string(s.asset), "category": .string(["Preventive", "Damage", "Inspection"][s.index % 3])]
            return EmulatedWorkOrder(id: s.id, reference: nil, title: s.title, asset: s.asset, priority: String(s.index % 4), status: s.status,
                                     createdAt: s.createdAt, notes: [], attachments: [], body: .object(b))
        }
        let tenant = state.options.tenant
        router.post("/_emulator/upkeep/expire-sessions") { _, _ in await sessions.expire(); return EmulatorHTTP.json(status: .ok, ["expired": true]) }

        router.post("/api/v2/auth") { request, _ in
            let b = (try? JSONValue.parse(try await EmulatorHTTP.body(request))) ?? .null
            guard let email = b["email"]?.stringValue, email.contains("@"), let pw = b["password"]?.stringValue, !pw.isEmpty else {
                return fail(.badRequest, "email and password are required")
            }
            if let valid = state.options.credentials, !valid.contains("\(email):\(pw)") { return fail(.unauthorized, "Invalid email or password") }
            return EmulatorHTTP.json(status: .ok, ["success": JSONValue.bool(true), "result": .object(["sessionToken": .string(await sessions.issue())])])
        }

        @Sendable func authorized(_ r: Request) async -> Bool { await sessions.valid(r.headers[HTTPField.Name("Session-Token")!]) }
        /// A work order as UpKeep answers it. `image` is the newest image's link and `files` every file's
        /// (`{name, url, mimeType, createdAt}`): links on the emulator (`/files/{id}/{name}`, no session, as
        /// UpKeep's are to its file storage). A completed work order has `dateCompleted`, and the
        /// technician's closure code as its `category` (UpKeep has no closure-code field).
        @Sendable func view(_ w: EmulatedWorkOrder, host: String?) async -> JSONValue {
            var v = w.body.objectValue ?? [:]
            v["id"] = .string(w.id)
            v["status"] = .string(["in_progress": "inProgress", "completed": "complete", "cancelled": "complete", "false_positive": "complete"][w.status] ?? "open")
            func link(_ name: String) -> String {
                let path = "/files/\(w.id)/" + (name.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._"))) ?? name)
                return host.map { "http://\($0)" + path } ?? path
            }
            var files: [JSONValue] = []
            for name in w.attachments {
                let f = await state.storedFile(id: w.id, name: name)
                files.append(.object(["name": .string(name), "url": .string(link(name)), "mimeType": .string(f?.contentType ?? "image/jpeg"),
                                      "createdAt": .string(Timestamps.format(f?.at ?? w.createdAt))]))
            }
            v["image"] = w.attachments.last.map { .string(link($0)) } ?? .null
            v["files"] = .array(files)
            if let code = w.closureCode { v["category"] = .string(code) }
            if let done = w.completedAt, v["status"]?.stringValue == "complete" { v["dateCompleted"] = .string(Timestamps.format(done)) }
            v["createdAt"] = .string(Timestamps.format(w.createdAt))
            return .object(v)
        }
        router.get("/files/:id/:name") { _, context in
            guard let id = context.parameters.get("id"), let raw = context.parameters.get("name"),
                  let f = await state.storedFile(id: id, name: raw.removingPercentEncoding ?? raw) else { return fail(.notFound, "File not found") }
            return Response(status: .ok, headers: [.contentType: f.contentType], body: .init(byteBuffer: ByteBuffer(bytes: f.data)))
        }

        // Master data by id (`GET /api/v2/assets/{id}`, `/locations/{id}`, `/users/{id}`): `{"success": true,
        // "result": {…}}`, or 404 `{"success": false, "message": …}` for an id the tenant lacks. Without that
        // tenant table (locations: functional_locations and the assets' locations) every id is a record.
        for (path, kind) in [("assets", "Asset"), ("locations", "Location"), ("users", "User")] {
            router.get("/api/v2/\(path)/:id") { request, context in
                guard await authorized(request) else { return fail(.unauthorized, "Session token is invalid or expired") }
                let raw = context.parameters.get("id") ?? ""
                let id = raw.removingPercentEncoding ?? raw
                let known: [String] = switch path {
                case "assets": tenant?.assets.map(\.id) ?? []
                case "locations": (tenant?.functionalLocations ?? []) + (tenant?.assets.compactMap(\.location) ?? []) + (tenant?.assets.compactMap(\.functionalLocation) ?? [])
                default: tenant?.users.map(\.id) ?? []
                }
                guard known.isEmpty || known.contains(id) else { return fail(.notFound, "\(kind) not found") }
                return EmulatorHTTP.json(status: .ok, ["success": JSONValue.bool(true), "result": .object(["id": .string(id), "name": .string("\(kind) \(id)")])])
            }
        }

        router.post("/api/v2/work-orders") { request, _ in
            guard await authorized(request) else { return fail(.unauthorized, "Session token is invalid or expired") }
            guard let b = (try? JSONValue.parse(try await EmulatorHTTP.body(request)))?.objectValue else { return fail(.badRequest, "Body must be JSON") }
            if let bad = b.keys.sorted().first(where: { !fields.contains($0) }) { return fail(.badRequest, "\(bad) is not a valid work order field") }
            guard let title = b["title"]?.stringValue, !title.isEmpty else { return fail(.badRequest, "title is required") }
            if let p = b["priority"], !(p.doubleValue.map { [0, 1, 2, 3].contains($0) } ?? false) { return fail(.badRequest, "priority must be 0, 1, 2 or 3") }
            for k in ["description", "category", "asset", "location", "assignedToUser", "team", "dueDate"] where b[k] != nil && b[k]?.stringValue == nil {
                return fail(.badRequest, "\(k) must be a string")
            }
            if let tenant {
                // Tenant data: UpKeep's 400 shape {"success": false, "message"} (developers.onupkeep.com, "Errors").
                if let a = b["asset"]?.stringValue, !tenant.knowsAsset(a) { return fail(.badRequest, "Asset \(a) does not exist") }
                if let c = b["category"]?.stringValue, !tenant.knowsCategory(c) { return fail(.badRequest, "Category \(c) does not exist") }
                if let u = b["assignedToUser"]?.stringValue, !tenant.knowsUser(u) { return fail(.badRequest, "User \(u) does not exist") }
                if let p = b["priority"]?.doubleValue, !tenant.knowsPriority(String(Int(p))) { return fail(.badRequest, "priority \(Int(p)) is not allowed") }
            }
            let wo = await state.add { id in
                let ref = b["description"]?.stringValue.flatMap { d in d.range(of: "Millwright reference ").map { String(d[$0.upperBound...].prefix { !$0.isWhitespace }) } }
                return EmulatedWorkOrder(id: id, reference: ref, title: title, asset: b["asset"]?.stringValue, priority: b["priority"]?.stringOrNumber,
                                         status: "open", createdAt: Date(), notes: [], attachments: [], body: .object(b),
                                         assignee: b["assignedToUser"]?.stringValue ?? b["team"]?.stringValue)
            }
            return EmulatorHTTP.json(status: .ok, ["success": JSONValue.bool(true), "result": await view(wo, host: request.head.authority)])
        }
        router.get("/api/v2/work-orders") { request, _ in
            guard await authorized(request) else { return fail(.unauthorized, "Session token is invalid or expired") }
            // UpKeep API v2 "Get all work orders" pages by `limit` and `offset` (developers.onupkeep.com,
            // Work Orders); newest first. The default page of 100 and the maximum of 1000 are the emulator's
            // reading of that page, not a published schema.
            let q = request.uri.queryParameters
            let limit = q.get("limit").map { Int($0) } ?? 100, offset = q.get("offset").map { Int($0) } ?? 0
            guard let limit, (1...1000).contains(limit) else { return fail(.badRequest, "limit must be a number between 1 and 1000") }
            guard let offset, offset >= 0 else { return fail(.badRequest, "offset must be a non-negative number") }
            var all = await state.all()
            if let since = q.get("createdAtGreaterThan") {
                guard let d = Double(since).map({ Date(timeIntervalSince1970: $0 / 1000) }) ?? Timestamps.parseISO(since) else { return fail(.badRequest, "createdAtGreaterThan must be a date") }
                all = all.filter { $0.createdAt > d }
            }
            all.sort { $0.createdAt == $1.createdAt ? (Int($0.id) ?? 0) > (Int($1.id) ?? 0) : $0.createdAt > $1.createdAt }
            var page: [JSONValue] = []
            for w in Paging.slice(all, offset: offset, limit: limit).page { page.append(await view(w, host: request.head.authority)) }
            return EmulatorHTTP.json(status: .ok, ["success": JSONValue.bool(true), "results": .array(page)])
        }
        router.get("/api/v2/work-orders/:id") { request, context in
            guard await authorized(request) else { return fail(.unauthorized, "Session token is invalid or expired") }
            guard let id = context.parameters.get("id"), let w = await state.find(id: id) else { return fail(.notFound, "Work order not found") }
            return EmulatorHTTP.json(status: .ok, ["success": JSONValue.bool(true), "result": await view(w, host: request.head.authority)])
        }
        router.patch("/api/v2/work-orders/:id") { request, context in
            guard await authorized(request) else { return fail(.unauthorized, "Session token is invalid or expired") }
            guard let id = context.parameters.get("id"), await state.find(id: id) != nil else { return fail(.notFound, "Work order not found") }
            let data = try await EmulatorHTTP.body(request)
            let ct = request.headers[.contentType] ?? ""
            if ct.hasPrefix("multipart/form-data") {
                guard let image = MultipartForm.parse(data, contentType: ct)?.first(where: { $0.name == "image" }), let name = image.filename, !image.data.isEmpty else {
                    return fail(.badRequest, "multipart body needs an image file field")
                }
                _ = await state.attach(id: id, name: name, data: image.data, contentType: image.contentType)
            } else {
                guard let s = (try? JSONValue.parse(data))?["status"]?.stringValue, statuses.contains(s) else { return fail(.badRequest, "status must be one of open, onHold, inProgress, complete") }
                _ = await state.update(id: id) { $0.status = common(s) }
            }
            return EmulatorHTTP.json(status: .ok, ["success": JSONValue.bool(true), "result": await view(await state.find(id: id)!, host: request.head.authority)])
        }
        return router
    }
}
