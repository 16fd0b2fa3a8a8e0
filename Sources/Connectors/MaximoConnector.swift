import Foundation
import MillwrightCore
import NIOHTTP1

/// `maximo`: IBM Maximo Manage / Maximo 7.6 through the JSON REST API (`/maximo/api`).
///
/// Endpoints (object structure `MXAPIWODETAIL` by default; `maximo.object_structure` to change):
/// - `POST /maximo/api/os/mxapiwodetail?lean=1` with headers `apikey` (or Basic credentials),
///   `properties: href,workorderid,wonum,status,siteid` (so the created record comes back),
///   and `transactionid: <our reference>`: Maximo refuses a second request with the same id with
///   `409`, which means "already created" — the connector then looks the record up and reports it created.
/// - `GET /maximo/api/os/mxapiwodetail?lean=1&oslc.where=<reference_field>="MW-…"&oslc.select=…` (lookup).
/// - `GET /maximo/api/os/mxapiwodetail/{id}?lean=1&oslc.select=status` (status; `{id}` from the href).
/// - `POST /maximo/api/os/mxapiwodetail/{id}?lean=1` with `x-method-override: PATCH`,
///   `patchtype: MERGE` and a `worklog` row (notes).
/// - `POST /maximo/api/os/mxapiwodetail/{id}/doclinks` with the JPEG as body and headers
///   `slug: <filename>`, `x-document-meta: FILE/<doc type>`, `Content-Type: image/jpeg` (attachment).
/// - `GET /maximo/api/os/mxapiwodetail/{id}?lean=1&oslc.select=status,problemcode,failurecode,worklog{*}` and
///   `GET …/{id}/doclinks` with each document's `href` (read-back of a closed work order).
/// - `GET /maximo/api/whoami` (check-connection).
///
/// Fields: `siteid` (+ `orgid` when configured), `description` (Maximo's WORKORDER.DESCRIPTION,
/// 100 characters: our title, which is at most 40), `description_longdescription` (our long text),
/// `assetnum` and `location` (our functional location or location), `wopriority` (integer, from the
/// priority map), `worktype` when configured, and our reference in `reference_field` (default
/// `externalrefid`), `owner` / `ownergroup` for the technician or group from `users`. The cmms
/// entry's `title:` replaces the title (cut to 100) and `fields:` adds WORKORDER attributes
/// (`worktype: CM`, `glaccount: "{asset}"`; names in any case, sent in lower case; `estdur` and
/// `downtime` typed). The record id is the last segment of the record's `href` (or `Location`): on
/// Maximo 7.6 the encoded key (`_QkVERk9SRC8xMDAx`), on Manage the id the Postman collection uses
/// (`/api/os/mxapiwo/34`); status, notes and attachments address `…/{that id}`.
///
/// Status: `status` mapped WAPPR/APPR/WSCH/WMATL/WPCOND → open, INPRG → in progress, COMP/CLOSE →
/// completed, CAN → cancelled; `status_map` ("<STATUS>=…, …") adds or overrides (e.g. a synonym `FALSEPOS: false_positive`).
/// Errors: `Error.reasonCode` (BMXAA…) and `Error.message` are passed on verbatim.
///
/// Config (`maximo:` block): `site` (required), `org`, `object_structure` (mxapiwodetail),
/// `api_path` (/maximo/api), `reference_field` (externalrefid), `worktype`, `priority_map.<p>`
/// (critical 1, high 2, medium 3, low 4), `status_map` ("<STATUS>=…, …"), `doc_type` (Attachments),
/// `attachment_limit_bytes`, `users` ("<technician>=<PERSONID>, <queue>=team:<PERSONGROUP>").
/// `auth_header` (authorization | maxauth). Auth: `api_key` (header `apikey`) or `basic`
/// (`Authorization: Basic`; `auth_header: maxauth` sends Maximo's native `maxauth` header instead).
public struct MaximoOptions: CMMSOptions {
    /// The siteid work orders are created in.
    public var site: String
    public var org: String?
    public var objectStructure = "mxapiwodetail"
    public var apiPath = "/maximo/api"
    /// The WORKORDER attribute that carries our reference (lower case, as sent).
    public var referenceField = "externalrefid"
    public var worktype: String?
    public var docType = "Attachments"
    /// How `auth: basic` is sent: `Authorization: Basic` (Maximo Manage, 7.6 behind LDAP/app-server
    /// security) or Maximo's native `maxauth` header (7.6 with native authentication).
    public enum BasicHeader: String, Sendable { case authorization, maxauth }
    public var authHeader = BasicHeader.authorization

