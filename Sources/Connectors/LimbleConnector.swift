import Foundation
import MillwrightCore
import NIOHTTP1

/// `limble`: Limble CMMS API v2 (`base_url` is the region's host, e.g. `https://api.limblecmms.com`;
/// Limble runs separate hosts per region — use the one your account lives on).
///
/// Endpoints (the Limble API V2 Postman collection, apidocs.limblecmms.com): `POST /v2/tasks` (create:
/// `name`, `description`, `locationID`, `assetID`, `priority`, `type`, `due`, `assignment` +
/// `assignmentType`), `GET /v2/tasks?tasks={id}` (status), `GET /v2/tasks?locations={id}&limit=100&page=n`
/// (lookup, paged), `POST /v2/tasks/{id}/comments` (`comment`: notes), `PUT /v2/tasks/{id}/image`
/// (multipart field `image`, JPEG/PNG/GIF ≤ 50 MB: the evidence as the task's main image).
/// Auth: Basic with the API client id and secret.
///
/// Choices where the docs are open: `type` 2 (unplanned work order; `task_type`), `priority` as a
/// number from `priority_map` (critical 1, high 2, medium 3, low 4; Limble priorities are configured
/// per account), `due` (required, Unix seconds) the detection time plus `due_in` (24h); tasks have no
/// external-reference filter, so the lookup pages the locations' tasks (see `lookup(reference:createdSince:)`)
/// and matches the "Millwright reference MW-…" line of our description. A task is completed when `dateCompleted` is set;
/// otherwise `statusID` decides through `status_map` ("1=in_progress, …"; default 1 → in progress,
/// else open). The technician from `users` (numeric user id, `team:<id>` for a team) is the
/// `assignment`. The cmms entry's `title:` replaces the name and `fields:` adds task fields
/// (`meta1`, `estimatedTime`, `requestName`, …; the numeric ones typed).
///
/// Config (`limble:` block): `location_id` (required, number), `location_map`, `asset_map` (our asset →
/// Limble assetID), `priority_map`, `task_type`, `due_in`, `status_map`, `lookup_depth` (2000), `lookup_window` (7d), `users`,
/// `attachment_limit_bytes`. Auth: `client`.
public struct LimbleOptions: CMMSOptions {
    /// The Limble location tasks go to when theirs is not mapped.
    public var locationId: Int
    /// Our location → Limble locationID; our asset → Limble assetID.
    public var locationMap: [String: Int] = [:]
    public var assetMap: [String: Int] = [:]
    /// Limble's task type: 2 is an unplanned work order.
    public var taskType = 2
    /// Due date: the detection time plus this.
    public var dueIn: Duration = .seconds(86400)
    /// Tasks read at most when looking one up by our reference.
    public var lookupDepth = 2000
    /// How far back a lookup reads when the gateway does not say when the create was claimed.
    public var lookupWindow: Duration = .seconds(7 * 86400)

    public static let keys = ["location_id", "location_map", "asset_map", "task_type", "due_in", "lookup_depth", "lookup_window"]

    public init(locationId: Int) { self.locationId = locationId }

    public init(block: ConfigTree) throws(ConfigError) {
        locationId = try block.required("location_id", "the numeric Limble location tasks go to").int(in: 1...Int.max)
        locationMap = try block.child("location_map")?.intMap(of: "a Limble location id") ?? [:]
        assetMap = try block.child("asset_map")?.intMap(of: "a Limble asset id") ?? [:]
        if let v = block.child("task_type") { taskType = try v.int(in: 1...1000) }
        if let v = block.child("due_in") { dueIn = try v.duration(in: .zero...Duration.seconds(366 * 86400)) }
        if let v = block.child("lookup_depth") { lookupDepth = try v.int(in: 1...20000) }
        if let v = block.child("lookup_window") { lookupWindow = try v.duration(in: .seconds(60)...Duration.seconds(366 * 86400)) }
    }
}

