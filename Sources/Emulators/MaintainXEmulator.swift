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
/// `createdAt[gte]`, `statuses`, `assignees`, `expand=extra_fields|assignees`, `cursor`), `GET /v1/workorders/{id}`,
/// `PATCH /v1/workorders/{id}/status` (a technician's change), `POST /v1/workorders/{id}/comments`,
/// `PUT /v1/workorders/{id}/attachments/{filename}`, `GET /v1/workorders/{id}/comments`, the attachments' `url`
/// (`/files/workorders/{id}/{name}`, no key), and for planning `GET /v1/parts` (`limit`, `cursor`, `sort`,
/// `expand=extra_fields`) and `GET /v1/users` (`email`, `limit`, `cursor`) over the storeroom and people in a
/// `Seed` (`Seed.demo` under `millwright emulate`). Lists page with an opaque `nextCursor` and `nextPageUrl`.
/// Bearer auth; `x-organization-id` must be an integer when sent. Rate limit: a fixed window
/// (default 60 requests per 60 s) with `X-Rate-Limit-Limit/Remaining/Reset` on every answer and
/// `429` + `Retry-After` when used up.
public enum MaintainXEmulator {
    public static let customFields: Set<String> = ["Millwright Reference", "Defect Class"]
    public static let statuses = ["OPEN", "IN_PROGRESS", "ON_HOLD", "DONE", "CANCELED"]

    /// The `POST /workorders` body schema: the built-in table (`embeddedSchema`, in `SpecTables.swift`),
    /// or the one in `maintainx-openapi.json` when `dir` is a folder holding it (the tests pass one).
    public static func schema(from dir: URL? = nil) -> OpenAPIBody {
        if let u = SpecFiles.file("maintainx-openapi.json", in: dir), let s = try? OpenAPIBody.load(u, path: "/workorders", method: "post") { return s }
        return embeddedSchema
    }

    public static func router(state: EmulatorState) -> Hummingbird.Router<BasicRequestContext> {
        router(state: state, schema: schema(), limit: 60, window: 60, seed: .demo)
    }

    /// A part in the emulated storeroom, answered in the `GET /v1/parts` item shape of the OpenAPI.
    public struct Part: Sendable {
        public var id: Int
        public var name: String
        public var barcode: String?
        public var inStock: Int
        /// Committed stock by stage (MaintainX's `committedQuantities`).
        public var reserved: Int
        public var kitted: Int
        public var staged: Int
        public var area: String?
        public var locationId: Int?
        /// Custom fields by label, answered with `expand=extra_fields`.
        public var extraFields: [String: String]
        public init(id: Int, name: String, barcode: String? = nil, inStock: Int, reserved: Int = 0, kitted: Int = 0, staged: Int = 0,
                    area: String? = nil, locationId: Int? = nil, extraFields: [String: String] = [:]) {
            self.id = id; self.name = name; self.barcode = barcode; self.inStock = inStock; self.reserved = reserved; self.kitted = kitted
            self.staged = staged; self.area = area; self.locationId = locationId; self.extraFields = extraFields
        }

        func json(expandExtraFields: Bool) -> JSONValue {
            func int(_ i: Int?) -> JSONValue { i.map { .number(Double($0)) } ?? .null }
            func text(_ s: String?) -> JSONValue { s.map { .string($0) } ?? .null }
            let committed = reserved + kitted + staged
            var p: [String: JSONValue] = [
                "id": int(id), "name": .string(name), "description": .string(""), "barcode": text(barcode),
                "locationId": int(locationId), "area": text(area), "unitCost": .null, "partTypes": .array([]),
                // The deprecated totals beside their replacements, as MaintainX still answers both.
                "availableQuantity": int(inStock), "inStockQuantity": int(inStock), "reservedQuantity": int(reserved),
                "committedQuantities": .object(["reserved": int(reserved), "kitted": int(kitted), "staged": int(staged)]),
                "assignedQuantity": int(committed), "minimumQuantity": int(0), "orderedQuantity": int(0), "organizationId": int(1),
                "createdAt": .string("2026-01-05T08:00:00.000Z"), "updatedAt": .string("2026-01-05T08:00:00.000Z"),
            ]
            p["locations"] = .array(locationId.map { l in [.object([
                "locationId": int(l), "area": text(area), "availableQuantity": int(inStock), "reservedQuantity": int(reserved),
                "committedQuantities": .object(["reserved": int(reserved), "kitted": int(kitted), "staged": int(staged)]),
            ])] } ?? [])
            if expandExtraFields { p["extraFields"] = .object(extraFields.mapValues { .string($0) }) }
            return .object(p)
        }
    }

