import Foundation
import HTTPTypes
import Hummingbird
import MillwrightCore
import NIOCore

/// `millwright emulate oracle-fusion`: Oracle Fusion Maintenance `maintenanceWorkOrders` REST resource.
///
/// Covers `POST /fscmRestApi/resources/11.13.18.05/maintenanceWorkOrders` (Content-Type
/// `application/vnd.oracle.adf.resourceitem+json`; with `Upsert-Mode: true` an existing
/// WorkOrderNumber + OrganizationCode is updated, answer 200, instead of duplicated), field checks
/// (unknown attribute, too long, wrong type, missing OrganizationCode → 400 plain text as Oracle's
/// default REST framework answers), `GET` with `q=Attr='v';Attr2='v'`, `GET /{WorkOrderId}`,
/// `PATCH /{WorkOrderId}` (e.g. WorkOrderStatusCode, as a planner would), `POST /{WorkOrderId}/child/attachments`
/// (DatatypeCode FILE, FileName, base64 FileContents). Basic auth.
/// Field lengths are the emulator's reading of Oracle's documentation (no machine-readable
/// description of this resource is public); the real system reports its own in `/describe`.
public enum OracleMaintenanceEmulator {
    public enum Kind: Sendable { case string(Int), number, boolean }
    public static let fields: [String: Kind] = [
        "OrganizationCode": .string(18), "WorkOrderNumber": .string(120), "WorkOrderDescription": .string(240),
        "AssetNumber": .string(80), "WorkOrderTypeCode": .string(30), "WorkOrderSubTypeCode": .string(30),
        "WorkOrderPriority": .number, "PlannedStartDate": .string(40), "WorkOrderStatusCode": .string(30),
        "AllowCompletionToInventoryFlag": .boolean,
    ]
    static let statuses: Set<String> = ["ORA_UNRELEASED", "ORA_RELEASED", "ORA_ON_HOLD", "ORA_COMPLETED", "ORA_CLOSED", "ORA_CANCELED"]
    static let path = "fscmRestApi/resources/11.13.18.05/maintenanceWorkOrders"
    static let assetsPath = "fscmRestApi/resources/11.13.18.05/installedBaseAssets"

    actor Store {
        var records: [String: [String: JSONValue]] = [:]
        func put(_ id: String, _ r: [String: JSONValue]) { records[id, default: [:]].merge(r) { $1 } }
        func get(_ id: String) -> [String: JSONValue]? { records[id] }
        func find(number: String, org: String) -> String? {
            records.first { $0.value["WorkOrderNumber"]?.stringValue == number && $0.value["OrganizationCode"]?.stringValue == org }?.key
        }
        func all() -> [(String, [String: JSONValue])] { records.sorted { $0.key < $1.key }.map { ($0.key, $0.value) } }
    }

