import Foundation
import MillwrightCore
import NIOHTTP1

/// `oracle-fusion`: Oracle Fusion Cloud Maintenance, REST resource `maintenanceWorkOrders`.
///
/// Endpoints (`/fscmRestApi/resources/11.13.18.05`, version configurable with `rest_version`):
/// - `POST /maintenanceWorkOrders` with `Upsert-Mode: true` and
///   `Content-Type: application/vnd.oracle.adf.resourceitem+json`: our reference is the
///   `WorkOrderNumber`, so a repeated request after a lost answer updates the same work order
///   instead of creating a second one (Oracle's documented upsert on the resource's alternate key
///   WorkOrderNumber + OrganizationCode).
/// - `GET /maintenanceWorkOrders?q=WorkOrderNumber='…';OrganizationCode='…'&onlyData=true` (lookup).
/// - `GET /maintenanceWorkOrders/{WorkOrderId}?onlyData=true&fields=WorkOrderStatusCode,WorkOrderSystemStatusCode` (status).
/// - `POST /maintenanceWorkOrders/{WorkOrderId}/child/attachments` (the child resource as Oracle's REST
///   reference names it, docs.oracle.com …/fasrp/op-maintenanceworkorders-workorderid-child-attachments-post.html) with `DatatypeCode: FILE`,
///   `FileName`, `Title`, base64 `FileContents` (image).
/// Fields: `OrganizationCode`, `WorkOrderNumber`, `WorkOrderDescription` (240: title, then the long
/// text as far as it fits), `AssetNumber`, `WorkOrderTypeCode`, `WorkOrderSubTypeCode`,
/// `WorkOrderPriority` (number), `PlannedStartDate` (detection time). The cmms entry's `title:`
/// replaces the title at the head of the description and `fields:` adds resource attributes
/// (`WorkOrderSubTypeCode`, `AllowCompletionToInventoryFlag`, …; numbers and flags typed). The work
/// order header has no assignee; people are assigned on operations, so the assignment stays in the text.
/// Status: the system status `WorkOrderSystemStatusCode` ORA_UNRELEASED/ORA_ON_HOLD → open, ORA_RELEASED →
/// in progress, ORA_COMPLETED/ORA_CLOSED → completed, ORA_CANCELED → cancelled; a user-defined
/// `WorkOrderStatusCode` named in `status_map` ("<CODE>=…, …") wins (e.g. `AWAIT_PARTS=open`).
/// Errors: REST framework JSON (`title`, `detail`, `o:errorDetails[].detail`) or the plain-text body.
///
/// Config (`oracle:` block): `organization` (required), `work_order_type` (ORA_CORRECTIVE),
/// `work_order_subtype`, `priority_map.<p>` (critical 1, high 2, medium 3, low 4), `rest_version`,
/// `status_map` ("<CODE>=…, …"), `attachment_category` (MISC). Auth: `basic`.
public struct OracleMaintenanceOptions: CMMSOptions {
    /// The maintenance organization code.
    public var organization: String
    public var workOrderType = "ORA_CORRECTIVE"
    public var workOrderSubtype: String?
    public var restVersion = "11.13.18.05"
    public var attachmentCategory = "MISC"

    public static let keys = ["organization", "work_order_type", "work_order_subtype", "rest_version", "attachment_category"]

    public init(organization: String) { self.organization = organization }

    public init(block: ConfigTree) throws(ConfigError) {
        organization = try block.required("organization", "the maintenance organization code").nonEmptyString()
        if let v = block.child("work_order_type") { workOrderType = try v.nonEmptyString() }
        workOrderSubtype = try block.child("work_order_subtype")?.string()
        if let v = block.child("rest_version") { restVersion = try v.nonEmptyString() }
        if let v = block.child("attachment_category") { attachmentCategory = try v.nonEmptyString() }
    }
}

public struct OracleMaintenanceConnector: CMMSConnector {
    public let settings: CMMSSettings
    public let options: OracleMaintenanceOptions
    let http: HTTPTransport
    let custom: PlantCustomization
    public var name: String { settings.name }
    public var kind: String { settings.kind }
    public static let descriptionMax = 240
    /// Typed attributes of the resource that a plant may set; the tests hold it against the emulator's table.
    public static let fieldKinds: [String: FieldKind] = ["WorkOrderPriority": .number, "AllowCompletionToInventoryFlag": .boolean]
    static let itemType = "application/vnd.oracle.adf.resourceitem+json"

    init(settings: CMMSSettings, options: OracleMaintenanceOptions, http: HTTPTransport) throws {
        self.settings = settings; self.options = options; self.http = http
        custom = try PlantCustomization(settings, reserved: ["OrganizationCode", "WorkOrderNumber", "WorkOrderDescription", "AssetNumber",
                                                            "WorkOrderTypeCode", "WorkOrderPriority", "PlannedStartDate"],
                                        kinds: { Self.fieldKinds[$0] })
    }

