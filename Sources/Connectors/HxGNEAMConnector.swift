import Foundation
import MillwrightCore
import NIOHTTP1

/// `hxgn-eam`: HxGN EAM (Infor EAM) REST web services, `/axis/restservices/workorders`.
///
/// Every call carries the headers `tenant` and `organization` (HxGN EAM's documented header
/// parameters) and Basic credentials. Endpoints: `POST /axis/restservices/workorders` (create),
/// `GET /axis/restservices/workorders/{JOBNUM}%23{ORGANIZATION}` (lookup and status).
/// Body (EAM's record structure): `WORKORDERID` {`JOBNUM`, `ORGANIZATIONID`.`ORGANIZATIONCODE`,
/// `DESCRIPTION` (80: our title)}, `EQUIPMENTID` {`EQUIPMENTCODE`, `ORGANIZATIONID`}, `DEPARTMENTID`,
/// `STATUS`.`STATUSCODE` (R), `TYPE`.`TYPECODE` (BRKD), `PRIORITY`.`PRIORITYCODE`.
///
/// Choice where the public docs are open: our reference is the work order number (`JOBNUM`, 30
/// characters) so that a retry cannot create a second work order — EAM answers "already exists",
/// which the connector treats as created — and the lookup is a read by key. This needs the EAM
/// installation to accept user-entered work order numbers.
/// The long text (asset, severity, procedure, parts, assignment, evidence link) goes on as a work
/// order comment right after the create, and `addNote` (repeat detections) adds further ones. HxGN
/// EAM's REST services document no comments resource, so comments use the web-services (SOAP)
/// operation `MP0109_AddComments_001` (as CERN's eam-wshub-core calls it): `COMMENT` with
/// `ENTITYCOMMENTID` {`ENTITY` EVNT, `ENTITYKEYCODE` the work order number, `LANGUAGEID`.`LANGUAGECODE`,
/// `COMMENTTYPE`.`TYPECODE` `*`}, `COMMENTTEXT`, `ORGANIZATIONID`; SOAP headers `Tenant`,
/// `Organization`, `SessionScenario` terminate and a WS-Security `UsernameToken` (Basic credentials
/// are sent too). The endpoint is `comments_path` (default `/axis/services/EWSConnector`, the EWS
/// connector beside `/axis/restservices`). The text is cut to 4000 characters at a line boundary,
/// keeping the evidence link. A failed comment never fails the create: the work order exists, and
/// the comment is best effort (a create answered "already exists" — the first answer was lost —
/// adds it then). The image is not sent (the evidence link is in the text; attachments answer
/// false): EAM's documented document services (AddDocument/AddDocumentAssociation) register a
/// document record, but the file's bytes go through no public API.
/// `ASSIGNEDTO`.`PERSONCODE` is the technician's EAM person from `users`. The cmms entry's `title:`
/// replaces `DESCRIPTION` (cut to 80) and `fields:` adds record elements, `ELEMENT.CHILD` for the
/// nested ones (`CLASSID.CLASSCODE: VISION`, `PROBLEMCODEID.PROBLEMCODE: "{defect}"`).
/// Status: R/A/Q/WAPPR → open, IP/INPRG → in progress, C/CL/COMP/CLOSED → completed,
/// CANC/CN → cancelled; `status_map` overrides ("CODE=status, …").
///
/// Config (`hxgn:` block): `tenant`, `organization` (both required), `department` (*),
/// `status` (R), `type` (BRKD), `priority_map` (critical 1, high 2, medium 3, low 4), `status_map`,
/// `users` ("<technician>=<PERSONCODE>"; a team entry stays in the text), `comments_path`
/// (/axis/services/EWSConnector), `comment_language` (EN). Auth: `basic`.
public struct HxGNEAMOptions: CMMSOptions {
    /// Sent as the `tenant` and `organization` headers.
    public var tenant: String
    public var organization: String
    public var department = "*"
    public var status = "R"
    public var type = "BRKD"
    public var commentsPath = HxGNEAMConnector.commentsPathDefault
    public var commentLanguage = "EN"

    public static let keys = ["tenant", "organization", "department", "status", "type", "comments_path", "comment_language"]

    public init(tenant: String, organization: String) { self.tenant = tenant; self.organization = organization }

    public init(block: ConfigTree) throws(ConfigError) {
        tenant = try block.required("tenant", "sent as the 'tenant' header").nonEmptyString()
        organization = try block.required("organization", "sent as the 'organization' header").nonEmptyString()
        if let v = block.child("department") { department = try v.nonEmptyString() }
        if let v = block.child("status") { status = try v.nonEmptyString() }
        if let v = block.child("type") { type = try v.nonEmptyString() }
        if let v = block.child("comments_path") { commentsPath = try v.nonEmptyString() }
        if let v = block.child("comment_language") { commentLanguage = try v.nonEmptyString() }
    }
}