    /// A person in the organization (`GET /v1/users`); e-mail assignees resolve to them.
    public struct User: Sendable {
        public var id: Int
        public var firstName: String
        public var lastName: String
        public var email: String?
        public init(id: Int, firstName: String, lastName: String, email: String? = nil) {
            self.id = id; self.firstName = firstName; self.lastName = lastName; self.email = email
        }
    }

    /// What the emulated organization holds besides work orders.
    public struct Seed: Sendable {
        public var parts: [Part]
        public var users: [User]
        /// Answers at most this many records a page whatever `limit` asks, so paging shows with a few records.
        public var maxPageSize: Int?
        public init(parts: [Part] = [], users: [User] = [], maxPageSize: Int? = nil) {
            self.parts = parts; self.users = users; self.maxPageSize = maxPageSize
        }

        /// A small storeroom and crew for trying `inventory: {cmms: …}` and `routing: {load_from: …}`.
        public static let demo = Seed(parts: [
            Part(id: 9001, name: "PUL-500-HD", barcode: "4006381333931", inStock: 3, reserved: 1, area: "store B-12", locationId: 852),
            Part(id: 9002, name: "BOLT-M10-80", barcode: "4006381333948", inStock: 40, kitted: 8, area: "store A-03", locationId: 852),
            Part(id: 9003, name: "BELT-C2-1200", inStock: 0, locationId: 853),
        ], users: [
            User(id: 4711, firstName: "A.", lastName: "Ortiz", email: "ortiz@plant.example"),
            User(id: 4712, firstName: "J.", lastName: "Lee", email: "lee@plant.example"),
        ])
    }

    /// One page of `items` after the opaque `cursor`; nil when the cursor is not one of ours.
    static func page<T>(_ items: [T], cursor: String?, limit: Int, seed: Seed) -> (items: ArraySlice<T>, next: String?)? {
        var start = 0
        if let cursor {
            guard let d = Data(base64Encoded: cursor), let text = String(data: d, encoding: .utf8), text.hasPrefix("mx-emu:"),
                  let n = Int(text.dropFirst(7)), n >= 0, n <= items.count else { return nil }
            start = n
        }
        let end = min(items.count, start + min(limit, seed.maxPageSize ?? limit))
        return (items[start..<end], end < items.count ? Data("mx-emu:\(end)".utf8).base64EncodedString() : nil)
    }

    /// `nextPageUrl`: the request's own path and query with the next cursor.
    static func nextPageURL(_ request: Request, _ next: String?) -> JSONValue {
        guard let next else { return .null }
        let kept = (request.uri.query ?? "").split(separator: "&").filter { !$0.hasPrefix("cursor=") }.map(String.init)
        let cursor = "cursor=" + (next.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? next)
        return .string(request.uri.path + "?" + (kept + [cursor]).joined(separator: "&"))
    }

