import Foundation
import HTTPTypes
import Hummingbird
import MillwrightCore
import NIOCore

/// `millwright emulate maximo`: IBM Maximo's JSON REST API for work orders.
///
/// Covers `/maximo/api/os/{mxapiwodetail|mxapiwo}` (lean JSON): create with the `properties`
/// header (record returned) or without (empty 201 + `Location`); `transactionid` (a repeated id
/// gets `409`); field validation against the MXAPIWODETAIL fields Millwright uses (unknown
/// attribute, too long for the column, wrong type, missing `siteid` → `400` in Maximo's
/// `{"Error": {"reasonCode", "message", "statusCode"}}` shape); query with `oslc.where`
/// (`attr="value"`, `and`-joined), `oslc.select`, `oslc.pageSize`; read by `workorderid`; update with
/// `x-method-override: PATCH` (fields, `status`, `worklog` rows); `doclinks` upload (binary body,
/// `slug` and `x-document-meta` required); `/maximo/api/whoami`. Auth: `apikey` header or `maxauth`
/// (base64 user:password); any value unless `--credentials` lists the key or `user:password`.
/// Helper: `POST /_emulator/maximo/work-orders/{id}/status` `{"status": "INPRG"}`.
///
/// Field names follow the Maximo Manage Postman collection (Tests/Fixtures/specs/cmms, SOURCES.md there) plus the
/// MXAPIWODETAIL attributes it does not show (`wopriority`, `location`, `worktype`, `externalrefid`,
/// the assignment attributes `owner`/`ownergroup`/`lead`/`supervisor`/`persongroup`, `estdur`, `downtime`).
/// Lengths: `description` 100 (WORKORDER.DESCRIPTION); the others are the Maximo 7.6 defaults as far
/// as public documentation shows them and may differ per installation (Database Configuration).
/// Reason codes other than the message texts are the emulator's own, not copied from Maximo.
public enum MaximoEmulator {
    public enum FieldType: String, Sendable {
        case aln = "ALN", upper = "UPPER", integer = "INTEGER", longaln = "LONGALN", datetime = "DATETIME", yorn = "YORN", duration = "DURATION"
    }
    public struct Field: Sendable { public var type: FieldType; public var length: Int?; public var creatable: Bool }

    public static let fields: [String: Field] = [
        "wonum": Field(type: .upper, length: 25, creatable: true),
        "workorderid": Field(type: .integer, length: nil, creatable: false),
        "description": Field(type: .aln, length: 100, creatable: true),
        "description_longdescription": Field(type: .longaln, length: 32_000, creatable: true),
        "siteid": Field(type: .upper, length: 8, creatable: true),
        "orgid": Field(type: .upper, length: 8, creatable: true),
        "assetnum": Field(type: .upper, length: 25, creatable: true),
        "location": Field(type: .upper, length: 50, creatable: true),
        "wopriority": Field(type: .integer, length: nil, creatable: true),
        "worktype": Field(type: .upper, length: 5, creatable: true),
        "externalrefid": Field(type: .aln, length: 20, creatable: true),
        "status": Field(type: .upper, length: 16, creatable: false),
        "changeby": Field(type: .upper, length: 30, creatable: true),
        "changedate": Field(type: .datetime, length: nil, creatable: true),
        "reportedby": Field(type: .upper, length: 30, creatable: true),
        "failurecode": Field(type: .upper, length: 8, creatable: true),
        "problemcode": Field(type: .upper, length: 8, creatable: true),
        "owner": Field(type: .upper, length: 30, creatable: true),
        "ownergroup": Field(type: .upper, length: 8, creatable: true),
        "lead": Field(type: .upper, length: 30, creatable: true),
        "supervisor": Field(type: .upper, length: 30, creatable: true),
        "persongroup": Field(type: .upper, length: 8, creatable: true),
        "estdur": Field(type: .duration, length: nil, creatable: true),
        "downtime": Field(type: .yorn, length: nil, creatable: true),
        // WORKORDER.GLACCOUNT (GL account, 20 characters in a default Maximo 7.6 database); part of the
        // MXAPIWODETAIL object structure as shipped, so a default emulator must not refuse it.
        "glaccount": Field(type: .aln, length: 20, creatable: true),
        "reportdate": Field(type: .datetime, length: nil, creatable: true),
    ]

