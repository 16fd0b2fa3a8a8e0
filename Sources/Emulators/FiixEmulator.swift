import Connectors
import Foundation
import HTTPTypes
import Hummingbird
import MillwrightCore
import NIOCore

/// `millwright emulate fiix`: Fiix's RPC API at `POST /api/`.
///
/// Covers the signed request (query `service=cmms`, `appKey`, `accessKey`, `signatureMethod=HmacSHA256`,
/// `signatureVersion=1`, `timestamp`; header `Authorization` = hex HMAC-SHA256 of the URL without the
/// scheme, verified when `--credentials` lists `accessKey:secret`, else only its form is checked),
/// `_maCn` `FindRequest` (with `filters` `ql` "field = ?" / "field LIKE ?"), `FindByIdRequest`,
/// `AddRequest`, `ChangeRequest` on `Priority` (seeded Highest/High/Medium/Low with tenant-style ids
/// 101–104), `WorkOrderStatus` (Requested, Open, Work In Progress, On Hold, Completed, Cancelled),
/// `WorkOrder` and `WorkOrderAsset`. Unknown fields, wrong types, unknown priority/status ids and a
/// missing `intSiteID` answer `{"error": {"code", "message"}}`.
public enum FiixEmulator {
    static let priorities: [(Int, String)] = [(101, "Highest"), (102, "High"), (103, "Medium"), (104, "Low")]
    static let statuses: [(Int, String)] = [(1, "Requested"), (2, "Open"), (3, "Work In Progress"), (4, "On Hold"), (5, "Completed"), (6, "Cancelled")]
    static let workOrderFields: [String: String] = ["className": "s", "strDescription": "s", "intSiteID": "i", "intPriorityID": "i",
                                                     "intWorkOrderStatusID": "i", "intMaintenanceTypeID": "i", "strCode": "s"]

    actor Store {
        var statusOf: [String: Int] = [:]
        var assets: [(Int, Int)] = []
        func set(_ id: String, _ s: Int) { statusOf[id] = s }
        func status(_ id: String) -> Int? { statusOf[id] }
        func link(_ wo: Int, _ asset: Int) -> Int { assets.append((wo, asset)); return assets.count }
    }

    static func rpcError(_ code: Int, _ message: String) -> Response {
        EmulatorHTTP.json(status: .ok, ["error": JSONValue.object(["code": .number(Double(code)), "message": .string(message)])])
    }

    static func statusId(common: String) -> Int { ["in_progress": 3, "completed": 5, "cancelled": 6, "false_positive": 5][common] ?? 1 }
    static func common(_ id: Int) -> String { [3: "in_progress", 5: "completed", 6: "cancelled"][id] ?? "open" }