public struct HxGNEAMConnector: CMMSConnector {
    public let settings: CMMSSettings
    public let options: HxGNEAMOptions
    let http: HTTPTransport
    let custom: PlantCustomization
    public var name: String { settings.name }
    public var kind: String { settings.kind }
    public static let descriptionMax = 80
    /// Comment text limit we keep to (EAM's limit is not publicly documented).
    public static let commentMax = 4000
    public static let commentsPathDefault = "/axis/services/EWSConnector"

    init(settings: CMMSSettings, options: HxGNEAMOptions, http: HTTPTransport) throws {
        self.settings = settings; self.options = options; self.http = http
        custom = try PlantCustomization(settings, reserved: ["WORKORDERID", "EQUIPMENTID", "DEPARTMENTID", "STATUS", "TYPE", "PRIORITY"])
    }

    var org: String { options.organization }
    var root: String { settings.baseURL.hasSuffix("/") ? String(settings.baseURL.dropLast()) : settings.baseURL }
    var collection: String { root + "/axis/restservices/workorders" }
    var commentsURL: String {
        let p = options.commentsPath
        return p.hasPrefix("http://") || p.hasPrefix("https://") ? p : root + (p.hasPrefix("/") ? p : "/" + p)
    }
    var headers: [(String, String)] {
        [("Accept", "application/json"), ("tenant", options.tenant), ("organization", org)] + HTTPTransport.authHeaders(settings.auth)
    }

    public func payload(_ wo: WorkOrderDraft) -> [String: JSONValue] {
        let orgId: JSONValue = .object(["ORGANIZATIONCODE": .string(org)])
        var p: [String: JSONValue] = [
            "WORKORDERID": .object(["JOBNUM": .string(wo.reference), "ORGANIZATIONID": orgId, "DESCRIPTION": .string(custom.title(wo, max: Self.descriptionMax))]),
            "EQUIPMENTID": .object(["EQUIPMENTCODE": .string(wo.asset), "ORGANIZATIONID": orgId]),
            "DEPARTMENTID": .object(["DEPARTMENTCODE": .string(options.department)]),
            "STATUS": .object(["STATUSCODE": .string(options.status)]),
            "TYPE": .object(["TYPECODE": .string(options.type)]),
            "PRIORITY": .object(["PRIORITYCODE": .string(settings.priorityMap[wo.priority] ?? ["critical": "1", "high": "2", "medium": "3", "low": "4"][wo.priority.rawValue]!)]),
        ]
        if case .user(let person)? = custom.assignee(wo) { p["ASSIGNEDTO"] = .object(["PERSONCODE": .string(person)]) }
        custom.apply(wo, to: &p)
        return p
    }

    public static func describe(_ r: HTTPTransport.Response) -> String {
        if let alerts = r.json?["ErrorAlert"]?.arrayValue, !alerts.isEmpty {
            return alerts.compactMap { $0["Message"]?.stringValue }.joined(separator: "; ")
        }
        return String(r.text.prefix(300))
    }

    func key(_ jobnum: String) -> String {
        (jobnum + "#" + org).addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._"))) ?? jobnum
    }

    public func create(_ wo: WorkOrderDraft) async -> DeliveryState.Outcome {
        do {
            let r = try await http.send(.POST, collection, headers: headers + [("Content-Type", "application/json")], body: try JSONEncoder().encode(JSONValue.object(payload(wo))))
            if r.status >= 400, Self.describe(r).lowercased().contains("already exists") {
                let found = await lookup(reference: wo.reference).asCreated
                // The first answer was lost, so its comment was never added.
                if case .created(let id) = found { _ = await addComment(cmmsId: id, text: Self.commentText(wo)) }
                return found
            }
            if let failure = HTTPTransport.classify(r, describe: Self.describe) {
                if case .permanent(let e) = failure { return .permanent(error: "HxGN EAM rejected the work order: \(e)") }
                return failure
            }
            let id = r.json?["Result"]?["ResultData"]?["JOBNUM"]?.stringValue ?? wo.reference
            // Best effort: the work order exists whether or not its comment is accepted.
            _ = await addComment(cmmsId: id, text: Self.commentText(wo))
            return .created(cmmsId: id)
        } catch {
            return HTTPTransport.transportFailure(error)
        }
    }

