import Crypto
import Foundation
import MillwrightCore
import NIOHTTP1

/// `fiix`: Fiix CMMS RPC API (`base_url` = `https://<tenant>.macmms.com`).
///
/// Every call is `POST /api/?service=cmms&appKey=…&accessKey=…&signatureMethod=HmacSHA256&signatureVersion=1&timestamp=<ms>`
/// with header `Authorization: <hex HMAC-SHA256(secret, URL without "https://")>`, `Content-Type: text/plain`
/// (fiixlabs.github.io/api-documentation/guide-nosdk.html) and a JSON body naming the operation in `_maCn`:
/// - `FindRequest` on `Priority` (`id,strName`), once, cached: priorities are tenant-specific ids,
///   looked up by the names in `priority_map` (defaults Highest/High/Medium/Low);
/// - `AddRequest` on `WorkOrder` (`strDescription` = title + long text, `intPriorityID`, `intSiteID`,
///   optional `intWorkOrderStatusID`, `intMaintenanceTypeID`), then `AddRequest` on `WorkOrderAsset`
///   (`intWorkOrderID`, `intAssetID`) when the asset maps to a Fiix asset id, and on `WorkOrderUser`
///   (`intWorkOrderID`, `intUserID`) when `users` maps the technician to a Fiix user id;
/// - `FindRequest` on `WorkOrder` with `filters: [{ql: "strDescription LIKE ?", parameters: ["%Millwright reference MW-…%"]}]`
///   and `maxObjects` (lookup: filtered on the server; an answer filling `maxObjects` proves nothing);
/// - `FindByIdRequest` on `WorkOrder` (`intWorkOrderStatusID`) and `WorkOrderStatus` (`strName`) (status);
/// - image: `AddRequest` on `FileContents` (`strName`, `strMimeType`, `strContents` = the JPEG in base64,
///   `intSize`), then on `File` (`intWorkOrderID`, `intFileContentsID`, `strName`). The classes and
///   fields are those of Fiix's generated client (fiixlabs/fiix-cmms-client-java, dto/File and
///   dto/FileContents); Fiix documents no upload procedure, and base64 is how integrations fill strContents.
/// Errors come as `{"error": {"code", "message"}}` (in an HTTP 200): a code of 500 or more is Fiix's
/// own failure and may follow a stored object (`.unknown`: looked up before the retry); 401/403/429
/// are retried; other codes are permanent. HTTP 5xx and timeouts are `.unknown` as everywhere.
/// Status by the status's name: "…progress…" → in progress, "complete"/"closed" → completed,
/// "cancel…" → cancelled, else open; `status_map` ("<name in lower case>=…, …") overrides.
/// The cmms entry's `title:` replaces the first line of strDescription and `fields:` adds WorkOrder
/// fields (`strCode`, `intRequestedByUserID`, `strAdminNotes`, …; Fiix's name prefixes give the
/// type: `int`/`bol` integers, `dbl` numbers).
///
/// Config (`fiix:` block): `site_id` (required), `priority_map.<p>` (Fiix priority names),
/// `status_id`, `maintenance_type_id`, `asset_map` ("<asset>=…, …"), `status_map` ("<name>=…, …"),
/// `users` ("<technician>=<Fiix user id>"; Fiix assigns people only, a team entry stays in the text),
/// `attachment_limit_bytes`. Auth: `hmac` (app key, access key, secret).
public struct FiixOptions: CMMSOptions {
    /// The numeric id of the site work orders are created in.
    public var siteId: Int
    public var statusId: Int?
    public var maintenanceTypeId: Int?
    /// Our asset → Fiix asset id.
    public var assetMap: [String: Int] = [:]

    public static let keys = ["site_id", "status_id", "maintenance_type_id", "asset_map"]

    public init(siteId: Int) { self.siteId = siteId }

    public init(block: ConfigTree) throws(ConfigError) {
        siteId = try block.required("site_id", "the numeric id of the site").int(in: 1...Int.max)
        statusId = try block.child("status_id")?.int(in: 1...Int.max)
        maintenanceTypeId = try block.child("maintenance_type_id")?.int(in: 1...Int.max)
        assetMap = try block.child("asset_map")?.intMap(of: "a Fiix asset id") ?? [:]
    }
}

public struct FiixConnector: CMMSConnector {
    public let settings: CMMSSettings
    public let options: FiixOptions
    let http: HTTPTransport
    let priorities = PriorityCache()
    let custom: PlantCustomization
    public var name: String { settings.name }
    public var kind: String { settings.kind }
    let appKey: String, accessKey: String, secret: String