    public static func router(state: EmulatorState) -> Hummingbird.Router<BasicRequestContext> {
        let router = Hummingbird.Router()
        let store = Store()
        router.add(middleware: FaultInjection(state: state))
        EmulatorHTTP.addInspection(to: router, state: state, kind: "fiix")

        router.post("/api") { request, _ in
            let q = request.uri.queryParameters
            guard q.get("service") == "cmms", q.get("signatureMethod") == "HmacSHA256", q.get("signatureVersion") == "1",
                  let access = q.get("accessKey"), !access.isEmpty, q.get("appKey")?.isEmpty == false, q.get("timestamp").flatMap(Int64.init) != nil else {
                return rpcError(401, "Request must carry service=cmms, appKey, accessKey, signatureMethod=HmacSHA256, signatureVersion=1 and timestamp")
            }
            guard let sig = request.headers[.authorization], sig.count == 64, sig.allSatisfy(\.isHexDigit) else {
                return rpcError(401, "Authorization must be the hex HMAC-SHA256 signature of the request URL")
            }
            if let creds = state.options.credentials {
                let host = request.head.authority ?? "127.0.0.1"
                let url = host + (request.uri.string)
                let ok = creds.contains { line in
                    let parts = line.split(separator: ":", maxSplits: 1).map(String.init)
                    return parts.count == 2 && parts[0] == access && FiixConnector.signature(url: url, secret: parts[1]) == sig
                }
                if !ok { return rpcError(401, "Signature does not match (check the secret)") }
            }
            guard let body = (try? JSONValue.parse(try await EmulatorHTTP.body(request)))?.objectValue, let op = body["_maCn"]?.stringValue,
                  let cls = body["className"]?.stringValue else { return rpcError(400, "Body must be JSON with _maCn and className") }
            switch (op, cls) {
            case ("FindRequest", "Priority"):
                return EmulatorHTTP.json(status: .ok, ["_maCn": JSONValue.string("FindResponse"), "objects": .array(priorities.map { .object(["id": .number(Double($0.0)), "strName": .string($0.1)]) })])
            case ("FindByIdRequest", "WorkOrderStatus"):
                guard let id = body["id"]?.doubleValue.map(Int.init), let s = statuses.first(where: { $0.0 == id }) else { return rpcError(404, "No WorkOrderStatus with that id") }
                return EmulatorHTTP.json(status: .ok, ["object": JSONValue.object(["id": .number(Double(s.0)), "strName": .string(s.1)])])
            case ("AddRequest", "WorkOrder"):
                guard let o = body["object"]?.objectValue else { return rpcError(400, "AddRequest needs object") }
                for (k, v) in o.sorted(by: { $0.key < $1.key }) {
                    guard let t = workOrderFields[k] else { return rpcError(400, "Unknown field '\(k)' on WorkOrder") }
                    if t == "i", v.doubleValue.map({ $0.rounded() == $0 }) != true { return rpcError(400, "Field '\(k)' must be an integer") }
                    if t == "s", v.stringValue == nil { return rpcError(400, "Field '\(k)' must be a string") }
                }
                guard o["intSiteID"]?.doubleValue != nil else { return rpcError(400, "intSiteID is required") }
                if let p = o["intPriorityID"]?.doubleValue, !priorities.contains(where: { Double($0.0) == p }) { return rpcError(400, "No Priority with id \(Int(p))") }
                if let s = o["intWorkOrderStatusID"]?.doubleValue, !statuses.contains(where: { Double($0.0) == s }) { return rpcError(400, "No WorkOrderStatus with id \(Int(s))") }
                let desc = o["strDescription"]?.stringValue ?? ""
                let wo = await state.add { id in
                    let ref = desc.range(of: "Millwright reference ").map { String(desc[$0.upperBound...].prefix { !$0.isWhitespace }) }
                    return EmulatedWorkOrder(id: id, reference: ref, title: String(desc.prefix { $0 != "\n" }.prefix(80)), asset: nil, priority: o["intPriorityID"]?.stringOrNumber,
                                             status: "open", createdAt: Date(), notes: [], attachments: [], body: .object(o))
                }
                if let s = o["intWorkOrderStatusID"]?.doubleValue { await store.set(wo.id, Int(s)) }
                return EmulatorHTTP.json(status: .ok, ["_maCn": JSONValue.string("AddResponse"), "object": .object(["id": .number(Double(wo.id) ?? 0)])])
            case ("AddRequest", "WorkOrderAsset"):
                guard let o = body["object"]?.objectValue, let w = o["intWorkOrderID"]?.doubleValue, let a = o["intAssetID"]?.doubleValue else {
                    return rpcError(400, "WorkOrderAsset needs intWorkOrderID and intAssetID")
                }
                guard await state.find(id: String(Int(w))) != nil else { return rpcError(404, "No WorkOrder with id \(Int(w))") }
                _ = await state.update(id: String(Int(w))) { $0.asset = String(Int(a)) }
                return EmulatorHTTP.json(status: .ok, ["object": JSONValue.object(["id": .number(Double(await store.link(Int(w), Int(a))))])])
            case ("FindRequest", "WorkOrder"):
                var items = await state.all()
                for f in body["filters"]?.arrayValue ?? [] {
                    guard let ql = f["ql"]?.stringValue, let p = f["parameters"]?.arrayValue?.first?.stringValue else { return rpcError(400, "filters need ql and parameters") }
                    let parts = ql.components(separatedBy: " ")
                    guard parts.count == 3, parts[0] == "strDescription", ["=", "LIKE"].contains(parts[1].uppercased()), parts[2] == "?" else {
                        return rpcError(400, "The emulator supports ql 'strDescription = ?' or 'strDescription LIKE ?'")
                    }
                    let needle = p.trimmingCharacters(in: CharacterSet(charactersIn: "%"))
                    items = items.filter { w in
                        let d = w.body["strDescription"]?.stringValue ?? ""
                        return parts[1] == "=" ? d == p : d.contains(needle)
                    }
                }
                return EmulatorHTTP.json(status: .ok, ["objects": JSONValue.array(items.map { .object(["id": .number(Double($0.id) ?? 0)]) })])
            case ("FindByIdRequest", "WorkOrder"):
                guard let id = body["id"]?.doubleValue.map({ String(Int($0)) }), let w = await state.find(id: id) else { return rpcError(404, "No WorkOrder with that id") }
                let explicit = await store.status(id)
                let sid = explicit.flatMap { common($0) == w.status ? $0 : nil } ?? statusId(common: w.status)
                return EmulatorHTTP.json(status: .ok, ["object": JSONValue.object(["id": .number(Double(id) ?? 0), "intWorkOrderStatusID": .number(Double(sid))])])
            case ("ChangeRequest", "WorkOrder"):
                guard let id = body["object"]?["id"]?.doubleValue.map({ String(Int($0)) }), let s = body["object"]?["intWorkOrderStatusID"]?.doubleValue.map(Int.init),
                      statuses.contains(where: { $0.0 == s }) else { return rpcError(400, "ChangeRequest needs object.id and a valid intWorkOrderStatusID") }
                guard await state.update(id: id, { $0.status = common(s) }) != nil else { return rpcError(404, "No WorkOrder with that id") }
                await store.set(id, s)
                return EmulatorHTTP.json(status: .ok, ["object": JSONValue.object(["id": .number(Double(id) ?? 0)])])
            default:
                return rpcError(400, "\(op) on \(cls) is not emulated")
            }
        }
        return router
    }
}
