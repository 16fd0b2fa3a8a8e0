import Foundation
import MillwrightCore
import NIOHTTP1

/// `sap-pm`: SAP S/4HANA Plant Maintenance through the released OData V2 APIs.
///
/// Endpoints (paths relative to `base_url`, defaults shown, each configurable):
/// - `API_MAINTNOTIFICATION` (`/sap/opu/odata/sap/API_MAINTNOTIFICATION`):
///   `GET /` with `X-CSRF-Token: Fetch` (token + session cookies, reused; on `403` with
///   `x-csrf-token: Required` the token is fetched again once and the request repeated);
///   `POST /MaintenanceNotification` (create); `GET /MaintenanceNotification?$filter=MaintNotifExtReferenceNumber eq '…'`
///   (lookup); `GET /MaintenanceNotification('…')` (status, ETag); `PATCH` with `If-Match` (notes); `GET /$metadata` (check).
/// - `API_MAINTENANCEORDER` (`/sap/opu/odata/sap/API_MAINTENANCEORDER`, or `…;v=0002` with
///   `order_version: 2`), only with `create_order: true`: `POST /MaintenanceOrder` with
///   `MaintenanceNotification` set, which links the order to the notification. When it fails the
///   notification still counts as delivered and SAP's reason is added to its long text.
/// Every URL carries `sap-language` (`language`, EN) and `sap-client` when set.
/// - `API_CV_ATTACHMENT_SRV` (`/sap/opu/odata/sap/API_CV_ATTACHMENT_SRV`): `POST /AttachmentContentSet`,
///   binary body, headers `Slug`, `BusinessObjectTypeName`, `LinkedSAPObjectKey`; `GET /GetAllOriginals`
///   and each original's `media_src` (read-back of a closed notification, with its long text).
///
/// Notification fields sent (all checked against the EDMX in `Tests/Fixtures/specs/cmms` by the tests):
/// `NotificationText` (40: our title), `MaintNotifLongTextForEdit` (our long text, cut to the EDMX
/// MaxLength 1333 with a pointer to the evidence), `NotificationType`, `MaintPriority`,
/// `TechnicalObject` + `TechObjIsEquipOrFuncnlLoc` (`EAMS_EQUI` equipment / `EAMS_FL` functional
/// location), `MaintenancePlanningPlant`, `MalfunctionStartDate` (Edm.DateTime, date part) +
/// `MalfunctionStartTime` (Edm.Time) from the detection time in the plant's time zone,
/// `MaintenanceObjectIsDown` (true for critical), `MaintNotifExtReferenceNumber` (20: our reference),
/// optional `MaintenancePlannerGroup`, `MainWorkCenter`/`MainWorkCenterPlant`, `ReportedByUser`,
/// `MaintNotificationCodeGroup`/`MaintNotificationCode`, `PersonResponsible` (the technician's
/// personnel number from `users`). The cmms entry's `title:` replaces the title (cut to 40) and
/// `fields:` adds notification properties (e.g. `LocationDescription: "{zone}"`); Edm.Boolean and
/// Edm.Double properties are sent typed.
///
/// Status read-back: the notification has no user-status field in this API, so the system
/// statuses in `ConcatenatedActiveSystStsName` decide (DLFL → cancelled, NOCO → completed,
/// ORAS/NOPR → in progress, OSNO → open; override with `status_map` ("<STATUS>=…, …")), falling back to
/// `NotifProcessingPhase` (1 outstanding, 2 postponed → open; 3 in process; 4 completed; 5 deleted → cancelled).
/// A completed notification whose coding matches `false_positive_code` (and `false_positive_code_group`
/// when given) counts as a false positive — the technician's way to say "no defect".
///
/// Choices where the public docs are open: attachments go to business object `PMQMEL` (DMS;
/// set `attachment_object_type: BUS2038` for GOS) with the notification number zero-padded to 12
/// digits as `LinkedSAPObjectKey`; a failing order creation does not fail the notification (SAP's
/// reason goes on the notification as a note, and the order can be created there by hand).
///
/// Config (`sap:` block): `plant`, `notification_type` (M2), `technical_object` (`equipment` |
/// `functional_location`: use the draft's functional location when it has one), `priorities`
/// (Millwright priority → MaintPriority; else `priority_map`, else critical 1, high 2, medium 3, low 4), `planner_group`, `work_center`, `work_center_plant`,
/// `reported_by`, `coding_group`, `coding_code`, `timezone` (UTC), `client` (sap-client),
/// `create_order` (false), `order_type` (PM01), `order_version` (1), `language` (EN), `attachment_object_type` (PMQMEL),
/// `status_map` ("<SYSTEMSTATUS>=…, …"), `false_positive_code_group`, `false_positive_code`,
/// `notification_service`, `order_service`, `attachment_service` (paths). Auth: `basic`.
public struct SAPPMOptions: CMMSOptions {
    public enum TechnicalObject: String, Sendable { case equipment, functionalLocation = "functional_location" }