    var base: String { settings.baseURL.hasSuffix("/") ? String(settings.baseURL.dropLast()) : settings.baseURL }
    var resource: String { base + "/fscmRestApi/resources/\(options.restVersion)/maintenanceWorkOrders" }
    var headers: [(String, String)] { [("Accept", "application/json")] + HTTPTransport.authHeaders(settings.auth) }

    public func payload(_ wo: WorkOrderDraft) -> [String: JSONValue] {
        var text = custom.title(wo, max: Self.descriptionMax)
        if !wo.description.isEmpty { text += "\n" + wo.description }
        if text.count > Self.descriptionMax { text = String(text.prefix(Self.descriptionMax - 1)) + "…" }
        var p: [String: JSONValue] = [
            "OrganizationCode": .string(options.organization),
            "WorkOrderNumber": .string(wo.reference),
            "WorkOrderDescription": .string(text),
            "AssetNumber": .string(wo.asset),
            "WorkOrderTypeCode": .string(options.workOrderType),
            "WorkOrderPriority": .number(Double(settings.priorityMap[wo.priority].flatMap(Int.init) ?? [.critical: 1, .high: 2, .medium: 3, .low: 4][wo.priority]!)),
            "PlannedStartDate": .string(Timestamps.format(wo.detectedAt)),
        ]
        if let s = options.workOrderSubtype, !s.isEmpty { p["WorkOrderSubTypeCode"] = .string(s) }
        custom.apply(wo, to: &p)
        return p
    }

    public static func describe(_ r: HTTPTransport.Response) -> String {
        if let j = r.json, j.objectValue != nil {
            var parts: [String] = []
            if let d = j["detail"]?.stringValue ?? j["title"]?.stringValue { parts.append(d) }
            for e in j["o:errorDetails"]?.arrayValue ?? [] {
                if let d = e["detail"]?.stringValue { parts.append((e["o:errorCode"]?.stringValue.map { "\($0): " } ?? "") + d) }
            }
            if !parts.isEmpty { return parts.joined(separator: "; ") }
        }
        let t = r.text.trimmingCharacters(in: .whitespacesAndNewlines)
        return t.isEmpty ? "no error body" : String(t.prefix(400))
    }

    public func create(_ wo: WorkOrderDraft) async -> DeliveryState.Outcome {
        do {
            let body = try JSONEncoder().encode(JSONValue.object(payload(wo)))
            let r = try await http.send(.POST, resource, headers: headers + [("Content-Type", Self.itemType), ("Upsert-Mode", "true")], body: body)
            if let failure = HTTPTransport.classify(r, describe: Self.describe) {
                if case .permanent(let e) = failure { return .permanent(error: "Oracle rejected the work order: \(e)") }
                return failure
            }
            guard let id = r.json?["WorkOrderId"]?.stringOrNumber else { return .unknown(error: "created, but the response had no WorkOrderId: \(r.text)") }
            return .created(cmmsId: id)
        } catch {
            return HTTPTransport.transportFailure(error)
        }
    }

    /// Filtered on the server by the alternate key (WorkOrderNumber + OrganizationCode): an empty
    /// `items` proves absence.
    public func lookup(reference: String) async -> DeliveryState.Outcome {
        let q = "WorkOrderNumber='\(reference.replacingOccurrences(of: "'", with: "''"))';OrganizationCode='\(options.organization)'"
        do {
            let r = try await http.send(.GET, resource + "?onlyData=true&fields=WorkOrderId,WorkOrderNumber&q=" + OData.query(q), headers: headers)
            guard r.status == 200, let items = r.json?["items"]?.arrayValue else {
                return LookupProof.unproven("Oracle answered HTTP \(r.status): \(Self.describe(r))", retryAfter: HTTPTransport.retryAfter(r.headers))
            }
            guard let first = items.first else { return .lookupNotFound }
            guard let id = first["WorkOrderId"]?.stringOrNumber else { return LookupProof.inconclusive("work order \(reference) came back without WorkOrderId: \(r.text)") }
            return .lookupFound(cmmsId: id)
        } catch {
            return LookupProof.unproven("Oracle did not answer: \(HTTPTransport.describe(error))")
        }
    }

    /// Oracle's system statuses (`WorkOrderSystemStatusCode`), by meaning.
    static let systemStatuses: [String: CMMSStatus] = [
        "ORA_UNRELEASED": .open, "ORA_ON_HOLD": .open, "ORA_RELEASED": .inProgress,
        "ORA_COMPLETED": .completed, "ORA_CLOSED": .completed, "ORA_CANCELED": .cancelled, "ORA_CANCELLED": .cancelled,
    ]

    /// `WorkOrderStatusCode` is the organization's user-defined status (any code, several per system
    /// status); `WorkOrderSystemStatusCode` is Oracle's fixed one. A user status named in
    /// `status_map` decides; otherwise the system status does (itself overridable in `status_map`).
    public func mapStatus(user: String?, system: String?) -> CMMSStatus {
        if let user, let m = settings.statusMap[user] { return m }
        if let system {
            return settings.statusMap[system] ?? Self.systemStatuses[system] ?? .open
        }
        // An answer without the system status: the user code may itself be a system code.
        return user.flatMap { Self.systemStatuses[$0] } ?? .open
    }