    /// The object structure's attributes: the built-in table, or `--attributes` (listed names only; one the
    /// table does not know is taken as text of any length), as an administrator includes or excludes
    /// attributes of MXAPIWODETAIL in the Object Structures application.
    static func attributeTable(_ names: [String]?) -> [String: Field] {
        guard let names else { return fields }
        var out: [String: Field] = ["workorderid": fields["workorderid"]!, "status": fields["status"]!]
        for n in names { out[n] = fields[n] ?? Field(type: .aln, length: nil, creatable: true) }
        return out
    }
    public static let statuses: Set<String> = ["WAPPR", "APPR", "WSCH", "WMATL", "WPCOND", "INPRG", "COMP", "CLOSE", "CAN"]

    actor Store {
        let ttl: TimeInterval
        var transactions: [String: (id: String, at: Date)] = [:]  // transactionid → workorderid, when
        var raw: [String: String] = [:]           // workorderid → Maximo status
        var fields: [String: [String: JSONValue]] = [:]
        init(ttl: TimeInterval) { self.ttl = ttl }
        /// The work order a `transactionid` created, while Maximo still remembers it: IBM documents that the
        /// OSLCTXN cron task deletes processed transaction ids from OSLCTXN after 5 minutes by default
        /// (Maximo REST API guide, "Transaction ID"; the cron task's frequency/age is configurable), after
        /// which the same id is accepted again.
        func seen(_ tx: String, now: Date = Date()) -> String? {
            guard let t = transactions[tx] else { return nil }
            guard now.timeIntervalSince(t.at) < ttl else { transactions[tx] = nil; return nil }
            return t.id
        }
        func record(_ tx: String, _ id: String) { transactions[tx] = (id, Date()) }
        func set(_ id: String, status: String) { raw[id] = status }
        func status(_ id: String) -> String? { raw[id] }
        func put(_ id: String, _ f: [String: JSONValue]) { fields[id, default: [:]].merge(f) { $1 } }
        func get(_ id: String) -> [String: JSONValue] { fields[id] ?? [:] }
    }

    /// Maximo's work-order statuses (internal values of the WOSTATUS domain) in Millwright's common terms,
    /// written here from IBM's documentation rather than taken from the connector: IBM Support,
    /// "Maximo Support Desk - Allowable Status Changes for Work Orders"
    /// (ibm.com/support/pages/maximo-support-desk-allowable-status-changes-work-orders) lists WSCH,
    /// WMATL and WPCOND as synonyms of APPR (approved, not started); INPRG is work under way; COMP and
    /// CLOSE are done; CAN is cancelled. WAPPR is the starting status, waiting on approval.
    static let commonStatus: [String: CMMSStatus] = [
        "WAPPR": .open, "APPR": .open, "WSCH": .open, "WMATL": .open, "WPCOND": .open,
        "INPRG": .inProgress,
        "COMP": .completed, "CLOSE": .completed,
        "CAN": .cancelled,
    ]
    static func common(_ maximo: String) -> String { (commonStatus[maximo] ?? .open).rawValue }
    static func maximoStatus(common: String) -> String {
        switch CMMSStatus(rawValue: common) ?? .open {
        case .open: "WAPPR"
        case .inProgress: "INPRG"
        case .completed, .falsePositive: "COMP"
        case .cancelled: "CAN"
        }
    }