public struct LimbleConnector: CMMSConnector {
    public let settings: CMMSSettings
    public let options: LimbleOptions
    let http: HTTPTransport
    let custom: PlantCustomization
    public var name: String { settings.name }
    public var kind: String { settings.kind }
    /// The numeric task fields of the create request (all integers in the Postman collection).
    public static let fieldKinds: [String: FieldKind] = [
        "locationID": .integer, "assetID": .integer, "priority": .integer, "type": .integer, "due": .integer,
        "assignment": .integer, "templateID": .integer, "estimatedTime": .integer,
    ]

    init(settings: CMMSSettings, options: LimbleOptions, http: HTTPTransport) throws {
        guard case .client = settings.auth else {
            throw ConnectorError.misconfigured("cmms \(settings.name): Limble needs auth: {client: {id, secret_env}} from Settings → API")
        }
        self.settings = settings; self.options = options; self.http = http
        custom = try PlantCustomization(settings, reserved: ["name", "description", "locationID", "assetID", "priority", "type", "due"],
                                        kinds: { Self.fieldKinds[$0] })
        try custom.requireNumericUsers(settings, block: "limble")
    }

    var base: String { (settings.baseURL.hasSuffix("/") ? String(settings.baseURL.dropLast()) : settings.baseURL) + "/v2" }
    var headers: [(String, String)] { [("Accept", "application/json")] + HTTPTransport.authHeaders(settings.auth) }

    func location(_ wo: WorkOrderDraft) -> Int {
        (wo.location ?? wo.functionalLocation).flatMap { options.locationMap[$0] } ?? options.locationId
    }

    public func payload(_ wo: WorkOrderDraft) -> [String: JSONValue] {
        var p: [String: JSONValue] = [
            "name": .string(custom.title(wo, max: nil)), "description": .string(wo.description),
            "locationID": .number(Double(location(wo))),
            "priority": .number(Double(settings.priorityMap[wo.priority].flatMap(Int.init) ?? [.critical: 1, .high: 2, .medium: 3, .low: 4][wo.priority]!)),
            "type": .number(Double(options.taskType)),
            "due": .number((wo.detectedAt.timeIntervalSince1970 + options.dueIn.seconds).rounded()),
        ]
        if let a = options.assetMap[wo.asset] ?? Int(wo.asset) { p["assetID"] = .number(Double(a)) }
        switch custom.assignee(wo) {
        case .user(let u)?: p["assignment"] = .number(Double(Int(u) ?? 0)); p["assignmentType"] = .string("user")
        case .team(let t)?: p["assignment"] = .number(Double(Int(t) ?? 0)); p["assignmentType"] = .string("team")
        case nil: break
        }
        custom.apply(wo, to: &p)
        return p
    }

    public static func describe(_ r: HTTPTransport.Response) -> String {
        r.json?["message"]?.stringValue ?? r.json?["error"]?.stringValue ?? String(r.text.prefix(300))
    }

    public func create(_ wo: WorkOrderDraft) async -> DeliveryState.Outcome {
        do {
            let r = try await http.send(.POST, base + "/tasks", headers: headers + [("Content-Type", "application/json")], body: try JSONEncoder().encode(JSONValue.object(payload(wo))))
            if let failure = HTTPTransport.classify(r, describe: Self.describe) {
                if case .permanent(let e) = failure { return .permanent(error: "Limble rejected the task: \(e)") }
                return failure
            }
            guard let id = r.json?["taskID"]?.stringOrNumber ?? r.json?["id"]?.stringOrNumber else { return .unknown(error: "created, but the response had no taskID: \(r.text)") }
            return .created(cmmsId: id)
        } catch {
            return HTTPTransport.transportFailure(error)
        }
    }

    /// Every location a task may have been created at: `location_id` and every `location_map`
    /// target. Looking under `location_id` alone answered "not found" for a task created at a
    /// mapped location, and a lost answer then made a duplicate.
    var lookupLocations: [String] {
        Set([options.locationId] + options.locationMap.values).map(String.init).sorted()
    }