    public static let keys = ["site", "org", "object_structure", "api_path", "reference_field", "worktype", "doc_type", "auth_header"]

    public init(site: String) { self.site = site }

    public init(block: ConfigTree) throws(ConfigError) {
        site = try block.required("site", "the siteid work orders are created in").nonEmptyString()
        org = try block.child("org")?.string()
        if let v = block.child("object_structure") { objectStructure = try v.nonEmptyString().lowercased() }
        if let v = block.child("api_path") { apiPath = try v.string() }
        if let v = block.child("reference_field") { referenceField = try v.nonEmptyString().lowercased() }
        worktype = try block.child("worktype")?.string()
        if let v = block.child("doc_type") { docType = try v.nonEmptyString() }
        if let v = block.child("auth_header") { authHeader = BasicHeader(rawValue: try v.oneOf(["authorization", "maxauth"]))! }
    }
}

public struct MaximoConnector: CMMSConnector {
    public let settings: CMMSSettings
    public let options: MaximoOptions
    let http: HTTPTransport
    let custom: PlantCustomization
    public var name: String { settings.name }
    public var kind: String { settings.kind }
    public static let descriptionMax = 100
    /// Numeric and yes/no WORKORDER attributes a plant may set through `fields:`; the tests hold
    /// this against the emulator's attribute table.
    public static let fieldKinds: [String: FieldKind] = ["wopriority": .integer, "estdur": .number, "downtime": .boolean]

    init(settings: CMMSSettings, options: MaximoOptions, http: HTTPTransport) throws {
        self.settings = settings; self.options = options; self.http = http
        custom = try PlantCustomization(settings, reserved: ["siteid", "description", "description_longdescription", "assetnum", "location", "wopriority",
                                                            options.referenceField],
                                        kinds: { Self.fieldKinds[$0] }, caseInsensitive: true)
    }

    var base: String { settings.baseURL.hasSuffix("/") ? String(settings.baseURL.dropLast()) : settings.baseURL }
    var api: String { base + options.apiPath }
    var collection: String { api + "/os/" + options.objectStructure }
    public var referenceField: String { options.referenceField }

    var authHeaders: [(String, String)] {
        switch settings.auth {
        case .basic(let u, let p) where options.authHeader == .maxauth: return [("maxauth", Data("\(u):\(p)".utf8).base64EncodedString())]
        default: return HTTPTransport.authHeaders(settings.auth)
        }
    }
    var headers: [(String, String)] { [("Accept", "application/json")] + authHeaders }

    public static let defaultPriorities: [Priority: Int] = [.critical: 1, .high: 2, .medium: 3, .low: 4]

    public func wopriority(_ p: Priority) -> Int { settings.priorityMap[p].flatMap(Int.init) ?? Self.defaultPriorities[p]! }