    static func text(_ status: HTTPResponse.Status, _ message: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: message)))
    }

    static func common(_ code: String) -> String {
        switch code { case "ORA_RELEASED": "in_progress"; case "ORA_COMPLETED", "ORA_CLOSED": "completed"; case "ORA_CANCELED": "cancelled"; default: "open" }
    }

    static func validate(_ body: [String: JSONValue], creating: Bool) -> Response? {
        for key in body.keys.sorted() {
            guard let kind = fields[key] else { return text(.badRequest, "The attribute \(key) is not defined in the resource maintenanceWorkOrders.") }
            switch kind {
            case .number:
                if body[key]!.doubleValue == nil { return text(.badRequest, "The value of the attribute \(key) is not a number.") }
            case .boolean:
                if body[key]!.boolValue == nil { return text(.badRequest, "The value of the attribute \(key) must be true or false.") }
            case .string(let max):
                guard let s = body[key]!.stringValue else { return text(.badRequest, "The value of the attribute \(key) must be a string.") }
                if s.count > max { return text(.badRequest, "The value of the attribute \(key) is too long: \(s.count) characters, the maximum is \(max).") }
            }
        }
        if creating, body["OrganizationCode"]?.stringValue?.isEmpty ?? true { return text(.badRequest, "The attribute OrganizationCode is required.") }
        if let s = body["WorkOrderStatusCode"]?.stringValue, !statuses.contains(s) { return text(.badRequest, "The value \(s) of WorkOrderStatusCode is not valid.") }
        return nil
    }

    public static func router(state: EmulatorState) -> Hummingbird.Router<BasicRequestContext> {
        let router = Hummingbird.Router()
        let store = Store()
        router.add(middleware: FaultInjection(state: state))
        EmulatorHTTP.addInspection(to: router, state: state, kind: "oracle-fusion")
        // --preload: unrelated work orders as the resource holds them; CreationDate is Oracle's creation time.
        state.preload { s in
            let b: [String: JSONValue] = ["OrganizationCode": .string("M1"), "WorkOrderNumber": .string(s.reference), "WorkOrderDescription": .string(s.title),
                                          "AssetNumber": .string(s.asset), "WorkOrderPriority": .number(Double(s.priority)), "WorkOrderTypeCode": .string("ORA_PREVENTIVE")]
            return EmulatedWorkOrder(id: s.id, reference: s.reference, title: s.title, asset: s.asset, priority: String(s.priority), status: s.status,
                                     createdAt: s.createdAt, notes: [], attachments: [], body: .object(b))
        }
        let tenant = state.options.tenant
        let api = router.group(RouterPath(path))
        api.add(middleware: BasicAuthCheck(state: state, unauthorized: { text(.unauthorized, "Authorization required") }))

        @Sendable func view(_ id: String) async -> JSONValue {
            let w = await state.find(id: id)
            var v = await store.get(id) ?? w?.body.objectValue ?? [:]
            v["WorkOrderId"] = .number(Double(id) ?? 0)
            if let w { v["CreationDate"] = .string(Timestamps.format(w.createdAt)) }
            if let w {
                if v["WorkOrderStatusCode"].flatMap({ $0.stringValue }).map({ common($0) != w.status }) ?? true {
                    v["WorkOrderStatusCode"] = .string(["in_progress": "ORA_RELEASED", "completed": "ORA_COMPLETED", "cancelled": "ORA_CANCELED"][w.status] ?? "ORA_UNRELEASED")
                }
            }
            return .object(v)
        }

        api.post("") { request, _ in
            // Oracle's REST API for Fusion Applications lists both `application/vnd.oracle.adf.resourceitem+json`
            // and `application/json` under "Supported Media Types" for a create (docs.oracle.com, "Create a
            // maintenance work order", op-maintenanceworkorders-post); anything else is 415.
            let ct = request.headers[.contentType]?.lowercased() ?? ""
            guard ct.hasPrefix("application/vnd.oracle.adf.resourceitem+json") || ct.hasPrefix("application/json") else {
                return text(.unsupportedMediaType, "Content-Type must be application/vnd.oracle.adf.resourceitem+json or application/json")
            }
            guard let body = (try? JSONValue.parse(try await EmulatorHTTP.body(request)))?.objectValue else { return text(.badRequest, "The request body is not valid JSON.") }
            if let problem = validate(body, creating: true) { return problem }
            if let tenant {
                // Tenant data, in the plain-text 400 the rest of this resource answers.
                if let a = body["AssetNumber"]?.stringValue, !tenant.knowsAsset(a) { return text(.badRequest, "The asset \(a) isn't valid in organization \(body["OrganizationCode"]?.stringValue ?? "").") }
                if let p = body["WorkOrderPriority"]?.stringOrNumber, !tenant.knowsPriority(p) { return text(.badRequest, "The value \(p) of WorkOrderPriority isn't valid.") }
                if let t = body["WorkOrderTypeCode"]?.stringValue, !tenant.knowsCategory(t) { return text(.badRequest, "The value \(t) of WorkOrderTypeCode isn't valid.") }
            }
            let upsert = request.headers[HTTPField.Name("Upsert-Mode")!]?.lowercased() == "true"
            if upsert, let number = body["WorkOrderNumber"]?.stringValue, let existing = await store.find(number: number, org: body["OrganizationCode"]?.stringValue ?? "") {
                await store.put(existing, body)
                return EmulatorHTTP.json(status: .ok, await view(existing))
            }
            if let number = body["WorkOrderNumber"]?.stringValue, await store.find(number: number, org: body["OrganizationCode"]?.stringValue ?? "") != nil {
                return text(.badRequest, "The work order number \(number) already exists in organization \(body["OrganizationCode"]?.stringValue ?? "").")
            }
            let wo = await state.add { id in
                EmulatedWorkOrder(id: id, reference: body["WorkOrderNumber"]?.stringValue, title: body["WorkOrderDescription"]?.stringValue.map { String($0.prefix(40)) } ?? "",
                                  asset: body["AssetNumber"]?.stringValue, priority: body["WorkOrderPriority"]?.stringOrNumber, status: "open",
                                  createdAt: Date(), notes: [], attachments: [], body: .object(body))
            }
            await store.put(wo.id, body)
            return EmulatorHTTP.json(status: .created, await view(wo.id), headers: [.location: "/\(path)/\(wo.id)"])
        }

        // Installed Base Assets (`GET /installedBaseAssets?q=AssetNumber='…'`): the tenant's assets as
        // `items`, an empty `items` when none match (Oracle answers a query with no match so, not 404).
        // Without a tenant asset table every AssetNumber asked for is a record.
        let assets = router.group(RouterPath(assetsPath))
        assets.add(middleware: BasicAuthCheck(state: state, unauthorized: { text(.unauthorized, "Authorization required") }))
        assets.get("") { request, _ in
            var number: String?
            if let q = request.uri.queryParameters.get("q") {
                let kv = q.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard kv.count == 2, kv[0] == "AssetNumber", !q.contains(";") else {
                    return text(.badRequest, "The query \(q) is not valid (emulator: AssetNumber='…').")
                }
                number = kv[1].trimmingCharacters(in: CharacterSet(charactersIn: "'")).replacingOccurrences(of: "''", with: "'")
            }
            let known = tenant?.assets ?? []
            var items: [JSONValue] = []
            for (i, a) in known.enumerated() where number == nil || a.id == number {
                items.append(.object(["AssetId": .number(Double(300_000_000 + i)), "AssetNumber": .string(a.id)]))
            }
            if known.isEmpty, let number { items = [.object(["AssetId": .number(300_000_000), "AssetNumber": .string(number)])] }
            return EmulatorHTTP.json(status: .ok, ["items": JSONValue.array(items), "count": .number(Double(items.count)), "hasMore": .bool(false),
                                                   "limit": .number(25), "offset": .number(0)])
        }

        api.get("") { request, _ in
            var clauses: [(String, String)] = []
            if let q = request.uri.queryParameters.get("q") {
                for part in q.split(separator: ";") {
                    let kv = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                    guard kv.count == 2, fields[kv[0]] != nil else { return text(.badRequest, "The query \(q) is not valid.") }
                    clauses.append((kv[0], kv[1].trimmingCharacters(in: CharacterSet(charactersIn: "'"))))
                }
            }
            // Paging as Oracle's REST framework documents it ("REST API for Oracle Fusion Cloud SCM", Get all
            // work orders: query parameters `limit` ("default value is 25"), `offset` (default 0), `orderBy`
            // (`Attr:asc|desc`, comma-separated), `totalResults=true`); the answer has `items`, `count` (items on
            // this page), `hasMore`, `limit`, `offset` and, when asked, `totalResults`.
            let qp = request.uri.queryParameters
            let limit = qp.get("limit").map { Int($0) } ?? 25, offset = qp.get("offset").map { Int($0) } ?? 0
            guard let limit, limit >= 1, limit <= 500 else { return text(.badRequest, "The limit query parameter must be a number from 1 to 500.") }
            guard let offset, offset >= 0 else { return text(.badRequest, "The offset query parameter must not be negative.") }
            var views: [JSONValue] = []
            for w in await state.all().sorted(by: { (Int($0.id) ?? 0) < (Int($1.id) ?? 0) }) {
                let v = await view(w.id)
                if clauses.allSatisfy({ v[$0.0]?.stringOrNumber == $0.1 }) { views.append(v) }
            }
            if let order = qp.get("orderBy") {
                var keys: [(String, Bool)] = []
                for part in order.split(separator: ",") {
                    let kv = part.split(separator: ":").map { $0.trimmingCharacters(in: .whitespaces) }
                    guard let k = kv.first, fields[k] != nil || ["CreationDate", "WorkOrderId"].contains(k), kv.count == 1 || (kv.count == 2 && ["asc", "desc"].contains(kv[1].lowercased())) else {
                        return text(.badRequest, "The orderBy query parameter \(order) is not valid.")
                    }
                    keys.append((k, kv.count == 2 && kv[1].lowercased() == "desc"))
                }
                views.sort { a, b in
                    for (k, desc) in keys {
                        let x = a[k], y = b[k]
                        if let dx = x?.doubleValue, let dy = y?.doubleValue, dx != dy { return desc ? dx > dy : dx < dy }
                        let sx = x?.stringOrNumber ?? "", sy = y?.stringOrNumber ?? ""
                        if sx != sy { return desc ? sx > sy : sx < sy }
                    }
                    return false
                }
            }
            let (page, more) = Paging.slice(views, offset: offset, limit: limit)
            var out: [String: JSONValue] = ["items": .array(page), "count": .number(Double(page.count)), "hasMore": .bool(more),
                                            "limit": .number(Double(limit)), "offset": .number(Double(offset))]
            if qp.get("totalResults") == "true" { out["totalResults"] = .number(Double(views.count)) }
            return EmulatorHTTP.json(status: .ok, JSONValue.object(out))
        }

        api.get(":id") { _, context in
            guard let id = context.parameters.get("id"), await state.find(id: id) != nil else { return text(.notFound, "The requested resource was not found.") }
            return EmulatorHTTP.json(status: .ok, await view(id))
        }

        api.patch(":id") { request, context in
            guard let id = context.parameters.get("id"), await store.get(id) != nil else { return text(.notFound, "The requested resource was not found.") }
            guard let body = (try? JSONValue.parse(try await EmulatorHTTP.body(request)))?.objectValue else { return text(.badRequest, "The request body is not valid JSON.") }
            if let problem = validate(body, creating: false) { return problem }
            await store.put(id, body)
            if let s = body["WorkOrderStatusCode"]?.stringValue { _ = await state.update(id: id) { $0.status = common(s) } }
            return EmulatorHTTP.json(status: .ok, await view(id))
        }

        api.post(":id/child/attachments") { request, context in
            guard let id = context.parameters.get("id"), await store.get(id) != nil else { return text(.notFound, "The requested resource was not found.") }
            guard let body = (try? JSONValue.parse(try await EmulatorHTTP.body(request)))?.objectValue else { return text(.badRequest, "The request body is not valid JSON.") }
            guard body["DatatypeCode"]?.stringValue == "FILE" else { return text(.badRequest, "DatatypeCode must be FILE, TEXT or WEB_PAGE; the emulator takes FILE.") }
            guard let name = body["FileName"]?.stringValue, !name.isEmpty else { return text(.badRequest, "The attribute FileName is required.") }
            guard let b64 = body["FileContents"]?.stringValue, let data = Data(base64Encoded: b64), !data.isEmpty else {
                return text(.badRequest, "FileContents must be the file in base64.")
            }
            _ = await state.attach(id: id, name: name, data: data)
            return EmulatorHTTP.json(status: .created, ["AttachedDocumentId": .number(Double(data.count)), "FileName": JSONValue.string(name)])
        }
        return router
    }
}

/// Basic auth, any well-formed user:password unless `--credentials` lists them.
struct BasicAuthCheck<Context: RequestContext>: RouterMiddleware {
    let state: EmulatorState
    let unauthorized: @Sendable () -> Response
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let auth = request.headers[.authorization], auth.hasPrefix("Basic "),
              let d = Data(base64Encoded: String(auth.dropFirst(6))), let s = String(data: d, encoding: .utf8), s.contains(":") else { return unauthorized() }
        if let valid = state.options.credentials, !valid.contains(s) { return unauthorized() }
        return try await next(request, context)
    }
}