    public var plant: String?
    public var notificationType = "M2"
    public var technicalObject = TechnicalObject.equipment
    public var plannerGroup: String?
    public var workCenter: String?
    public var workCenterPlant: String?
    public var reportedBy: String?
    public var codingGroup: String?
    public var codingCode: String?
    public var timeZone = TimeZone(identifier: "UTC")!
    /// `sap-client`, appended to every URL when set.
    public var client: String?
    public var createOrder = false
    public var orderType = "PM01"
    public var attachmentObjectType = "PMQMEL"
    public var notificationService = "/sap/opu/odata/sap/API_MAINTNOTIFICATION"
    public var orderService = "/sap/opu/odata/sap/API_MAINTENANCEORDER"
    public var attachmentService = "/sap/opu/odata/sap/API_CV_ATTACHMENT_SRV"
    public var falsePositiveCodeGroup: String?
    public var falsePositiveCode: String?
    /// `sap-language`, sent on every call: the language of SAP's texts and error messages.
    public var language = "EN"
    /// `API_MAINTENANCEORDER` version: 1 (the path as configured) or 2 (`;v=0002`).
    public var orderVersion = 1
    /// Millwright priority → SAP `MaintPriority` (one character, as the EDMX says).
    public var priorities: [Priority: String] = [:]

    public static let keys = [
        "plant", "notification_type", "technical_object", "planner_group", "work_center", "work_center_plant", "reported_by",
        "coding_group", "coding_code", "timezone", "client", "create_order", "order_type", "attachment_object_type",
        "attachment_service", "notification_service", "order_service", "false_positive_code_group", "false_positive_code",
        "language", "order_version", "priorities"]

    public init() {}

