import Foundation
import MillwrightCore
import NIOHTTP1

/// `maintainx`: MaintainX REST API v1 (`base_url` = `https://api.getmaintainx.com/v1`).
///
/// Endpoints (from MaintainX's OpenAPI, `Tests/Fixtures/specs/cmms/maintainx-openapi.json`):
/// `POST /workorders` (create; answer `{"id": …}`), `GET /workorders?sort=-createdAt&createdAt[gte]=…&limit=…&expand=extra_fields`
/// and `GET /workorders/{id}` (lookup, status), `POST /workorders/{id}/comments` (notes),
/// `PUT /workorders/{id}/attachments/{filename}` with the JPEG as body (image), `GET /workorders?limit=1` (check),
/// `GET /workorders/{id}/comments` and the attachments' `url` (read-back of a closed work order).
/// Auth `Authorization: Bearer <key>`; `x-organization-id` when `organization_id` is set (multi-organization tokens).
///
/// Fields: `title`, `description` (our long text), `priority` (NONE/LOW/MEDIUM/HIGH; default map
/// critical→HIGH, high→HIGH, medium→MEDIUM, low→LOW), `type` (REACTIVE), `assetId`/`locationId`
/// (integers: from `asset_map` ("<our asset>=…, …") / `location_map` ("<our location>=…, …"), or our value when it is
/// numeric; otherwise left out — the asset is named in the description), `categories`,
/// `workOrderTemplateId`, `externalData: {"millwrightReference": …, "incidentId": …}` (the spec's place
/// for "a matching record in an external system"), and `extraFields: {<label>: reference}` when
/// `reference_field` names a custom field of the organization; `assignees: [{type: USER|TEAM, id}]`
/// from `users` (a MaintainX user id or e-mail; `team:<id>` for a team). The cmms entry's `title:`
/// replaces the title (no length limit in the OpenAPI) and `fields:` adds request properties
/// (`dueDate`, `estimatedTime`, custom fields as `extraFields.<label>`); the OpenAPI's integer,
/// number and boolean properties are sent typed.
///
/// Lookup: the API cannot filter on externalData, so the connector pages (cursor) through every work
/// order created since the claim (or in the last `lookup_window`, 7d), newest first, and matches
/// `extraFields[reference_field]` when configured, else the description's reference line, confirmed
/// on the work order's `externalData` (at most `lookup_depth`, 25, opened one by one).
/// Rate limits: every answer's `X-Rate-Limit-Remaining`/`X-Rate-Limit-Reset` is remembered; at 0
/// the connector answers `.retryable` with the reset delay without calling, so the dispatcher waits
/// instead of burning attempts; a `429` is `.retryable` with `Retry-After` (or the reset delay).
/// Status: OPEN/ON_HOLD → open, IN_PROGRESS → in progress, DONE → completed, CANCELED/SKIPPED →
/// cancelled; `status_map` ("<STATUS>=…, …") overrides; DONE with category `false_positive_category` → false positive.
///
/// Config (`maintainx:` block): `organization_id`, `priority_map.<p>`, `work_order_type`, `categories`
/// (comma-separated), `template_id`, `asset_map` ("<asset>=…, …"), `location_map` ("<location>=…, …"), `location_id`
/// (default), `reference_field`, `lookup_window`, `lookup_depth`, `status_map` ("<STATUS>=…, …"),
/// `false_positive_category`, `attachment_limit_bytes`, `users`, `part_key` (stock and open work: MaintainXPlanning.swift). Auth: `bearer`.
public struct MaintainXOptions: CMMSOptions {
    /// Sent as `x-organization-id` (a key for several organizations).
    public var organizationId: String?
    public var workOrderType = "REACTIVE"
    public var categories: [String] = []
    public var templateId: Int?
    /// Our asset / location → MaintainX asset / location id.
    public var assetMap: [String: String] = [:]
    public var locationMap: [String: String] = [:]
    /// Where a work order goes when its location is not mapped.
    public var locationId: Int?
    /// A custom field of the organization that carries our reference (lookup by field).
    public var referenceField: String?
    public var lookupWindow: Duration = .seconds(7 * 86400)
    /// Work orders read one by one when looking up without `reference_field`.
    public var lookupDepth = 25
    public var falsePositiveCategory: String?
    /// How a MaintainX part is matched to Millwright's part numbers (stock).
    public var partKey = MaintainXConnector.PartKey.name

