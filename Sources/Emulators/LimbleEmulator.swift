import Foundation
import HTTPTypes
import Hummingbird
import MillwrightCore
import NIOCore

/// `millwright emulate limble`: Limble API v2 tasks under `/v2`.
///
/// Covers Basic auth with client id/secret, `POST /v2/tasks` (the create fields of Limble's API V2
/// Postman collection: `name`, `locationID` (1–9 are seeded), `due` and `type` required; ids, priority,
/// `due`, `estimatedTime` numbers; `assignment` and `assignmentType` (user/team/multi) together;
/// unknown fields rejected → 400 `{"message"}`), `GET /v2/tasks?tasks=` / `?locations=&limit=`,
/// `PATCH /v2/tasks/{id}` (`statusID`, `dateCompleted`: a technician's change), `POST /v2/tasks/{id}/comments`,
/// `PUT /v2/tasks/{id}/image` (multipart field `image`, JPEG/PNG/GIF, at most 50 MB). No machine-readable
/// spec was found on public GitHub, so none is among the test fixtures; the official Postman collection
/// is published at apidocs.limblecmms.com.
public enum LimbleEmulator {
    static let fields: [String: String] = [
        "name": "s", "description": "s", "locationID": "i", "due": "i", "type": "i", "assetID": "i", "assignment": "i", "assignmentType": "s",
        "templateID": "i", "priority": "i", "estimatedTime": "i", "requestName": "s", "requestEmail": "s", "requestPhone": "s",
        "requestDescription": "s", "meta1": "s", "meta2": "s", "meta3": "s", "geoLocation": "o", "multiUsers": "a",
    ]
    static let imageTypes: Set<String> = ["image/jpeg", "image/jpg", "image/png", "image/gif"]
    static let imageLimit = 50 << 20

    static func fail(_ status: HTTPResponse.Status, _ m: String) -> Response { EmulatorHTTP.json(status: status, ["message": m]) }

    actor Extra {
        var statusID: [String: Int] = [:]
        var completed: [String: Int] = [:]
        func set(_ id: String, status: Int?, done: Int?) { if let status { statusID[id] = status }; if let done { completed[id] = done } }
        func get(_ id: String) -> (Int, Int) { (statusID[id] ?? 0, completed[id] ?? 0) }
    }

