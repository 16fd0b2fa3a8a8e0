import Crypto
import Foundation
import MillwrightCore
import NIOHTTP1

/// `fiix`: Fiix CMMS RPC API (`base_url` = `https://<tenant>.macmms.com`).
///
/// Every call is `POST /api/?service=cmms&appKey=…&accessKey=…&signatureMethod=HmacSHA256&signatureVersion=1&timestamp=<ms>`
/// with header `Authorization: <hex HMAC-SHA256(secret, URL without "https://")>` and a JSON body
/// naming the operation in `_maCn`:
/// - `FindRequest` on `Priority` (`id,strName`), once, cached: priorities are tenant-specific ids,
///   looked up by the names in `priority_map` (defaults Highest/High/Medium/Low);
/// - `AddRequest` on `WorkOrder` (`strDescription` = title + long text, `intPriorityID`, `intSiteID`,
///   optional `intWorkOrderStatusID`, `intMaintenanceTypeID`), then `AddRequest` on `WorkOrderAsset`
///   (`intWorkOrderID`, `intAssetID`) when the asset maps to a Fiix asset id;
/// - `FindRequest` on `WorkOrder` with `filters: [{ql: "strDescription LIKE ?", parameters: ["%Millwright reference MW-…%"]}]` (lookup);
/// - `FindByIdRequest` on `WorkOrder` (`intWorkOrderStatusID`) and `WorkOrderStatus` (`strName`) (status).
/// Errors come as `{"error": {"code", "message"}}`; they are permanent unless the code says the
/// server failed. Images are not uploaded (Fiix's file API is outside what this connector covers);
/// the evidence link is in the description.
/// Status by the status's name: "…progress…" → in progress, "complete"/"closed" → completed,
/// "cancel…" → cancelled, else open; `status_map` ("<name in lower case>=…, …") overrides.
///
/// Config (`fiix:` block): `site_id` (required), `priority_map.<p>` (Fiix priority names),
/// `status_id`, `maintenance_type_id`, `asset_map` ("<asset>=…, …"), `status_map` ("<name>=…, …"). Auth: `hmac`
/// (app key, access key, secret).
public struct FiixConnector: CMMSConnector {
    public let settings: CMMSSettings
    let http: HTTPTransport
    let priorities = PriorityCache()
    public var name: String { settings.name }
    public var kind: String { "fiix" }
    let appKey: String, accessKey: String, secret: String

    init(settings: CMMSSettings, http: HTTPTransport) throws {
        guard case .hmac(let app, let access, let secret) = settings.auth else {
            throw ConnectorError.misconfigured("cmms \(settings.name): Fiix needs auth: {hmac: {app_key_env, access_key_env, secret_env}}")
        }
        guard Int(settings.options["site_id"] ?? "") != nil else {
            throw ConnectorError.misconfigured("cmms \(settings.name): fiix.site_id (the numeric id of the site) is required")
        }
        self.settings = settings; self.http = http; appKey = app; accessKey = access; self.secret = secret
    }

    var opt: [String: String] { settings.options }
    var base: String { settings.baseURL.hasSuffix("/") ? String(settings.baseURL.dropLast()) : settings.baseURL }