    /// The create body; public so the spec tests can check its field names.
    public func payload(_ wo: WorkOrderDraft) -> [String: JSONValue] {
        var p: [String: JSONValue] = [
            "siteid": .string(options.site),
            "description": .string(custom.title(wo, max: Self.descriptionMax)),
            "description_longdescription": .string(wo.description),
            "assetnum": .string(wo.asset),
            "wopriority": .number(Double(wopriority(wo.priority))),
            referenceField: .string(wo.reference),
        ]
        if let org = options.org, !org.isEmpty { p["orgid"] = .string(org) }
        if let loc = wo.functionalLocation ?? wo.location, !loc.isEmpty { p["location"] = .string(loc) }
        if let wt = options.worktype, !wt.isEmpty { p["worktype"] = .string(wt) }
        switch custom.assignee(wo) {
        case .user(let person)?: p["owner"] = .string(person)
        case .team(let group)?: p["ownergroup"] = .string(group)
        case nil: break
        }
        custom.apply(wo, to: &p)
        return p
    }

    /// `BMXAA4191E - …` exactly as Maximo wrote it.
    public static func describe(_ r: HTTPTransport.Response) -> String {
        if let e = r.json?["Error"] ?? r.json?["oslc:Error"] {
            let code = e["reasonCode"]?.stringValue ?? e["oslc:reasonCode"]?.stringValue
            let msg = e["message"]?.stringValue ?? e["oslc:message"]?.stringValue ?? "no message"
            if let code, !msg.contains(code) { return "\(code): \(msg)" }
            return msg
        }
        let t = r.text.trimmingCharacters(in: .whitespacesAndNewlines)
        return t.isEmpty ? "no error body" : String(t.prefix(300))
    }

    /// The record's REST id: the last path segment of its `href` (`Location` after a create). On
    /// Maximo 7.6 that is the encoded key (`_QkVERk9SRC8xMDAx`), not `workorderid`, and status, notes
    /// and attachments must address it; `workorderid` is used only when no href came back.
    static func recordId(href: String?, fallback: JSONValue?) -> String? {
        if let href, let path = href.split(separator: "?").first, let last = path.split(separator: "/").last, !last.isEmpty {
            return String(last)
        }
        return fallback?.stringOrNumber
    }

    static func recordId(_ r: HTTPTransport.Response) -> String? {
        recordId(href: r.json?["href"]?.stringValue ?? r.headers.first(name: "Location"), fallback: r.json?["workorderid"])
    }

    public func create(_ wo: WorkOrderDraft) async -> DeliveryState.Outcome {
        do {
            let body = try JSONEncoder().encode(JSONValue.object(payload(wo)))
            let h = headers + [("Content-Type", "application/json"), ("properties", "href,workorderid,wonum,status,siteid"), ("transactionid", wo.reference)]
            let r = try await http.send(.POST, collection + "?lean=1", headers: h, body: body)
            if r.status == 409 {
                // The transaction id was processed before: the work order exists.
                switch await lookup(reference: wo.reference) {
                case .lookupFound(let id): return .created(cmmsId: id)
                case let other: return .unknown(error: "Maximo says transaction \(wo.reference) was processed (409: \(Self.describe(r))) but the lookup did not find it: \(other.detail ?? other.label)")
                }
            }
            if let failure = HTTPTransport.classify(r, describe: Self.describe) {
                if case .permanent(let e) = failure { return .permanent(error: "Maximo rejected the work order: \(e)") }
                return failure
            }
            guard let id = Self.recordId(r) else { return .unknown(error: "created, but neither body nor Location named the record: \(r.text)") }
            return .created(cmmsId: id)
        } catch {
            return HTTPTransport.transportFailure(error)
        }
    }

