import Foundation
import MillwrightCore
import NIOHTTP1

/// `upkeep`: UpKeep REST API v2 (`base_url` = `https://api.onupkeep.com`).
///
/// Endpoints: `POST /api/v2/auth/` with `{email, password}` → `result.sessionToken`, sent as
/// `Session-Token` on every call and fetched again once when a call answers 401 (expired session);
/// `POST /api/v2/work-orders/` (create: `title`, `description`, `priority` 0–3, `category`, `asset`,
/// `location`); `GET /api/v2/work-orders/{id}` (status); `GET /api/v2/work-orders/?limit=100&offset=…`
/// (lookup, paged); `PATCH /api/v2/work-orders/{id}` as `multipart/form-data` with the `image` file (image);
/// read-back of a closed work order from `GET /api/v2/work-orders/{id}` (`category`, `files`, `image`).
/// Notes are not sent (addNote answers false). `assignedToUser` / `team` come from `users`; the
/// cmms entry's `title:` replaces the title and `fields:` adds work-order fields (`category`,
/// `dueDate`, …; all strings, UpKeep's only numeric field, priority, is Millwright's).
///
/// Choices where the public docs are open: the only OpenAPI found is synthetic (see SOURCES.md),
/// so priority follows UpKeep's documented integer scale (0 none, 1 low, 2 medium, 3 high; map
/// critical→3, high→3, medium→2, low→1, configurable); UpKeep has no filter on an external
/// reference, so the lookup pages newest first back to the claim (or `lookup_window`, 7d), at most
/// `lookup_depth` (2000) work orders, and matches the "Millwright reference MW-…" line our
/// description always carries (see `lookup(reference:createdSince:)`).
/// Status: `open`/`onHold` → open, `inProgress` → in progress, `complete` → completed;
/// `status_map` ("<status>=…, …") overrides.
///
/// Config (`upkeep:` block): `priority_map.<p>`, `category`, `asset_map` ("<asset>=…, …"), `location_map` ("<location>=…, …"),
/// `lookup_depth`, `lookup_window`, `status_map` ("<status>=…, …"), `users` ("<technician>=<user id>, <queue>=team:<team id>").
/// Auth: `session` (email + password).
public struct UpKeepOptions: CMMSOptions {
    public var category: String?
    /// Our asset / location → UpKeep asset / location id.
    public var assetMap: [String: String] = [:]
    public var locationMap: [String: String] = [:]
    /// Work orders read at most, newest first, when looking one up by our reference.
    public var lookupDepth = 2000
    /// How far back a lookup reads when the gateway does not say when the create was claimed.
    public var lookupWindow: Duration = .seconds(7 * 86400)

    public static let keys = ["category", "asset_map", "location_map", "lookup_depth", "lookup_window"]

    public init() {}

    public init(block: ConfigTree) throws(ConfigError) {
        category = try block.child("category")?.string()
        assetMap = try block.child("asset_map")?.stringMap() ?? [:]
        locationMap = try block.child("location_map")?.stringMap() ?? [:]
        if let v = block.child("lookup_depth") { lookupDepth = try v.int(in: 1...20000) }
        if let v = block.child("lookup_window") { lookupWindow = try v.duration(in: .seconds(60)...Duration.seconds(366 * 86400)) }
    }
}

public struct UpKeepConnector: CMMSConnector {
    public let settings: CMMSSettings
    public let options: UpKeepOptions
    let http: HTTPTransport
    let session = SessionToken()
    let custom: PlantCustomization
    public var name: String { settings.name }
    public var kind: String { settings.kind }

    init(settings: CMMSSettings, options: UpKeepOptions, http: HTTPTransport) throws {
        guard case .session = settings.auth else {
            throw ConnectorError.misconfigured("cmms \(settings.name): UpKeep needs auth: {session: {user_env, password_env}} (email and password of the integration user)")
        }
        self.settings = settings; self.options = options; self.http = http
        custom = try PlantCustomization(settings, reserved: ["title", "description", "priority", "asset", "location"])
    }