    public static let keys = [
        "part_key", "organization_id", "work_order_type", "categories", "template_id", "asset_map", "location_map", "location_id",
        "reference_field", "lookup_window", "lookup_depth", "false_positive_category"]

    public init() {}

    public init(block: ConfigTree) throws(ConfigError) {
        organizationId = try block.child("organization_id")?.string()
        if let v = block.child("work_order_type") { workOrderType = try v.nonEmptyString() }
        categories = try block.child("categories")?.stringList() ?? []
        templateId = try block.child("template_id")?.int(in: 1...Int.max)
        assetMap = try block.child("asset_map")?.stringMap() ?? [:]
        locationMap = try block.child("location_map")?.stringMap() ?? [:]
        locationId = try block.child("location_id")?.int(in: 1...Int.max)
        referenceField = try block.child("reference_field")?.string().trimmingCharacters(in: .whitespaces)
        if referenceField == "" { referenceField = nil }
        if let v = block.child("lookup_window") { lookupWindow = try v.duration(in: .seconds(60)...Duration.seconds(366 * 86400)) }
        if let v = block.child("lookup_depth") { lookupDepth = try v.int(in: 1...200) }
        falsePositiveCategory = try block.child("false_positive_category")?.string()
        if let v = block.child("part_key") {
            let raw = try v.string()
            guard let key = MaintainXConnector.PartKey(parsing: raw) else {
                throw v.error("must be name, barcode or field:<custom field label> (e.g. field:Part Number), got \(v.shown(raw))")
            }
            partKey = key
        }
    }
}

public struct MaintainXConnector: CMMSConnector {
    public let settings: CMMSSettings
    public let options: MaintainXOptions
    let http: HTTPTransport
    let limiter = RateLimitGate()
    let custom: PlantCustomization
    public var name: String { settings.name }
    public var kind: String { settings.kind }

    init(settings: CMMSSettings, options: MaintainXOptions, http: HTTPTransport) throws {
        if case .bearer = settings.auth {} else {
            throw ConnectorError.misconfigured("cmms \(settings.name): MaintainX needs auth: {bearer_env: …} with an API key from Settings → Integrations → API Keys")
        }
        for p in Priority.allCases {
            if let v = settings.priorityMap[p], !Self.priorities.contains(v) {
                throw ConnectorError.misconfigured("cmms \(settings.name): maintainx.priority_map.\(p.rawValue) must be one of \(Self.priorities.joined(separator: ", "))")
            }
        }
        self.settings = settings; self.options = options; self.http = http
        var reserved: Set<String> = ["title", "description", "priority", "type", "externalData", "assetId", "locationId"]
        if let f = options.referenceField { reserved.insert("extraFields.\(f)") }
        custom = try PlantCustomization(settings, reserved: reserved, kinds: { Self.fieldKinds[$0] })
    }

    /// The create body's properties that are integers, numbers or booleans and nothing else in the
    /// OpenAPI (a property that also takes a string is sent as the text); the tests check it against the file.
    public static let fieldKinds: [String: FieldKind] = [
        "assetId": .integer, "locationId": .integer, "estimatedTime": .integer, "workRequestId": .integer, "workOrderTemplateId": .integer,
        "procedureTemplateId": .number, "parentId": .number, "isParent": .boolean, "skipRestHook": .boolean,
    ]