    init(settings: CMMSSettings, options: FiixOptions, http: HTTPTransport) throws {
        guard case .hmac(let app, let access, let secret) = settings.auth else {
            throw ConnectorError.misconfigured("cmms \(settings.name): Fiix needs auth: {hmac: {app_key_env, access_key_env, secret_env}}")
        }
        self.settings = settings; self.options = options; self.http = http; appKey = app; accessKey = access; self.secret = secret
        custom = try PlantCustomization(settings, reserved: ["className", "strDescription", "intSiteID", "intPriorityID"], kinds: Self.fieldKind)
        try custom.requireNumericUsers(settings, block: "fiix")
    }

    /// Fiix names carry their type: `intX`/`bolX` are integers (booleans are 0/1), `dblX`/`qtyX` numbers.
    public static func fieldKind(_ name: String) -> FieldKind? {
        if name.hasPrefix("int") || name.hasPrefix("bol") { return .integer }
        if name.hasPrefix("dbl") || name.hasPrefix("qty") { return .number }
        return nil
    }

    var base: String { settings.baseURL.hasSuffix("/") ? String(settings.baseURL.dropLast()) : settings.baseURL }

    public static func signature(url: String, secret: String) -> String {
        let signed = url.replacingOccurrences(of: "https://", with: "").replacingOccurrences(of: "http://", with: "")
        let mac = HMAC<SHA256>.authenticationCode(for: Data(signed.utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return Hex.encode(Data(mac))
    }

    func call(_ body: [String: JSONValue]) async throws -> HTTPTransport.Response {
        let ts = String(Int64(Date().timeIntervalSince1970 * 1000))
        let url = base + "/api/?service=cmms&appKey=\(appKey)&accessKey=\(accessKey)&signatureMethod=HmacSHA256&signatureVersion=1&timestamp=\(ts)"
        var b = body
        b["clientVersion"] = .object(["major": .number(2), "minor": .number(8), "patch": .number(1)])
        return try await http.send(.POST, url, headers: [("Content-Type", "text/plain"), ("Accept", "application/json"), ("Authorization", Self.signature(url: url, secret: secret))],
                                   body: try JSONEncoder().encode(JSONValue.object(b)))
    }

    static func error(_ r: HTTPTransport.Response) -> String? {
        guard let e = r.json?["error"] else { return nil }
        return (e["code"]?.stringOrNumber.map { "Fiix error \($0): " } ?? "Fiix error: ") + (e["message"]?.stringValue ?? "unspecified")
    }

    /// An error object in a 200 answer, as an outcome. Fiix reports a failure of its own server
    /// (code 500 and up) the same way as a refused request, and such a failure may come after the
    /// object was stored: it is `.unknown` (looked up before any retry). 401/403 and 429 are retried;
    /// every other code says the request itself is wrong.
    static func classifyError(_ r: HTTPTransport.Response) -> DeliveryState.Outcome? {
        guard let message = error(r) else { return nil }
        let code = r.json?["error"]?["code"]?.doubleValue.flatMap { Checked.exactInt($0, in: 0...Int(Int32.max)) }
        switch code ?? -1 {
        case 500...: return .unknown(error: message)
        case 401, 403: return .retryable(error: "\(message) (check the app key, access key and secret)", retryAfter: nil)
        case 429: return .retryable(error: message, retryAfter: HTTPTransport.retryAfter(r.headers))
        default: return .permanent(error: message)
        }
    }

    static let defaultPriorityNames: [Priority: String] = [.critical: "Highest", .high: "High", .medium: "Medium", .low: "Low"]

    func priorityId(_ p: Priority) async throws -> Int? {
        if priorities.isEmpty {
            let r = try await call(["_maCn": .string("FindRequest"), "className": .string("Priority"), "fields": .string("id,strName")])
            guard r.status == 200, Self.error(r) == nil, let objs = r.json?["objects"]?.arrayValue else { return nil }
            priorities.fill(objs.compactMap { o in o["strName"]?.stringValue.flatMap { n in o["id"]?.doubleValue.flatMap { Checked.exactInt($0, in: 0...Int(Int32.max)) }.map { (n, $0) } } })
        }
        return priorities.id((settings.priorityMap[p] ?? Self.defaultPriorityNames[p]!).lowercased())
    }

    public func workOrderObject(_ wo: WorkOrderDraft, priorityId: Int?) -> [String: JSONValue] {
        var o: [String: JSONValue] = [
            "className": .string("WorkOrder"),
            "strDescription": .string(custom.title(wo, max: nil) + "\n" + wo.description),
            "intSiteID": .number(Double(options.siteId)),
        ]
        if let p = priorityId { o["intPriorityID"] = .number(Double(p)) }
        if let s = options.statusId { o["intWorkOrderStatusID"] = .number(Double(s)) }
        if let m = options.maintenanceTypeId { o["intMaintenanceTypeID"] = .number(Double(m)) }
        custom.apply(wo, to: &o)
        return o
    }

    public func create(_ wo: WorkOrderDraft) async -> DeliveryState.Outcome {
        do {
            let pid = try await priorityId(wo.priority)
            if pid == nil, priorities.isEmpty { return .retryable(error: "could not read Fiix priorities", retryAfter: nil) }
            if pid == nil {
                return .permanent(error: "Fiix has no priority named '\(settings.priorityMap[wo.priority] ?? Self.defaultPriorityNames[wo.priority]!)'; set fiix.priority_map.\(wo.priority.rawValue) to one of: \(priorities.names.joined(separator: ", "))")
            }
            let r = try await add("WorkOrder", workOrderObject(wo, priorityId: pid))
            if let failure = HTTPTransport.classify(r, describe: { Self.error($0) ?? $0.text }) { return failure }
            if let failure = Self.classifyError(r) { return failure }
            guard let id = r.json?["object"]?["id"]?.stringOrNumber else { return .unknown(error: "created, but the response had no id: \(r.text)") }
            // The links are best effort: the work order exists, and its text names asset and technician.
            if let asset = options.assetMap[wo.asset] ?? Int(wo.asset) {
                _ = try? await add("WorkOrderAsset", ["intWorkOrderID": .number(Double(id) ?? 0), "intAssetID": .number(Double(asset))])
            }
            if case .user(let user)? = custom.assignee(wo), let userId = Int(user) {
                _ = try? await add("WorkOrderUser", ["intWorkOrderID": .number(Double(id) ?? 0), "intUserID": .number(Double(userId))])
            }
            return .created(cmmsId: id)
        } catch {
            return HTTPTransport.transportFailure(error)
        }
    }

    /// Objects asked for per lookup; a full answer may have been cut by the cap, so it proves nothing.
    static let lookupMax = 100

    /// Fiix filters on the server (`strDescription LIKE ?` on our reference line); the answer is
    /// complete only when it is shorter than `maxObjects`. Each hit's description is checked for
    /// the reference as a whole token when Fiix sends it back.
    public func lookup(reference: String) async -> DeliveryState.Outcome {
        do {
            let r = try await call(["_maCn": .string("FindRequest"), "className": .string("WorkOrder"), "fields": .string("id,strDescription"),
                                    "maxObjects": .number(Double(Self.lookupMax)),
                                    "filters": .array([.object(["ql": .string("strDescription LIKE ?"), "parameters": .array([.string("%Millwright reference \(reference)%")])])])])
            guard r.status == 200, Self.error(r) == nil, let objs = r.json?["objects"]?.arrayValue else {
                return LookupProof.unproven("Fiix FindRequest answered HTTP \(r.status): \(Self.error(r) ?? r.text)", retryAfter: HTTPTransport.retryAfter(r.headers))
            }
            let hits = objs.filter { o in o["strDescription"]?.stringValue.map { LookupProof.descriptionNames($0, reference: reference) } ?? true }
            if let first = hits.first {
                guard let id = first["id"]?.stringOrNumber else { return LookupProof.inconclusive("a Fiix work order names \(reference) but has no id: \(r.text)") }
                return .lookupFound(cmmsId: id)
            }
            if objs.count >= Self.lookupMax {
                return LookupProof.inconclusive("Fiix returned \(objs.count) work orders (its maxObjects cap) whose description contains \(reference), none naming it exactly")
            }
            return .lookupNotFound
        } catch {
            return LookupProof.unproven("Fiix did not answer: \(HTTPTransport.describe(error))")
        }
    }

    public func status(cmmsId: String) async throws -> CMMSStatus? {
        let r = try await call(["_maCn": .string("FindByIdRequest"), "className": .string("WorkOrder"), "fields": .string("id,intWorkOrderStatusID"), "id": .number(Double(cmmsId) ?? 0)])
        guard r.status == 200, Self.error(r) == nil, let sid = r.json?["object"]?["intWorkOrderStatusID"]?.doubleValue else {
            throw ConnectorError.misconfigured("status of work order \(cmmsId): HTTP \(r.status) \(Self.error(r) ?? r.text)")
        }
        let s = try await call(["_maCn": .string("FindByIdRequest"), "className": .string("WorkOrderStatus"), "fields": .string("id,strName"), "id": .number(sid)])
        guard let name = s.json?["object"]?["strName"]?.stringValue?.lowercased() else { return nil }
        if let m = settings.statusMap[name] { return m }
        if name.contains("progress") { return .inProgress }
        if name.contains("complete") || name.contains("closed") { return .completed }
        if name.hasPrefix("cancel") { return .cancelled }
        return .open
    }

    /// `AddRequest` for one object of `className`; answers the request's response.
    func add(_ className: String, _ fields: [String: JSONValue]) async throws -> HTTPTransport.Response {
        try await call(["_maCn": .string("AddRequest"), "className": .string(className), "fields": .string("id"),
                        "object": .object(fields.merging(["className": .string(className)]) { a, _ in a })])
    }

    public func addNote(cmmsId: String, text: String) async -> Bool { false }

    public func attach(cmmsId: String, filename: String, jpeg: Data) async -> Bool {
        guard let workOrder = Int(cmmsId),
              let c = try? await add("FileContents", ["strName": .string(filename), "strMimeType": .string("image/jpeg"),
                                                       "strContents": .string(jpeg.base64EncodedString()), "intSize": .number(Double(jpeg.count))]),
              c.status == 200, Self.error(c) == nil, let contents = c.json?["object"]?["id"]?.doubleValue,
              let f = try? await add("File", ["intWorkOrderID": .number(Double(workOrder)), "intFileContentsID": .number(contents), "strName": .string(filename)])
        else { return false }
        return f.status == 200 && Self.error(f) == nil
    }

    /// Base64 inside JSON: keep the image modest.
    public var attachmentLimitBytes: Int { settings.attachmentLimitBytes ?? 3_000_000 }

    public func checkConnection() async -> [ConnectionCheck] {
        do {
            let r = try await call(["_maCn": .string("FindRequest"), "className": .string("Priority"), "fields": .string("id,strName")])
            if let e = Self.error(r) ?? (r.status == 200 ? nil : "HTTP \(r.status)") {
                return [ConnectionCheck(step: "authenticate", ok: false, detail: e, fix: "check the app key, access key and secret (Fiix: Settings → API applications) and that the base_url is your tenant")]
            }
            let names = r.json?["objects"]?.arrayValue?.compactMap { $0["strName"]?.stringValue } ?? []
            let missing = Priority.allCases.map { settings.priorityMap[$0] ?? Self.defaultPriorityNames[$0]! }.filter { n in !names.contains { $0.lowercased() == n.lowercased() } }
            return [ConnectionCheck(step: "authenticate", ok: true, detail: "signed request accepted"),
                    ConnectionCheck(step: "create permission", ok: missing.isEmpty, detail: missing.isEmpty ? "priorities found: \(names.joined(separator: ", "))" : "no priority named \(missing.joined(separator: ", "))",
                                    fix: missing.isEmpty ? nil : "set fiix.priority_map to the tenant's names: \(names.joined(separator: ", "))"),
                    ConnectionCheck(step: "attachment upload", ok: true, detail: "FileContents + File on the work order (base64 JPEG)")]
        } catch {
            return [ConnectionCheck(step: "reach", ok: false, detail: HTTPTransport.describe(error), fix: "check base_url \(settings.baseURL)")]
        }
    }
}

/// Tenant priority name → id, filled once.
final class PriorityCache: @unchecked Sendable {
    private let lock = NSLock()
    private var map: [String: Int] = [:]
    private var order: [String] = []
    var isEmpty: Bool { lock.withLock { map.isEmpty } }
    var names: [String] { lock.withLock { order } }
    func fill(_ pairs: [(String, Int)]) { lock.withLock { for (n, i) in pairs { map[n.lowercased()] = i; order.append(n) } } }
    func id(_ name: String) -> Int? { lock.withLock { map[name] } }
}

extension FiixConnector {
    /// `FindByIdRequest` on `Asset` and `User` (the classes `WorkOrderAsset.intAssetID` and `WorkOrderUser.intUserID`
    /// point at; Fiix API guide, "FindById request"), for the ids a work order would carry: `asset_map` or a
    /// numeric asset, numeric user ids. An `object` in the answer is the record; Fiix's error object with
    /// code 404 is "no such id"; any other error is unknown. Fiix work orders take no location, so none is asked.
    public func checkReferences(_ references: [MappedReference]) async -> [ReferenceCheck] {
        let (ask, skipped) = ReferenceChecks.bounded(references)
        let checked = await ReferenceChecks.perId(ask, id: { ref in
            switch ref.kind {
            case .asset: (options.assetMap[ref.id] ?? Int(ref.id)).map(String.init)
            case .user: Int(ref.id).map(String.init)
            case .location: nil
            }
        }, unmapped: "not sent to Fiix: locations are not, and assets/users only as numeric ids (fiix.asset_map, users)") { kind, id in
            let cls = kind == .asset ? "Asset" : "User"
            do {
                let r = try await call(["_maCn": .string("FindByIdRequest"), "className": .string(cls), "fields": .string("id"), "id": .number(Double(id) ?? 0)])
                if r.status == 200, Self.error(r) == nil, r.json?["object"]?.objectValue != nil { return .exists }
                if r.status == 200, r.json?["error"]?["code"]?.doubleValue == 404 { return .missing(ReferenceChecks.bounded(Self.error(r) ?? "not found")) }
                return .unknown(ReferenceChecks.bounded(Self.error(r) ?? "HTTP \(r.status): \(r.text)"))
            } catch { return ReferenceChecks.failed(error) }
        }
        return checked + skipped
    }
}