    public static func signature(url: String, secret: String) -> String {
        let signed = url.replacingOccurrences(of: "https://", with: "").replacingOccurrences(of: "http://", with: "")
        let mac = HMAC<SHA256>.authenticationCode(for: Data(signed.utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return Data(mac).map { String(format: "%02x", $0) }.joined()
    }

    func call(_ body: [String: JSONValue]) async throws -> HTTPTransport.Response {
        let ts = String(Int64(Date().timeIntervalSince1970 * 1000))
        let url = base + "/api/?service=cmms&appKey=\(appKey)&accessKey=\(accessKey)&signatureMethod=HmacSHA256&signatureVersion=1&timestamp=\(ts)"
        var b = body
        b["clientVersion"] = .object(["major": .number(2), "minor": .number(8), "patch": .number(1)])
        return try await http.send(.POST, url, headers: [("Content-Type", "application/json"), ("Accept", "application/json"), ("Authorization", Self.signature(url: url, secret: secret))],
                                   body: try JSONEncoder().encode(JSONValue.object(b)))
    }

    static func error(_ r: HTTPTransport.Response) -> String? {
        guard let e = r.json?["error"] else { return nil }
        return (e["code"]?.stringOrNumber.map { "Fiix error \($0): " } ?? "Fiix error: ") + (e["message"]?.stringValue ?? "unspecified")
    }

    static let defaultPriorityNames: [Priority: String] = [.critical: "Highest", .high: "High", .medium: "Medium", .low: "Low"]

    func priorityId(_ p: Priority) async throws -> Int? {
        if priorities.isEmpty {
            let r = try await call(["_maCn": .string("FindRequest"), "className": .string("Priority"), "fields": .string("id,strName")])
            guard r.status == 200, Self.error(r) == nil, let objs = r.json?["objects"]?.arrayValue else { return nil }
            priorities.fill(objs.compactMap { o in o["strName"]?.stringValue.flatMap { n in o["id"]?.doubleValue.map { (n, Int($0)) } } })
        }
        return priorities.id((ConnectorOptions.lookup(opt, "priority_map", p.rawValue) ?? Self.defaultPriorityNames[p]!).lowercased())
    }

    public func workOrderObject(_ wo: WorkOrderDraft, priorityId: Int?) -> [String: JSONValue] {
        var o: [String: JSONValue] = [
            "className": .string("WorkOrder"),
            "strDescription": .string(wo.title + "\n" + wo.description),
            "intSiteID": .number(Double(Int(opt["site_id"] ?? "") ?? 0)),
        ]
        if let p = priorityId { o["intPriorityID"] = .number(Double(p)) }
        if let s = Int(opt["status_id"] ?? "") { o["intWorkOrderStatusID"] = .number(Double(s)) }
        if let m = Int(opt["maintenance_type_id"] ?? "") { o["intMaintenanceTypeID"] = .number(Double(m)) }
        return o
    }

    public func create(_ wo: WorkOrderDraft) async -> DeliveryState.Outcome {
        do {
            let pid = try await priorityId(wo.priority)
            if pid == nil, priorities.isEmpty { return .retryable(error: "could not read Fiix priorities", retryAfter: nil) }
            if pid == nil {
                return .permanent(error: "Fiix has no priority named '\(ConnectorOptions.lookup(opt, "priority_map", wo.priority.rawValue) ?? Self.defaultPriorityNames[wo.priority]!)'; set fiix.priority_map.\(wo.priority.rawValue) to one of: \(priorities.names.joined(separator: ", "))")
            }
            let r = try await call(["_maCn": .string("AddRequest"), "className": .string("WorkOrder"), "fields": .string("id"), "object": .object(workOrderObject(wo, priorityId: pid))])
            if let failure = HTTPTransport.classify(r, describe: { Self.error($0) ?? $0.text }) { return failure }
            if let e = Self.error(r) { return .permanent(error: e) }
            guard let id = r.json?["object"]?["id"]?.stringOrNumber else { return .unknown(error: "created, but the response had no id: \(r.text)") }
            if let asset = Int(ConnectorOptions.lookup(opt, "asset_map", wo.asset) ?? wo.asset) {
                _ = try? await call(["_maCn": .string("AddRequest"), "className": .string("WorkOrderAsset"), "fields": .string("id"),
                                     "object": .object(["className": .string("WorkOrderAsset"), "intWorkOrderID": .number(Double(id) ?? 0), "intAssetID": .number(Double(asset))])])
            }
            return .created(cmmsId: id)
        } catch {
            return HTTPTransport.transportFailure(error)
        }
    }

    public func lookup(reference: String) async -> DeliveryState.Outcome {
        do {
            let r = try await call(["_maCn": .string("FindRequest"), "className": .string("WorkOrder"), "fields": .string("id"),
                                    "filters": .array([.object(["ql": .string("strDescription LIKE ?"), "parameters": .array([.string("%Millwright reference \(reference)%")])])])])
            guard r.status == 200, Self.error(r) == nil, let objs = r.json?["objects"]?.arrayValue else {
                return .retryable(error: "lookup HTTP \(r.status): \(Self.error(r) ?? r.text)", retryAfter: HTTPTransport.retryAfter(r.headers))
            }
            return objs.first?["id"]?.stringOrNumber.map { .lookupFound(cmmsId: $0) } ?? .lookupNotFound
        } catch {
            return .retryable(error: "lookup failed: \(HTTPTransport.describe(error))", retryAfter: nil)
        }
    }

    public func status(cmmsId: String) async throws -> CMMSStatus? {
        let r = try await call(["_maCn": .string("FindByIdRequest"), "className": .string("WorkOrder"), "fields": .string("id,intWorkOrderStatusID"), "id": .number(Double(cmmsId) ?? 0)])
        guard r.status == 200, Self.error(r) == nil, let sid = r.json?["object"]?["intWorkOrderStatusID"]?.doubleValue else {
            throw ConnectorError.misconfigured("status of work order \(cmmsId): HTTP \(r.status) \(Self.error(r) ?? r.text)")
        }
        let s = try await call(["_maCn": .string("FindByIdRequest"), "className": .string("WorkOrderStatus"), "fields": .string("id,strName"), "id": .number(sid)])
        guard let name = s.json?["object"]?["strName"]?.stringValue?.lowercased() else { return nil }
        if let m = ConnectorOptions.lookup(opt, "status_map", name).flatMap(CMMSStatus.init(rawValue:)) { return m }
        if name.contains("progress") { return .inProgress }
        if name.contains("complete") || name.contains("closed") { return .completed }
        if name.hasPrefix("cancel") { return .cancelled }
        return .open
    }

    public func addNote(cmmsId: String, text: String) async -> Bool { false }

    public func checkConnection() async -> [ConnectionCheck] {
        do {
            let r = try await call(["_maCn": .string("FindRequest"), "className": .string("Priority"), "fields": .string("id,strName")])
            if let e = Self.error(r) ?? (r.status == 200 ? nil : "HTTP \(r.status)") {
                return [ConnectionCheck(step: "authenticate", ok: false, detail: e, fix: "check the app key, access key and secret (Fiix: Settings → API applications) and that the base_url is your tenant")]
            }
            let names = r.json?["objects"]?.arrayValue?.compactMap { $0["strName"]?.stringValue } ?? []
            let missing = Priority.allCases.map { ConnectorOptions.lookup(opt, "priority_map", $0.rawValue) ?? Self.defaultPriorityNames[$0]! }.filter { n in !names.contains { $0.lowercased() == n.lowercased() } }
            return [ConnectionCheck(step: "authenticate", ok: true, detail: "signed request accepted"),
                    ConnectionCheck(step: "create permission", ok: missing.isEmpty, detail: missing.isEmpty ? "priorities found: \(names.joined(separator: ", "))" : "no priority named \(missing.joined(separator: ", "))",
                                    fix: missing.isEmpty ? nil : "set fiix.priority_map to the tenant's names: \(names.joined(separator: ", "))"),
                    ConnectionCheck(step: "attachment upload", ok: true, detail: "not used: the evidence link is in the description")]
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