    /// `limit` as the OpenAPI bounds it (1…200, default 100).
    static func pageLimit(_ raw: String?) -> Int? {
        guard let raw else { return 100 }
        return Int(raw).flatMap { (1...200).contains($0) ? $0 : nil }
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

    public static func router(state: EmulatorState, schema: OpenAPIBody, limit: Int, window: TimeInterval, seed: Seed = Seed()) -> Hummingbird.Router<BasicRequestContext> {
        let router = Hummingbird.Router()
        let store = Store()
        router.add(middleware: FaultInjection(state: state))
        EmulatorHTTP.addInspection(to: router, state: state, kind: "maintainx")
        let api = router.group("v1")
        api.add(middleware: RateLimit(window: Window(limit: limit, window: window)))
        api.add(middleware: Auth(state: state))

        // --preload: unrelated work orders in the shape POST /workorders takes (title, description, priority, assetId).
        state.preload { s in
            EmulatedWorkOrder(id: s.id, reference: nil, title: s.title, asset: String(s.assetNumber), priority: ["LOW", "MEDIUM", "HIGH", "NONE"][s.index % 4],
                              status: s.status, createdAt: s.createdAt, notes: [], attachments: [],
                              body: .object(["title": .string(s.title), "description": .string("Routine job \(s.reference)"),
                                             "priority": .string(["LOW", "MEDIUM", "HIGH", "NONE"][s.index % 4]), "assetId": .number(Double(s.assetNumber))]))
        }
        let tenant = state.options.tenant
        // The people the API knows: the seed's crew and the tenant's numbered users (an id with an @ is their e-mail).
        let directory = seed.users + (tenant?.users ?? []).compactMap { u in
            u.number.map { n in User(id: n, firstName: u.name ?? u.id, lastName: "", email: u.id.contains("@") ? u.id : nil) }
        }.filter { u in !seed.users.contains { $0.id == u.id } }
        let userByEmail = Dictionary(seed.users.compactMap { u in u.email.map { ($0.lowercased(), u.id) } }, uniquingKeysWith: { a, _ in a })

        /// Assignees as MaintainX answers them: a user given by e-mail comes back as the user's id.
        @Sendable func assignees(_ v: [String: JSONValue]) -> [JSONValue] {
            (v["assignees"]?.arrayValue ?? []).map { a in
                guard a["type"]?.stringValue == "USER", let email = a["id"]?.stringValue?.lowercased(), let id = userByEmail[email] else { return a }
                return .object(["type": .string("USER"), "id": .number(Double(id))])
            }
        }

        @Sendable func view(_ w: EmulatedWorkOrder, extra: Bool, host: String? = nil) async -> JSONValue {
            var v = await store.get(w.id)
            if v.isEmpty { v = w.body.objectValue ?? [:] }  // a preloaded record
            if !extra { v.removeValue(forKey: "extraFields") }
            v["assignees"] = .array(assignees(v))
            v["id"] = .number(Double(w.id) ?? 0)
            v["sequentialId"] = .number(Double((Int(w.id) ?? 1000) - 1000))
            let raw = await store.status(w.id)
            v["status"] = .string(raw.flatMap { common($0) == w.status ? $0 : nil } ?? native(w.status))
            v["createdAt"] = .string(Timestamps.format(w.createdAt))
            v["updatedAt"] = .string(Timestamps.format(w.createdAt))
            // The OpenAPI's attachment: id, fileName, mimeType, a `url` "valid for 60 minutes" (here a
            // link on the emulator outside /v1, as MaintainX's links are to its file storage), createdAt.
            var files: [JSONValue] = []
            for (i, name) in w.attachments.enumerated() {
                let f = await state.storedFile(id: w.id, name: name)
                let path = "/files/workorders/\(w.id)/" + (name.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._"))) ?? name)
                files.append(.object(["id": .number(Double(i + 1)), "fileName": .string(name), "mimeType": .string(f?.contentType ?? "image/jpeg"),
                                      "url": .string(host.map { "http://\($0)" + path } ?? path), "createdAt": .string(Timestamps.format(f?.at ?? w.createdAt))]))
            }
            v["attachments"] = .array(files)
            if let code = w.closureCode {
                // MaintainX has no closure code: a technician files the work under a category.
                v["categories"] = .array((v["categories"]?.arrayValue ?? []) + [.string(code)])
            }
            if let done = w.completedAt, w.status != "open", w.status != "in_progress" { v["completedAt"] = .string(Timestamps.format(done)) }
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
            if let tenant {
                // Tenant data: ids that do not exist in the organization, answered in the OpenAPI's 400 shape
                // ({"errors": [{"error", "fieldPath", "fieldValue"}]}, the error schema of POST /workorders).
                if let a = body["assetId"]?.doubleValue, !tenant.knowsAsset(number: a) { problems.append(("assetId", "Asset with id \(Int(a)) not found")) }
                for (i, c) in (body["categories"]?.arrayValue ?? []).enumerated() {
                    if let c = c.stringValue, !tenant.knowsCategory(c) { problems.append(("categories[\(i)]", "Category \"\(c)\" does not exist in this organization")) }
                }
                for (i, a) in (body["assignees"]?.arrayValue ?? []).enumerated() where a["type"]?.stringValue == "USER" {
                    let known = a["id"]?.doubleValue.map { tenant.knowsUser(number: $0) } ?? a["id"]?.stringValue.map { tenant.knowsUser($0) } ?? true
                    if !known { problems.append(("assignees[\(i)].id", "User \(a["id"]?.stringOrNumber ?? "") not found")) }
                }
            }
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
            guard let limit = pageLimit(q.get("limit")) else { return errors(.badRequest, [("limit", "\"limit\" must be between 1 and 200")]) }
            if let s = q.get("sort"), !["createdAt", "-createdAt", "updatedAt", "-updatedAt"].contains(s) { return errors(.badRequest, [("sort", "\"sort\" is not supported by the emulator")]) }
            let wanted = q.getAll("statuses")
            if let bad = wanted.first(where: { !(statuses + ["SKIPPED"]).contains($0) }) {
                return errors(.badRequest, [("statuses", "\"statuses\" value \"\(bad)\" must be one of [\((statuses + ["SKIPPED"]).joined(separator: ", "))]")])
            }
            let people = q.getAll("assignees")
            if let bad = people.first(where: { Int($0) == nil }) { return errors(.badRequest, [("assignees", "\"assignees\" value \"\(bad)\" must be an integer")]) }
            var items = await state.all()
            if let since = q.get("createdAt[gte]") {
                guard let d = Timestamps.parseISO(since) else { return errors(.badRequest, [("createdAt[gte]", "must be a date-time")]) }
                items = items.filter { $0.createdAt >= d }
            }
            if let until = q.get("createdAt[lte]") {
                guard let d = Timestamps.parseISO(until) else { return errors(.badRequest, [("createdAt[lte]", "must be a date-time")]) }
                items = items.filter { $0.createdAt <= d }
            }
            if let t = q.get("title") { items = items.filter { $0.title.localizedCaseInsensitiveContains(t) } }
            let assets = q.getAll("assets")
            if !assets.isEmpty { items = items.filter { w in w.asset.map { assets.contains($0) } ?? false } }
            items.sort { $0.createdAt == $1.createdAt ? (Int($0.id) ?? 0) > (Int($1.id) ?? 0) : $0.createdAt > $1.createdAt }
            if q.get("sort") == "createdAt" || q.get("sort") == "updatedAt" { items.reverse() }
            let expand = q.getAll("expand")
            var views: [JSONValue] = []
            for w in items {
                let full = await view(w, extra: expand.contains("extra_fields"))
                if !wanted.isEmpty, !wanted.contains(full["status"]?.stringValue ?? "") { continue }
                let ids = (full["assignees"]?.arrayValue ?? []).filter { $0["type"]?.stringValue == "USER" }.compactMap { $0["id"]?.stringOrNumber }
                if !people.isEmpty, !ids.contains(where: people.contains) { continue }
                var v = full.objectValue ?? [:]
                // The list answers assignees only when asked (the OpenAPI: "expand with query parameter").
                if !expand.contains("assignees") { v.removeValue(forKey: "assignees") }
                views.append(.object(v))
            }
            guard let (slice, next) = page(views, cursor: q.get("cursor"), limit: limit, seed: seed) else { return errors(.badRequest, [("cursor", "\"cursor\" is not a valid pagination reference")]) }
            return EmulatorHTTP.json(status: .ok, ["workOrders": JSONValue.array(Array(slice)), "nextCursor": next.map { .string($0) } ?? .null,
                                                   "nextPageUrl": nextPageURL(request, next)])
        }

        // GET /parts answers errors as {"error": …} (its 400 schema), unlike the work-order routes.
        api.get("parts") { request, _ in
            let q = request.uri.queryParameters
            guard let limit = pageLimit(q.get("limit")) else { return EmulatorHTTP.json(status: .badRequest, ["error": "\"limit\" must be between 1 and 200"]) }
            var parts = seed.parts
            switch q.get("sort") {
            case nil, "id": parts.sort { $0.id < $1.id }
            case "-id": parts.sort { $0.id > $1.id }
            case "createdAt", "-createdAt", "updatedAt", "-updatedAt": break  // seeded parts share one time
            case let s?: return EmulatorHTTP.json(status: .badRequest, ["error": "\"sort\" must be one of [id, createdAt, updatedAt, -id, -createdAt, -updatedAt], got \"\(s)\""])
            }
            let expand = q.getAll("expand")
            if let bad = expand.first(where: { !["extra_fields", "vendors"].contains($0) }) {
                return EmulatorHTTP.json(status: .badRequest, ["error": "\"expand\" value \"\(bad)\" must be one of [extra_fields, vendors]"])
            }
            guard let (slice, next) = page(parts, cursor: q.get("cursor"), limit: limit, seed: seed) else {
                return EmulatorHTTP.json(status: .badRequest, ["error": "\"cursor\" is not a valid pagination reference"])
            }
            return EmulatorHTTP.json(status: .ok, ["parts": JSONValue.array(slice.map { $0.json(expandExtraFields: expand.contains("extra_fields")) }),
                                                   "nextCursor": next.map { .string($0) } ?? .null, "nextPageUrl": nextPageURL(request, next)])
        }

        api.get("users") { request, _ in
            let q = request.uri.queryParameters
            guard let limit = pageLimit(q.get("limit")) else { return errors(.badRequest, [("limit", "\"limit\" must be between 1 and 200")]) }
            let emails = Set(q.getAll("email").map { $0.lowercased() })
            // E-mails are answered from the seed crew and the tenant's numbered users only, also without a
            // tenant: the planning read relies on an unknown e-mail finding nobody.
            let known = directory
            let users = known.filter { u in emails.isEmpty || u.email.map { emails.contains($0.lowercased()) } == true }.sorted { $0.id < $1.id }
            guard let (slice, next) = page(users, cursor: q.get("cursor"), limit: limit, seed: seed) else { return errors(.badRequest, [("cursor", "\"cursor\" is not a valid pagination reference")]) }
            let out: [JSONValue] = slice.map { u in
                .object(["id": .number(Double(u.id)), "firstName": .string(u.firstName), "lastName": .string(u.lastName), "email": u.email.map { .string($0) } ?? .null])
            }
            return EmulatorHTTP.json(status: .ok, ["users": JSONValue.array(out), "nextCursor": next.map { .string($0) } ?? .null, "nextPageUrl": nextPageURL(request, next)])
        }

        // Reads by id, answered as the OpenAPI describes them: 200 `{"asset": {id, name, …}}` (`location`,
        // `user` alike), 404 `{"error": "Not Found."}`, 400 `{"error": …}` for an id that is not an integer.
        // From the tenant's numbered assets and users; a table the tenant leaves out (and locations, which
        // a tenant file does not number) answers every id with a record.
        @Sendable func record(_ kind: String, _ raw: String?, known: (Int) -> (name: String, extra: [String: JSONValue])?) -> Response {
            guard let raw, let id = Int(raw) else { return EmulatorHTTP.json(status: .badRequest, ["error": "\"id\" must be a number"]) }
            guard let r = known(id) else { return EmulatorHTTP.json(status: .notFound, ["error": "Not Found."]) }
            var o: [String: JSONValue] = ["id": .number(Double(id))]
            o.merge(r.extra) { a, _ in a }
            if kind != "user" { o["name"] = .string(r.name) }
            return EmulatorHTTP.json(status: .ok, [kind: JSONValue.object(o)])
        }
        api.get("assets/:id") { _, context in
            record("asset", context.parameters.get("id")) { id in
                guard let assets = tenant?.assets, !assets.isEmpty else { return ("Asset \(id)", [:]) }
                return assets.first { $0.number == id }.map { ($0.name ?? $0.id, [:]) }
            }
        }
        api.get("locations/:id") { _, context in
            record("location", context.parameters.get("id")) { id in ("Location \(id)", [:]) }
        }
        api.get("users/:id") { _, context in
            record("user", context.parameters.get("id")) { id in
                if tenant?.users.isEmpty ?? true, !directory.contains(where: { $0.id == id }) {
                    return ("", ["firstName": .string("Emulated"), "lastName": .string("User")])
                }
                return directory.first { $0.id == id }.map { u in
                    ("", ["firstName": .string(u.firstName), "lastName": .string(u.lastName), "email": u.email.map { .string($0) } ?? .null])
                }
            }
        }

        api.get("workorders/:id") { request, context in
            guard let id = context.parameters.get("id"), let w = await state.find(id: id) else { return errors(.notFound, [(nil, "Work order not found")]) }
            return EmulatorHTTP.json(status: .ok, ["workOrder": await view(w, extra: true, host: request.head.authority)])
        }

        // GET /workorders/{id}/comments: {comments: [{id, authorId, content, createdAt}], nextCursor, nextPageUrl}.
        api.get("workorders/:id/comments") { request, context in
            let q = request.uri.queryParameters
            guard let limit = pageLimit(q.get("limit")) else { return EmulatorHTTP.json(status: .badRequest, ["error": "\"limit\" must be between 1 and 200"]) }
            guard let id = context.parameters.get("id"), let w = await state.find(id: id) else { return EmulatorHTTP.json(status: .notFound, ["error": "Not Found."]) }
            let all: [JSONValue] = w.notes.enumerated().map { i, text in
                .object(["id": .number(Double(i + 1)), "authorId": .number(1), "content": .string(text), "createdAt": .string(Timestamps.format(w.completedAt ?? w.createdAt))])
            }
            guard let (slice, next) = page(all, cursor: q.get("cursor"), limit: limit, seed: seed) else {
                return EmulatorHTTP.json(status: .badRequest, ["error": "\"cursor\" is not a valid pagination reference"])
            }
            return EmulatorHTTP.json(status: .ok, ["comments": JSONValue.array(Array(slice)), "nextCursor": next.map { .string($0) } ?? .null,
                                                   "nextPageUrl": nextPageURL(request, next)])
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
            guard let id = context.parameters.get("id"), await state.attach(id: id, name: name, data: data, contentType: ct == "application/octet-stream" ? nil : ct) else {
                return errors(.notFound, [(nil, "Work order not found")])
            }
            return EmulatorHTTP.json(status: .ok, ["fileName": name])
        }
        // The attachments' `url`: the file's bytes with its type, no bearer key (a signed storage link in MaintainX).
        router.get("files/workorders/:id/:name") { _, context in
            guard let id = context.parameters.get("id"), let raw = context.parameters.get("name"),
                  let f = await state.storedFile(id: id, name: raw.removingPercentEncoding ?? raw) else {
                return Response(status: .notFound, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: "Not Found")))
            }
            return Response(status: .ok, headers: [.contentType: f.contentType], body: .init(byteBuffer: ByteBuffer(bytes: f.data)))
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