    public static let priorities = ["NONE", "LOW", "MEDIUM", "HIGH"]
    public static let defaultPriorities: [Priority: String] = [.critical: "HIGH", .high: "HIGH", .medium: "MEDIUM", .low: "LOW"]

    var base: String { settings.baseURL.hasSuffix("/") ? String(settings.baseURL.dropLast()) : settings.baseURL }
    var headers: [(String, String)] {
        var h = [("Accept", "application/json")] + HTTPTransport.authHeaders(settings.auth)
        if let org = options.organizationId, !org.isEmpty { h.append(("x-organization-id", org)) }
        return h
    }

    static func intId(_ s: String?) -> Int? { s.flatMap { $0.allSatisfy(\.isNumber) ? Int($0) : nil } }

    public func payload(_ wo: WorkOrderDraft) -> [String: JSONValue] {
        var p: [String: JSONValue] = [
            "title": .string(custom.title(wo, max: nil)),
            "description": .string(wo.description),
            "priority": .string(settings.priorityMap[wo.priority] ?? Self.defaultPriorities[wo.priority]!),
            "type": .string(options.workOrderType),
            "externalData": .object(["millwrightReference": .string(wo.reference), "incidentId": .string(wo.incidentId)]),
        ]
        if let a = Self.intId(options.assetMap[wo.asset]) ?? Self.intId(wo.asset) { p["assetId"] = .number(Double(a)) }
        let loc = wo.location ?? wo.functionalLocation
        if let l = Self.intId(loc.flatMap { options.locationMap[$0] }) ?? Self.intId(loc) ?? options.locationId { p["locationId"] = .number(Double(l)) }
        if !options.categories.isEmpty { p["categories"] = .array(options.categories.map { .string($0) }) }
        if let t = options.templateId { p["workOrderTemplateId"] = .number(Double(t)) }
        if let f = options.referenceField { p["extraFields"] = .object([f: .string(wo.reference)]) }
        if let who = custom.assignee(wo) { p["assignees"] = .array([Self.assignee(who)]) }
        custom.apply(wo, to: &p)
        return p
    }

    /// "Either the teamId, the userId or the user email address" (OpenAPI): numeric ids go as integers.
    static func assignee(_ who: CMMSAssignee) -> JSONValue {
        let (type, id) = switch who { case .user(let u): ("USER", u); case .team(let t): ("TEAM", t) }
        return .object(["type": .string(type), "id": intId(id).map { .number(Double($0)) } ?? .string(id)])
    }

    /// `{"errors": [{"error": …, "fieldPath": …}]}` → "title: is required; …".
    public static func describe(_ r: HTTPTransport.Response) -> String {
        if let errs = r.json?["errors"]?.arrayValue, !errs.isEmpty {
            return errs.map { e in (e["fieldPath"]?.stringValue.map { "\($0): " } ?? "") + (e["error"]?.stringValue ?? "error") }.joined(separator: "; ")
        }
        if let m = r.json?["message"]?.stringValue ?? r.json?["error"]?.stringValue { return m }
        let t = r.text.trimmingCharacters(in: .whitespacesAndNewlines)
        return t.isEmpty ? "no error body" : String(t.prefix(300))
    }

    /// Sends unless the rate limit is known to be exhausted; remembers the limit headers.
    func send(_ method: HTTPMethod, _ path: String, headers extra: [(String, String)] = [], body: Data? = nil) async throws -> Result<HTTPTransport.Response, RateLimited> {
        if let wait = limiter.wait() { return .failure(RateLimited(delay: wait)) }
        let r = try await http.send(method, base + path, headers: headers + extra, body: body)
        limiter.observe(r.headers, status: r.status)
        if r.status == 429 { return .failure(RateLimited(delay: HTTPTransport.retryAfter(r.headers) ?? limiter.wait() ?? .seconds(1))) }
        return .success(r)
    }

    struct RateLimited: Error { var delay: Duration }