    public static func router(state: EmulatorState) -> Hummingbird.Router<BasicRequestContext> {
        let router = Hummingbird.Router()
        let extra = Extra()
        router.add(middleware: FaultInjection(state: state))
        EmulatorHTTP.addInspection(to: router, state: state, kind: "limble")
        // --preload: unrelated tasks in Limble's create shape (type 2: a work order; `createdDate` in epoch seconds).
        state.preload { s in
            let b: [String: JSONValue] = ["name": .string(s.title), "description": .string("Routine job \(s.reference)"), "locationID": .number(Double(s.index % 9 + 1)),
                                          "due": .number((s.createdAt.timeIntervalSince1970 + 7 * 86_400).rounded()), "type": .number(2),
                                          "priority": .number(Double(s.priority)), "assetID": .number(Double(s.assetNumber))]
            return EmulatedWorkOrder(id: s.id, reference: nil, title: s.title, asset: String(s.assetNumber), priority: String(s.priority), status: s.status,
                                     createdAt: s.createdAt, notes: [], attachments: [], body: .object(b))
        }
        let tenant = state.options.tenant
        let api = router.group("v2/tasks")
        api.add(middleware: BasicAuthCheck(state: state, unauthorized: { fail(.unauthorized, "Invalid client credentials") }))

        @Sendable func view(_ w: EmulatedWorkOrder) async -> JSONValue {
            var v = w.body.objectValue ?? [:]
            let (sid, done) = await extra.get(w.id)
            v["taskID"] = .number(Double(w.id) ?? 0)
            v["createdDate"] = .number(w.createdAt.timeIntervalSince1970.rounded())
            v["statusID"] = .number(Double(w.status == "in_progress" && sid == 0 ? 1 : sid))
            v["dateCompleted"] = .number(Double(w.status == "completed" && done == 0 ? Int(Date().timeIntervalSince1970) : done))
            return .object(v)
        }

        // Master-data lists filtered by id (`GET /v2/assets?assets=1,2`, `/v2/users?users=…`, `/v2/locations?locations=…`):
        // a JSON array of the records found, `[]` when none (a filter that matches nothing is not an error).
        // From the tenant's numbered assets and users; without that table (and for locations, which a tenant
        // file does not number) every id asked for is a record.
        for (path, idField, nameField) in [("assets", "assetID", "name"), ("users", "userID", "userLastName"), ("locations", "locationID", "name")] {
            let list = router.group(RouterPath("v2/\(path)"))
            list.add(middleware: BasicAuthCheck(state: state, unauthorized: { fail(.unauthorized, "Invalid client credentials") }))
            list.get("") { request, _ in
                let raw = request.uri.queryParameters.get(path) ?? ""
                var asked: [Int] = []
                for part in raw.split(separator: ",") {
                    guard let n = Int(part.trimmingCharacters(in: .whitespaces)) else { return fail(.badRequest, "\(path) must be a comma-separated list of ids") }
                    asked.append(n)
                }
                let table = path == "assets" ? (tenant?.assets ?? []) : path == "users" ? (tenant?.users ?? []) : []
                let hits: [(Int, String)] = table.isEmpty ? asked.map { ($0, "\(path) \($0)") }
                    : table.compactMap { e in e.number.flatMap { n in asked.isEmpty || asked.contains(n) ? (n, e.name ?? e.id) : nil } }
                return EmulatorHTTP.json(status: .ok, JSONValue.array(hits.map { .object([idField: .number(Double($0.0)), nameField: .string($0.1)]) }))
            }
        }

        api.post("") { request, _ in
            guard let b = (try? JSONValue.parse(try await EmulatorHTTP.body(request)))?.objectValue else { return fail(.badRequest, "Body must be JSON") }
            for k in b.keys.sorted() {
                guard let t = fields[k] else { return fail(.badRequest, "Unknown field \(k)") }
                let v = b[k]!
                let ok = switch t {
                case "i": v.doubleValue.map { $0.rounded() == $0 } == true
                case "s": v.stringValue != nil
                case "o": v.objectValue != nil
                default: v.arrayValue != nil
                }
                if !ok { return fail(.badRequest, "\(k) must be \(["i": "a number", "s": "a string", "o": "an object"][t] ?? "an array")") }
            }
            for k in ["name", "locationID", "due", "type"] where b[k] == nil || b[k]?.stringValue?.isEmpty == true { return fail(.badRequest, "\(k) is required") }
            let name = b["name"]?.stringValue ?? ""
            guard let loc = b["locationID"]?.doubleValue, (1...9).contains(loc) else { return fail(.badRequest, "locationID must be an existing location") }
            if (b["assignment"] == nil) != (b["assignmentType"] == nil) { return fail(.badRequest, "assignment and assignmentType must be sent together") }
            if let at = b["assignmentType"]?.stringValue, !["user", "team", "multi"].contains(at) { return fail(.badRequest, "assignmentType must be user, team or multi") }
            if let tenant {
                // Tenant data, in Limble's 400 shape {"message"} (apidocs.limblecmms.com, "Errors").
                if let a = b["assetID"]?.doubleValue, !tenant.knowsAsset(number: a) { return fail(.badRequest, "assetID \(Int(a)) does not exist") }
                if b["assignmentType"]?.stringValue == "user", let u = b["assignment"]?.doubleValue, !tenant.knowsUser(number: u) { return fail(.badRequest, "assignment: user \(Int(u)) does not exist") }
                if let p = b["priority"]?.doubleValue, !tenant.knowsPriority(String(Int(p))) { return fail(.badRequest, "priority \(Int(p)) does not exist") }
            }
            let wo = await state.add { id in
                let d = b["description"]?.stringValue ?? ""
                let ref = d.range(of: "Millwright reference ").map { String(d[$0.upperBound...].prefix { !$0.isWhitespace }) }
                return EmulatedWorkOrder(id: id, reference: ref, title: name, asset: b["assetID"]?.stringOrNumber, priority: b["priority"]?.stringOrNumber,
                                         status: "open", createdAt: Date(), notes: [], attachments: [], body: .object(b),
                                         assignee: b["assignment"]?.stringOrNumber.map { "\(b["assignmentType"]?.stringValue ?? ""):\($0)" })
            }
            return EmulatorHTTP.json(status: .created, ["taskID": Int(wo.id) ?? 0])
        }
        api.get("") { request, _ in
            let q = request.uri.queryParameters
            var items = await state.all()
            if let ids = q.get("tasks") { let set = Set(ids.split(separator: ",").map(String.init)); items = items.filter { set.contains($0.id) } }
            if let locs = q.get("locations") {
                let set = Set(locs.split(separator: ",").compactMap { Double($0) })
                items = items.filter { set.contains($0.body["locationID"]?.doubleValue ?? -1) }
            }
            // Limble API v2 lists page with `limit` and a 1-based `page` (apidocs.limblecmms.com, "Pagination");
            // newest first. Without `limit` the whole list is answered, as the emulator always did.
            items.sort { $0.createdAt == $1.createdAt ? (Int($0.id) ?? 0) > (Int($1.id) ?? 0) : $0.createdAt > $1.createdAt }
            let page = q.get("page").map { Int($0) } ?? 1
            guard let page, page >= 1 else { return fail(.badRequest, "page must be a number from 1") }
            if let raw = q.get("limit") {
                guard let limit = Int(raw), limit >= 1 else { return fail(.badRequest, "limit must be a positive number") }
                items = Paging.slice(items, offset: (page - 1) * limit, limit: limit).page
            }
            var out: [JSONValue] = []
            for w in items { out.append(await view(w)) }
            return EmulatorHTTP.json(status: .ok, JSONValue.array(out))
        }
        api.patch(":id") { request, context in
            guard let id = context.parameters.get("id"), await state.find(id: id) != nil else { return fail(.notFound, "Task not found") }
            let b = (try? JSONValue.parse(try await EmulatorHTTP.body(request))) ?? .null
            let sid = b["statusID"]?.doubleValue.flatMap { Checked.exactInt($0, in: 0...Int(Int32.max)) }
            let done = b["dateCompleted"]?.doubleValue.flatMap { Checked.exactInt($0, in: 0...Int(Int32.max)) }
            guard sid != nil || done != nil else { return fail(.badRequest, "send statusID and/or dateCompleted") }
            await extra.set(id, status: sid, done: done)
            _ = await state.update(id: id) { $0.status = (done ?? 0) > 0 ? "completed" : sid == 1 ? "in_progress" : "open" }
            return EmulatorHTTP.json(status: .ok, ["taskID": Int(id) ?? 0])
        }
        api.post(":id/comments") { request, context in
            guard let text = (try? JSONValue.parse(try await EmulatorHTTP.body(request)))?["comment"]?.stringValue, !text.isEmpty else { return fail(.badRequest, "comment is required") }
            guard let id = context.parameters.get("id"), await state.update(id: id, { $0.notes.append(text) }) != nil else { return fail(.notFound, "Task not found") }
            return EmulatorHTTP.json(status: .created, ["commentID": 1])
        }
        api.put(":id/image") { request, context in
            let limit = await state.uploadLimit(default: imageLimit)
            let data = try await EmulatorHTTP.body(request, limit: limit + 64 * 1024)
            guard let parts = MultipartForm.parse(data, contentType: request.headers[.contentType] ?? "") else {
                return fail(.badRequest, "Send the image as multipart/form-data")
            }
            guard let image = parts.first(where: { $0.name == "image" }), let filename = image.filename, !image.data.isEmpty else {
                return fail(.badRequest, "image is required (a file field named image)")
            }
            guard let type = image.contentType?.lowercased(), imageTypes.contains(type) else {
                return fail(.unsupportedMediaType, "image must be JPEG, PNG, JPG or GIF, not \(image.contentType ?? "an untyped file")")
            }
            guard image.data.count <= limit else { return fail(.contentTooLarge, "image is larger than \(limit) bytes") }
            guard let id = context.parameters.get("id"), await state.attach(id: id, name: filename, data: image.data) else { return fail(.notFound, "Task not found") }
            return EmulatorHTTP.json(status: .ok, ["taskID": JSONValue.number(Double(id) ?? 0), "filename": .string(filename)])
        }
        return router
    }
}