    public static func router(state: EmulatorState) -> Hummingbird.Router<BasicRequestContext> {
        let router = Hummingbird.Router()
        let store = Store(ttl: state.options.transactionTTL)
        let table = attributeTable(state.options.attributes)
        let tenant = state.options.tenant
        let statuses = tenant.flatMap { $0.statuses.isEmpty ? nil : Set($0.statuses) } ?? Self.statuses
        router.add(middleware: FaultInjection(state: state))
        EmulatorHTTP.addInspection(to: router, state: state, kind: "maximo")
        // --preload: unrelated work orders as MXAPIWODETAIL holds them; REPORTDATE is Maximo's creation date.
        state.preload { s in
            let b: [String: JSONValue] = ["wonum": .string(String(20_000 + s.index)), "description": .string(s.title), "siteid": .string("BEDFORD"),
                                          "assetnum": .string(s.asset), "wopriority": .number(Double(s.priority)), "worktype": .string(["PM", "CM", "EM"][s.index % 3]),
                                          "externalrefid": .string(s.reference), "reportdate": .string(Timestamps.format(s.createdAt))]
            return EmulatedWorkOrder(id: s.id, reference: s.reference, title: s.title, asset: s.asset, priority: String(s.priority), status: s.status,
                                     createdAt: s.createdAt, notes: [], attachments: [], body: .object(b))
        }
        router.post("/_emulator/maximo/work-orders/:id/status") { request, context in
            let s = (try? JSONValue.parse(try await EmulatorHTTP.body(request)))?["status"]?.stringValue?.uppercased() ?? ""
            guard let id = context.parameters.get("id"), !s.isEmpty else { return error(.badRequest, "BMXAA0001E", "send {\"status\": \"INPRG\"}") }
            guard await state.update(id: id, { $0.status = common(s) }) != nil else { return error(.notFound, "BMXAA8727E", "BMXAA8727E - The OSLC resource \(id) was not found.") }
            await store.set(id, status: s)
            return EmulatorHTTP.json(status: .ok, ["status": s])
        }
        let api = router.group("maximo/api")
        api.add(middleware: MaximoAuth(state: state))
        api.get("whoami") { _, _ in
            EmulatorHTTP.json(status: .ok, ["userName": "MXINTADM", "personid": "MXINTADM", "defaultSite": "BEDFORD", "insertSite": "BEDFORD", "langcode": "EN"])
        }

        @Sendable func view(_ w: EmulatedWorkOrder, os: String, select: [String]?) async -> JSONValue {
            var v = await store.get(w.id)
            if v.isEmpty { v = w.body.objectValue ?? [:] }  // a preloaded record
            v["reportdate"] = v["reportdate"] ?? .string(Timestamps.format(w.createdAt))
            v["workorderid"] = .number(Double(w.id) ?? 0)
            v["wonum"] = v["wonum"] ?? .string(w.id)
            v["status"] = .string(await store.status(w.id).flatMap { common($0) == w.status || !statuses.contains($0) ? $0 : nil } ?? maximoStatus(common: w.status))
            v["href"] = .string("/maximo/api/os/\(os)/\(w.id)")
            if !w.attachments.isEmpty { v["doclinks"] = .object(["member": .array(w.attachments.map { .object(["describedBy": .object(["fileName": .string($0)])]) })]) }
            // WORKLOG rows: ours (CLIENTNOTE, sent by PATCH) and the technician's, left at completion.
            if !w.notes.isEmpty {
                v["worklog"] = .array(w.notes.map { text in .object([
                    "description": .string(String(text.prefix(100))), "description_longdescription": .string(text),
                    "logtype": .string(text.hasPrefix("Millwright") ? "CLIENTNOTE" : "WORK"), "createby": .string("MAXADMIN"),
                    "createdate": .string(Timestamps.format(w.completedAt ?? w.createdAt)),
                ]) })
            }
            // The technician's closure: a problem code (WORKORDER.PROBLEMCODE) from the failure hierarchy.
            if let code = w.closureCode { v["problemcode"] = .string(code) }
            if let done = w.completedAt, w.status != "open", w.status != "in_progress" { v["actfinish"] = .string(Timestamps.format(done)) }
            guard let select, !select.contains("*") else { return .object(v) }
            var out: [String: JSONValue] = ["href": v["href"]!]
            // A child object is selected as `worklog{*}` or `worklog{description,…}`: all of its attributes here.
            for s in select {
                let key = String(s.split(separator: "{").first ?? Substring(s))
                if v[key] != nil { out[key] = v[key] }
            }
            return .object(out)
        }

        api.post("os/:os") { request, context in
            let os = context.parameters.get("os")?.lowercased()
            guard supported(os), let os else { return error(.notFound, "BMXAA8727E", "BMXAA8727E - The object structure \(context.parameters.get("os") ?? "") is not emulated.") }
            if request.headers[HTTPField.Name("x-method-override")!] != nil { return error(.badRequest, "BMXAA9548E", "BMXAA9548E - x-method-override needs a resource URI.") }
            let tx = request.headers[HTTPField.Name("transactionid")!]
            if let tx, await store.seen(tx) != nil {
                // A repeat within the OSLCTXN retention window (--transaction-ttl).
                return error(.conflict, "BMXAA9549E", "BMXAA9549E - The transaction \(tx) has already been processed.")
            }
            guard let body = (try? JSONValue.parse(try await EmulatorHTTP.body(request)))?.objectValue else {
                return error(.badRequest, "BMXAA9507E", "BMXAA9507E - The request body is not a JSON object.")
            }
            if let problem = validate(body, creating: true, fields: table) ?? tenantProblem(body, tenant) { return problem }
            let wo = await state.add { id in
                EmulatedWorkOrder(id: id, reference: body["externalrefid"]?.stringValue ?? tx, title: body["description"]?.stringValue ?? "",
                                  asset: body["assetnum"]?.stringValue, priority: body["wopriority"]?.stringOrNumber, status: "open",
                                  createdAt: Date(), notes: [], attachments: [], body: .object(body),
                                  assignee: body["owner"]?.stringValue ?? body["ownergroup"]?.stringValue)
            }
            await store.put(wo.id, body)
            if let tx { await store.record(tx, wo.id) }
            let location = "/maximo/api/os/\(os)/\(wo.id)"
            guard let props = request.headers[HTTPField.Name("properties")!] else {
                return Response(status: .created, headers: [.location: location])
            }
            let select = props.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            return EmulatorHTTP.json(status: .created, await view(wo, os: os, select: select), headers: [.location: location])
        }

        api.get("os/:os") { request, context in
            let os = context.parameters.get("os")?.lowercased()
            if let os, let table = masterData(os, tenant: tenant) { return masterDataQuery(os, table: table, request: request) }
            guard supported(os), let os else { return error(.notFound, "BMXAA8727E", "BMXAA8727E - The object structure is not emulated.") }
            var items = await state.all()
            if let w = request.uri.queryParameters.get("oslc.where") {
                guard let clauses = parseWhere(w) else {
                    return error(.badRequest, "BMXAA9370E", "BMXAA9370E - The oslc.where clause \(w) could not be parsed (emulator: attr=\"value\" joined by and).")
                }
                var kept: [EmulatedWorkOrder] = []
                for item in items {
                    let v = await view(item, os: os, select: nil)
                    if clauses.allSatisfy({ v[$0.0]?.stringOrNumber == $0.1 }) { kept.append(item) }
                }
                items = kept
            }
            // Paging as the Maximo REST API documents it (IBM, "Maximo REST API guide", Paging): `oslc.pageSize`
            // sets the page size, `pageno` (1-based) picks the page, and `responseInfo` carries `pagenum`, and
            // `nextPage`/`previousPage` `{href}` links while there are more; `collectioncount=1` adds
            // `totalCount` and `totalPages`. Without `oslc.pageSize` the whole set is one page. `oslc.orderBy`
            // takes `-attr`/`+attr` (comma-separated); without it records come in primary-key order.
            let q = request.uri.queryParameters
            if let order = q.get("oslc.orderBy") {
                var keys: [(String, Bool)] = []
                for part in order.split(separator: ",") {
                    let t = part.trimmingCharacters(in: .whitespaces)
                    let desc = t.hasPrefix("-"), name = t.trimmingCharacters(in: CharacterSet(charactersIn: "+- ")).lowercased()
                    guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                        return error(.badRequest, "BMXAA9370E", "BMXAA9370E - The oslc.orderBy clause \(order) could not be parsed.")
                    }
                    keys.append((name, desc))
                }
                var decorated: [(EmulatedWorkOrder, JSONValue)] = []
                for item in items { decorated.append((item, await view(item, os: os, select: nil))) }
                decorated.sort { a, b in
                    for (k, desc) in keys {
                        let x = a.1[k], y = b.1[k]
                        let less: Bool, same: Bool
                        if let dx = x?.doubleValue, let dy = y?.doubleValue { less = dx < dy; same = dx == dy }
                        else { let sx = x?.stringOrNumber ?? "", sy = y?.stringOrNumber ?? ""; less = sx < sy; same = sx == sy }
                        if !same { return desc ? !less : less }
                    }
                    return (Int(a.0.id) ?? 0) < (Int(b.0.id) ?? 0)
                }
                items = decorated.map { $0.0 }
            } else {
                items.sort { (Int($0.id) ?? 0) < (Int($1.id) ?? 0) }
            }
            let total = items.count
            var info: [String: JSONValue] = ["href": .string("/maximo/api/os/\(os)")]
            if let raw = q.get("oslc.pageSize") {
                guard let size = Int(raw), size > 0 else { return error(.badRequest, "BMXAA9370E", "BMXAA9370E - oslc.pageSize must be a positive number.") }
                let pageno = q.get("pageno").map { Int($0) } ?? 1
                guard let pageno, pageno >= 1 else { return error(.badRequest, "BMXAA9370E", "BMXAA9370E - pageno must be a number from 1.") }
                let (page, more) = Paging.slice(items, offset: (pageno - 1) * size, limit: size)
                items = page
                info["pagenum"] = .number(Double(pageno))
                func link(_ n: Int) -> JSONValue {
                    let kept = (request.uri.query ?? "").split(separator: "&").filter { !$0.hasPrefix("pageno=") }.map(String.init)
                    return .object(["href": .string("/maximo/api/os/\(os)?" + (kept + ["pageno=\(n)"]).joined(separator: "&"))])
                }
                if more { info["nextPage"] = link(pageno + 1) }
                if pageno > 1 { info["previousPage"] = link(pageno - 1) }
                if q.get("collectioncount") == "1" { info["totalPages"] = .number(Double((total + size - 1) / size)) }
            }
            // totalCount is kept on every answer, as this emulator always sent it (Maximo sends it with collectioncount=1).
            info["totalCount"] = .number(Double(total))
            let select = q.get("oslc.select")?.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            var members: [JSONValue] = []
            for item in items { members.append(await view(item, os: os, select: select)) }
            return EmulatorHTTP.json(status: .ok, ["member": JSONValue.array(members), "responseInfo": .object(info)])
        }