    var base: String { (settings.baseURL.hasSuffix("/") ? String(settings.baseURL.dropLast()) : settings.baseURL) + "/api/v2" }

    public func payload(_ wo: WorkOrderDraft) -> [String: JSONValue] {
        var p: [String: JSONValue] = [
            "title": .string(custom.title(wo, max: nil)),
            "description": .string(wo.description),
            "priority": .number(Double(settings.priorityMap[wo.priority].flatMap(Int.init) ?? [.critical: 3, .high: 3, .medium: 2, .low: 1][wo.priority]!)),
        ]
        if let c = options.category, !c.isEmpty { p["category"] = .string(c) }
        if let a = options.assetMap[wo.asset] { p["asset"] = .string(a) }
        if let l = (wo.location ?? wo.functionalLocation).flatMap({ options.locationMap[$0] }) { p["location"] = .string(l) }
        switch custom.assignee(wo) {
        case .user(let u)?: p["assignedToUser"] = .string(u)
        case .team(let t)?: p["team"] = .string(t)
        case nil: break
        }
        custom.apply(wo, to: &p)
        return p
    }

    /// Signs in; the session token, or nil with UpKeep's answer to say why.
    func login() async throws -> (token: String?, answer: HTTPTransport.Response) {
        let (user, password) = if case .session(let u, let p) = settings.auth { (u, p) } else { ("", "") }
        let body = try JSONEncoder().encode(JSONValue.object(["email": .string(user), "password": .string(password)]))
        let r = try await http.send(.POST, base + "/auth/", headers: [("Content-Type", "application/json"), ("Accept", "application/json")], body: body)
        guard r.status == 200, let t = r.json?["result"]?["sessionToken"]?.stringValue else { return (nil, r) }
        session.set(t)
        return (t, r)
    }

    /// Sends with the session token; logs in first, and once more after a 401.
    func send(_ method: HTTPMethod, _ path: String, headers extra: [(String, String)] = [], body: Data? = nil) async throws -> HTTPTransport.Response {
        var token = session.get()
        if token == nil { token = try await login().token }
        var r = try await http.send(method, base + path, headers: [("Accept", "application/json"), ("Session-Token", token ?? "")] + extra, body: body)
        if r.status == 401 {
            session.set(nil)
            if let fresh = try await login().token {
                r = try await http.send(method, base + path, headers: [("Accept", "application/json"), ("Session-Token", fresh)] + extra, body: body)
            }
        }
        return r
    }

    public static func describe(_ r: HTTPTransport.Response) -> String {
        r.json?["message"]?.stringValue ?? r.json?["error"]?.stringValue ?? r.json?["result"]?["message"]?.stringValue ?? String(r.text.prefix(300))
    }

    public func create(_ wo: WorkOrderDraft) async -> DeliveryState.Outcome {
        do {
            let r = try await send(.POST, "/work-orders/", headers: [("Content-Type", "application/json")], body: try JSONEncoder().encode(JSONValue.object(payload(wo))))
            if let failure = HTTPTransport.classify(r, describe: Self.describe) {
                if case .permanent(let e) = failure { return .permanent(error: "UpKeep rejected the work order: \(e)") }
                return failure
            }
            guard let id = r.json?["result"]?["id"]?.stringOrNumber else { return .unknown(error: "created, but the response had no id: \(r.text)") }
            return .created(cmmsId: id)
        } catch {
            return HTTPTransport.transportFailure(error)
        }
    }

    public func lookup(reference: String) async -> DeliveryState.Outcome { await lookup(reference: reference, createdSince: nil) }

    /// Work orders per page (UpKeep's `limit` maximum).
    static let lookupPage = 100

