import Connectors
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
    static func common(_ code: String) -> String { ["IP": "in_progress", "C": "completed", "CANC": "cancelled"][code] ?? "open" }

    public static func router(state: EmulatorState) -> Hummingbird.Router<BasicRequestContext> {
        let router = Hummingbird.Router()
        router.add(middleware: FaultInjection(state: state))
        EmulatorHTTP.addInspection(to: router, state: state, kind: "hxgn-eam")
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
        return router
    }
}
