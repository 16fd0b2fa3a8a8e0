import Foundation
import HTTPTypes
import Hummingbird
import MillwrightCore
import NIOCore

/// `millwright emulate sap-pm`: SAP S/4HANA PM's OData V2 services as Millwright uses them.
///
/// Covers, under `/sap/opu/odata/sap/`:
/// - `API_MAINTNOTIFICATION`: service root and `$metadata` (the real EDMX), CSRF token fetch
///   (`X-CSRF-Token: Fetch`, bound to the `SAP_SESSIONID_EMU_100` cookie; modifying requests
///   without a valid token + cookie get `403` `x-csrf-token: Required`), `POST MaintenanceNotification`
///   validated against the EDMX (unknown or read-only property, wrong Edm type, MaxLength exceeded,
///   missing NotificationText → `400` in SAP's error format), `GET` by key and with
///   `$filter=<Property> eq '…'` and `$select`, `PATCH`/`MERGE` with `If-Match` (long text is appended),
///   function imports `SetMaintNotifToInProcess` and `CompleteMaintNotification` (a technician's status change).
/// - `API_MAINTENANCEORDER`: `POST MaintenanceOrder` validated against the v2 EDMX; linking a notification puts it in process.
/// - `API_CV_ATTACHMENT_SRV`: `GET GetAllOriginals` and `AttachmentContentSet(…)/$value` (a notification's files);
///   `POST AttachmentContentSet` (binary body; `Slug`, `BusinessObjectTypeName`
///   PMQMEL/BUS2038, `LinkedSAPObjectKey` = 12-digit notification number, all required).
/// Basic auth (any user unless `--credentials` lists `user:password`).
/// Helpers: `POST /_emulator/sap/expire-csrf` (invalidate all tokens, as a session timeout does),
/// `POST /_emulator/sap/notifications/{id}` `{"status": "open|in_progress|completed|cancelled|false_positive",
/// "code_group": "…", "code": "…"}` (set status and coding as a technician would).
/// Contracts: the entity types of the three services as built-in tables (`SpecTables.swift`, every
/// property of the official EDMX files, checked against them by the tests); `Models.load(from:)` with a
/// folder of the EDMX files instead reads them (the tests do, and `$metadata` then answers the real file).
public enum SAPPMEmulator {
    public static let prefix = "/sap/opu/odata/sap/"

    public struct Models: Sendable {
        public var notification: EDMXModel
        public var order: EDMXModel
        public var attachment: EDMXModel
        public var metadataFiles: [String: URL]

        public static func load(from dir: URL? = nil) -> Models {
            func model(_ file: String, _ fallback: [String]) -> (EDMXModel, URL?) {
                if let u = SpecFiles.file(file, in: dir), var m = try? EDMXModel.load(u) {
                    // Customer extension fields (ZZ1_…) belong to one tenant, not to the standard API.
                    for (n, var t) in m.entityTypes {
                        for p in t.properties.keys where p.hasPrefix("ZZ1_") || p.hasPrefix("YY1_") { t.properties[p] = nil; t.order.removeAll { $0 == p } }
                        m.entityTypes[n] = t
                    }
                    return (m, u)
                }
                return (EDMXModel.embedded(fallback), nil)
            }
            let (n, nu) = model("sap-API_MAINTNOTIFICATION.edmx.xml", embeddedNotification)
            let (o, ou) = model("sap-API_MAINTENANCEORDER-v2.edmx.xml", embeddedOrder)
            let (a, au) = model("sap-API_CV_ATTACHMENT_SRV.edmx.xml", embeddedAttachment)
            var files: [String: URL] = [:]
            files["API_MAINTNOTIFICATION"] = nu; files["API_MAINTENANCEORDER"] = ou; files["API_CV_ATTACHMENT_SRV"] = au
            return Models(notification: n, order: o, attachment: a, metadataFiles: files)
        }
    }

    public static func router(state: EmulatorState) -> Hummingbird.Router<BasicRequestContext> {
        router(state: state, models: .load())
    }

    public static func router(state: EmulatorState, models: Models) -> Hummingbird.Router<BasicRequestContext> {
        let router = Hummingbird.Router()
        let sap = SAPStore()
        router.add(middleware: FaultInjection(state: state))
        EmulatorHTTP.addInspection(to: router, state: state, kind: "sap-pm")
        router.post("/_emulator/sap/expire-csrf") { _, _ in
            await sap.expireTokens()
            return EmulatorHTTP.json(status: .ok, ["expired": true])
        }
        router.post("/_emulator/sap/notifications/:id") { request, context in
            let body = (try? JSONValue.parse(try await EmulatorHTTP.body(request))) ?? .null
            guard let id = context.parameters.get("id"), let status = body["status"]?.stringValue, CMMSStatus(rawValue: status) != nil else {
                return EmulatorHTTP.json(status: .badRequest, ["error": "send {\"status\": open|in_progress|completed|cancelled|false_positive}"])
            }
            guard await state.update(id: id, { $0.status = status }) != nil else { return EmulatorHTTP.json(status: .notFound, ["error": "no notification \(id)"]) }
            await sap.setCoding(id, group: body["code_group"]?.stringValue, code: body["code"]?.stringValue)
            return EmulatorHTTP.json(status: .ok, ["status": status])
        }
        // --preload: unrelated notifications as API_MAINTNOTIFICATION holds them (CreationDate from the record's time).
        state.preload { s in
            let b: [String: JSONValue] = ["NotificationText": .string(String(s.title.prefix(40))), "NotificationType": .string(["M1", "M2"][s.index % 2]),
                                          "MaintPriority": .string(String(s.priority)), "TechnicalObject": .string(s.asset), "TechObjIsEquipOrFuncnlLoc": .string("EAMS_EQUI"),
                                          "MaintNotifExtReferenceNumber": .string(s.reference)]
            return EmulatedWorkOrder(id: String(10_000_000 + (Int(s.id) ?? 0)), reference: s.reference, title: s.title, asset: s.asset, priority: String(s.priority),
                                     status: s.status, createdAt: s.createdAt, notes: [], attachments: [], body: .object(b))
        }
        let handler = Handler(state: state, sap: sap, models: models)
        for method in [HTTPRequest.Method.get, .head, .post, .patch, .put, .delete] {
            router.on("sap/opu/odata/sap/**", method: method) { request, _ in try await handler.handle(request) }
        }
        return router
    }