    public func status(cmmsId: String) async throws -> CMMSStatus? {
        let r = try await http.send(.GET, resource + "/\(cmmsId)?onlyData=true&fields=WorkOrderStatusCode,WorkOrderSystemStatusCode", headers: headers)
        let user = r.json?["WorkOrderStatusCode"]?.stringValue, system = r.json?["WorkOrderSystemStatusCode"]?.stringValue
        guard r.status == 200, user != nil || system != nil else {
            throw ConnectorError.misconfigured("status of work order \(cmmsId): HTTP \(r.status) \(Self.describe(r))")
        }
        return mapStatus(user: user, system: system)
    }

    /// Oracle's work order resource has no comment child this connector relies on.
    public func addNote(cmmsId: String, text: String) async -> Bool { false }

    public func attach(cmmsId: String, filename: String, jpeg: Data) async -> Bool {
        let body = try? JSONEncoder().encode(JSONValue.object([
            "DatatypeCode": .string("FILE"), "FileName": .string(filename), "Title": .string(filename),
            "CategoryName": .string(options.attachmentCategory), "UploadedFileContentType": .string("image/jpeg"),
            "FileContents": .string(jpeg.base64EncodedString()),
        ]))
        guard let r = try? await http.send(.POST, resource + "/\(cmmsId)/child/attachments", headers: headers + [("Content-Type", Self.itemType)], body: body) else { return false }
        return (200..<300).contains(r.status)
    }

    /// Base64 in JSON: keep the image modest.
    public var attachmentLimitBytes: Int { settings.attachmentLimitBytes ?? 3_000_000 }

    public func checkConnection() async -> [ConnectionCheck] {
        do {
            let q = OData.query("OrganizationCode='\(options.organization)'")
            let r = try await http.send(.GET, resource + "?onlyData=true&limit=1&fields=WorkOrderId&q=\(q)", headers: headers)
            switch r.status {
            case 200:
                return [ConnectionCheck(step: "authenticate", ok: true, detail: "signed in; maintenanceWorkOrders readable"),
                        ConnectionCheck(step: "create permission", ok: true, detail: "organization \(options.organization) visible (Oracle has no dry-run create; the user needs the Maintenance Technician or Manager job role)"),
                        ConnectionCheck(step: "attachment upload", ok: true, detail: "child resource attachments (FILE, base64)")]
            case 401: return [ConnectionCheck(step: "authenticate", ok: false, detail: "HTTP 401", fix: "check user and password in cmms[\(name)].auth")]
            case 403: return [ConnectionCheck(step: "authenticate", ok: false, detail: "HTTP 403: \(Self.describe(r))", fix: "grant the user a maintenance job role with access to organization \(options.organization)")]
            default: return [ConnectionCheck(step: "authenticate", ok: false, detail: "HTTP \(r.status): \(Self.describe(r))", fix: "check base_url (https://<pod>.fa.<dc>.oraclecloud.com) and oracle.rest_version")]
            }
        } catch {
            return [ConnectionCheck(step: "reach", ok: false, detail: HTTPTransport.describe(error), fix: "check base_url \(settings.baseURL) and the network path")]
        }
    }
}

extension OracleMaintenanceConnector {
    /// The Installed Base Assets resource of the same REST API ("REST API for Oracle Fusion Cloud SCM",
    /// Maintenance → Assets, `GET /installedBaseAssets?q=AssetNumber='…'`), the records `AssetNumber` of a
    /// work order must name. One query per asset (the REST framework's `q` takes one value per attribute):
    /// an empty `items` is Oracle's "no such asset". The work-order header carries neither user nor
    /// location, so those are not sent to Oracle and not asked.
    public func checkReferences(_ references: [MappedReference]) async -> [ReferenceCheck] {
        let (ask, skipped) = ReferenceChecks.bounded(references)
        let assetsURL = base + "/fscmRestApi/resources/\(options.restVersion)/installedBaseAssets"
        let checked = await ReferenceChecks.perId(ask, id: { $0.kind == .asset ? $0.id : nil },
                                                  unmapped: "not sent to Oracle: the work-order header has no assignee or location") { _, id in
            let q = "AssetNumber='\(id.replacingOccurrences(of: "'", with: "''"))'"
            do {
                let r = try await http.send(.GET, assetsURL + "?onlyData=true&fields=AssetId,AssetNumber&limit=2&q=" + OData.query(q), headers: headers)
                guard r.status == 200, let items = r.json?["items"]?.arrayValue else {
                    return .unknown("HTTP \(r.status): \(ReferenceChecks.bounded(Self.describe(r)))" + (r.status == 403 ? " (the user needs a role that may view installed base assets)" : ""))
                }
                return items.contains { $0["AssetNumber"]?.stringValue == id } ? .exists : .missing("installedBaseAssets has no AssetNumber \(id)")
            } catch { return ReferenceChecks.failed(error) }
        }
        return checked + skipped
    }
}
