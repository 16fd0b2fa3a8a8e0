import Foundation
import HTTPTypes
import Hummingbird
import MillwrightCore
import NIOCore

/// `millwright emulate hxgn-eam`: HxGN EAM REST `/axis/restservices/workorders`.
///
/// Covers the `tenant` and `organization` headers (required; the organization must match the
/// record's), Basic auth, `POST` create in EAM's record structure (unknown top-level element, too
/// long `DESCRIPTION` (80) or `JOBNUM` (30), missing organization or equipment, a duplicate JOBNUM →
/// 400/409 with `{"ErrorAlert": [{"Message"}]}`), `GET /{JOBNUM}%23{ORG}` (404 when absent), and
/// `PUT /{JOBNUM}%23{ORG}` with `STATUS.STATUSCODE` (a planner's status change). No machine-readable
/// spec is public (SOURCES.md); the structure follows HxGN EAM's web-service record layout (the
/// datastream schema elements, as CERN's eam-wshub-core maps them), unknown child elements refused too.
///
/// Comments: `POST /axis/services/EWSConnector`, the web-services (SOAP) operation
/// `MP0109_AddComments_001`. Checked: credentials (WS-Security `UsernameToken` or Basic), the SOAP
/// headers `Tenant` and `Organization`, `ENTITY` EVNT only, `ENTITYKEYCODE` an existing work order of
/// that organization, `LANGUAGECODE`, `COMMENTTYPE.TYPECODE` (`*` or `+`), a non-empty `COMMENTTEXT`
/// and `ORGANIZATIONID` matching the header; a refusal is a SOAP fault (HTTP 500). Accepted comments
/// are the work order's `notes` in `/_emulator/work-orders`.
public enum HxGNEAMEmulator {
    /// Top-level elements and the children each may hold.
    static let elements: [String: Set<String>] = [
        "WORKORDERID": ["JOBNUM", "ORGANIZATIONID", "DESCRIPTION"], "EQUIPMENTID": ["EQUIPMENTCODE", "ORGANIZATIONID"],
        "DEPARTMENTID": ["DEPARTMENTCODE", "ORGANIZATIONID"], "STATUS": ["STATUSCODE"], "TYPE": ["TYPECODE"], "PRIORITY": ["PRIORITYCODE"],
        "PROBLEMCODEID": ["PROBLEMCODE", "ORGANIZATIONID"], "CLASSID": ["CLASSCODE", "ORGANIZATIONID"], "REPORTEDBY": ["PERSONCODE"],
        "ASSIGNEDTO": ["PERSONCODE"],
    ]
    static let statuses: Set<String> = ["R", "A", "Q", "IP", "C", "CANC"]