    public func lookup(reference: String) async -> DeliveryState.Outcome { await lookup(reference: reference, createdSince: nil) }

    /// Tasks per page in a lookup.
    static let lookupPage = 100

    /// Tasks have no external-reference filter: the lookup pages `GET /v2/tasks?locations=…&limit=100&page=n`
    /// and matches the "Millwright reference MW-…" line of the description. Absence is proven by the
    /// last page (shorter than `limit`), or by a task whose `createdDate` (Unix seconds) is before the
    /// horizon (the claim minus clock skew, else `lookup_window`) while the pages run newest first;
    /// `lookup_depth` tasks read, a repeated page (paging not honoured) or an error prove nothing.
    public func lookup(reference: String, createdSince: Date?) async -> DeliveryState.Outcome {
        let horizon = LookupProof.horizon(createdSince: createdSince, window: options.lookupWindow)
        let locations = lookupLocations.joined(separator: ",")
        var read = 0
        var seen = Set<String>()
        var newestFirst = true
        var previous: Double?
        do {
            for page in 1...(options.lookupDepth + Self.lookupPage - 1) / Self.lookupPage {
                let r = try await http.send(.GET, base + "/tasks?locations=\(locations)&limit=\(Self.lookupPage)&page=\(page)", headers: headers)
                guard r.status == 200, let list = r.json?.arrayValue else {
                    return LookupProof.unproven("Limble answered HTTP \(r.status) for page \(page): \(Self.describe(r))", retryAfter: HTTPTransport.retryAfter(r.headers))
                }
                var reachedHorizon = false
                for task in list {
                    guard let id = task["taskID"]?.stringOrNumber else { return LookupProof.inconclusive("a task without taskID on page \(page)") }
                    guard seen.insert(id).inserted else { return LookupProof.inconclusive("Limble answered task \(id) twice while paging (page not honoured)") }
                    if task["description"]?.stringValue.map({ LookupProof.descriptionNames($0, reference: reference) }) == true { return .lookupFound(cmmsId: id) }
                    let created = task["createdDate"]?.doubleValue
                    if let created, let p = previous, created > p { newestFirst = false }
                    if let created { previous = created }
                    if newestFirst, let created, created < horizon.timeIntervalSince1970 { reachedHorizon = true }
                }
                read += list.count
                if reachedHorizon || list.count < Self.lookupPage { return .lookupNotFound }
            }
            return LookupProof.inconclusive("read \(read) Limble tasks without reaching the end or \(Timestamps.format(horizon)); raise limble.lookup_depth")
        } catch {
            return LookupProof.unproven("Limble did not answer: \(HTTPTransport.describe(error))")
        }
    }

    public func status(cmmsId: String) async throws -> CMMSStatus? {
        let r = try await http.send(.GET, base + "/tasks?tasks=\(cmmsId)", headers: headers)
        guard r.status == 200, let t = r.json?.arrayValue?.first else { throw ConnectorError.misconfigured("status of task \(cmmsId): HTTP \(r.status) \(Self.describe(r))") }
        if let done = t["dateCompleted"]?.doubleValue, done > 0 { return .completed }
        let sid = t["statusID"]?.stringOrNumber ?? "0"
        if let m = settings.statusMap[sid] { return m }
        return sid == "1" ? .inProgress : .open
    }

    public func addNote(cmmsId: String, text: String) async -> Bool {
        guard let body = try? JSONEncoder().encode(JSONValue.object(["comment": .string(text)])),
              let r = try? await http.send(.POST, base + "/tasks/\(cmmsId)/comments", headers: headers + [("Content-Type", "application/json")], body: body) else { return false }
        return (200..<300).contains(r.status)
    }

