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
/// installation to accept user-entered work order numbers. The long text and the image are not
/// sent (the evidence link is in Millwright; notes and attachments answer false): EAM's documented
/// document services (AddDocument/AddDocumentAssociation) register a document record, but the
/// file's bytes go through no public API.
/// `ASSIGNEDTO`.`PERSONCODE` is the technician's EAM person from `users`. The cmms entry's `title:`
/// replaces `DESCRIPTION` (cut to 80) and `fields:` adds record elements, `ELEMENT.CHILD` for the
/// nested ones (`CLASSID.CLASSCODE: VISION`, `PROBLEMCODEID.PROBLEMCODE: "{defect}"`).
/// Status: R/A/Q/WAPPR → open, IP/INPRG → in progress, C/CL/COMP/CLOSED → completed,
/// CANC/CN → cancelled; `status_map` overrides ("CODE=status, …").
///
/// Config (`hxgn:` block): `tenant`, `organization` (both required), `department` (*),
/// `status` (R), `type` (BRKD), `priority_map` (critical 1, high 2, medium 3, low 4), `status_map`,
/// `users` ("<technician>=<PERSONCODE>"; a team entry stays in the text). Auth: `basic`.
public struct HxGNEAMConnector: CMMSConnector {
    public let settings: CMMSSettings
    let http: HTTPTransport
    let custom: PlantCustomization
    public var name: String { settings.name }
    public var kind: String { "hxgn-eam" }
    public static let descriptionMax = 80

    init(settings: CMMSSettings, http: HTTPTransport) throws {
        for k in ["tenant", "organization"] where (settings.options[k] ?? "").isEmpty {
            throw ConnectorError.misconfigured("cmms \(settings.name): hxgn.\(k) is required (sent as the '\(k)' header)")
        }
        self.settings = settings; self.http = http
        custom = try PlantCustomization(settings, reserved: ["WORKORDERID", "EQUIPMENTID", "DEPARTMENTID", "STATUS", "TYPE", "PRIORITY"])
    }

    var opt: [String: String] { settings.options }
    var org: String { opt["organization"] ?? "" }
    var collection: String { (settings.baseURL.hasSuffix("/") ? String(settings.baseURL.dropLast()) : settings.baseURL) + "/axis/restservices/workorders" }
    var headers: [(String, String)] {
        [("Accept", "application/json"), ("tenant", opt["tenant"] ?? ""), ("organization", org)] + HTTPTransport.authHeaders(settings.auth)
    }

    public func payload(_ wo: WorkOrderDraft) -> [String: JSONValue] {
        let orgId: JSONValue = .object(["ORGANIZATIONCODE": .string(org)])
        var p: [String: JSONValue] = [
            "WORKORDERID": .object(["JOBNUM": .string(wo.reference), "ORGANIZATIONID": orgId, "DESCRIPTION": .string(custom.title(wo, max: Self.descriptionMax))]),
            "EQUIPMENTID": .object(["EQUIPMENTCODE": .string(wo.asset), "ORGANIZATIONID": orgId]),
            "DEPARTMENTID": .object(["DEPARTMENTCODE": .string(opt["department"] ?? "*")]),
            "STATUS": .object(["STATUSCODE": .string(opt["status"] ?? "R")]),
            "TYPE": .object(["TYPECODE": .string(opt["type"] ?? "BRKD")]),
            "PRIORITY": .object(["PRIORITYCODE": .string(ConnectorOptions.lookup(opt, "priority_map", wo.priority.rawValue) ?? ["critical": "1", "high": "2", "medium": "3", "low": "4"][wo.priority.rawValue]!)]),
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
                return await lookup(reference: wo.reference).asCreated
            }
            if let failure = HTTPTransport.classify(r, describe: Self.describe) {
                if case .permanent(let e) = failure { return .permanent(error: "HxGN EAM rejected the work order: \(e)") }
                return failure
            }
            return .created(cmmsId: r.json?["Result"]?["ResultData"]?["JOBNUM"]?.stringValue ?? wo.reference)
        } catch {
            return HTTPTransport.transportFailure(error)
        }
    }

    public func lookup(reference: String) async -> DeliveryState.Outcome {
        do {
            let r = try await http.send(.GET, collection + "/" + key(reference), headers: headers)
            if r.status == 404 { return .lookupNotFound }
            guard r.status == 200 else { return .retryable(error: "lookup HTTP \(r.status): \(Self.describe(r))", retryAfter: HTTPTransport.retryAfter(r.headers)) }
            return .lookupFound(cmmsId: reference)
        } catch {
            return .retryable(error: "lookup failed: \(HTTPTransport.describe(error))", retryAfter: nil)
        }
    }

    public func status(cmmsId: String) async throws -> CMMSStatus? {
        let r = try await http.send(.GET, collection + "/" + key(cmmsId), headers: headers)
        guard r.status == 200, let code = r.json?["Result"]?["ResultData"]?["STATUS"]?["STATUSCODE"]?.stringValue else {
            throw ConnectorError.misconfigured("status of work order \(cmmsId): HTTP \(r.status) \(Self.describe(r))")
        }
        if let m = ConnectorOptions.lookup(opt, "status_map", code).flatMap(CMMSStatus.init(rawValue:)) { return m }
        switch code.uppercased() {
        case "IP", "INPRG": return .inProgress
        case "C", "CL", "COMP", "CLOSED": return .completed
        case "CANC", "CN": return .cancelled
        default: return .open
        }
    }

    public func addNote(cmmsId: String, text: String) async -> Bool { false }

    public func checkConnection() async -> [ConnectionCheck] {
        do {
            let r = try await http.send(.GET, collection + "/" + key("MW-CHECK"), headers: headers)
            switch r.status {
            case 200, 404:
                return [ConnectionCheck(step: "authenticate", ok: true, detail: "tenant \(opt["tenant"] ?? "") and organization \(org) accepted"),
                        ConnectionCheck(step: "create permission", ok: true, detail: "work orders readable (EAM has no dry-run create; the user's role needs insert on WSJOBS)"),
                        ConnectionCheck(step: "attachment upload", ok: true, detail: "not used: the evidence stays in Millwright")]
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

extension DeliveryState.Outcome {
    /// A lookup's answer as the outcome of a create that the system reports as a duplicate.
    var asCreated: DeliveryState.Outcome {
        switch self {
        case .lookupFound(let id): return .created(cmmsId: id)
        case .lookupNotFound: return .unknown(error: "the CMMS reports a duplicate but the lookup does not find it yet")
        default: return self
        }
    }
}