    /// UpKeep cannot filter on our reference, so the lookup pages `GET /work-orders/?limit=100&offset=…`
    /// in UpKeep's own order (newest `createdAt` first) and matches the "Millwright reference MW-…"
    /// line of the description. Absence is proven by the last page (shorter than `limit`) or by a
    /// work order created before the horizon (the claim minus clock skew, else `lookup_window`)
    /// while the list was newest first; `lookup_depth` work orders read, a repeated page (offset
    /// ignored) or an error prove nothing.
    public func lookup(reference: String, createdSince: Date?) async -> DeliveryState.Outcome {
        let horizon = LookupProof.horizon(createdSince: createdSince, window: options.lookupWindow)
        var offset = 0
        var seen = Set<String>()
        var newestFirst = true
        var previous: Date?
        do {
            while offset < options.lookupDepth {
                let r = try await send(.GET, "/work-orders/?limit=\(Self.lookupPage)&offset=\(offset)")
                guard r.status == 200, let list = r.json?["results"]?.arrayValue ?? r.json?["result"]?.arrayValue else {
                    return LookupProof.unproven("UpKeep answered HTTP \(r.status) at offset \(offset): \(Self.describe(r))", retryAfter: HTTPTransport.retryAfter(r.headers))
                }
                var reachedHorizon = false
                for item in list {
                    guard let id = item["id"]?.stringOrNumber else { return LookupProof.inconclusive("a work order without id at offset \(offset)") }
                    guard seen.insert(id).inserted else {
                        return LookupProof.inconclusive("UpKeep answered work order \(id) twice while paging (offset not honoured)")
                    }
                    if item["description"]?.stringValue.map({ LookupProof.descriptionNames($0, reference: reference) }) == true { return .lookupFound(cmmsId: id) }
                    let created = item["createdAt"]?.stringValue.flatMap(Timestamps.parseISO)
                    if let created, let p = previous, created > p { newestFirst = false }
                    if let created { previous = created }
                    if newestFirst, let created, created < horizon { reachedHorizon = true }
                }
                // The rest of the page is checked before stopping: equal timestamps may straddle the horizon.
                if reachedHorizon || list.count < Self.lookupPage { return .lookupNotFound }
                offset += list.count
            }
            return LookupProof.inconclusive("read \(offset) UpKeep work orders back to \(Timestamps.format(previous ?? Date())) without reaching \(Timestamps.format(horizon)); raise upkeep.lookup_depth")
        } catch {
            return LookupProof.unproven("UpKeep did not answer: \(HTTPTransport.describe(error))")
        }
    }

    public func status(cmmsId: String) async throws -> CMMSStatus? {
        let r = try await send(.GET, "/work-orders/\(cmmsId)")
        guard r.status == 200, let s = r.json?["result"]?["status"]?.stringValue else {
            throw ConnectorError.misconfigured("status of work order \(cmmsId): HTTP \(r.status) \(Self.describe(r))")
        }
        if let m = settings.statusMap[s] { return m }
        switch s {
        case "inProgress": return .inProgress
        case "complete": return .completed
        default: return .open
        }
    }

    public func addNote(cmmsId: String, text: String) async -> Bool { false }

    /// `GET /api/v2/work-orders/{id}`: the closure code is the work order's `category` (UpKeep's
    /// v2 documentation names no closure-code field; plants file the outcome as a category), the
    /// photo the newest image in `files` (`{name, url, mimeType, createdAt}`), else `image` (a link).
    /// The v2 documentation has no comment or note list, so no notes are read.
    public func readBack(cmmsId: String, reference: String) async -> CMMSReadbackResult {
        do {
            let r = try await send(.GET, "/work-orders/\(cmmsId)")
            guard r.status == 200, let wo = r.json?["result"] else { return .failed("GET /work-orders/\(cmmsId) answered HTTP \(r.status): \(Self.describe(r))") }
            var out = CMMSReadback(closureCode: wo["category"]?.stringValue)
            var files = (wo["files"]?.arrayValue ?? []).compactMap { f -> ReadbackSupport.Listed? in
                guard let url = f["url"]?.stringValue else { return nil }
                let name = f["name"]?.stringValue ?? url.split(separator: "/").last.map(String.init) ?? "file"
                return ReadbackSupport.Listed(name: name, contentType: f["mimeType"]?.stringValue, url: url, createdAt: f["createdAt"]?.stringValue.flatMap(Timestamps.parseISO))
            }
            if files.isEmpty, let image = wo["image"]?.stringValue, !image.isEmpty {
                let name = (image.split(separator: "/").last.map(String.init) ?? "image").removingPercentEncoding ?? "image"
                files = [ReadbackSupport.Listed(name: name, contentType: nil, url: image, createdAt: nil)]
            }
            let (photo, refused) = ReadbackSupport.choosePhoto(files, reference: reference)
            out.refused += refused
            if let photo { await ReadbackSupport.fetchPhoto(photo, base: base, auth: [("Session-Token", session.get() ?? "")], http: http, into: &out) }
            return .read(out.bounded())
        } catch {
            return .failed("UpKeep did not answer: \(HTTPTransport.describe(error))")
        }
    }