    public func attach(cmmsId: String, filename: String, jpeg: Data) async -> Bool {
        let form = Multipart.file(field: "image", filename: filename, contentType: "image/jpeg", data: jpeg)
        guard let r = try? await http.send(.PUT, base + "/tasks/\(cmmsId)/image", headers: headers + [("Content-Type", form.contentType)], body: form.body) else { return false }
        return (200..<300).contains(r.status)
    }

    /// Limble takes up to 50 MB; the evidence never needs that much.
    public var attachmentLimitBytes: Int { settings.attachmentLimitBytes ?? 8_000_000 }

    public func checkConnection() async -> [ConnectionCheck] {
        do {
            let r = try await http.send(.GET, base + "/tasks?locations=\(options.locationId)&limit=1", headers: headers)
            switch r.status {
            case 200:
                return [ConnectionCheck(step: "authenticate", ok: true, detail: "API client accepted"),
                        ConnectionCheck(step: "create permission", ok: true, detail: "tasks of location \(options.locationId) readable (Limble has no dry-run create)"),
                        ConnectionCheck(step: "attachment upload", ok: true, detail: "PUT /v2/tasks/{id}/image (the evidence as the task's main image)")]
            case 401, 403: return [ConnectionCheck(step: "authenticate", ok: false, detail: "HTTP \(r.status): \(Self.describe(r))", fix: "check the client id and secret (Limble: Settings → API) and the region host in base_url")]
            default: return [ConnectionCheck(step: "authenticate", ok: false, detail: "HTTP \(r.status): \(Self.describe(r))", fix: "check base_url (the region's API host) and limble.location_id")]
            }
        } catch {
            return [ConnectionCheck(step: "reach", ok: false, detail: HTTPTransport.describe(error), fix: "check base_url \(settings.baseURL)")]
        }
    }
}

extension LimbleConnector {
    /// The Limble API v2 lists filtered by id (apidocs.limblecmms.com: `GET /v2/assets?assets=1,2,…`,
    /// `GET /v2/users?users=…`, `GET /v2/locations?locations=…`), one call per kind and batch of 40 with
    /// `limit=100`, so a batch fits one page; an id in the answer exists, one absent from it is missing.
    /// The ids are the ones a task would carry: `asset_map` or a numeric asset, `location_map`, numeric users.
    public func checkReferences(_ references: [MappedReference]) async -> [ReferenceCheck] {
        let (ask, skipped) = ReferenceChecks.bounded(references)
        func asked(_ ref: MappedReference) -> Int? {
            switch ref.kind {
            case .asset: options.assetMap[ref.id] ?? Int(ref.id)
            case .location: options.locationMap[ref.id]
            case .user: Int(ref.id)
            }
        }
        var answers: [MappedReference: ReferenceCheck] = [:]
        for ref in ask where asked(ref) == nil {
            answers[ref] = ReferenceCheck(ref, .notCheckable("not sent to Limble: no limble.asset_map / location_map entry, or not a numeric id"))
        }
        for kind in MappedReference.Kind.allCases {
            let (path, idField) = switch kind { case .asset: ("assets", "assetID"); case .location: ("locations", "locationID"); case .user: ("users", "userID") }
            for batch in ReferenceChecks.batches(ask.filter { $0.kind == kind && asked($0) != nil }) {
                let ids = batch.compactMap(asked)
                let results: [ReferenceCheck]
                do {
                    let r = try await http.send(.GET, base + "/\(path)?limit=100&\(path)=" + ids.map(String.init).joined(separator: ","), headers: headers)
                    if r.status == 200, let items = r.json?.arrayValue {
                        let found = Set(items.compactMap { $0[idField]?.stringOrNumber })
                        results = ReferenceChecks.fromList(batch, asked: { asked($0).map(String.init) ?? $0.id }, found: found, notFound: "GET /v2/\(path)?\(path)= did not return this id")
                    } else {
                        results = batch.map { ReferenceCheck($0, .unknown("HTTP \(r.status): \(ReferenceChecks.bounded(Self.describe(r)))")) }
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