    // MARK: - State

    struct Notification: Sendable {
        var props: [String: JSONValue]
        var longText: [String]
        var version = 1
        var changedAt = Date()
        var codeGroup: String?
        var code: String?
        var order: String?
    }

    actor SAPStore {
        private var sessions: [String: String] = [:]   // session cookie → CSRF token
        private(set) var notifications: [String: Notification] = [:]
        private var orders: [String: [String: JSONValue]] = [:]
        private var nextOrder = 4_000_000
        private var nextDoc = 1

        func session(cookie: String?) -> (session: String, token: String, isNew: Bool) {
            if let c = cookie, let t = sessions[c] { return (c, t, false) }
            let s = UUID().uuidString.replacingOccurrences(of: "-", with: "")
            let t = Data(UUID().uuidString.utf8).base64EncodedString().prefix(24) + "=="
            sessions[s] = String(t)
            return (s, String(t), true)
        }
        func valid(cookie: String?, token: String?) -> Bool {
            guard let c = cookie, let t = token, let expected = sessions[c] else { return false }
            return expected == t
        }
        func expireTokens() { sessions.removeAll() }
        func add(_ id: String, _ n: Notification) { notifications[id] = n }
        func get(_ id: String) -> Notification? { notifications[id] }
        func change(_ id: String, _ f: (inout Notification) -> Void) -> Notification? {
            guard var n = notifications[id] else { return nil }
            f(&n); n.version += 1; n.changedAt = Date()
            notifications[id] = n
            return n
        }
        func setCoding(_ id: String, group: String?, code: String?) {
            guard group != nil || code != nil else { return }
            _ = change(id) { n in if let group { n.codeGroup = group }; if let code { n.code = code } }
        }
        func addOrder(_ props: [String: JSONValue]) -> String {
            nextOrder += 1
            let id = String(nextOrder)
            var p = props; p["MaintenanceOrder"] = .string(id)
            orders[id] = p
            return id
        }
        func docNumber() -> String { nextDoc += 1; return String(format: "%010d", nextDoc) }
    }

    // MARK: - Requests

    struct Handler: Sendable {
        let state: EmulatorState
        let sap: SAPStore
        let models: Models
        static let csrfHeader = HTTPField.Name("x-csrf-token")!
        static let cookieName = "SAP_SESSIONID_EMU_100"

        func handle(_ request: Request) async throws -> Response {
            guard authorized(request) else {
                var h = HTTPFields()
                h[.wwwAuthenticate] = "Basic realm=\"SAP NetWeaver Application Server [EMU/100]\""
                h[.contentType] = "text/plain"
                return Response(status: .unauthorized, headers: h, body: .init(byteBuffer: ByteBuffer(string: "Logon failed: send Authorization: Basic with a valid user")))
            }
            let raw = String(request.uri.path.dropFirst(prefix.count))
            let path = raw.removingPercentEncoding ?? raw
            let (named, rest) = path.firstIndex(of: "/").map { (String(path[..<$0]), String(path[path.index(after: $0)...])) } ?? (path, "")
            // A service may be addressed with its version, `API_MAINTENANCEORDER;v=0002` (SAP Gateway: service
            // name, then `;v=` and the four-digit version; v0001 is the default). API_MAINTENANCEORDER is
            // served as v0001 and v0002 (the v2 EDMX in the spec folder); the others as v0001 only.
            var service = named
            if let semi = named.firstIndex(of: ";") {
                service = String(named[..<semi])
                let version = named[named.index(after: semi)...].replacingOccurrences(of: "v=", with: "")
                let served = service == "API_MAINTENANCEORDER" ? ["0001", "0002"] : ["0001"]
                guard named[named.index(after: semi)...].hasPrefix("v="), served.contains(version) else {
                    return odataError(.notFound, code: "/IWFND/MED/170", "No service found for namespace '', name '\(service)', version '\(version)'")
                }
            }
            var method = request.method
            if method == .post, let override = request.headers[HTTPField.Name("X-HTTP-Method")!]?.uppercased() {
                if override == "MERGE" || override == "PATCH" { method = .patch } else if override == "DELETE" { method = .delete }
            }
            let cookie = sessionCookie(request)
            let isFetch = request.headers[Self.csrfHeader]?.lowercased() == "fetch"

            if method == .get || method == .head {
                var h = HTTPFields()
                if isFetch {
                    let s = await sap.session(cookie: cookie)
                    h[Self.csrfHeader] = s.token
                    if s.isNew { h.append(HTTPField(name: .setCookie, value: "\(Self.cookieName)=\(s.session); path=/; HttpOnly")) }
                }
                let r = try await get(service: service, rest: rest, request: request)
                var merged = r.headers
                for f in h { merged.append(f) }
                return Response(status: r.status, headers: merged, body: r.body)
            }
            // Every modifying request needs the token bound to the session cookie.
            guard await sap.valid(cookie: cookie, token: request.headers[Self.csrfHeader]) else {
                var h = HTTPFields()
                h[Self.csrfHeader] = "Required"
                h[.contentType] = "text/plain"
                return Response(status: .forbidden, headers: h, body: .init(byteBuffer: ByteBuffer(string: "CSRF token validation failed")))
            }
            switch (service, method) {
            case ("API_MAINTNOTIFICATION", .post) where rest == "MaintenanceNotification": return try await createNotification(request)
            case ("API_MAINTNOTIFICATION", .post) where models.notification.functionImports.contains(rest) || ["SetMaintNotifToInProcess", "CompleteMaintNotification"].contains(rest):
                return await functionImport(rest, request)
            case ("API_MAINTNOTIFICATION", .patch): return try await patchNotification(rest, request)
            case ("API_MAINTENANCEORDER", .post) where rest == "MaintenanceOrder": return try await createOrder(request)
            case ("API_CV_ATTACHMENT_SRV", .post) where rest == "AttachmentContentSet": return try await upload(request)
            default: return odataError(.methodNotAllowed, code: "/IWBEP/CM_MGW_RT/001", "Method '\(method)' not supported for '\(service)/\(rest)' by the emulator")
            }
        }