    /// Filtered on the server (`oslc.where=<reference_field>="MW-…"`), so an empty `member` proves
    /// absence; two members are answered by the first (both are ours).
    public func lookup(reference: String) async -> DeliveryState.Outcome {
        let whereClause = "\(referenceField)=\"\(reference.replacingOccurrences(of: "\"", with: ""))\""
        let u = collection + "?lean=1&oslc.select=workorderid,wonum,status&oslc.pageSize=2&oslc.where=" + OData.query(whereClause).replacingOccurrences(of: "=", with: "%3D")
        do {
            let r = try await http.send(.GET, u, headers: headers)
            guard r.status == 200 else { return LookupProof.unproven("Maximo answered HTTP \(r.status): \(Self.describe(r))", retryAfter: HTTPTransport.retryAfter(r.headers)) }
            guard let members = r.json?["member"]?.arrayValue ?? r.json?["rdfs:member"]?.arrayValue else {
                return LookupProof.inconclusive("Maximo's answer has no member list: \(r.text)")
            }
            guard let first = members.first else { return .lookupNotFound }
            guard let id = Self.recordId(href: first["href"]?.stringValue ?? first["rdf:about"]?.stringValue, fallback: first["workorderid"]) else {
                return LookupProof.inconclusive("a work order carries \(reference) but has neither href nor workorderid: \(r.text)")
            }
            return .lookupFound(cmmsId: id)
        } catch {
            return LookupProof.unproven("Maximo did not answer: \(HTTPTransport.describe(error))")
        }
    }

    public static let defaultStatuses: [String: CMMSStatus] = [
        "WAPPR": .open, "APPR": .open, "WSCH": .open, "WMATL": .open, "WPCOND": .open,
        "INPRG": .inProgress, "COMP": .completed, "CLOSE": .completed, "CAN": .cancelled,
    ]

    public func mapStatus(_ s: String) -> CMMSStatus {
        let u = s.uppercased()
        if let m = settings.statusMap[u] { return m }
        return Self.defaultStatuses[u] ?? .open
    }

    public func status(cmmsId: String) async throws -> CMMSStatus? {
        let r = try await http.send(.GET, collection + "/\(cmmsId)?lean=1&oslc.select=status,wonum", headers: headers)
        guard r.status == 200, let s = r.json?["status"]?.stringValue else {
            throw ConnectorError.misconfigured("status of work order \(cmmsId): HTTP \(r.status) \(Self.describe(r))")
        }
        return mapStatus(s)
    }

    public func addNote(cmmsId: String, text: String) async -> Bool {
        let body = try? JSONEncoder().encode(JSONValue.object(["worklog": .array([.object([
            "description": .string(String(text.prefix(Self.descriptionMax))), "description_longdescription": .string(text), "logtype": .string("CLIENTNOTE"),
        ])])]))
        let h = headers + [("Content-Type", "application/json"), ("x-method-override", "PATCH"), ("patchtype", "MERGE")]
        guard let r = try? await http.send(.POST, collection + "/\(cmmsId)?lean=1", headers: h, body: body) else { return false }
        return (200..<300).contains(r.status)
    }

    /// `GET {collection}/{id}?lean=1&oslc.select=status,problemcode,failurecode,worklog{*}` (the closure
    /// code: the status with the problem code and failure class; the technician's WORKLOG rows, ours
    /// left out) and `GET {collection}/{id}/doclinks?lean=1` (each member's `describedBy.fileName`,
    /// `format.label` and `href`, the document itself), the newest image downloaded from its `href`.
    public func readBack(cmmsId: String, reference: String) async -> CMMSReadbackResult {
        do {
            let select = "status,problemcode,failurecode,worklog%7B*%7D"
            let r = try await http.send(.GET, collection + "/\(cmmsId)?lean=1&oslc.select=" + select, headers: headers)
            guard r.status == 200, let wo = r.json else { return .failed("reading work order \(cmmsId) answered HTTP \(r.status): \(Self.describe(r))") }
            var out = CMMSReadback()
            let parts = [wo["status"]?.stringValue, wo["problemcode"]?.stringValue.map { "problem " + $0 }, wo["failurecode"]?.stringValue.map { "failure class " + $0 }]
            out.closureCode = parts.compactMap { $0 }.joined(separator: ", ")
            for row in wo["worklog"]?.arrayValue ?? [] {
                guard let text = row["description_longdescription"]?.stringValue ?? row["description"]?.stringValue, !CMMSReadback.isOwnNote(text) else { continue }
                out.notes.append(ReadbackNote(text: text, author: row["createby"]?.stringValue, at: row["createdate"]?.stringValue.flatMap(Timestamps.parseISO)))
            }
            let d = try await http.send(.GET, collection + "/\(cmmsId)/doclinks?lean=1", headers: headers)
            if d.status == 200 {
                let files = (d.json?["member"]?.arrayValue ?? []).compactMap { m -> ReadbackSupport.Listed? in
                    guard let href = m["href"]?.stringValue else { return nil }
                    let info = m["describedBy"]
                    return ReadbackSupport.Listed(name: info?["fileName"]?.stringValue ?? href, contentType: info?["format"]?["label"]?.stringValue, url: href,
                                                  createdAt: (info?["changedate"]?.stringValue ?? info?["createdate"]?.stringValue).flatMap(Timestamps.parseISO))
                }
                let (photo, refused) = ReadbackSupport.choosePhoto(files, reference: reference)
                out.refused += refused
                if let photo { await ReadbackSupport.fetchPhoto(photo, base: base, auth: authHeaders, http: http, into: &out) }
            } else {
                out.refused.append("doclinks answered HTTP \(d.status): \(CMMSReadback.cut(Self.describe(d), 150))")
            }
            return .read(out.bounded())
        } catch {
            return .failed("Maximo did not answer: \(HTTPTransport.describe(error))")
        }
    }

    public func attach(cmmsId: String, filename: String, jpeg: Data) async -> Bool {
        let h = authHeaders + [("Content-Type", "image/jpeg"), ("slug", filename), ("x-document-meta", "FILE/\(options.docType)"),
                               ("x-document-description", "Millwright evidence \(filename)")]
        guard let r = try? await http.send(.POST, collection + "/\(cmmsId)/doclinks", headers: h, body: jpeg) else { return false }
        return (200..<300).contains(r.status)
    }

    /// Maximo's default `mxe.doclink.maxfilesize` is 10 MB; stay below it.
    public var attachmentLimitBytes: Int { settings.attachmentLimitBytes ?? 8_000_000 }

    public func checkConnection() async -> [ConnectionCheck] {
        var checks: [ConnectionCheck] = []
        do {
            let w = try await http.send(.GET, api + "/whoami", headers: headers)
            guard w.status == 200 else {
                let fix = w.status == 401 || w.status == 403
                    ? "check the API key in cmms[\(name)].auth (Maximo: Administration → API Keys) and that its user is active"
                    : "check base_url and maximo.api_path (Maximo 7.6 uses /maximo/api, MAS Manage the same path on the manage route)"
                return [ConnectionCheck(step: "authenticate", ok: false, detail: "HTTP \(w.status): \(Self.describe(w))", fix: fix)]
            }
            let user = w.json?["userName"]?.stringValue ?? w.json?["personid"]?.stringValue ?? "?"
            checks.append(ConnectionCheck(step: "authenticate", ok: true, detail: "signed in as \(user)"))
            let site = options.site
            let q = try await http.send(.GET, collection + "?lean=1&oslc.pageSize=1&oslc.select=wonum&oslc.where=" + OData.query("siteid=\"\(site)\"").replacingOccurrences(of: "=", with: "%3D"), headers: headers)
            let readable = q.status == 200
            checks.append(ConnectionCheck(step: "create permission", ok: readable,
                                          detail: readable ? "object structure \(options.objectStructure.uppercased()) is open to this user on site \(site) (Maximo has no dry-run create)" : "HTTP \(q.status): \(Self.describe(q))",
                                          fix: readable ? nil : "grant the user's security group access to \(options.objectStructure.uppercased()) (Object Structure security) on site \(site)"))
            let d = try await http.send(.GET, collection + "?lean=1&oslc.pageSize=1&oslc.select=doclinks", headers: headers)
            checks.append(ConnectionCheck(step: "attachment upload", ok: d.status == 200,
                                          detail: d.status == 200 ? "doclinks available on \(options.objectStructure.uppercased())" : "HTTP \(d.status): \(Self.describe(d))",
                                          fix: d.status == 200 ? nil : "add the DOCLINKS relationship to the object structure and allow attachments for the user"))
        } catch {
            checks.append(ConnectionCheck(step: "reach", ok: false, detail: HTTPTransport.describe(error), fix: "check base_url \(settings.baseURL) and the network path"))
        }
        return checks
    }
}