    public init(block: ConfigTree) throws(ConfigError) {
        // Values that land in SAP fields must fit them (lengths from the EDMX), so a typo fails
        // at startup rather than dead-lettering every notification.
        func field(_ key: String, _ max: Int) throws(ConfigError) -> String? {
            try block.child(key)?.string(maxLength: max, system: "SAP")
        }
        plant = try field("plant", 4)
        notificationType = try field("notification_type", 2) ?? notificationType
        if let v = block.child("technical_object") {
            technicalObject = TechnicalObject(rawValue: try v.oneOf(["equipment", "functional_location"]))!
        }
        plannerGroup = try field("planner_group", 3)
        workCenter = try field("work_center", 8)
        workCenterPlant = try field("work_center_plant", 4)
        reportedBy = try field("reported_by", 12)
        codingGroup = try field("coding_group", 8)
        codingCode = try field("coding_code", 4)
        if let v = block.child("timezone") {
            let name = try v.string()
            guard let tz = TimeZone(identifier: name) else { throw v.error("\(v.shown(name)) is not a time zone name (e.g. Europe/Berlin)") }
            timeZone = tz
        }
        client = try block.child("client")?.string()
        createOrder = try block.child("create_order")?.bool() ?? false
        orderType = try field("order_type", 4) ?? orderType
        attachmentObjectType = try field("attachment_object_type", 40) ?? attachmentObjectType
        notificationService = try block.child("notification_service")?.string() ?? notificationService
        orderService = try block.child("order_service")?.string() ?? orderService
        attachmentService = try block.child("attachment_service")?.string() ?? attachmentService
        falsePositiveCodeGroup = try block.child("false_positive_code_group")?.string()
        falsePositiveCode = try block.child("false_positive_code")?.string()
        if let v = block.child("language") { language = try v.string(maxLength: 2, system: "SAP").uppercased() }
        if let v = block.child("order_version") { orderVersion = try v.int(in: 1...2) }
        if block.child("order_service") == nil, orderVersion == 2 { orderService += ";v=0002" }
        if let v = block.child("priorities") {
            for (key, value) in try v.stringMap() {
                guard let p = Priority(rawValue: key) else {
                    throw v.error("'\(key)' is not a Millwright priority (\(Priority.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                guard value.count == 1 else { throw v.error("\(key): SAP's MaintPriority is one character (e.g. 1), got '\(value)'") }
                priorities[p] = value
            }
        }
    }
}

public struct SAPPMConnector: CMMSConnector {
    public let settings: CMMSSettings
    public let options: SAPPMOptions
    let http: HTTPTransport
    let cookies = CookieJar()
    let tokens = CSRFTokens()
    let custom: PlantCustomization
    public var name: String { settings.name }
    public var kind: String { settings.kind }

    public static let longTextMax = 1333
    public static let referenceMax = 20
    public static let titleMax = 40
    /// Properties the connector fills from the work order; `fields:` may not name them.
    public static let reservedFields: Set<String> = [
        "NotificationText", "MaintNotifLongTextForEdit", "MaintNotifExtReferenceNumber", "NotificationType", "MaintPriority",
        "MalfunctionStartDate", "MalfunctionStartTime", "MaintenanceObjectIsDown", "TechnicalObject", "TechObjIsEquipOrFuncnlLoc",
    ]
    /// The creatable MaintenanceNotification properties that OData V2 JSON carries as booleans or numbers
    /// (Edm.Decimal and Edm.Int64 travel as strings); the tests check this against the EDMX.
    public static let fieldKinds: [String: FieldKind] = ["MaintenanceObjectIsDown": .boolean, "MaintObjectDowntimeDuration": .number]

    init(settings: CMMSSettings, options: SAPPMOptions, http: HTTPTransport) throws {
        self.settings = settings; self.options = options; self.http = http
        custom = try PlantCustomization(settings, reserved: Self.reservedFields, kinds: { Self.fieldKinds[$0] })
    }

    var base: String { settings.baseURL.hasSuffix("/") ? String(settings.baseURL.dropLast()) : settings.baseURL }
    var notificationService: String { base + options.notificationService }
    var orderService: String { base + options.orderService }
    var attachmentService: String { base + options.attachmentService }
    var timeZone: TimeZone { options.timeZone }
    var attachmentObjectType: String { options.attachmentObjectType }

    /// Appends `sap-client` when configured and `sap-language` always: without it SAP answers in the
    /// user's logon language, and error texts the plant cannot read end up on dead letters.
    func url(_ s: String) -> String {
        var q = ["sap-language=\(OData.query(options.language))"]
        if let c = options.client, !c.isEmpty { q.insert("sap-client=\(OData.query(c))", at: 0) }
        return s + (s.contains("?") ? "&" : "?") + q.joined(separator: "&")
    }

    public static let defaultPriorities: [Priority: String] = [.critical: "1", .high: "2", .medium: "3", .low: "4"]

    /// `sap.priorities`, else `priority_map`, else 1–4 (SAP's shipped priority type PM).
    public func sapPriority(_ p: Priority) -> String { options.priorities[p] ?? settings.priorityMap[p] ?? Self.defaultPriorities[p]! }

    /// The notification body; public so the spec tests can check every property against the EDMX.
    public func notificationPayload(_ wo: WorkOrderDraft) -> [String: JSONValue] {
        var p: [String: JSONValue] = [
            "NotificationText": .string(custom.title(wo, max: Self.titleMax)),
            "MaintNotifLongTextForEdit": .string(Self.fit(wo.description, max: Self.longTextMax, evidence: wo.evidenceURL)),
            "NotificationType": .string(options.notificationType),
            "MaintPriority": .string(sapPriority(wo.priority)),
            "MaintNotifExtReferenceNumber": .string(String(wo.reference.prefix(Self.referenceMax))),
            "MalfunctionStartDate": .string(OData.dateTime(wo.detectedAt, dateOnly: true, timeZone: timeZone)),
            "MalfunctionStartTime": .string(OData.time(wo.detectedAt, timeZone: timeZone)),
            "MaintenanceObjectIsDown": .bool(wo.priority == .critical),
        ]
        if options.technicalObject == .functionalLocation, let fl = wo.functionalLocation, !fl.isEmpty {
            p["TechnicalObject"] = .string(fl); p["TechObjIsEquipOrFuncnlLoc"] = .string("EAMS_FL")
        } else {
            p["TechnicalObject"] = .string(wo.asset); p["TechObjIsEquipOrFuncnlLoc"] = .string("EAMS_EQUI")
        }
        let optional: [(String?, String)] = [(options.plant, "MaintenancePlanningPlant"), (options.plannerGroup, "MaintenancePlannerGroup"),
                                             (options.workCenter, "MainWorkCenter"), (options.workCenterPlant, "MainWorkCenterPlant"),
                                             (options.reportedBy, "ReportedByUser"), (options.codingGroup, "MaintNotificationCodeGroup"),
                                             (options.codingCode, "MaintNotificationCode")]
        for (value, prop) in optional { if let v = value, !v.isEmpty { p[prop] = .string(v) } }
        if p["MainWorkCenter"] != nil, p["MainWorkCenterPlant"] == nil, let plant = options.plant { p["MainWorkCenterPlant"] = .string(plant) }
        // The notification has a person but no group to assign; a team mapping stays in the text.
        if case .user(let person)? = custom.assignee(wo) { p["PersonResponsible"] = .string(person) }
        custom.apply(wo, to: &p)
        return p
    }

    /// The order body (`create_order: true`); `MaintenanceNotification` links it.
    public func orderPayload(_ wo: WorkOrderDraft, notification: String) -> [String: JSONValue] {
        var p: [String: JSONValue] = [
            "MaintenanceOrderType": .string(options.orderType),
            "MaintenanceOrderDesc": .string(custom.title(wo, max: Self.titleMax)),
            "MaintenanceNotification": .string(notification),
            "MaintPriority": .string(sapPriority(wo.priority)),
        ]
        if options.technicalObject == .functionalLocation, let fl = wo.functionalLocation, !fl.isEmpty {
            p["FunctionalLocation"] = .string(fl)
        } else {
            p["Equipment"] = .string(wo.asset)
        }
        if let plant = options.plant { p["MaintenancePlanningPlant"] = .string(plant) }
        if let wc = options.workCenter { p["MainWorkCenter"] = .string(wc); p["MainWorkCenterPlant"] = .string(options.workCenterPlant ?? options.plant ?? "") }
        return p
    }

    /// Cuts a long text to the field's length, keeping the evidence link readable at the end.
    static func fit(_ text: String, max: Int, evidence: String?) -> String {
        guard text.count > max else { return text }
        let tail = "\n… (cut; full text" + (evidence.map { " and image: \($0))" } ?? " in Millwright)")
        return String(text.prefix(Swift.max(0, max - tail.count))) + tail
    }

    // MARK: HTTP with the CSRF handshake

    var baseHeaders: [(String, String)] {
        var h = [("Accept", "application/json")] + HTTPTransport.authHeaders(settings.auth)
        if let c = cookies.header { h.append(("Cookie", c)) }
        return h
    }

    /// Fetches a CSRF token for `service`; returns the response for diagnostics.
    @discardableResult
    func fetchToken(_ service: String) async throws -> HTTPTransport.Response {
        let r = try await http.send(.GET, url(service + "/"), headers: baseHeaders + [("X-CSRF-Token", "Fetch")])
        cookies.store(from: r.headers)
        if r.status == 200, let t = r.headers.first(name: "x-csrf-token"), !t.isEmpty, t.lowercased() != "required" {
            tokens.set(service, t)
        }
        return r
    }

    /// A modifying request with token and cookies; refetches the token once on `403 Required`.
    func modify(_ method: HTTPMethod, service: String, path: String, headers extra: [(String, String)], body: Data) async throws -> HTTPTransport.Response {
        if tokens.get(service) == nil {
            let r = try await fetchToken(service)
            if tokens.get(service) == nil { return r }
        }
        var r = try await http.send(method, url(service + path), headers: baseHeaders + [("X-CSRF-Token", tokens.get(service) ?? "")] + extra, body: body)
        cookies.store(from: r.headers)
        if r.status == 403, r.headers.first(name: "x-csrf-token")?.lowercased() == "required" {
            tokens.set(service, nil)
            let f = try await fetchToken(service)
            guard tokens.get(service) != nil else { return f }
            r = try await http.send(method, url(service + path), headers: baseHeaders + [("X-CSRF-Token", tokens.get(service) ?? "")] + extra, body: body)
            cookies.store(from: r.headers)
        }
        return r
    }

    static func describe(_ r: HTTPTransport.Response) -> String {
        var m = OData.errorMessage(r)
        if r.status == 403, r.headers.first(name: "x-csrf-token")?.lowercased() == "required" {
            m += " (CSRF token rejected twice: check that the user may call the service and that cookies are not stripped by a proxy)"
        }
        return m
    }

    // MARK: CMMSConnector

    public func create(_ wo: WorkOrderDraft) async -> DeliveryState.Outcome {
        do {
            let body = try JSONEncoder().encode(JSONValue.object(notificationPayload(wo)))
            let r = try await modify(.POST, service: notificationService, path: "/MaintenanceNotification",
                                     headers: [("Content-Type", "application/json")], body: body)
            if let failure = HTTPTransport.classify(r, describe: Self.describe) {
                if case .permanent(let e) = failure { return .permanent(error: "SAP rejected the notification: \(e)") }
                return failure
            }
            guard let number = r.json?["d"]?["MaintenanceNotification"]?.stringValue, !number.isEmpty else {
                return .unknown(error: "created, but the response had no MaintenanceNotification: \(r.text)")
            }
            if options.createOrder, case .failure(let problem) = await createOrder(wo, notification: number) {
                // The notification stands; the order is missing, so the planner must see why on it.
                _ = await addNote(cmmsId: number, text: "Millwright could not create the maintenance order (\(options.orderType)): \(problem.message). Create it from this notification.")
            }
            return .created(cmmsId: number)
        } catch {
            return HTTPTransport.transportFailure(error)
        }
    }

    public struct OrderProblem: Error, Equatable { public var message: String }

    /// Creates the linked maintenance order; its number, or SAP's reason.
    public func createOrder(_ wo: WorkOrderDraft, notification: String) async -> Result<String, OrderProblem> {
        do {
            let body = try JSONEncoder().encode(JSONValue.object(orderPayload(wo, notification: notification)))
            let r = try await modify(.POST, service: orderService, path: "/MaintenanceOrder", headers: [("Content-Type", "application/json")], body: body)
            guard r.status == 201 else { return .failure(OrderProblem(message: "HTTP \(r.status) from \(options.orderService): \(Self.describe(r))")) }
            guard let order = r.json?["d"]?["MaintenanceOrder"]?.stringValue else { return .failure(OrderProblem(message: "the answer named no MaintenanceOrder")) }
            return .success(order)
        } catch {
            return .failure(OrderProblem(message: "no answer from \(options.orderService): \(HTTPTransport.describe(error))"))
        }
    }

    public func lookup(reference: String) async -> DeliveryState.Outcome {
        // The create cuts the reference to the field's 20 characters; the filter must ask for the same text.
        let filter = OData.query("MaintNotifExtReferenceNumber eq \(OData.literal(String(reference.prefix(Self.referenceMax))))")
        let u = url(notificationService + "/MaintenanceNotification?$filter=\(filter)&$select=MaintenanceNotification,MaintNotifExtReferenceNumber&$top=1")
        do {
            let r = try await http.send(.GET, u, headers: baseHeaders)
            cookies.store(from: r.headers)
            guard r.status == 200 else {
                return LookupProof.unproven("SAP answered HTTP \(r.status): \(Self.describe(r))", retryAfter: HTTPTransport.retryAfter(r.headers))
            }
            guard let results = r.json?["d"]?["results"]?.arrayValue else { return LookupProof.inconclusive("SAP's answer has no d.results: \(r.text)") }
            guard let first = results.first else { return .lookupNotFound }
            guard let id = first["MaintenanceNotification"]?.stringValue, !id.isEmpty else {
                return LookupProof.inconclusive("a notification carries \(reference) but has no MaintenanceNotification number")
            }
            return .lookupFound(cmmsId: id)
        } catch {
            return LookupProof.unproven("SAP did not answer: \(HTTPTransport.describe(error))")
        }
    }

    func read(_ cmmsId: String, select: String) async throws -> HTTPTransport.Response {
        let key = OData.query(OData.literal(cmmsId))
        let r = try await http.send(.GET, url(notificationService + "/MaintenanceNotification(\(key))?$select=\(select)"), headers: baseHeaders)
        cookies.store(from: r.headers)
        return r
    }

    public func status(cmmsId: String) async throws -> CMMSStatus? {
        let r = try await read(cmmsId, select: "MaintenanceNotification,NotifProcessingPhase,ConcatenatedActiveSystStsName,MaintNotificationCodeGroup,MaintNotificationCode")
        guard r.status == 200, let d = r.json?["d"] else {
            throw ConnectorError.misconfigured("status of notification \(cmmsId): HTTP \(r.status) \(Self.describe(r))")
        }
        return mapStatus(phase: d["NotifProcessingPhase"]?.stringValue, systemStatus: d["ConcatenatedActiveSystStsName"]?.stringValue,
                         codeGroup: d["MaintNotificationCodeGroup"]?.stringValue, code: d["MaintNotificationCode"]?.stringValue)
    }

    public func mapStatus(phase: String?, systemStatus: String?, codeGroup: String?, code: String?) -> CMMSStatus {
        let words = (systemStatus ?? "").split(whereSeparator: { $0 == " " || $0 == "," }).map { String($0).uppercased() }
        var status: CMMSStatus?
        // Configured mappings first, in the order the statuses appear.
        for w in words { if let s = settings.statusMap[w] { status = s; break } }
        if status == nil {
            if words.contains("DLFL") { status = .cancelled }
            else if words.contains("NOCO") { status = .completed }
            else if words.contains("ORAS") || words.contains("NOPR") { status = .inProgress }
            else if words.contains("OSNO") { status = .open }
        }
        if status == nil {
            switch phase {
            case "3": status = .inProgress
            case "4": status = .completed
            case "5": status = .cancelled
            default: status = .open
            }
        }
        if status == .completed, let fp = options.falsePositiveCode, !fp.isEmpty, code == fp,
           options.falsePositiveCodeGroup.map({ $0 == codeGroup }) ?? true {
            return .falsePositive
        }
        return status ?? .open
    }

    /// Appends the note through `MaintNotifLongTextForEdit` (SAP adds it to the long text),
    /// with the ETag from a fresh read as `If-Match`.
    public func addNote(cmmsId: String, text: String) async -> Bool {
        guard let r = try? await read(cmmsId, select: "MaintenanceNotification"), r.status == 200 else { return false }
        let etag = r.headers.first(name: "ETag") ?? r.json?["d"]?["__metadata"]?["etag"]?.stringValue ?? "*"
        let body = (try? JSONEncoder().encode(JSONValue.object(["MaintNotifLongTextForEdit": .string(String(text.prefix(Self.longTextMax)))]))) ?? Data()
        guard let p = try? await modify(.PATCH, service: notificationService, path: "/MaintenanceNotification(\(OData.query(OData.literal(cmmsId))))",
                                        headers: [("Content-Type", "application/json"), ("If-Match", etag)], body: body) else { return false }
        return (200..<300).contains(p.status)
    }

    /// `GET MaintenanceNotification('…')?$select=…` (the closure code: the coding
    /// `MaintNotificationCodeGroup`/`MaintNotificationCode` after the system status; the technician's
    /// entries of `MaintNotificationLongText`, read-only in the EDMX) and `API_CV_ATTACHMENT_SRV`'s
    /// `GetAllOriginals` for the notification's key (each original's `FileName`, `MimeType`,
    /// `CreationDateTime` and `__metadata.media_src`, `AttachmentContentSet(…)/$value`, the file itself).
    public func readBack(cmmsId: String, reference: String) async -> CMMSReadbackResult {
        do {
            let r = try await read(cmmsId, select: "MaintenanceNotification,ConcatenatedActiveSystStsName,MaintNotificationCodeGroup,MaintNotificationCode,MaintNotificationLongText")
            guard r.status == 200, let d = r.json?["d"] else { return .failed("reading notification \(cmmsId) answered HTTP \(r.status): \(Self.describe(r))") }
            var out = CMMSReadback()
            let coding = [d["MaintNotificationCodeGroup"]?.stringValue, d["MaintNotificationCode"]?.stringValue].compactMap { $0 }.filter { !$0.isEmpty }
            let status = d["ConcatenatedActiveSystStsName"]?.stringValue ?? ""
            out.closureCode = ([status] + (coding.isEmpty ? [] : ["coding " + coding.joined(separator: "/")])).filter { !$0.isEmpty }.joined(separator: ", ")
            out.notes = Self.longTextEntries(d["MaintNotificationLongText"]?.stringValue ?? "", reference: reference)
            let query = "LinkedSAPObjectKey=\(OData.query(OData.literal(attachmentKey(cmmsId))))&BusinessObjectTypeName=\(OData.query(OData.literal(attachmentObjectType)))"
            let a = try await http.send(.GET, url(attachmentService + "/GetAllOriginals?" + query), headers: baseHeaders)
            if a.status == 200 {
                let files = (a.json?["d"]?["results"]?.arrayValue ?? a.json?["d"]?.arrayValue ?? []).compactMap { o -> ReadbackSupport.Listed? in
                    guard let name = o["FileName"]?.stringValue, let src = o["__metadata"]?["media_src"]?.stringValue else { return nil }
                    return ReadbackSupport.Listed(name: name, contentType: o["MimeType"]?.stringValue, url: src,
                                                  createdAt: o["CreationDateTime"]?.stringValue.flatMap(OData.parseDate))
                }
                let (photo, refused) = ReadbackSupport.choosePhoto(files, reference: reference)
                out.refused += refused
                if let photo { await ReadbackSupport.fetchPhoto(photo, base: base, auth: HTTPTransport.authHeaders(settings.auth), http: http, into: &out) }
            } else {
                out.refused.append("GetAllOriginals answered HTTP \(a.status): \(CMMSReadback.cut(Self.describe(a), 150))")
            }
            return .read(out.bounded())
        } catch {
            return .failed("SAP did not answer: \(HTTPTransport.describe(error))")
        }
    }

    /// The technician's entries of a notification's long text. SAP starts each entry added to it
    /// with a header line (`29.11.2026 17:02:11 UTC ( TECH01 )`); entries that carry our reference
    /// (the text we created the notification with) or are Millwright's notes are left out. Text
    /// before any header is one entry.
    public static func longTextEntries(_ text: String, reference: String) -> [ReadbackNote] {
        var entries: [(header: String?, lines: [String])] = [(nil, [])]
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if isLongTextHeader(line) { entries.append((line, [])) } else { entries[entries.count - 1].lines.append(line) }
        }
        return entries.compactMap { e in
            let body = e.lines.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
            guard !body.isEmpty, !LookupProof.descriptionNames(body, reference: reference), !CMMSReadback.isOwnNote(body) else { return nil }
            let author = e.header.flatMap { h in h.range(of: "(").map { String(h[$0.upperBound...].prefix { $0 != ")" }).trimmingCharacters(in: .whitespaces) } }
            return ReadbackNote(text: body, author: author)
        }
    }

    /// `DD.MM.YYYY HH:MM:SS …`: the header SAP writes above each long-text entry.
    static func isLongTextHeader(_ line: String) -> Bool {
        let u = Array(line.utf8)
        guard u.count >= 19 else { return false }
        let digits: Set<Int> = [0, 1, 3, 4, 6, 7, 8, 9, 11, 12, 14, 15, 17, 18]
        for i in 0..<19 {
            let c = u[i]
            if digits.contains(i) { if !(c >= 48 && c <= 57) { return false } }
            else if [2, 5].contains(i) { if c != 46 { return false } }
            else if i == 10 { if c != 32 { return false } }
            else if c != 58 { return false }
        }
        return true
    }

    /// The key the attachment service expects for a notification: QMNUM, 12 digits.
    public func attachmentKey(_ cmmsId: String) -> String {
        guard attachmentObjectType == "PMQMEL" || attachmentObjectType == "BUS2038", cmmsId.allSatisfy(\.isNumber), cmmsId.count < 12 else { return cmmsId }
        return String(repeating: "0", count: 12 - cmmsId.count) + cmmsId
    }

    public func attach(cmmsId: String, filename: String, jpeg: Data) async -> Bool {
        let headers = [("Content-Type", "image/jpeg"), ("Slug", filename), ("BusinessObjectTypeName", attachmentObjectType),
                       ("LinkedSAPObjectKey", attachmentKey(cmmsId))]
        guard let r = try? await modify(.POST, service: attachmentService, path: "/AttachmentContentSet", headers: headers, body: jpeg) else { return false }
        return r.status == 201 || r.status == 200
    }

    /// SAP's default maximum attachment size for GOS/DMS uploads is commonly configured at a
    /// few MB; stay well under it.
    public var attachmentLimitBytes: Int { settings.attachmentLimitBytes ?? 4_000_000 }

    public func checkConnection() async -> [ConnectionCheck] {
        var checks: [ConnectionCheck] = []
        do {
            let r = try await fetchToken(notificationService)
            switch r.status {
            case 200 where tokens.get(notificationService) != nil:
                checks.append(ConnectionCheck(step: "authenticate", ok: true, detail: "signed in; CSRF token issued by API_MAINTNOTIFICATION"))
            case 200:
                checks.append(ConnectionCheck(step: "authenticate", ok: false, detail: "HTTP 200 but no x-csrf-token in the answer",
                                              fix: "is base_url the SAP Gateway host (not a proxy that strips headers)?"))
                return checks
            case 401:
                checks.append(ConnectionCheck(step: "authenticate", ok: false, detail: "HTTP 401: \(Self.describe(r))",
                                              fix: "check the user and password in cmms[\(name)].auth, and that the user is not locked"))
                return checks
            case 403:
                checks.append(ConnectionCheck(step: "authenticate", ok: false, detail: "HTTP 403: \(Self.describe(r))",
                                              fix: "give the user a role with the business catalog for maintenance notifications (communication arrangement SAP_COM_0398 in the cloud)"))
                return checks
            case 404:
                checks.append(ConnectionCheck(step: "authenticate", ok: false, detail: "HTTP 404 for API_MAINTNOTIFICATION",
                                              fix: "activate the OData service API_MAINTNOTIFICATION in /IWFND/MAINT_SERVICE, or set sap.notification_service"))
                return checks
            default:
                checks.append(ConnectionCheck(step: "authenticate", ok: false, detail: "HTTP \(r.status): \(Self.describe(r))", fix: "check base_url and sap.client"))
                return checks
            }
            let m = try await http.send(.GET, url(notificationService + "/$metadata"), headers: baseHeaders)
            let meta = String(decoding: m.body, as: UTF8.self)
            let creatable = m.status == 200 && meta.contains("EntitySet Name=\"MaintenanceNotification\"") && meta.contains("MaintNotifExtReferenceNumber")
            checks.append(ConnectionCheck(step: "create permission", ok: creatable,
                                          detail: creatable ? "MaintenanceNotification is creatable (service metadata; SAP has no dry-run create)" : "HTTP \(m.status): metadata lacks MaintenanceNotification/MaintNotifExtReferenceNumber",
                                          fix: creatable ? nil : "the service version is too old or not the standard API_MAINTNOTIFICATION"))
            let a = try await fetchToken(attachmentService)
            let attachOK = a.status == 200 && tokens.get(attachmentService) != nil
            checks.append(ConnectionCheck(step: "attachment upload", ok: attachOK,
                                          detail: attachOK ? "API_CV_ATTACHMENT_SRV reachable (object type \(attachmentObjectType))" : "HTTP \(a.status) from API_CV_ATTACHMENT_SRV",
                                          fix: attachOK ? nil : "activate API_CV_ATTACHMENT_SRV and allow the user document uploads for \(attachmentObjectType)"))
            if options.createOrder {
                let o = try await fetchToken(orderService)
                let ok = o.status == 200 && tokens.get(orderService) != nil
                checks.append(ConnectionCheck(step: "order service", ok: ok, detail: ok ? "API_MAINTENANCEORDER reachable" : "HTTP \(o.status) from API_MAINTENANCEORDER",
                                              fix: ok ? nil : "activate API_MAINTENANCEORDER or set sap.create_order: false"))
            }
        } catch {
            checks.append(ConnectionCheck(step: "reach", ok: false, detail: HTTPTransport.describe(error), fix: "check base_url \(settings.baseURL), TLS and the network path to SAP"))
        }
        return checks
    }
}

extension SAPPMConnector {
    /// The OData V2 master-data services SAP publishes beside the notification API (SAP Business Accelerator
    /// Hub: "Equipment" `API_EQUIPMENT`, entity set `Equipment`; "Functional Location" `API_FUNCTIONALLOCATION_SRV`,
    /// entity set `FunctionalLocation`). Their EDMX files are not among the specs this repository holds
    /// (`Tests/Fixtures/specs/cmms`: the notification EDMX has no equipment or functional-location set and no
    /// value help to read them), so only the key property, named like its set, is used.
    static let masterData: [MappedReference.Kind: (service: String, set: String)] = [
        .asset: ("/sap/opu/odata/sap/API_EQUIPMENT", "Equipment"),
        .location: ("/sap/opu/odata/sap/API_FUNCTIONALLOCATION_SRV", "FunctionalLocation"),
    ]