    static func alert(_ status: HTTPResponse.Status, _ message: String) -> Response {
        EmulatorHTTP.json(status: status, ["ErrorAlert": JSONValue.array([.object(["Message": .string(message), "Name": .string("EAM")])])])
    }
    static func fault(_ message: String, status: HTTPResponse.Status = .internalServerError) -> Response {
        soap(status, "<soapenv:Fault><faultcode>soapenv:Server</faultcode><faultstring>\(escaped(message))</faultstring></soapenv:Fault>")
    }
    /// Text escaped for XML character data, the emulator's own: the five predefined entities of
    /// XML 1.0 (W3C Recommendation, section 4.6 "Predefined Entities").
    static func escaped(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        // By scalar, not Character: "&" followed by a combining mark is one Character but still an "&".
        for c in text.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    static func soap(_ status: HTTPResponse.Status, _ body: String) -> Response {
        let doc = #"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>"# + body + "</soapenv:Body></soapenv:Envelope>"
        return Response(status: status, headers: [.contentType: "text/xml; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: doc)))
    }
    /// The text of the first element `name` (any namespace prefix) inside `xml`, entities decoded.
    static func element(_ name: String, in xml: String) -> String? {
        let pattern = "<(?:[A-Za-z0-9_.-]+:)?\(name)(?:\\s[^>]*)?>(.*?)</(?:[A-Za-z0-9_.-]+:)?\(name)>"
        guard let re = try? NSRegularExpression(pattern: pattern, options: [.dotMatchesLineSeparators]),
              let m = re.firstMatch(in: xml, range: NSRange(xml.startIndex..., in: xml)), let r = Range(m.range(at: 1), in: xml) else { return nil }
        return String(xml[r])
            .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&apos;", with: "'")
            .replacingOccurrences(of: "&amp;", with: "&")
    }
    static func common(_ code: String) -> String { ["IP": "in_progress", "C": "completed", "CANC": "cancelled"][code] ?? "open" }

    public static func router(state: EmulatorState) -> Hummingbird.Router<BasicRequestContext> {
        let router = Hummingbird.Router()
        router.add(middleware: FaultInjection(state: state))
        EmulatorHTTP.addInspection(to: router, state: state, kind: "hxgn-eam")
        // --preload: unrelated work orders in EAM's record structure (organization PLANT1).
        state.preload { s in
            let b: [String: JSONValue] = ["WORKORDERID": .object(["JOBNUM": .string(String(20_000 + s.index)), "ORGANIZATIONID": .object(["ORGANIZATIONCODE": .string("PLANT1")]),
                                                                  "DESCRIPTION": .string(String(s.title.prefix(80)))]),
                                          "EQUIPMENTID": .object(["EQUIPMENTCODE": .string(s.asset), "ORGANIZATIONID": .object(["ORGANIZATIONCODE": .string("PLANT1")])]),
                                          "PRIORITY": .object(["PRIORITYCODE": .string(String(s.priority))]), "TYPE": .object(["TYPECODE": .string("PPM")])]
            return EmulatedWorkOrder(id: s.id, reference: String(20_000 + s.index), title: s.title, asset: s.asset, priority: String(s.priority), status: s.status,
                                     createdAt: s.createdAt, notes: [], attachments: [], body: .object(b))
        }
        let tenant = state.options.tenant
        let statuses = tenant.flatMap { $0.statuses.isEmpty ? nil : Set($0.statuses) } ?? Self.statuses
        let api = router.group("axis/restservices/workorders")
        api.add(middleware: BasicAuthCheck(state: state, unauthorized: { alert(.unauthorized, "Invalid credentials") }))

        @Sendable func headersOK(_ r: Request) -> String? {
            guard r.headers[HTTPField.Name("tenant")!]?.isEmpty == false else { return "Header 'tenant' is required" }
            guard r.headers[HTTPField.Name("organization")!]?.isEmpty == false else { return "Header 'organization' is required" }
            return nil
        }
        @Sendable func find(_ key: String) async -> EmulatedWorkOrder? {
            let k = key.removingPercentEncoding ?? key
            let parts = k.split(separator: "#", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { return nil }
            return await state.all().first { $0.reference == parts[0] && $0.body["WORKORDERID"]?["ORGANIZATIONID"]?["ORGANIZATIONCODE"]?.stringValue == parts[1] }
        }
        @Sendable func view(_ w: EmulatedWorkOrder) -> JSONValue {
            var v = w.body.objectValue ?? [:]
            let explicit = v["STATUS"]?["STATUSCODE"]?.stringValue
            let code = explicit.flatMap { common($0) == w.status ? $0 : nil } ?? ["in_progress": "IP", "completed": "C", "cancelled": "CANC"][w.status] ?? "R"
            v["STATUS"] = .object(["STATUSCODE": .string(code)])
            return .object(["Result": .object(["ResultData": .object(v)])])
        }

        // Equipment by key (`GET /axis/restservices/equipment/{CODE}#{ORG}`), answered from the tenant's assets
        // in EAM's record shape; an unknown code is 404 with EAM's ErrorAlert. Without a tenant asset table
        // every code is a record.
        let equipment = router.group("axis/restservices/equipment")
        equipment.add(middleware: BasicAuthCheck(state: state, unauthorized: { alert(.unauthorized, "Invalid credentials") }))
        equipment.get(":key") { request, context in
            if let h = headersOK(request) { return alert(.badRequest, h) }
            let raw = context.parameters.get("key") ?? ""
            let parts = (raw.removingPercentEncoding ?? raw).split(separator: "#", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { return alert(.badRequest, "The key must be EQUIPMENTCODE#ORGANIZATION") }
            let assets = tenant?.assets ?? []
            guard let hit = assets.isEmpty ? TenantData.Entry(id: parts[0]) : assets.first(where: { $0.id.caseInsensitiveCompare(parts[0]) == .orderedSame }) else {
                return alert(.notFound, "Record not found")
            }
            let record: [String: JSONValue] = ["EQUIPMENTID": .object(["EQUIPMENTCODE": .string(hit.id.uppercased()), "ORGANIZATIONID": .object(["ORGANIZATIONCODE": .string(parts[1])]),
                                                                       "DESCRIPTION": .string(hit.name ?? hit.id)])]
            return EmulatorHTTP.json(status: .ok, ["Result": JSONValue.object(["ResultData": .object(record)])])
        }

        api.post("") { request, _ in
            if let h = headersOK(request) { return alert(.badRequest, h) }
            guard let b = (try? JSONValue.parse(try await EmulatorHTTP.body(request)))?.objectValue else { return alert(.badRequest, "Invalid JSON") }
            for key in b.keys.sorted() {
                guard let children = elements[key] else { return alert(.badRequest, "Unrecognized field \(key)") }
                guard let inner = b[key]?.objectValue else { return alert(.badRequest, "\(key) must be a record element") }
                if let bad = inner.keys.sorted().first(where: { !children.contains($0) }) { return alert(.badRequest, "Unrecognized field \(key).\(bad)") }
            }
            guard let job = b["WORKORDERID"]?["JOBNUM"]?.stringValue, !job.isEmpty, job.count <= 30 else { return alert(.badRequest, "WORKORDERID.JOBNUM must be 1–30 characters") }
            guard let org = b["WORKORDERID"]?["ORGANIZATIONID"]?["ORGANIZATIONCODE"]?.stringValue, org == request.headers[HTTPField.Name("organization")!] else {
                return alert(.badRequest, "WORKORDERID.ORGANIZATIONID.ORGANIZATIONCODE must match the organization header")
            }
            guard let desc = b["WORKORDERID"]?["DESCRIPTION"]?.stringValue, !desc.isEmpty else { return alert(.badRequest, "Description is required") }
            if desc.count > 80 { return alert(.badRequest, "DESCRIPTION is longer than 80 characters") }
            guard b["EQUIPMENTID"]?["EQUIPMENTCODE"]?.stringValue?.isEmpty == false else { return alert(.badRequest, "Equipment is required") }
            if let s = b["STATUS"]?["STATUSCODE"]?.stringValue, !statuses.contains(s) { return alert(.badRequest, "Status \(s) is not valid") }
            if let tenant {
                // Tenant data, in EAM's ErrorAlert shape.
                if let e = b["EQUIPMENTID"]?["EQUIPMENTCODE"]?.stringValue, !tenant.knowsAsset(e) { return alert(.badRequest, "Equipment \(e) does not exist in organization \(org)") }
                for k in ["REPORTEDBY", "ASSIGNEDTO"] {
                    if let p = b[k]?["PERSONCODE"]?.stringValue, !tenant.knowsUser(p) { return alert(.badRequest, "Employee \(p) does not exist") }
                }
                if let p = b["PRIORITY"]?["PRIORITYCODE"]?.stringValue, !tenant.knowsPriority(p) { return alert(.badRequest, "Priority \(p) is not valid") }
                if let c = b["CLASSID"]?["CLASSCODE"]?.stringValue, !tenant.knowsCategory(c) { return alert(.badRequest, "Class \(c) is not valid for entity EVNT") }
            }
            if await find(job + "#" + org) != nil { return alert(.conflict, "Record \(job) already exists") }
            let wo = await state.add { id in
                EmulatedWorkOrder(id: id, reference: job, title: desc, asset: b["EQUIPMENTID"]?["EQUIPMENTCODE"]?.stringValue,
                                  priority: b["PRIORITY"]?["PRIORITYCODE"]?.stringValue, status: "open", createdAt: Date(), notes: [], attachments: [], body: .object(b),
                                  assignee: b["ASSIGNEDTO"]?["PERSONCODE"]?.stringValue)
            }
            return EmulatorHTTP.json(status: .ok, ["Result": JSONValue.object(["ResultData": .object(["JOBNUM": .string(wo.reference ?? "")])])])
        }
        api.get(":key") { request, context in
            if let h = headersOK(request) { return alert(.badRequest, h) }
            guard let w = await find(context.parameters.get("key") ?? "") else { return alert(.notFound, "Record not found") }
            return EmulatorHTTP.json(status: .ok, view(w))
        }
        api.put(":key") { request, context in
            if let h = headersOK(request) { return alert(.badRequest, h) }
            guard let w = await find(context.parameters.get("key") ?? "") else { return alert(.notFound, "Record not found") }
            guard let s = (try? JSONValue.parse(try await EmulatorHTTP.body(request)))?["STATUS"]?["STATUSCODE"]?.stringValue, statuses.contains(s) else {
                return alert(.badRequest, "STATUS.STATUSCODE must be one of \(statuses.sorted().joined(separator: ", "))")
            }
            let updated = await state.update(id: w.id) { $0.status = common(s) }
            return EmulatorHTTP.json(status: .ok, view(updated ?? w))
        }

        router.post("axis/services/EWSConnector") { request, _ in
            let xml = String(decoding: try await EmulatorHTTP.body(request), as: UTF8.self)
            guard let header = element("Header", in: xml), let body = element("Body", in: xml) else { return fault("Not a SOAP envelope", status: .badRequest) }
            // Credentials: WS-Security UsernameToken, else HTTP Basic.
            var cred: String?
            if let u = element("Username", in: header), !u.isEmpty { cred = u + ":" + (element("Password", in: header) ?? "") }
            else if let auth = request.headers[.authorization], auth.hasPrefix("Basic "), let d = Data(base64Encoded: String(auth.dropFirst(6))),
                    let s = String(data: d, encoding: .utf8), s.contains(":") { cred = s }
            guard let c = cred else { return fault("Invalid credentials", status: .unauthorized) }
            if let valid = state.options.credentials, !valid.contains(c) { return fault("Invalid credentials", status: .unauthorized) }
            guard element("Tenant", in: header)?.isEmpty == false else { return fault("SOAP header 'Tenant' is required") }
            guard let org = element("Organization", in: header), !org.isEmpty else { return fault("SOAP header 'Organization' is required") }
            guard let op = element("MP0109_AddComments_001", in: body) else { return fault("Operation not supported by this emulator (only MP0109_AddComments_001)") }
            guard let comment = element("COMMENT", in: op), let id = element("ENTITYCOMMENTID", in: comment) else { return fault("COMMENT.ENTITYCOMMENTID is required") }
            guard let entity = element("ENTITY", in: id), !entity.isEmpty else { return fault("ENTITYCOMMENTID.ENTITY is required") }
            guard entity == "EVNT" else { return fault("Entity \(entity) is not supported here (work orders are EVNT)") }
            guard let key = element("ENTITYKEYCODE", in: id), !key.isEmpty else { return fault("ENTITYCOMMENTID.ENTITYKEYCODE is required") }
            guard element("LANGUAGECODE", in: element("LANGUAGEID", in: id) ?? "")?.isEmpty == false else { return fault("ENTITYCOMMENTID.LANGUAGEID.LANGUAGECODE is required") }
            guard let type = element("TYPECODE", in: element("COMMENTTYPE", in: id) ?? ""), ["*", "+"].contains(type) else {
                return fault("ENTITYCOMMENTID.COMMENTTYPE.TYPECODE must be * or +")
            }
            guard let text = element("COMMENTTEXT", in: comment), !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { return fault("COMMENTTEXT is required") }
            guard element("ORGANIZATIONCODE", in: element("ORGANIZATIONID", in: comment) ?? "") == org else {
                return fault("COMMENT.ORGANIZATIONID.ORGANIZATIONCODE must match the Organization header")
            }
            guard let w = await find(key + "#" + org) else { return fault("Work order \(key) does not exist in organization \(org)") }
            let updated = await state.update(id: w.id) { $0.notes.append(text) }
            let line = (updated?.notes.count ?? 1) * 10
            return soap(.ok, #"<MP0109_AddComments_001_Result xmlns="http://schemas.datastream.net/MP_results/MP0109_001"><ResultData><ENTITYCOMMENTID xmlns="http://schemas.datastream.net/MP_fields"><ENTITY>EVNT</ENTITY><ENTITYKEYCODE>"#
                        + escaped(key) + "</ENTITYKEYCODE><LINENUM>\(line)</LINENUM></ENTITYCOMMENTID></ResultData></MP0109_AddComments_001_Result>")
        }
        return router
    }
}