extension MaximoConnector {
    /// The object structure, key attribute and site filter each kind is read with: `mxapiasset` by
    /// `assetnum` in the configured site (the Postman collection, `Tests/Fixtures/specs/cmms/maximo-manage.postman_collection.json`,
    /// reads `GET /api/os/mxapiasset?lean=1&oslc.select=assetid,assetnum,description,siteid`), `mxapioperloc` by
    /// `location` in the site and `mxapiperson` by `personid` (persons belong to no site); IBM's Maximo REST API
    /// guide ("Querying": `oslc.where=attr in ["a","b"]`) documents the `in` filter that asks for a batch at once.
    static func referenceQuery(_ kind: MappedReference.Kind) -> (objectStructure: String, key: String, bySite: Bool) {
        switch kind {
        case .asset: ("mxapiasset", "assetnum", true)
        case .location: ("mxapioperloc", "location", true)
        case .user: ("mxapiperson", "personid", false)
        }
    }

    /// One filtered read per kind and batch of 40 ids (`oslc.pageSize` above the batch, so one page holds
    /// every match): an id among the members exists, one absent from a complete answer is missing.
    /// Maximo keys are upper case, and its `=`/`in` compare without case, so ids are compared that way.
    public func checkReferences(_ references: [MappedReference]) async -> [ReferenceCheck] {
        let (ask, skipped) = ReferenceChecks.bounded(references)
        var answers: [MappedReference: ReferenceCheck] = [:]
        for kind in MappedReference.Kind.allCases {
            let (os, key, bySite) = Self.referenceQuery(kind)
            for batch in ReferenceChecks.batches(ask.filter { $0.kind == kind }) {
                let list = batch.map { "\"" + $0.id.replacingOccurrences(of: "\"", with: "") + "\"" }.joined(separator: ",")
                let clause = "\(key) in [\(list)]" + (bySite ? " and siteid=\"\(options.site)\"" : "")
                let u = api + "/os/\(os)?lean=1&oslc.select=\(key)&oslc.pageSize=\(ReferenceChecks.batchSize * 2)&oslc.where="
                    + OData.query(clause).replacingOccurrences(of: "=", with: "%3D")
                let results: [ReferenceCheck]
                do {
                    let r = try await http.send(.GET, u, headers: headers)
                    if r.status == 200, let members = r.json?["member"]?.arrayValue, r.json?["responseInfo"]?["nextPage"] == nil {
                        let found = Set(members.compactMap { $0[key]?.stringValue })
                        let place = bySite ? " in site \(options.site)" : ""
                        results = ReferenceChecks.fromList(batch, asked: \.id, found: found, notFound: "Maximo has no \(os) record with this \(key)\(place)", caseInsensitive: true)
                    } else {
                        let why = r.status == 200 ? "Maximo's answer was not one complete member list" : "HTTP \(r.status): \(ReferenceChecks.bounded(Self.describe(r)))"
                        results = batch.map { ReferenceCheck($0, .unknown(why + (r.status == 403 ? " (the user needs read access to \(os))" : ""))) }
                    }
                } catch {
                    results = batch.map { ReferenceCheck($0, ReferenceChecks.failed(error)) }
                }
                for c in results { answers[c.reference] = c }
            }
        }
        return ask.map { answers[$0] ?? ReferenceCheck($0, .unknown("not asked")) } + skipped
    }
}