    /// One `$filter=<Set> eq 'A' or <Set> eq 'B' …` read per batch of 40, `$top` above the batch: a value
    /// in `d.results` exists, one absent from the answer is missing. Functional locations are asked only
    /// when `sap.technical_object` sends them. Users (`PersonResponsible`, a personnel number) are not: no
    /// service for them is in the specs here.
    public func checkReferences(_ references: [MappedReference]) async -> [ReferenceCheck] {
        let (ask, skipped) = ReferenceChecks.bounded(references)
        var answers: [MappedReference: ReferenceCheck] = [:]
        for ref in ask {
            if ref.kind == .user { answers[ref] = ReferenceCheck(ref, .notCheckable("SAP personnel numbers are not read: no HR/business-partner service is configured")) }
            if ref.kind == .location, options.technicalObject != .functionalLocation {
                answers[ref] = ReferenceCheck(ref, .notCheckable("not sent to SAP: sap.technical_object is equipment"))
            }
        }
        for (kind, (service, set)) in Self.masterData.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            for batch in ReferenceChecks.batches(ask.filter { $0.kind == kind && answers[$0] == nil }) {
                let filter = batch.map { "\(set) eq \(OData.literal($0.id))" }.joined(separator: " or ")
                let u = url(base + service + "/\(set)?$select=\(set)&$top=\(ReferenceChecks.batchSize * 2)&$filter=" + OData.query(filter))
                let results: [ReferenceCheck]
                do {
                    let r = try await http.send(.GET, u, headers: baseHeaders)
                    cookies.store(from: r.headers)
                    if r.status == 200, let items = r.json?["d"]?["results"]?.arrayValue {
                        results = ReferenceChecks.fromList(batch, asked: \.id, found: Set(items.compactMap { $0[set]?.stringValue }),
                                                           notFound: "\(set) not found in \(service.split(separator: "/").last ?? "")")
                    } else {
                        let hint = r.status == 404 ? " (is \(service) activated in /IWFND/MAINT_SERVICE?)" : r.status == 403 ? " (the user needs read authorization for \(set))" : ""
                        results = batch.map { ReferenceCheck($0, .unknown("HTTP \(r.status): \(ReferenceChecks.bounded(Self.describe(r)))" + hint)) }
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