    /// A read by key. Only EAM's own "not found" (404 with an `ErrorAlert`) proves absence: a bare
    /// 404 from a proxy or a wrong base_url says nothing about the work order.
    public func lookup(reference: String) async -> DeliveryState.Outcome {
        do {
            let r = try await http.send(.GET, collection + "/" + key(reference), headers: headers)
            if r.status == 404 {
                guard r.json?["ErrorAlert"]?.arrayValue != nil else {
                    return LookupProof.inconclusive("HTTP 404 without EAM's ErrorAlert body from \(collection) (check base_url): \(Self.describe(r))")
                }
                return .lookupNotFound
            }
            guard r.status == 200 else { return LookupProof.unproven("EAM answered HTTP \(r.status): \(Self.describe(r))", retryAfter: HTTPTransport.retryAfter(r.headers)) }
            return .lookupFound(cmmsId: reference)
        } catch {
            return LookupProof.unproven("EAM did not answer: \(HTTPTransport.describe(error))")
        }
    }

    public func status(cmmsId: String) async throws -> CMMSStatus? {
        let r = try await http.send(.GET, collection + "/" + key(cmmsId), headers: headers)
        guard r.status == 200, let code = r.json?["Result"]?["ResultData"]?["STATUS"]?["STATUSCODE"]?.stringValue else {
            throw ConnectorError.misconfigured("status of work order \(cmmsId): HTTP \(r.status) \(Self.describe(r))")
        }
        if let m = settings.statusMap[code] { return m }
        switch code.uppercased() {
        case "IP", "INPRG": return .inProgress
        case "C", "CL", "COMP", "CLOSED": return .completed
        case "CANC", "CN": return .cancelled
        default: return .open
        }
    }

    public func addNote(cmmsId: String, text: String) async -> Bool {
        await addComment(cmmsId: cmmsId, text: Self.cut(text, max: Self.commentMax))
    }

    /// The work order's long text as a comment: ≤ `commentMax` characters, cut at a line boundary,
    /// the evidence link kept when the cut would drop it.
    public static func commentText(_ wo: WorkOrderDraft) -> String {
        var text = wo.description.isEmpty ? wo.title : wo.description
        if let url = wo.evidenceURL, !url.isEmpty, !text.contains(url) { text += "\nEvidence: \(url)" }
        guard text.count > commentMax else { return text }
        guard let url = wo.evidenceURL, !url.isEmpty else { return cut(text, max: commentMax) }
        let tail = "\n…\nEvidence: \(url)"
        let kept = cut(text, max: commentMax - tail.count)
        return kept.contains(url) ? kept : kept + tail
    }

    /// The longest prefix of whole lines within `max` characters (a hard cut if the first line is longer).
    static func cut(_ text: String, max: Int) -> String {
        guard text.count > max else { return text }
        let head = String(text.prefix(Swift.max(0, max)))
        if let nl = head.lastIndex(of: "\n"), nl > head.startIndex { return String(head[..<nl]) }
        return head
    }