        func authorized(_ request: Request) -> Bool {
            guard let auth = request.headers[.authorization], auth.hasPrefix("Basic "),
                  let decoded = Data(base64Encoded: String(auth.dropFirst(6))).map({ String(decoding: $0, as: UTF8.self) }),
                  let colon = decoded.firstIndex(of: ":"), colon != decoded.startIndex else { return false }
            if let valid = state.options.credentials { return valid.contains(decoded) }
            return true
        }

        func sessionCookie(_ request: Request) -> String? {
            for field in request.headers where field.name == .cookie {
                for part in field.value.split(separator: ";") {
                    let kv = part.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
                    if kv.count == 2, kv[0] == Self.cookieName { return String(kv[1]) }
                }
            }
            return nil
        }

        func get(service: String, rest: String, request: Request) async throws -> Response {
            if let set = SAPPMEmulator.masterDataSets[service] {
                return SAPPMEmulator.masterData(service: service, set: set, rest: rest, request: request, tenant: state.options.tenant)
            }
            guard ["API_MAINTNOTIFICATION", "API_MAINTENANCEORDER", "API_CV_ATTACHMENT_SRV"].contains(service) else {
                return odataError(.notFound, code: "/IWFND/MED/170", "No service found for namespace '', name '\(service)', version '0001'")
            }
            if rest.isEmpty {
                let model = service == "API_MAINTNOTIFICATION" ? models.notification : service == "API_MAINTENANCEORDER" ? models.order : models.attachment
                return EmulatorHTTP.json(status: .ok, ["d": ["EntitySets": model.entitySets.keys.sorted()]])
            }
            if rest == "$metadata" {
                if let u = models.metadataFiles[service], let data = try? Data(contentsOf: u) {
                    return Response(status: .ok, headers: [.contentType: "application/xml"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
                }
                let model = service == "API_MAINTNOTIFICATION" ? models.notification : service == "API_MAINTENANCEORDER" ? models.order : models.attachment
                return Response(status: .ok, headers: [.contentType: "application/xml"], body: .init(byteBuffer: ByteBuffer(string: minimalMetadata(model))))
            }
            if service == "API_CV_ATTACHMENT_SRV" { return await originals(rest, request) }
            guard service == "API_MAINTNOTIFICATION" else { return odataError(.notFound, code: "/IWBEP/CM_MGW_RT/005", "Resource '\(rest)' not found in the emulated \(service)") }
            let type = models.notification.type(ofSet: "MaintenanceNotification")!
            var select: [String]?
            if let s = request.uri.queryParameters.get("$select") {
                let names = s.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                if let bad = names.first(where: { type.properties[$0] == nil }) {
                    return odataError(.badRequest, code: "/IWBEP/CM_MGW_RT/021", "Property '\(bad)' at offset '0' is invalid", target: bad)
                }
                select = names
            }
            if rest == "MaintenanceNotification" {
                let items = await state.all()
                let q = request.uri.queryParameters
                var clauses: [(String, String)] = []
                if let f = q.get("$filter") {
                    for part in f.components(separatedBy: " and ") {
                        guard let (prop, value) = parseFilter(part), type.properties[prop] != nil else {
                            return odataError(.badRequest, code: "/IWBEP/CM_MGW_RT/022", "Invalid filter expression '\(f)' (the emulator supports <Property> eq '<value>' joined by and)")
                        }
                        clauses.append((prop, value))
                    }
                }
                // Paging as OData V2 defines it (odata.org, URI Conventions V2, 4.3 $top, 4.4 $skip, 4.9 $inlinecount;
                // 4.2 $orderby `Prop [asc|desc]`): $skip then $top over the ordered set, `__count` (a string) with
                // $inlinecount=allpages. Without $orderby the order is the key's, ascending.
                var views: [[String: JSONValue]] = []
                for w in items.sorted(by: { (Int($0.id) ?? 0) < (Int($1.id) ?? 0) }) {
                    let v = await view(w)
                    if clauses.allSatisfy({ v[$0.0]?.stringValue == $0.1 }) { views.append(v) }
                }
                if let order = q.get("$orderby") {
                    var keys: [(String, Bool)] = []
                    for part in order.split(separator: ",") {
                        let t = part.split(separator: " ").map(String.init)
                        guard let k = t.first, type.properties[k] != nil, t.count == 1 || (t.count == 2 && ["asc", "desc"].contains(t[1])) else {
                            return odataError(.badRequest, code: "/IWBEP/CM_MGW_RT/022", "Invalid $orderby expression '\(order)'")
                        }
                        keys.append((k, t.count == 2 && t[1] == "desc"))
                    }
                    views.sort { a, b in
                        for (k, desc) in keys {
                            let x = Self.sortKey(a[k]), y = Self.sortKey(b[k])
                            if x != y { return desc ? x > y : x < y }
                        }
                        return false
                    }
                }
                let skip = q.get("$skip").map { Int($0) } ?? 0, top = q.get("$top").map { Int($0) } ?? nil
                guard let skip, skip >= 0 else { return odataError(.badRequest, code: "/IWBEP/CM_MGW_RT/024", "$skip must be a non-negative integer") }
                if let raw = q.get("$top"), top == nil || top! < 0 { return odataError(.badRequest, code: "/IWBEP/CM_MGW_RT/024", "Invalid $top value '\(raw)'") }
                let page = Paging.slice(views, offset: skip, limit: top ?? views.count).page
                var d: [String: JSONValue] = ["results": .array(page.map { .object(project($0, select)) })]
                if let c = q.get("$inlinecount") {
                    guard ["allpages", "none"].contains(c) else { return odataError(.badRequest, code: "/IWBEP/CM_MGW_RT/024", "Invalid $inlinecount value '\(c)'") }
                    if c == "allpages" { d["__count"] = .string(String(views.count)) }
                }
                return EmulatorHTTP.json(status: .ok, ["d": JSONValue.object(d)])
            }
            guard let id = key(rest, set: "MaintenanceNotification"), let wo = await state.find(id: id) else {
                return odataError(.notFound, code: "/IWBEP/CM_MGW_RT/020", "Resource not found for segment '\(rest)'")
            }
            let v = await view(wo)
            let etag = v["__metadata"]?["etag"]?.stringValue ?? ""
            return EmulatorHTTP.json(status: .ok, ["d": JSONValue.object(project(v, select))], headers: [.eTag: etag])
        }

        /// A comparable form of a property: `/Date(ms)/` and numbers by value, strings as they are.
        static func sortKey(_ v: JSONValue?) -> String {
            guard let s = v?.stringOrNumber else { return "" }
            if s.hasPrefix("/Date("), let ms = Int64(s.dropFirst(6).prefix { $0.isNumber || $0 == "-" }) { return String(format: "%020lld", ms + 1 << 60) }
            if let n = Double(s) { return String(format: "%030.6f", n + 1e15) }
            return s
        }

        func project(_ v: [String: JSONValue], _ select: [String]?) -> [String: JSONValue] {
            guard let select else { return v }
            var out: [String: JSONValue] = ["__metadata": v["__metadata"] ?? .null]
            for s in select { out[s] = v[s] ?? .null }
            return out
        }

        /// `MaintenanceNotification('10001001')` → `10001001`.
        func key(_ segment: String, set: String) -> String? {
            guard segment.hasPrefix(set + "('"), segment.hasSuffix("')") else { return nil }
            return String(segment.dropFirst(set.count + 2).dropLast(2)).replacingOccurrences(of: "''", with: "'")
        }

        func parseFilter(_ f: String) -> (String, String)? {
            let parts = f.components(separatedBy: " eq ")
            guard parts.count == 2 else { return nil }
            let prop = parts[0].trimmingCharacters(in: .whitespaces)
            let v = parts[1].trimmingCharacters(in: .whitespaces)
            guard v.count >= 2, v.hasPrefix("'"), v.hasSuffix("'"), prop.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else { return nil }
            return (prop, String(v.dropFirst().dropLast()).replacingOccurrences(of: "''", with: "'"))
        }

        static func sapStatus(_ s: String, order: String?) -> (phase: String, system: String) {
            switch CMMSStatus(rawValue: s) ?? .open {
            case .open: return ("1", order == nil ? "OSNO" : "OSNO ORAS")
            case .inProgress: return ("3", order == nil ? "NOPR" : "NOPR ORAS")
            case .completed, .falsePositive: return ("4", "NOCO")
            case .cancelled: return ("4", "NOCO DLFL")
            }
        }

        func view(_ w: EmulatedWorkOrder) async -> [String: JSONValue] {
            let n = await sap.get(w.id)
            var v = n?.props ?? w.body.objectValue ?? [:]
            v.removeValue(forKey: "MaintNotifLongTextForEdit")
            let st = Self.sapStatus(w.status, order: n?.order)
            v["MaintenanceNotification"] = .string(w.id)
            v["NotifProcessingPhase"] = .string(st.phase)
            v["ConcatenatedActiveSystStsName"] = .string(st.system)
            v["MaintNotificationLongText"] = .string(Self.longText(n?.longText ?? [], technician: w.notes.filter { !(n?.longText ?? []).contains($0) },
                                                                   at: w.completedAt ?? n?.changedAt ?? w.createdAt))
            v["MaintNotifLongTextForEdit"] = .string("")
            if let g = n?.codeGroup { v["MaintNotificationCodeGroup"] = .string(g) }
            if let c = n?.code { v["MaintNotificationCode"] = .string(c) }
            if n?.code == nil, let closure = w.closureCode {
                // The technician's coding at completion, given as GROUP/CODE (or a code alone).
                let parts = closure.split(separator: "/", maxSplits: 1).map(String.init)
                if parts.count == 2 { v["MaintNotificationCodeGroup"] = .string(parts[0]); v["MaintNotificationCode"] = .string(parts[1]) }
                else { v["MaintNotificationCode"] = .string(closure) }
            }
            if let o = n?.order { v["MaintenanceOrder"] = .string(o) }
            let ms = Int64((n?.changedAt ?? w.createdAt).timeIntervalSince1970 * 1000)
            v["CreationDate"] = .string("/Date(\(Int64(w.createdAt.timeIntervalSince1970 / 86400) * 86_400_000))/")
            v["LastChangeDateTime"] = .string("/Date(\(ms)+0000)/")
            let etag = "W/\"datetimeoffset'\(ms)-\(n?.version ?? 1)'\""
            v["__metadata"] = .object(["id": .string("\(prefix)API_MAINTNOTIFICATION/MaintenanceNotification('\(w.id)')"),
                                       "uri": .string("\(prefix)API_MAINTNOTIFICATION/MaintenanceNotification('\(w.id)')"),
                                       "type": .string("\(models.notification.namespace.isEmpty ? "cds_api_maintnotification" : models.notification.namespace).MaintenanceNotificationType"),
                                       "etag": .string(etag)])
            return v
        }

        /// The long text as SAP shows it: the text the notification was created with, then each entry
        /// added later under SAP's header line (`DD.MM.YYYY HH:MM:SS UTC ( USER )`): the API user's
        /// notes, then the technician's.
        static func longText(_ api: [String], technician: [String], at: Date) -> String {
            let f = DateFormatter()
            f.locale = Locale(identifier: "en_US_POSIX"); f.timeZone = TimeZone(identifier: "UTC"); f.dateFormat = "dd.MM.yyyy HH:mm:ss"
            let stamp = f.string(from: at) + " UTC"
            var parts: [String] = []
            for (i, t) in api.enumerated() { parts.append(i == 0 ? t : "\(stamp) ( RFC_MWRIGHT )\n\(t)") }
            for t in technician { parts.append("\(stamp) ( TECH01 )\n\(t)") }
            return parts.joined(separator: "\n")
        }

        /// `GetAllOriginals?LinkedSAPObjectKey='…'&BusinessObjectTypeName='…'` (the function import in
        /// `API_CV_ATTACHMENT_SRV`): the notification's files with `__metadata.media_src`, and
        /// `AttachmentContentSet(…)/$value`, one file's bytes (`m:HasStream` in the EDMX).
        func originals(_ rest: String, _ request: Request) async -> Response {
            func param(_ text: String, _ name: String) -> String? {
                guard let r = text.range(of: name + "='") else { return nil }
                return String(text[r.upperBound...].prefix { $0 != "'" })
            }
            if rest == "GetAllOriginals" {
                let q = request.uri.queryParameters
                guard let rawKey = q.get("LinkedSAPObjectKey"), let key = param("k=" + rawKey, "k"), let type = q.get("BusinessObjectTypeName").flatMap({ param("t=" + $0, "t") }) else {
                    return odataError(.badRequest, code: "CV_ATTACHMENT_SRV/010", "Parameters LinkedSAPObjectKey and BusinessObjectTypeName are required as quoted literals")
                }
                guard let wo = await state.find(id: String(Int(key) ?? -1)) else { return EmulatorHTTP.json(status: .ok, ["d": ["results": JSONValue.array([])]]) }
                var results: [JSONValue] = []
                for (i, name) in wo.attachments.enumerated() {
                    let f = await state.storedFile(id: wo.id, name: name)
                    let keyText = "DocumentInfoRecordDocType='',DocumentInfoRecordDocNumber='',DocumentInfoRecordDocVersion='',DocumentInfoRecordDocPart='',"
                        + "LogicalDocument='\(i + 1)',ArchiveDocumentID='\(i + 1)',LinkedSAPObjectKey='\(key)',BusinessObjectTypeName='\(type)'"
                    let ms = Int64((f?.at ?? wo.createdAt).timeIntervalSince1970 * 1000)
                    results.append(.object([
                        "__metadata": .object(["media_src": .string("\(prefix)API_CV_ATTACHMENT_SRV/AttachmentContentSet(\(keyText))/$value"),
                                               "type": .string("API_CV_ATTACHMENT_SRV.AttachmentContent")]),
                        "FileName": .string(name), "MimeType": .string(f?.contentType ?? "application/octet-stream"), "FileSize": .string(String(f?.data.count ?? 0)),
                        "LinkedSAPObjectKey": .string(key), "BusinessObjectTypeName": .string(type), "ArchiveDocumentID": .string(String(i + 1)),
                        "CreationDateTime": .string("/Date(\(ms)+0000)/"),
                    ]))
                }
                return EmulatorHTTP.json(status: .ok, ["d": ["results": JSONValue.array(results)]])
            }
            if rest.hasPrefix("AttachmentContentSet("), rest.hasSuffix(")/$value"), let n = param(rest, "ArchiveDocumentID").flatMap({ Int($0) }),
               let key = param(rest, "LinkedSAPObjectKey"), let wo = await state.find(id: String(Int(key) ?? -1)), n >= 1, n <= wo.attachments.count,
               let f = await state.storedFile(id: wo.id, name: wo.attachments[n - 1]) {
                return Response(status: .ok, headers: [.contentType: f.contentType], body: .init(byteBuffer: ByteBuffer(bytes: f.data)))
            }
            return odataError(.notFound, code: "/IWBEP/CM_MGW_RT/020", "Resource not found for segment '\(rest.prefix(200))'")
        }

        func parseBody(_ request: Request) async throws -> [String: JSONValue]? {
            let data = try await EmulatorHTTP.body(request)
            return (try? JSONValue.parse(data))?.objectValue
        }

        func createNotification(_ request: Request) async throws -> Response {
            guard let body = try await parseBody(request) else {
                return odataError(.badRequest, code: "/IWBEP/CM_MGW_RT/000", "The request body is not a JSON object (Content-Type: application/json)")
            }
            let type = models.notification.type(ofSet: "MaintenanceNotification")!
            let problems = ODataValidation.validate(body, against: type, creating: true, required: ["NotificationText"])
            if !problems.isEmpty { return validationError(problems) }
            if let t = body["TechObjIsEquipOrFuncnlLoc"]?.stringValue, !["EAMS_EQUI", "EAMS_FL"].contains(t) {
                return odataError(.badRequest, code: "IWO_BAPI2/010", "Technical object type '\(t)' is not valid; use EAMS_EQUI or EAMS_FL", target: "TechObjIsEquipOrFuncnlLoc")
            }
            if body["TechnicalObject"] != nil, body["TechObjIsEquipOrFuncnlLoc"] == nil {
                return odataError(.badRequest, code: "IWO_BAPI2/011", "Enter the type of technical object (TechObjIsEquipOrFuncnlLoc)", target: "TechObjIsEquipOrFuncnlLoc")
            }
            // The priority table (T356, priority type PM): the tenant's, else the SAP standard 1–4.
            let priorities = state.options.tenant.flatMap { $0.priorities.isEmpty ? nil : $0.priorities } ?? ["1", "2", "3", "4"]
            if let p = body["MaintPriority"]?.stringValue, !priorities.contains(p) {
                return odataError(.badRequest, code: "IM/124", "Priority \(p) is not defined for priority type PM", target: "MaintPriority")
            }
            if let tenant = state.options.tenant {
                // Technical objects and people the tenant does not have, in SAP Gateway's error JSON (the message
                // texts of the PM master-data checks: "Equipment … does not exist", "Functional location … does not exist").
                if let t = body["TechnicalObject"]?.stringValue {
                    let isFL = body["TechObjIsEquipOrFuncnlLoc"]?.stringValue == "EAMS_FL"
                    if isFL, !tenant.knowsFunctionalLocation(t) {
                        return odataError(.badRequest, code: "IL/021", "Functional location \(t) does not exist", target: "TechnicalObject")
                    }
                    if !isFL, !tenant.knowsAsset(t) { return odataError(.badRequest, code: "IE/001", "Equipment \(t) does not exist", target: "TechnicalObject") }
                }
                if let p = body["PersonResponsible"]?.stringValue, !p.isEmpty, !tenant.knowsUser(p) {
                    return odataError(.badRequest, code: "IW/080", "Personnel number \(p) does not exist", target: "PersonResponsible")
                }
                if let g = body["MaintNotificationCodeGroup"]?.stringValue, !tenant.knowsCategory(g) {
                    return odataError(.badRequest, code: "QS/025", "Code group \(g) does not exist", target: "MaintNotificationCodeGroup")
                }
            }
            let text = body["MaintNotifLongTextForEdit"]?.stringValue
            let wo = await state.add { seq in
                let id = String(10_000_000 + (Int(seq) ?? 0))
                return EmulatedWorkOrder(id: id, reference: body["MaintNotifExtReferenceNumber"]?.stringValue, title: body["NotificationText"]?.stringValue ?? "",
                                         asset: body["TechnicalObject"]?.stringValue, priority: body["MaintPriority"]?.stringValue, status: "open",
                                         createdAt: Date(), notes: [], attachments: [], body: .object(body), assignee: body["PersonResponsible"]?.stringValue)
            }
            await sap.add(wo.id, Notification(props: body, longText: text.map { [$0] } ?? []))
            let v = await view(wo)
            return EmulatorHTTP.json(status: .created, ["d": JSONValue.object(v)],
                                     headers: [.location: "\(prefix)API_MAINTNOTIFICATION/MaintenanceNotification('\(wo.id)')", .eTag: v["__metadata"]?["etag"]?.stringValue ?? ""])
        }

        func patchNotification(_ segment: String, _ request: Request) async throws -> Response {
            guard let id = key(segment, set: "MaintenanceNotification"), let wo = await state.find(id: id) else {
                return odataError(.notFound, code: "/IWBEP/CM_MGW_RT/020", "Resource not found for segment '\(segment)'")
            }
            let current = await view(wo)["__metadata"]?["etag"]?.stringValue
            guard let ifMatch = request.headers[.ifMatch] else {
                return odataError(.preconditionRequired, code: "/IWBEP/CM_MGW_RT/017", "Precondition required: send If-Match with the ETag")
            }
            guard ifMatch == "*" || ifMatch == current else {
                return odataError(.preconditionFailed, code: "/IWBEP/CM_MGW_RT/019", "Precondition failed: the notification was changed meanwhile")
            }
            guard let body = try await parseBody(request) else { return odataError(.badRequest, code: "/IWBEP/CM_MGW_RT/000", "The request body is not a JSON object") }
            let problems = ODataValidation.validate(body, against: models.notification.type(ofSet: "MaintenanceNotification")!, creating: false)
            if !problems.isEmpty { return validationError(problems) }
            _ = await sap.change(id) { n in
                for (k, v) in body where k != "MaintNotifLongTextForEdit" { n.props[k] = v }
                if let t = body["MaintNotifLongTextForEdit"]?.stringValue, !t.isEmpty { n.longText.append(t) }
            }
            if let t = body["MaintNotifLongTextForEdit"]?.stringValue, !t.isEmpty { _ = await state.update(id: id) { $0.notes.append(t) } }
            return Response(status: .noContent)
        }

        func functionImport(_ name: String, _ request: Request) async -> Response {
            guard let param = request.uri.queryParameters.get("MaintenanceNotification"), param.hasPrefix("'"), param.hasSuffix("'"), param.count >= 2 else {
                return odataError(.badRequest, code: "/IWBEP/CM_MGW_RT/023", "Parameter MaintenanceNotification ('<number>') is required")
            }
            let id = String(param.dropFirst().dropLast())
            let status: String
            switch name {
            case "SetMaintNotifToInProcess": status = "in_progress"
            case "CompleteMaintNotification": status = "completed"
            default: return odataError(.notImplemented, code: "/IWBEP/CM_MGW_RT/001", "Function import \(name) is not emulated")
            }
            guard let wo = await state.update(id: id, { $0.status = status }) else {
                return odataError(.notFound, code: "IQS4/001", "Notification \(id) does not exist")
            }
            _ = await sap.change(id) { _ in }
            return EmulatorHTTP.json(status: .ok, ["d": JSONValue.object(await view(wo))])
        }

        func createOrder(_ request: Request) async throws -> Response {
            guard let body = try await parseBody(request) else { return odataError(.badRequest, code: "/IWBEP/CM_MGW_RT/000", "The request body is not a JSON object") }
            let problems = ODataValidation.validate(body, against: models.order.type(ofSet: "MaintenanceOrder")!, creating: true,
                                                    required: ["MaintenanceOrderType", "MaintenanceOrderDesc"])
            if !problems.isEmpty { return validationError(problems) }
            let notif = body["MaintenanceNotification"]?.stringValue
            if let notif, await sap.get(notif) == nil {
                return odataError(.badRequest, code: "IW/123", "Notification \(notif) does not exist", target: "MaintenanceNotification")
            }
            let id = await sap.addOrder(body)
            if let notif {
                _ = await sap.change(notif) { $0.order = id }
                _ = await state.update(id: notif) { if $0.status == "open" { $0.status = "in_progress" } }
            }
            var d = body
            d["MaintenanceOrder"] = .string(id)
            return EmulatorHTTP.json(status: .created, ["d": JSONValue.object(d)], headers: [.location: "\(prefix)API_MAINTENANCEORDER/MaintenanceOrder('\(id)')"])
        }

        func upload(_ request: Request) async throws -> Response {
            let slug = request.headers[HTTPField.Name("Slug")!]
            let objectType = request.headers[HTTPField.Name("BusinessObjectTypeName")!]
            let key = request.headers[HTTPField.Name("LinkedSAPObjectKey")!]
            let attachmentType = models.attachment.type(ofSet: "AttachmentContentSet")
            for (name, value) in [("Slug", slug), ("BusinessObjectTypeName", objectType), ("LinkedSAPObjectKey", key)] {
                guard let value, !value.isEmpty else { return odataError(.badRequest, code: "CV_ATTACHMENT_SRV/001", "Header '\(name)' is required", target: name) }
                if let max = attachmentType?.properties[name == "Slug" ? "FileName" : name]?.maxLength, value.count > max {
                    return odataError(.badRequest, code: "CV_ATTACHMENT_SRV/002", "Header '\(name)' is longer than \(max) characters", target: name)
                }
            }
            guard let objectType, ["PMQMEL", "BUS2038"].contains(objectType) else {
                return odataError(.badRequest, code: "CV_ATTACHMENT_SRV/003", "Business object type '\(objectType ?? "")' is not supported by the emulated system (PMQMEL, BUS2038)", target: "BusinessObjectTypeName")
            }
            guard let key, key.count == 12, key.allSatisfy(\.isNumber), let wo = await state.find(id: String(Int(key) ?? 0)) else {
                return odataError(.badRequest, code: "CV_ATTACHMENT_SRV/004", "Object '\(key ?? "")' of type \(objectType) does not exist (LinkedSAPObjectKey is the 12-digit notification number)", target: "LinkedSAPObjectKey")
            }
            guard let mime = request.headers[.contentType], !mime.isEmpty else {
                return odataError(.badRequest, code: "CV_ATTACHMENT_SRV/005", "Content-Type of the file is required")
            }
            let data = try await EmulatorHTTP.body(request)
            guard !data.isEmpty else { return odataError(.badRequest, code: "CV_ATTACHMENT_SRV/006", "The file is empty") }
            let name = slug!.removingPercentEncoding ?? slug!
            _ = await state.attach(id: wo.id, name: name, data: data, contentType: mime)
            let doc = await sap.docNumber()
            return EmulatorHTTP.json(status: .created, ["d": [
                "DocumentInfoRecordDocType": objectType == "PMQMEL" ? "DRW" : "", "DocumentInfoRecordDocNumber": objectType == "PMQMEL" ? doc : "",
                "DocumentInfoRecordDocVersion": objectType == "PMQMEL" ? "00" : "", "DocumentInfoRecordDocPart": objectType == "PMQMEL" ? "000" : "",
                "LogicalDocument": doc, "ArchiveDocumentID": doc, "LinkedSAPObjectKey": key, "BusinessObjectTypeName": objectType,
                "FileName": name, "MimeType": mime, "FileSize": String(data.count),
            ]])
        }

        func validationError(_ problems: [ODataValidation.Problem]) -> Response {
            let first = problems[0]
            return odataError(.badRequest, code: first.code, first.message, target: first.target,
                              details: problems.map { ["code": .string($0.code), "message": .string($0.message), "target": .string($0.target), "severity": .string("error"), "propertyref": .string("")] })
        }
    }

    /// SAP Gateway's JSON error envelope.
    /// Master data read by the existence check: `API_EQUIPMENT` → `Equipment`, `API_FUNCTIONALLOCATION_SRV` →
    /// `FunctionalLocation` (entity set and key property of the same name in SAP's published services).
    static let masterDataSets = ["API_EQUIPMENT": "Equipment", "API_FUNCTIONALLOCATION_SRV": "FunctionalLocation"]

    /// `GET /<service>/<Set>?$filter=<Set> eq 'A' or <Set> eq 'B'`: `{"d": {"results": [{<Set>: …}]}}` with the
    /// tenant's matching records (an empty `results` when none match, as OData answers a filter).
    /// Without the tenant table every value asked for is a record.
    static func masterData(service: String, set: String, rest: String, request: Request, tenant: TenantData?) -> Response {
        guard rest == set else { return Self.odataError(.notFound, code: "/IWBEP/CM_MGW_RT/005", "Resource '\(rest)' not found in the emulated \(service)") }
        let known: [String] = set == "Equipment" ? (tenant?.assets.map(\.id) ?? [])
            : (tenant?.functionalLocations ?? []) + (tenant?.assets.compactMap(\.functionalLocation) ?? [])
        var asked: [String] = []
        if let f = request.uri.queryParameters.get("$filter") {
            for clause in f.components(separatedBy: " or ") {
                let parts = clause.trimmingCharacters(in: .whitespaces).components(separatedBy: " eq ")
                guard parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == set else {
                    return Self.odataError(.badRequest, code: "/IWBEP/CM_MGW_RT/022", "Invalid filter expression: '\(f)' (emulator: \(set) eq '…' joined by or)")
                }
                let v = parts[1].trimmingCharacters(in: .whitespaces)
                guard v.count >= 2, v.hasPrefix("'"), v.hasSuffix("'") else { return Self.odataError(.badRequest, code: "/IWBEP/CM_MGW_RT/022", "Invalid filter expression: '\(f)'") }
                asked.append(String(v.dropFirst().dropLast()).replacingOccurrences(of: "''", with: "'"))
            }
        }
        let hits = known.isEmpty ? asked : known.filter { k in asked.isEmpty || asked.contains(k) }
        return EmulatorHTTP.json(status: .ok, ["d": ["results": JSONValue.array(Array(Set(hits)).sorted().map { .object([set: .string($0)]) })]])
    }

    static func odataError(_ status: HTTPResponse.Status, code: String, _ message: String, target: String = "", details: [[String: JSONValue]]? = nil) -> Response {
        let d = details ?? [["code": .string(code), "message": .string(message), "target": .string(target), "severity": .string("error"), "propertyref": .string("")]]
        let body: JSONValue = .object(["error": .object([
            "code": .string(code),
            "message": .object(["lang": .string("en"), "value": .string(message)]),
            "innererror": .object(["transactionid": .string(UUID().uuidString.replacingOccurrences(of: "-", with: "")),
                                   "errordetails": .array(d.map(JSONValue.object))]),
        ])])
        return EmulatorHTTP.json(status: status, body)
    }

    static func minimalMetadata(_ m: EDMXModel) -> String {
        var x = #"<?xml version="1.0" encoding="utf-8"?><edmx:Edmx Version="1.0" xmlns:edmx="http://schemas.microsoft.com/ado/2007/06/edmx" xmlns:sap="http://www.sap.com/Protocols/SAPData"><edmx:DataServices><Schema Namespace="emulator" xmlns="http://schemas.microsoft.com/ado/2008/09/edm">"#
        for (_, t) in m.entityTypes.sorted(by: { $0.key < $1.key }) {
            x += "<EntityType Name=\"\(t.name)\"><Key>" + t.keys.map { "<PropertyRef Name=\"\($0)\"/>" }.joined() + "</Key>"
            for n in t.order { let p = t.properties[n]!; x += "<Property Name=\"\(n)\" Type=\"\(p.type)\"" + (p.maxLength.map { " MaxLength=\"\($0)\"" } ?? "") + (p.creatable ? "" : " sap:creatable=\"false\"") + "/>" }
            x += "</EntityType>"
        }
        x += "<EntityContainer Name=\"emulator_Entities\">" + m.entitySets.sorted(by: { $0.key < $1.key }).map { "<EntitySet Name=\"\($0.key)\" EntityType=\"emulator.\($0.value)\"/>" }.joined() + "</EntityContainer>"
        return x + "</Schema></edmx:DataServices></edmx:Edmx>"
    }
}