    public func create(_ wo: WorkOrderDraft) async -> DeliveryState.Outcome {
        do {
            let body = try JSONEncoder().encode(JSONValue.object(payload(wo)))
            switch try await send(.POST, "/workorders", headers: [("Content-Type", "application/json")], body: body) {
            case .failure(let l): return .retryable(error: "MaintainX rate limit reached; next window in \(Int(l.delay.seconds.rounded(.up)))s", retryAfter: l.delay)
            case .success(let r):
                if let failure = HTTPTransport.classify(r, describe: Self.describe) {
                    if case .permanent(let e) = failure { return .permanent(error: "MaintainX rejected the work order: \(e)") }
                    return failure
                }
                guard let id = r.json?["id"]?.stringOrNumber else { return .unknown(error: "created, but the response had no id: \(r.text)") }
                return .created(cmmsId: id)
            }
        } catch {
            return HTTPTransport.transportFailure(error)
        }
    }

    public func lookup(reference: String) async -> DeliveryState.Outcome { await lookup(reference: reference, createdSince: nil) }

    /// Pages to use at most when proving that no work order in the window carries `reference`.
    static let lookupPages = 50

    /// Lists the work orders created since the horizon (the claim minus clock skew, else
    /// `lookup_window`) with `createdAt[gte]`, `sort=-createdAt`, 200 a page, following `nextCursor`:
    /// "not found" only once the last page has been read. A match is `extraFields[reference_field]`
    /// when configured; otherwise `externalData.millwrightReference` on the work order itself, opened
    /// unless the list's `description` names another Millwright reference (at most `lookup_depth`). A window too busy
    /// to read to its end, or a read that fails, proves nothing: the answer is then "try again".
    public func lookup(reference: String, createdSince: Date?) async -> DeliveryState.Outcome {
        let since = Timestamps.format(LookupProof.horizon(createdSince: createdSince, window: options.lookupWindow))
        let query = "sort=-createdAt&limit=200&expand=extra_fields&createdAt%5Bgte%5D=" + (since.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? since)
        var cursor: String?
        var reads = 0
        do {
            for _ in 0..<Self.lookupPages {
                let path = "/workorders?" + query + (cursor.map { "&cursor=" + ($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? $0) } ?? "")
                switch try await send(.GET, path) {
                case .failure(let l): return LookupProof.unproven("MaintainX rate limit reached during the lookup", retryAfter: l.delay)
                case .success(let r):
                    guard r.status == 200, let list = r.json?["workOrders"]?.arrayValue else {
                        return LookupProof.unproven("MaintainX answered HTTP \(r.status): \(Self.describe(r))", retryAfter: HTTPTransport.retryAfter(r.headers))
                    }
                    for item in list {
                        guard let id = item["id"]?.stringOrNumber else { return LookupProof.inconclusive("a work order without id in the list") }
                        if let field = options.referenceField {
                            if item["extraFields"]?[field]?.stringValue == reference { return .lookupFound(cmmsId: id) }
                            continue
                        }
                        // A description naming another Millwright reference rules the work order out; one naming
                        // ours, none (a technician may have rewritten it) or no description: the work order decides.
                        if let text = item["description"]?.stringValue, text.contains("Millwright reference "),
                           !LookupProof.descriptionNames(text, reference: reference) { continue }
                        reads += 1
                        guard reads <= options.lookupDepth else {
                            return LookupProof.inconclusive("more than \(options.lookupDepth) work orders to open one by one (maintainx.lookup_depth); set maintainx.reference_field")
                        }
                        switch try await send(.GET, "/workorders/\(id)") {
                        case .failure(let l): return LookupProof.unproven("MaintainX rate limit reached during the lookup", retryAfter: l.delay)
                        case .success(let d):
                            guard d.status == 200, let wo = d.json?["workOrder"] else {
                                return LookupProof.unproven("reading work order \(id) answered HTTP \(d.status): \(Self.describe(d))")
                            }
                            if wo["externalData"]?["millwrightReference"]?.stringValue == reference { return .lookupFound(cmmsId: id) }
                        }
                    }
                    guard let next = r.json?["nextCursor"]?.stringValue, !next.isEmpty else { return .lookupNotFound }
                    cursor = next
                }
            }
            return LookupProof.inconclusive("more than \(Self.lookupPages * 200) work orders created since \(since); shorten maintainx.lookup_window")
        } catch {
            return LookupProof.unproven("MaintainX did not answer: \(HTTPTransport.describe(error))")
        }
    }