    public static func xml(_ s: String) -> String {
        var out = ""
        for ch in s.unicodeScalars {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\t", "\n", "\r": out.unicodeScalars.append(ch)
            default: if ch.value >= 0x20 && ch.value != 0xFFFE && ch.value != 0xFFFF { out.unicodeScalars.append(ch) }
            }
        }
        return out
    }

    /// The SOAP request `MP0109_AddComments_001` for a work order (entity EVNT).
    public func commentEnvelope(cmmsId: String, text: String) -> String {
        let h = "http://schemas.datastream.net/headers"
        var security = ""
        switch settings.auth {
        case .basic(let u, let p), .session(let u, let p):
            security = "<wsse:Security xmlns:wsse=\"http://schemas.xmlsoap.org/ws/2002/04/secext\"><wsse:UsernameToken><wsse:Username>\(Self.xml(u))</wsse:Username><wsse:Password>\(Self.xml(p))</wsse:Password></wsse:UsernameToken></wsse:Security>"
        default: break
        }
        let lang = options.commentLanguage
        return """
        <?xml version="1.0" encoding="UTF-8"?>
        <soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Header>\(security)\
        <Tenant xmlns="\(h)">\(Self.xml(options.tenant))</Tenant><Organization xmlns="\(h)">\(Self.xml(org))</Organization>\
        <SessionScenario xmlns="\(h)">terminate</SessionScenario></soapenv:Header><soapenv:Body>\
        <MP0109_AddComments_001 xmlns="http://schemas.datastream.net/MP_functions/MP0109_001" verb="Add" noun="Comments" version="001">\
        <COMMENT xmlns="http://schemas.datastream.net/MP_fields"><ENTITYCOMMENTID><ENTITY>EVNT</ENTITY><ENTITYKEYCODE>\(Self.xml(cmmsId))</ENTITYKEYCODE>\
        <LANGUAGEID><LANGUAGECODE>\(Self.xml(lang))</LANGUAGECODE></LANGUAGEID><COMMENTTYPE><TYPECODE>*</TYPECODE></COMMENTTYPE></ENTITYCOMMENTID>\
        <COMMENTTEXT>\(Self.xml(text))</COMMENTTEXT><ORGANIZATIONID><ORGANIZATIONCODE>\(Self.xml(org))</ORGANIZATIONCODE></ORGANIZATIONID>\
        </COMMENT></MP0109_AddComments_001></soapenv:Body></soapenv:Envelope>
        """
    }

    /// Adds a comment to work order `cmmsId`; true when EAM accepted it (HTTP 2xx, no SOAP fault).
    func addComment(cmmsId: String, text: String) async -> Bool {
        guard !text.isEmpty else { return false }
        let soapHeaders = [("Content-Type", "text/xml; charset=utf-8"),
                           ("SOAPAction", "http://schemas.datastream.net/MP_functions/MP0109_001/MP0109_AddComments_001")]
        guard let r = try? await http.send(.POST, commentsURL, headers: headers.filter { $0.0 != "Accept" } + [("Accept", "text/xml")] + soapHeaders,
                                           body: Data(commentEnvelope(cmmsId: cmmsId, text: text).utf8)) else { return false }
        return (200..<300).contains(r.status) && !r.text.contains("Fault>")
    }

    public func checkConnection() async -> [ConnectionCheck] {
        do {
            let r = try await http.send(.GET, collection + "/" + key("MW-CHECK"), headers: headers)
            switch r.status {
            case 200, 404:
                return [ConnectionCheck(step: "authenticate", ok: true, detail: "tenant \(options.tenant) and organization \(org) accepted"),
                        ConnectionCheck(step: "create permission", ok: true, detail: "work orders readable (EAM has no dry-run create; the user's role needs insert on WSJOBS)"),
                        ConnectionCheck(step: "attachment upload", ok: true, detail: "not used: the long text and evidence link go on as a comment (MP0109_AddComments_001 at \(commentsURL)); the image stays in Millwright")]
            case 401, 403:
                return [ConnectionCheck(step: "authenticate", ok: false, detail: "HTTP \(r.status): \(Self.describe(r))", fix: "check user, password, hxgn.tenant and hxgn.organization")]
            default:
                return [ConnectionCheck(step: "authenticate", ok: false, detail: "HTTP \(r.status): \(Self.describe(r))", fix: "check base_url (…/axis must answer)")]
            }
        } catch {
            return [ConnectionCheck(step: "reach", ok: false, detail: HTTPTransport.describe(error), fix: "check base_url \(settings.baseURL)")]
        }
    }
}

extension HxGNEAMConnector {
    /// Equipment read by key, the way the work orders are: `GET /axis/restservices/equipment/{EQUIPMENTCODE}#{ORGANIZATION}`
    /// (HxGN EAM REST web services, the equipment resource beside `workorders`; the key form is the one
    /// `workorders/{JOBNUM}#{ORG}` uses). 200 is the record; 404 with EAM's `ErrorAlert` body is "no such
    /// equipment". Users (PERSONCODE) and locations are not asked: Millwright holds no EAM reference for a
    /// person read, so they are reported not checkable rather than guessed.
    public func checkReferences(_ references: [MappedReference]) async -> [ReferenceCheck] {
        let (ask, skipped) = ReferenceChecks.bounded(references)
        let checked = await ReferenceChecks.perId(ask, id: { $0.kind == .asset ? $0.id : nil },
                                                  unmapped: "not checked in HxGN EAM: only equipment is read") { _, code in
            do {
                let r = try await http.send(.GET, root + "/axis/restservices/equipment/" + key(code), headers: headers)
                return ReferenceChecks.byKey(r, describe: Self.describe) { $0.json?["ErrorAlert"] != nil }
            } catch { return ReferenceChecks.failed(error) }
        }
        return checked + skipped
    }
}

extension DeliveryState.Outcome {
    /// A lookup's answer as the outcome of a create that the system reports as a duplicate. Short of
    /// finding it, the work order may well exist: `.unknown`, so the next attempt looks it up again.
    var asCreated: DeliveryState.Outcome {
        switch self {
        case .lookupFound(let id): return .created(cmmsId: id)
        case .lookupNotFound: return .unknown(error: "the CMMS reports a duplicate but the lookup does not find it yet")
        default: return .unknown(error: "the CMMS reports a duplicate; \(detail ?? label)")
        }
    }
}