    public func attach(cmmsId: String, filename: String, jpeg: Data) async -> Bool {
        let form = Multipart.file(field: "image", filename: filename, contentType: "image/jpeg", data: jpeg)
        guard let r = try? await send(.PATCH, "/work-orders/\(cmmsId)", headers: [("Content-Type", form.contentType)], body: form.body) else { return false }
        return (200..<300).contains(r.status)
    }

    public func checkConnection() async -> [ConnectionCheck] {
        do {
            let (token, answer) = try await login()
            guard token != nil else {
                let refused = answer.status == 400 || answer.status == 401 || answer.status == 403
                return [ConnectionCheck(step: "authenticate", ok: false, detail: "POST /api/v2/auth/ answered HTTP \(answer.status): \(Self.describe(answer))",
                                        fix: refused ? "check the integration user's email and password in cmms[\(name)].auth" : "check base_url \(settings.baseURL) (https://api.onupkeep.com)")]
            }
            let r = try await send(.GET, "/work-orders/?limit=1")
            let ok = r.status == 200
            return [ConnectionCheck(step: "authenticate", ok: true, detail: "session token issued"),
                    ConnectionCheck(step: "create permission", ok: ok, detail: ok ? "work orders readable (UpKeep has no dry-run create; the user needs a role that creates work orders)" : "HTTP \(r.status): \(Self.describe(r))",
                                    fix: ok ? nil : "give the user a Technician or Admin role"),
                    ConnectionCheck(step: "attachment upload", ok: true, detail: "image as multipart form field on the work order")]
        } catch {
            return [ConnectionCheck(step: "reach", ok: false, detail: HTTPTransport.describe(error), fix: "check base_url \(settings.baseURL)")]
        }
    }
}

/// A session token shared by the connector's concurrent calls.
final class SessionToken: @unchecked Sendable {
    private let lock = NSLock()
    private var token: String?
    func get() -> String? { lock.withLock { token } }
    func set(_ t: String?) { lock.withLock { token = t } }
}

extension UpKeepConnector {
    /// `GET /api/v2/assets/{id}`, `/locations/{id}` and `/users/{id}` (UpKeep API v2, developers.onupkeep.com:
    /// "Get an asset", "Get a location", "Get a user"), for the ids a work order would carry: `asset_map` /
    /// `location_map` values and the `users` targets. 200 is the record; 404 with UpKeep's
    /// `{"success": false, "message"}` body is "no such id".
    public func checkReferences(_ references: [MappedReference]) async -> [ReferenceCheck] {
        let (ask, skipped) = ReferenceChecks.bounded(references)
        let checked = await ReferenceChecks.perId(ask, id: { ref in
            switch ref.kind {
            case .asset: options.assetMap[ref.id]
            case .location: options.locationMap[ref.id]
            case .user: ref.id
            }
        }, unmapped: "not sent to UpKeep: no upkeep.asset_map / location_map entry") { kind, id in
            let collection = switch kind { case .asset: "assets"; case .location: "locations"; case .user: "users" }
            let key = id.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._"))) ?? id
            do {
                let r = try await send(.GET, "/\(collection)/\(key)")
                return ReferenceChecks.byKey(r, describe: Self.describe) { $0.json?["success"]?.boolValue == false }
            } catch { return ReferenceChecks.failed(error) }
        }
        return checked + skipped
    }
}