        api.get("os/:os/:id") { request, context in
            let os = context.parameters.get("os")?.lowercased() ?? ""
            guard supported(os), let id = context.parameters.get("id"), let wo = await state.find(id: id) else {
                return error(.notFound, "BMXAA8727E", "BMXAA8727E - The OSLC resource \(context.parameters.get("id") ?? "") with the ID was not found as it does not exist in the system.")
            }
            let select = request.uri.queryParameters.get("oslc.select")?.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            return EmulatorHTTP.json(status: .ok, await view(wo, os: os, select: select))
        }

        api.post("os/:os/:id") { request, context in
            let os = context.parameters.get("os")?.lowercased() ?? ""
            guard supported(os), let id = context.parameters.get("id"), await state.find(id: id) != nil else {
                return error(.notFound, "BMXAA8727E", "BMXAA8727E - The OSLC resource \(context.parameters.get("id") ?? "") was not found.")
            }
            guard request.headers[HTTPField.Name("x-method-override")!]?.uppercased() == "PATCH" else {
                return error(.badRequest, "BMXAA9548E", "BMXAA9548E - POST to a resource needs x-method-override: PATCH.")
            }
            guard var body = (try? JSONValue.parse(try await EmulatorHTTP.body(request)))?.objectValue else {
                return error(.badRequest, "BMXAA9507E", "BMXAA9507E - The request body is not a JSON object.")
            }
            var notes: [String] = []
            if let rows = body.removeValue(forKey: "worklog") {
                for row in rows.arrayValue ?? [] {
                    guard let d = row["description"]?.stringValue, !d.isEmpty else { return error(.badRequest, "BMXAA4195E", "BMXAA4195E - A value is required for the Summary field on the WORKLOG object.") }
                    if d.count > 100 { return error(.badRequest, "BMXAA4049E", "BMXAA4049E - The value specified exceeds the maximum field length for WORKLOG.DESCRIPTION (100).") }
                    notes.append(row["description_longdescription"]?.stringValue ?? d)
                }
            }
            var newStatus: String?
            if let s = body.removeValue(forKey: "status") {
                guard let v = s.stringValue?.uppercased(), statuses.contains(v) else { return error(.badRequest, "BMXAA4590E", "BMXAA4590E - Status \(s.stringValue ?? "") is not a valid WOSTATUS value.") }
                newStatus = v
            }
            if let problem = validate(body, creating: false, fields: table) ?? tenantProblem(body, tenant) { return problem }
            await store.put(id, body)
            if let newStatus { await store.set(id, status: newStatus) }
            _ = await state.update(id: id) { w in
                w.notes += notes
                if let newStatus { w.status = common(newStatus) }
            }
            return Response(status: .noContent)
        }