    public func mapStatus(_ s: String, categories: [String]) -> CMMSStatus {
        if let m = settings.statusMap[s] { return m }
        switch s {
        case "IN_PROGRESS": return .inProgress
        case "DONE":
            if let fp = options.falsePositiveCategory, categories.contains(fp) { return .falsePositive }
            return .completed
        case "CANCELED", "SKIPPED": return .cancelled
        default: return .open
        }
    }

    public func status(cmmsId: String) async throws -> CMMSStatus? {
        switch try await send(.GET, "/workorders/\(cmmsId)") {
        case .failure: return nil
        case .success(let r):
            guard r.status == 200, let wo = r.json?["workOrder"], let s = wo["status"]?.stringValue else {
                throw ConnectorError.misconfigured("status of work order \(cmmsId): HTTP \(r.status) \(Self.describe(r))")
            }
            return mapStatus(s, categories: wo["categories"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        }
    }

    public func addNote(cmmsId: String, text: String) async -> Bool {
        guard let body = try? JSONEncoder().encode(JSONValue.object(["content": .string(text)])),
              case .success(let r)? = try? await send(.POST, "/workorders/\(cmmsId)/comments", headers: [("Content-Type", "application/json")], body: body) else { return false }
        return (200..<300).contains(r.status)
    }

    public func attach(cmmsId: String, filename: String, jpeg: Data) async -> Bool {
        let name = filename.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._"))) ?? filename
        guard case .success(let r)? = try? await send(.PUT, "/workorders/\(cmmsId)/attachments/\(name)", headers: [("Content-Type", "image/jpeg")], body: jpeg) else { return false }
        return (200..<300).contains(r.status)
    }

    public var attachmentLimitBytes: Int { settings.attachmentLimitBytes ?? 4_000_000 }

    /// `GET /workorders/{id}` (the closure code: its status and categories — MaintainX has no
    /// separate code —, and `attachments[]` with `fileName`, `mimeType`, `url` "valid for 60 minutes",
    /// `createdAt`), `GET /workorders/{id}/comments?limit=50` (the technician's comments, one page;
    /// our own notes left out) and the newest image attachment downloaded from its `url`.
    public func readBack(cmmsId: String, reference: String) async -> CMMSReadbackResult {
        do {
            guard case .success(let r) = try await send(.GET, "/workorders/\(cmmsId)") else { return .failed("MaintainX rate limit reached") }
            guard r.status == 200, let wo = r.json?["workOrder"] else { return .failed("GET /workorders/\(cmmsId) answered HTTP \(r.status): \(Self.describe(r))") }
            var out = CMMSReadback()
            let categories = wo["categories"]?.arrayValue?.compactMap(\.stringValue) ?? []
            out.closureCode = wo["status"]?.stringValue.map { $0 + (categories.isEmpty ? "" : " (" + categories.joined(separator: ", ") + ")") }
            guard case .success(let c) = try await send(.GET, "/workorders/\(cmmsId)/comments?limit=\(ReadbackLimits.maxNotes)") else { return .failed("MaintainX rate limit reached") }
            guard c.status == 200, let comments = c.json?["comments"]?.arrayValue else {
                return .failed("GET /workorders/\(cmmsId)/comments answered HTTP \(c.status): \(Self.describe(c))")
            }
            for item in comments {
                guard let text = item["content"]?.stringValue, !CMMSReadback.isOwnNote(text) else { continue }
                out.notes.append(ReadbackNote(text: text, author: item["authorId"]?.stringOrNumber.map { "user \($0)" },
                                              at: item["createdAt"]?.stringValue.flatMap(Timestamps.parseISO)))
            }
            if let next = c.json?["nextCursor"]?.stringValue, !next.isEmpty { out.refused.append("comments after the first \(ReadbackLimits.maxNotes) were not read") }
            let files = (wo["attachments"]?.arrayValue ?? []).compactMap { a -> ReadbackSupport.Listed? in
                guard let name = a["fileName"]?.stringValue, let url = a["url"]?.stringValue else { return nil }
                return ReadbackSupport.Listed(name: name, contentType: a["mimeType"]?.stringValue, url: url, createdAt: a["createdAt"]?.stringValue.flatMap(Timestamps.parseISO))
            }
            let (photo, refused) = ReadbackSupport.choosePhoto(files, reference: reference)
            out.refused += refused
            if let photo { await ReadbackSupport.fetchPhoto(photo, base: base, auth: headers, http: http, into: &out) }
            return .read(out.bounded())
        } catch {
            return .failed("MaintainX did not answer: \(HTTPTransport.describe(error))")
        }
    }

    public func checkConnection() async -> [ConnectionCheck] {
        do {
            switch try await send(.GET, "/workorders?limit=1") {
            case .failure(let l):
                return [ConnectionCheck(step: "authenticate", ok: false, detail: "rate limited for \(Int(l.delay.seconds))s", fix: "try again after the rate-limit window")]
            case .success(let r):
                switch r.status {
                case 200: break
                case 401: return [ConnectionCheck(step: "authenticate", ok: false, detail: "HTTP 401: \(Self.describe(r))", fix: "create an API key in MaintainX (Settings → Integrations → API Keys) and put it in cmms[\(name)].auth")]
                case 400: return [ConnectionCheck(step: "authenticate", ok: false, detail: "HTTP 400: \(Self.describe(r))", fix: "a multi-organization key needs maintainx.organization_id")]
                default: return [ConnectionCheck(step: "authenticate", ok: false, detail: "HTTP \(r.status): \(Self.describe(r))", fix: "check base_url (https://api.getmaintainx.com/v1)")]
                }
                let limit = r.headers.first(name: "X-Rate-Limit-Limit").map { ", rate limit \($0) per window" } ?? ""
                return [
                    ConnectionCheck(step: "authenticate", ok: true, detail: "API key accepted\(limit)"),
                    ConnectionCheck(step: "create permission", ok: true, detail: "work orders readable; MaintainX has no dry-run create, the key's user role decides (needs at least Technician with create rights)"),
                    ConnectionCheck(step: "attachment upload", ok: true, detail: "PUT /workorders/{id}/attachments/{filename} (image/jpeg)"),
                ]
            }
        } catch {
            return [ConnectionCheck(step: "reach", ok: false, detail: HTTPTransport.describe(error), fix: "check base_url \(settings.baseURL) and the network path")]
        }
    }
}

extension MaintainXConnector {
    /// `GET /assets/{id}`, `GET /locations/{id}` and `GET /users/{id}` (each 200 `{"asset"|"location"|"user": …}`,
    /// 404 `{"error": "Not Found."}` in the OpenAPI, `Tests/Fixtures/specs/cmms/maintainx-openapi.json`); a user
    /// given by e-mail is found with one `GET /users?email=…&email=…` per batch (the list's `email` filter).
    /// The ids asked are the ones a work order would carry: `asset_map` / `location_map` or our numeric value.
    public func checkReferences(_ references: [MappedReference]) async -> [ReferenceCheck] {
        let (ask, skipped) = ReferenceChecks.bounded(references)
        let emails = ask.filter { $0.kind == .user && Self.intId($0.id) == nil && $0.id.contains("@") }
        var byEmail: [MappedReference: ReferenceCheck] = [:]
        for batch in ReferenceChecks.batches(emails) {
            let query = ["limit=200"] + batch.map { "email=" + Self.encode($0.id.lowercased()) }
            let status: ReferenceStatus?
            var found = Set<String>()
            do {
                switch try await send(.GET, "/users?" + query.joined(separator: "&")) {
                case .failure(let l): status = .unknown("MaintainX rate limit reached; try again in \(Int(l.delay.seconds.rounded(.up)))s")
                case .success(let r):
                    if r.status == 200, let users = r.json?["users"]?.arrayValue, (r.json?["nextCursor"]?.stringValue ?? "").isEmpty {
                        found = Set(users.compactMap { $0["email"]?.stringValue?.lowercased() })
                        status = nil
                    } else {
                        // A second page would be needed to prove an e-mail absent; it is not read here.
                        status = .unknown(r.status == 200 ? "MaintainX answered the e-mail filter in pages; look the users up in MaintainX"
                                          : "HTTP \(r.status): \(ReferenceChecks.bounded(Self.describe(r)))")
                    }
                }
            } catch { status = ReferenceChecks.failed(error) }
            for ref in batch {
                byEmail[ref] = ReferenceCheck(ref, status ?? (found.contains(ref.id.lowercased()) ? .exists : .missing("GET /users?email= returned no user with this e-mail")))
            }
        }
        let others = ask.filter { byEmail[$0] == nil }
        let perId = await ReferenceChecks.perId(others, id: { ref in
            switch ref.kind {
            case .asset: (Self.intId(options.assetMap[ref.id]) ?? Self.intId(ref.id)).map(String.init)
            case .location: (Self.intId(options.locationMap[ref.id]) ?? Self.intId(ref.id)).map(String.init)
            case .user: Self.intId(ref.id).map(String.init)
            }
        }, unmapped: "not sent to MaintainX: not a numeric id, and no maintainx.asset_map / location_map entry (users: a user id or e-mail)") { kind, id in
            let collection = switch kind { case .asset: "assets"; case .location: "locations"; case .user: "users" }
            do {
                switch try await send(.GET, "/\(collection)/\(id)") {
                case .failure(let l): return .unknown("MaintainX rate limit reached; try again in \(Int(l.delay.seconds.rounded(.up)))s")
                case .success(let r): return ReferenceChecks.byKey(r, describe: Self.describe) { $0.json?["error"] != nil || $0.json?["errors"] != nil }
                }
            } catch { return ReferenceChecks.failed(error) }
        }
        var next = perId.makeIterator()
        return ask.map { byEmail[$0] ?? next.next() ?? ReferenceCheck($0, .unknown("not asked")) } + skipped
    }
}

/// Remembers MaintainX's `X-Rate-Limit-*` answers: when the window is used up, callers wait.
final class RateLimitGate: @unchecked Sendable {
    private let lock = NSLock()
    private var blockedUntil: Date?

    func wait(now: Date = Date()) -> Duration? {
        lock.withLock {
            guard let until = blockedUntil, until > now else { return nil }
            return .milliseconds(max(1, Int64((until.timeIntervalSince(now) * 1000).rounded(.up))))
        }
    }

    func observe(_ headers: HTTPHeaders, status: Int, now: Date = Date()) {
        let remaining = headers.first(name: "X-Rate-Limit-Remaining").flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let reset = headers.first(name: "X-Rate-Limit-Reset").flatMap { Double($0.trimmingCharacters(in: .whitespaces)) }
        lock.withLock {
            if status == 429 || remaining == 0, let reset { blockedUntil = now.addingTimeInterval(min(reset, 3600)) }
            else if let remaining, remaining > 0 { blockedUntil = nil }
        }
    }
}