        // The DOCLINKS child collection, as Maximo lists it: each member's `href` is the document, and
        // `describedBy` its metadata (file name, `format.label` the MIME type, `changedate`).
        api.get("os/:os/:id/doclinks") { request, context in
            let os = context.parameters.get("os")?.lowercased() ?? ""
            guard supported(os), let id = context.parameters.get("id"), let wo = await state.find(id: id) else {
                return error(.notFound, "BMXAA8727E", "BMXAA8727E - The OSLC resource \(context.parameters.get("id") ?? "") was not found.")
            }
            var members: [JSONValue] = []
            for (i, name) in wo.attachments.enumerated() {
                let f = await state.storedFile(id: id, name: name)
                members.append(.object(["href": .string("/maximo/api/os/\(os)/\(id)/doclinks/\(i + 1)"),
                                        "describedBy": .object(["fileName": .string(name), "docinfoid": .number(Double(i + 1)),
                                                                "format": .object(["label": .string(f?.contentType ?? "image/jpeg")]),
                                                                "changedate": .string(Timestamps.format(f?.at ?? wo.createdAt))])]))
            }
            return EmulatorHTTP.json(status: .ok, ["member": JSONValue.array(members), "href": .string("/maximo/api/os/\(os)/\(id)/doclinks")])
        }
        api.get("os/:os/:id/doclinks/:n") { _, context in
            let os = context.parameters.get("os")?.lowercased() ?? ""
            guard supported(os), let id = context.parameters.get("id"), let wo = await state.find(id: id), let n = context.parameters.get("n").flatMap({ Int($0) }),
                  n >= 1, n <= wo.attachments.count, let f = await state.storedFile(id: id, name: wo.attachments[n - 1]) else {
                return error(.notFound, "BMXAA8727E", "BMXAA8727E - The document was not found.")
            }
            return Response(status: .ok, headers: [.contentType: f.contentType], body: .init(byteBuffer: ByteBuffer(bytes: f.data)))
        }

        api.post("os/:os/:id/doclinks") { request, context in
            let os = context.parameters.get("os")?.lowercased() ?? ""
            guard supported(os), let id = context.parameters.get("id"), await state.find(id: id) != nil else {
                return error(.notFound, "BMXAA8727E", "BMXAA8727E - The OSLC resource \(context.parameters.get("id") ?? "") was not found.")
            }
            guard let slug = request.headers[HTTPField.Name("slug")!], !slug.isEmpty else { return error(.badRequest, "BMXAA4195E", "BMXAA4195E - A value is required for the slug header (file name).") }
            guard let meta = request.headers[HTTPField.Name("x-document-meta")!], meta.contains("/") else {
                return error(.badRequest, "BMXAA4195E", "BMXAA4195E - A value is required for x-document-meta (<urltype>/<doctype>, e.g. FILE/Attachments).")
            }
            let data = try await EmulatorHTTP.body(request)
            guard !data.isEmpty else { return error(.badRequest, "BMXAA4195E", "BMXAA4195E - The document is empty.") }
            _ = await state.attach(id: id, name: slug, data: data, contentType: request.headers[.contentType])
            return Response(status: .created, headers: [.location: "/maximo/api/os/\(os)/\(id)/doclinks/\(id)\(slug.count)"])
        }
        return router
    }

    static func supported(_ os: String?) -> Bool { os == "mxapiwodetail" || os == "mxapiwo" }

    /// Values the tenant does not have, in Maximo's `Error` object. The message texts follow the Maximo
    /// messages for these validations (WORKORDER.ASSETNUM, .LOCATION, person fields); the reason codes are
    /// the emulator's choice of BMXAA numbers, as elsewhere in this file.
    static func tenantProblem(_ body: [String: JSONValue], _ tenant: TenantData?) -> Response? {
        guard let tenant else { return nil }
        if let a = body["assetnum"]?.stringValue, !tenant.knowsAsset(a) {
            return error(.badRequest, "BMXAA4153E", "BMXAA4153E - Asset \(a) is not a valid asset, or its status is not an operating status.")
        }
        if let l = body["location"]?.stringValue, !tenant.knowsFunctionalLocation(l) {
            return error(.badRequest, "BMXAA2661E", "BMXAA2661E - Location \(l) is not a valid location.")
        }
        for k in ["owner", "lead", "supervisor", "reportedby"] {
            if let p = body[k]?.stringValue, !tenant.knowsUser(p) {
                return error(.badRequest, "BMXAA3783E", "BMXAA3783E - Person \(p) is not valid for WORKORDER.\(k.uppercased()).")
            }
        }
        if let g = body["ownergroup"]?.stringValue ?? body["persongroup"]?.stringValue, !tenant.knowsUser(g) {
            return error(.badRequest, "BMXAA3784E", "BMXAA3784E - Person group \(g) is not valid.")
        }
        if let p = body["wopriority"]?.stringOrNumber, !tenant.knowsPriority(p) {
            return error(.badRequest, "BMXAA4190E", "BMXAA4190E - Priority \(p) is not a valid value for WORKORDER.WOPRIORITY.")
        }
        if let t = body["worktype"]?.stringValue, !tenant.knowsCategory(t) {
            return error(.badRequest, "BMXAA4202E", "BMXAA4202E - Work type \(t) is not valid for the site.")
        }
        return nil
    }

    static func validate(_ body: [String: JSONValue], creating: Bool, fields: [String: Field] = Self.fields) -> Response? {
        for key in body.keys.sorted() {
            let v = body[key]!
            guard let f = fields[key.lowercased()] else {
                return error(.badRequest, "BMXAA8863E", "BMXAA8863E - The attribute \(key) is not part of the object structure MXAPIWODETAIL.")
            }
            if creating && !f.creatable { return error(.badRequest, "BMXAA4176E", "BMXAA4176E - The field WORKORDER.\(key.uppercased()) is read-only.") }
            switch f.type {
            case .integer:
                guard let d = v.doubleValue ?? v.stringValue.flatMap(Double.init), d.rounded() == d else {
                    return error(.badRequest, "BMXAA4190E", "BMXAA4190E - The value \(v.stringOrNumber ?? v.typeName) for WORKORDER.\(key.uppercased()) is not a valid integer.")
                }
            case .duration:
                guard (v.doubleValue ?? v.stringValue.flatMap(Double.init)) != nil else {
                    return error(.badRequest, "BMXAA4190E", "BMXAA4190E - The value \(v.stringOrNumber ?? v.typeName) for WORKORDER.\(key.uppercased()) is not a valid duration in hours.")
                }
            case .yorn:
                guard v.boolValue != nil else { return error(.badRequest, "BMXAA4190E", "BMXAA4190E - WORKORDER.\(key.uppercased()) needs true or false.") }
            case .datetime:
                guard let s = v.stringValue, Timestamps.parseISO(s) != nil else { return error(.badRequest, "BMXAA4190E", "BMXAA4190E - WORKORDER.\(key.uppercased()) needs an ISO 8601 date and time.") }
            case .aln, .upper, .longaln:
                guard let s = v.stringValue else { return error(.badRequest, "BMXAA4190E", "BMXAA4190E - WORKORDER.\(key.uppercased()) needs a string, not \(v.typeName).") }
                if let max = f.length, s.count > max {
                    return error(.badRequest, "BMXAA4049E", "BMXAA4049E - The value specified exceeds the maximum field length for WORKORDER.\(key.uppercased()) (\(max)).")
                }
            }
        }
        if creating, body["siteid"]?.stringValue?.isEmpty ?? true {
            return error(.badRequest, "BMXAA4195E", "BMXAA4195E - A value is required for the Site field on the WORKORDER object.")
        }
        return nil
    }

    /// `attr="value" and attr2="value2"`.
    /// The master-data object structures the emulator answers queries on, from the tenant: `mxapiasset`
    /// (assetnum), `mxapioperloc` (location: the tenant's functional locations and locations), `mxapiperson`
    /// (personid: the tenant's users). `all` is nil when the tenant has no such table: then every value
    /// asked for is answered as a record (the emulator's permissive mode).
    static func masterData(_ os: String, tenant: TenantData?) -> (key: String, all: [String]?)? {
        func known(_ values: [String]) -> [String]? { values.isEmpty ? nil : values }
        switch os {
        case "mxapiasset", "mxasset": return ("assetnum", known(tenant?.assets.map(\.id) ?? []))
        case "mxapioperloc", "mxoperloc":
            let t = tenant
            return ("location", known((t?.functionalLocations ?? []) + (t?.assets.compactMap(\.functionalLocation) ?? []) + (t?.assets.compactMap(\.location) ?? [])))
        case "mxapiperson", "mxperson": return ("personid", known(tenant?.users.map(\.id) ?? []))
        default: return nil
        }
    }

    /// `GET /maximo/api/os/<master data>?oslc.where=<key> in ["A","B"] [and siteid="…"]` (or `<key>="A"`):
    /// the matching records as `member`, an empty `member` when none match (Maximo answers a query with no
    /// match with 200 and no members, not 404). Keys compare without case, as Maximo's upper-case keys do.
    static func masterDataQuery(_ os: String, table: (key: String, all: [String]?), request: Request) -> Response {
        let q = request.uri.queryParameters
        guard let w = q.get("oslc.where") else {
            return EmulatorHTTP.json(status: .ok, ["member": JSONValue.array((table.all ?? []).map { .object([table.key: .string($0)]) }), "responseInfo": .object(["href": .string("/maximo/api/os/\(os)")])])
        }
        var asked: [String] = []
        var site: String?
        for clause in w.components(separatedBy: " and ") {
            let t = clause.trimmingCharacters(in: .whitespaces)
            if t.lowercased().hasPrefix("siteid") { site = t.split(separator: "=", maxSplits: 1).last.map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "\" ")) }; continue }
            if let r = t.range(of: " in ", options: .caseInsensitive), t[..<r.lowerBound].trimmingCharacters(in: .whitespaces).lowercased() == table.key {
                let list = t[r.upperBound...].trimmingCharacters(in: .whitespaces)
                guard list.hasPrefix("["), list.hasSuffix("]") else { return error(.badRequest, "BMXAA9370E", "BMXAA9370E - The oslc.where clause \(w) could not be parsed.") }
                asked += list.dropFirst().dropLast().split(separator: ",").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "\" ")) }
            } else if let eq = t.firstIndex(of: "="), t[..<eq].trimmingCharacters(in: .whitespaces).lowercased() == table.key {
                asked.append(t[t.index(after: eq)...].trimmingCharacters(in: CharacterSet(charactersIn: "\" ")))
            } else {
                return error(.badRequest, "BMXAA9370E", "BMXAA9370E - The oslc.where clause \(w) could not be parsed (emulator: \(table.key) in [..], \(table.key)=\"..\", siteid=\"..\").")
            }
        }
        let members: [JSONValue] = asked.compactMap { a in
            let hit = table.all.map { all in all.first { $0.caseInsensitiveCompare(a) == .orderedSame } } ?? a.uppercased()
            guard let hit else { return nil }
            var o: [String: JSONValue] = [table.key: .string(hit.uppercased())]
            if let site { o["siteid"] = .string(site) }
            return .object(o)
        }
        return EmulatorHTTP.json(status: .ok, ["member": JSONValue.array(members), "responseInfo": .object(["href": .string("/maximo/api/os/\(os)"), "totalCount": .number(Double(members.count))])])
    }

    static func parseWhere(_ w: String) -> [(String, String)]? {
        var out: [(String, String)] = []
        for clause in w.components(separatedBy: " and ") {
            guard let eq = clause.firstIndex(of: "=") else { return nil }
            let attr = clause[..<eq].trimmingCharacters(in: .whitespaces).lowercased()
            var value = clause[clause.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            guard !attr.isEmpty, attr.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else { return nil }
            out.append((attr, value))
        }
        return out
    }

    static func error(_ status: HTTPResponse.Status, _ code: String, _ message: String) -> Response {
        EmulatorHTTP.json(status: status, ["Error": ["reasonCode": code, "message": message, "statusCode": String(status.code)]])
    }
}

struct MaximoAuth<Context: RequestContext>: RouterMiddleware {
    let state: EmulatorState
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var presented: String?
        if let k = request.headers[HTTPField.Name("apikey")!], !k.isEmpty { presented = k }
        else if let m = request.headers[HTTPField.Name("maxauth")!], let d = Data(base64Encoded: m), let s = String(data: d, encoding: .utf8), s.contains(":") { presented = s }
        guard let presented else {
            return MaximoEmulator.error(.unauthorized, "BMXAA7901E", "BMXAA7901E - You cannot log in at this time. Send an apikey or maxauth header.")
        }
        if let valid = state.options.credentials, !valid.contains(presented) {
            return MaximoEmulator.error(.unauthorized, "BMXAA7901E", "BMXAA7901E - You cannot log in at this time. The API key is not valid.")
        }
        return try await next(request, context)
    }
}
