import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import MillwrightCore
import NIOCore

/// `millwright emulate fiix`: Fiix's RPC API at `POST /api/`.
///
/// Covers the signed request (query `service=cmms`, `appKey`, `accessKey`, `signatureMethod=HmacSHA256`,
/// `signatureVersion=1`, `timestamp`; header `Authorization` = hex HMAC-SHA256 of the URL without the
/// scheme, verified when `--credentials` lists `accessKey:secret`, else only its form is checked;
/// `Content-Type: text/plain` as Fiix's API guide requires), `_maCn` `FindRequest` (with `filters` `ql`
/// "field = ?" / "field LIKE ?"), `FindByIdRequest`, `AddRequest`, `ChangeRequest` on `Priority`
/// (seeded Highest/High/Medium/Low with tenant-style ids 101–104), `WorkOrderStatus` (Requested, Open,
/// Work In Progress, On Hold, Completed, Cancelled), `WorkOrder` (the writable fields of Fiix's generated
/// client's WorkOrder class), `WorkOrderAsset`, `WorkOrderUser`, and the upload pair `FileContents`
/// (`strName`, `strMimeType`, base64 `strContents`, `intSize` when sent must match; 10 MB at most, the
/// emulator's assumption) and `File` (`intWorkOrderID`, `intFileContentsID`, `strName`). Unknown fields,
/// wrong types, unknown ids and missing required fields answer `{"error": {"code", "message"}}`.
public enum FiixEmulator {
    /// An id from a request body: a whole number Fiix could store, else nil (never a trap).
    static func id(_ v: Double) -> Int? { Checked.exactInt(v, in: 0...Int(Int32.max)) }

    static let priorities: [(Int, String)] = [(101, "Highest"), (102, "High"), (103, "Medium"), (104, "Low")]
    static let statuses: [(Int, String)] = [(1, "Requested"), (2, "Open"), (3, "Work In Progress"), (4, "On Hold"), (5, "Completed"), (6, "Cancelled")]
    /// Field → type (`s` string, `i` integer) per class, as the generated client declares them (`dtm` dates travel as strings).
    static let classFields: [String: [String: String]] = [
        "WorkOrder": ["className": "s", "strDescription": "s", "intSiteID": "i", "intPriorityID": "i", "intWorkOrderStatusID": "i", "intMaintenanceTypeID": "i",
                      "strCode": "s", "dtmSuggestedCompletionDate": "s", "intRequestedByUserID": "i", "intRCAActionID": "i", "intRCACauseID": "i",
                      "intRCAProblemID": "i", "strAdminNotes": "s", "strCompletionNotes": "s", "strNameUserGuest": "s", "strEmailUserGuest": "s",
                      "strPhoneUserGuest": "s"],
        "WorkOrderAsset": ["className": "s", "intWorkOrderID": "i", "intAssetID": "i"],
        "WorkOrderUser": ["className": "s", "intWorkOrderID": "i", "intUserID": "i", "bolNotifyOnAssignment": "i", "bolNotifyOnCompletion": "i",
                          "bolNotifyOnOnlineOffline": "i", "bolNotifyOnStatusChange": "i", "bolNotifyOnTaskCompleted": "i"],
        "FileContents": ["className": "s", "strName": "s", "strMimeType": "s", "strContents": "s", "intSize": "i", "intIsShared": "i", "intSysCode": "i"],
        "File": ["className": "s", "intWorkOrderID": "i", "intFileContentsID": "i", "intFileTypeID": "i", "strName": "s", "strNotes": "s", "strLink": "s",
                 "intAssetID": "i", "intSize": "i"],
    ]
    static let uploadLimit = 10 << 20
    /// The secret every accessKey signs with when `--credentials` is not given (the emulator's sandbox
    /// secret): the signature is always verified, so a client must sign with some known secret.
    public static let defaultSecret = "s3cret"
    /// How far a request's `timestamp` (milliseconds since 1970) may be from the server's clock. Fiix's API
    /// guide ("How to use the Fiix API without an SDK", Authenticating a Request) has the client send the
    /// current time so that a captured request cannot be replayed later; the emulator allows 5 minutes.
    public static let timestampWindow: TimeInterval = 300

    actor Store {
        var statusOf: [String: Int] = [:]
        var links = 0
        var contents: [Int: Data] = [:]
        func set(_ id: String, _ s: Int) { statusOf[id] = s }
        func status(_ id: String) -> Int? { statusOf[id] }
        func nextLink() -> Int { links += 1; return links }
        func addContents(_ data: Data) -> Int { let id = 5000 + contents.count + 1; contents[id] = data; return id }
        func contents(_ id: Int) -> Data? { contents[id] }
    }

    /// Unknown field or wrong type in an AddRequest object, in Fiix's words.
    static func fieldProblem(_ o: [String: JSONValue], _ cls: String) -> Response? {
        let known = classFields[cls] ?? [:]
        for (k, v) in o.sorted(by: { $0.key < $1.key }) {
            guard let t = known[k] else { return rpcError(400, "Unknown field '\(k)' on \(cls)") }
            if t == "i", v.doubleValue.map({ $0.rounded() == $0 }) != true { return rpcError(400, "Field '\(k)' must be an integer") }
            if t == "s", v.stringValue == nil { return rpcError(400, "Field '\(k)' must be a string") }
        }
        return nil
    }

    static func rpcError(_ code: Int, _ message: String) -> Response {
        EmulatorHTTP.json(status: .ok, ["error": JSONValue.object(["code": .number(Double(code)), "message": .string(message)])])
    }

    /// The `Authorization` value Fiix expects, computed here from Fiix's own description, not the
    /// connector's: "How to use the Fiix API without an SDK" (fiixlabs.github.io/api-documentation/guide-nosdk.html,
    /// "Authenticating a Request") signs the full request URL, query string included, with its leading
    /// `http://` or `https://` removed, by HMAC-SHA256 keyed with the UTF-8 secret, sent as lower-case hex.
    /// Fiix's clients do the same (fiixlabs/fiix-cmms-api; the .NET port Screaminlean/FiixCmms.Client.Net,
    /// FiixCmmsClient.CalculateSignature, strips only a leading scheme).
    public static func signature(signedURL url: String, secret: String) -> String {
        var message = Substring(url)
        for scheme in ["https://", "http://"] where message.hasPrefix(scheme) {
            message = message.dropFirst(scheme.count)
            break
        }
        let mac = HMAC<SHA256>.authenticationCode(for: Array(message.utf8), using: SymmetricKey(data: Array(secret.utf8)))
        let hex = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in mac { out.append(hex[Int(byte >> 4)]); out.append(hex[Int(byte & 0x0F)]) }
        return String(decoding: out, as: UTF8.self)
    }

    /// Fiix's date-time text, `yyyy-MM-dd HH:mm:ss` (UTC here).
    static func fiixDate(_ d: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX"); f.timeZone = TimeZone(identifier: "UTC"); f.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return f.string(from: d)
    }

    static func statusId(common: String) -> Int { ["in_progress": 3, "completed": 5, "cancelled": 6, "false_positive": 5][common] ?? 1 }
    static func common(_ id: Int) -> String { [3: "in_progress", 5: "completed", 6: "cancelled"][id] ?? "open" }

    public static func router(state: EmulatorState) -> Hummingbird.Router<BasicRequestContext> {
        let router = Hummingbird.Router()
        let store = Store()
        router.add(middleware: FaultInjection(state: state))
        EmulatorHTTP.addInspection(to: router, state: state, kind: "fiix")

        // --preload: unrelated work orders as Fiix holds them (dtmDateCreated is Fiix's creation date).
        state.preload { s in
            let b: [String: JSONValue] = ["className": .string("WorkOrder"), "strDescription": .string("\(s.title)\nRoutine job \(s.reference)"), "intSiteID": .number(7),
                                          "intPriorityID": .number(Double(100 + s.priority)), "strCode": .string(s.reference),
                                          "dtmDateCreated": .string(fiixDate(s.createdAt))]
            return EmulatedWorkOrder(id: s.id, reference: s.reference, title: s.title, asset: nil, priority: String(100 + s.priority), status: s.status,
                                     createdAt: s.createdAt, notes: [], attachments: [], body: .object(b))
        }
        let tenant = state.options.tenant
        router.post("/api") { request, _ in
            let q = request.uri.queryParameters
            guard q.get("service") == "cmms", q.get("signatureMethod") == "HmacSHA256", q.get("signatureVersion") == "1",
                  let access = q.get("accessKey"), !access.isEmpty, q.get("appKey")?.isEmpty == false, q.get("timestamp").flatMap(Int64.init) != nil else {
                return rpcError(401, "Request must carry service=cmms, appKey, accessKey, signatureMethod=HmacSHA256, signatureVersion=1 and timestamp")
            }
            guard request.headers[.contentType]?.lowercased().hasPrefix("text/plain") == true else {
                return rpcError(400, "Content-Type must be text/plain")
            }
            guard let sig = request.headers[.authorization], sig.count == 64, sig.allSatisfy(\.isHexDigit) else {
                return rpcError(401, "Authorization must be the hex HMAC-SHA256 signature of the request URL")
            }
            // The signature is always verified: against the `accessKey:secret` pairs of --credentials, or, without
            // them, any accessKey with the emulator's sandbox secret (`defaultSecret`).
            let host = request.head.authority ?? "127.0.0.1"
            let url = host + (request.uri.string)
            let ok: Bool
            if let creds = state.options.credentials {
                ok = creds.contains { line in
                    let parts = line.split(separator: ":", maxSplits: 1).map(String.init)
                    return parts.count == 2 && parts[0] == access && signature(signedURL: url, secret: parts[1]) == sig
                }
            } else {
                ok = signature(signedURL: url, secret: defaultSecret) == sig
            }
            if !ok { return rpcError(401, "Signature does not match (check the secret)") }
            if let ts = q.get("timestamp").flatMap(Int64.init), abs(Date().timeIntervalSince1970 - Double(ts) / 1000) > timestampWindow {
                return rpcError(401, "Request timestamp \(ts) is more than 5 minutes from the server time; send the current time in milliseconds")
            }
            guard let body = (try? JSONValue.parse(try await EmulatorHTTP.body(request)))?.objectValue, let op = body["_maCn"]?.stringValue,
                  let cls = body["className"]?.stringValue else { return rpcError(400, "Body must be JSON with _maCn and className") }
            switch (op, cls) {
            case ("FindRequest", "Priority"):
                return EmulatorHTTP.json(status: .ok, ["_maCn": JSONValue.string("FindResponse"), "objects": .array(priorities.map { .object(["id": .number(Double($0.0)), "strName": .string($0.1)]) })])
            case ("FindByIdRequest", "WorkOrderStatus"):
                guard let id = body["id"]?.doubleValue.flatMap(Self.id), let s = statuses.first(where: { $0.0 == id }) else { return rpcError(404, "No WorkOrderStatus with that id") }
                return EmulatorHTTP.json(status: .ok, ["object": JSONValue.object(["id": .number(Double(s.0)), "strName": .string(s.1)])])
            case ("AddRequest", "WorkOrder"):
                guard let o = body["object"]?.objectValue else { return rpcError(400, "AddRequest needs object") }
                if let problem = fieldProblem(o, "WorkOrder") { return problem }
                guard o["intSiteID"]?.doubleValue != nil else { return rpcError(400, "intSiteID is required") }
                if let p = o["intPriorityID"]?.doubleValue, !priorities.contains(where: { Double($0.0) == p }) { return rpcError(400, "No Priority with id \(p)") }
                if let s = o["intWorkOrderStatusID"]?.doubleValue, !statuses.contains(where: { Double($0.0) == s }) { return rpcError(400, "No WorkOrderStatus with id \(s)") }
                let desc = o["strDescription"]?.stringValue ?? ""
                let wo = await state.add { id in
                    let ref = desc.range(of: "Millwright reference ").map { String(desc[$0.upperBound...].prefix { !$0.isWhitespace }) }
                    return EmulatedWorkOrder(id: id, reference: ref, title: String(desc.prefix { $0 != "\n" }.prefix(80)), asset: nil, priority: o["intPriorityID"]?.stringOrNumber,
                                             status: "open", createdAt: Date(), notes: [], attachments: [], body: .object(o))
                }
                if let s = o["intWorkOrderStatusID"]?.doubleValue.flatMap(Self.id) { await store.set(wo.id, s) }
                return EmulatorHTTP.json(status: .ok, ["_maCn": JSONValue.string("AddResponse"), "object": .object(["id": .number(Double(wo.id) ?? 0)])])
            case ("AddRequest", "WorkOrderAsset"), ("AddRequest", "WorkOrderUser"):
                let target = cls == "WorkOrderAsset" ? "intAssetID" : "intUserID"
                guard let o = body["object"]?.objectValue, let w = o["intWorkOrderID"]?.doubleValue.flatMap(Self.id), let t = o[target]?.doubleValue.flatMap(Self.id) else {
                    return rpcError(400, "\(cls) needs intWorkOrderID and \(target)")
                }
                if let problem = fieldProblem(o, cls) { return problem }
                if let tenant {
                    // Tenant data: an asset or user id the tenant does not have, in Fiix's error object.
                    if cls == "WorkOrderAsset", !tenant.knowsAsset(number: Double(t)) { return rpcError(404, "No Asset with id \(t)") }
                    if cls == "WorkOrderUser", !tenant.knowsUser(number: Double(t)) { return rpcError(404, "No User with id \(t)") }
                }
                let linked = await state.update(id: String(w)) { wo in
                    if cls == "WorkOrderAsset" { wo.asset = String(t) } else { wo.assignee = String(t) }
                }
                guard linked != nil else { return rpcError(404, "No WorkOrder with id \(w)") }
                return EmulatorHTTP.json(status: .ok, ["object": JSONValue.object(["id": .number(Double(await store.nextLink()))])])
            case ("AddRequest", "FileContents"):
                guard let o = body["object"]?.objectValue else { return rpcError(400, "AddRequest needs object") }
                if let problem = fieldProblem(o, cls) { return problem }
                guard o["strName"]?.stringValue?.isEmpty == false else { return rpcError(400, "strName is required") }
                guard let mime = o["strMimeType"]?.stringValue, mime.split(separator: "/").count == 2 else { return rpcError(400, "strMimeType must be a MIME type such as image/jpeg") }
                guard let b64 = o["strContents"]?.stringValue, let data = Data(base64Encoded: b64), !data.isEmpty else {
                    return rpcError(400, "strContents must be the file in base64")
                }
                let limit = await state.uploadLimit(default: uploadLimit)
                guard data.count <= limit else { return rpcError(413, "File is larger than \(limit) bytes") }
                if let size = o["intSize"]?.doubleValue, Self.id(size) != data.count { return rpcError(400, "intSize \(size) does not match the \(data.count) bytes of strContents") }
                return EmulatorHTTP.json(status: .ok, ["_maCn": JSONValue.string("AddResponse"), "object": .object(["id": .number(Double(await store.addContents(data)))])])
            case ("AddRequest", "File"):
                guard let o = body["object"]?.objectValue else { return rpcError(400, "AddRequest needs object") }
                if let problem = fieldProblem(o, cls) { return problem }
                guard let name = o["strName"]?.stringValue, !name.isEmpty else { return rpcError(400, "strName is required") }
                guard let c = o["intFileContentsID"]?.doubleValue.flatMap(Self.id), let data = await store.contents(c) else { return rpcError(404, "No FileContents with that intFileContentsID") }
                guard let w = o["intWorkOrderID"]?.doubleValue.flatMap(Self.id), await state.attach(id: String(w), name: name, data: data) else {
                    return rpcError(404, "No WorkOrder with that intWorkOrderID")
                }
                return EmulatorHTTP.json(status: .ok, ["_maCn": JSONValue.string("AddResponse"), "object": .object(["id": .number(Double(await store.nextLink()))])])
            case ("FindRequest", "WorkOrder"):
                var items = await state.all()
                for f in body["filters"]?.arrayValue ?? [] {
                    guard let ql = f["ql"]?.stringValue, let p = f["parameters"]?.arrayValue?.first?.stringOrNumber else { return rpcError(400, "filters need ql and parameters") }
                    let parts = ql.components(separatedBy: " ")
                    guard parts.count == 3, ["strDescription", "strCode", "dtmDateCreated"].contains(parts[0]), ["=", "LIKE", ">=", ">"].contains(parts[1].uppercased()), parts[2] == "?" else {
                        return rpcError(400, "The emulator supports ql '<strDescription|strCode> = ?', '… LIKE ?' and 'dtmDateCreated >= ?'")
                    }
                    let needle = p.trimmingCharacters(in: CharacterSet(charactersIn: "%"))
                    items = items.filter { w in
                        let d = parts[0] == "dtmDateCreated" ? fiixDate(w.createdAt) : w.body[parts[0]]?.stringValue ?? ""
                        switch parts[1].uppercased() {
                        case "=": return d == p
                        case ">=": return d >= p
                        case ">": return d > p
                        default: return d.contains(needle)
                        }
                    }
                }
                // Paging as Fiix's FindRequest takes it (Fiix API guide, "Find request": `maxObjects` caps the
                // answer, `startObjectCount` skips that many first; `orderBy` "field [ASC|DESC]"); without orderBy
                // objects come by id. `fields` names what each object carries besides `id`.
                items.sort { (Int($0.id) ?? 0) < (Int($1.id) ?? 0) }
                if let order = body["orderBy"]?.stringValue {
                    let t = order.split(separator: " ").map(String.init)
                    guard let k = t.first, ["id", "dtmDateCreated", "strCode"].contains(k), t.count == 1 || (t.count == 2 && ["ASC", "DESC"].contains(t[1].uppercased())) else {
                        return rpcError(400, "orderBy \(order) is not supported (id, dtmDateCreated or strCode, ASC or DESC)")
                    }
                    let desc = t.count == 2 && t[1].uppercased() == "DESC"
                    if k == "dtmDateCreated" { items.sort { desc ? $0.createdAt > $1.createdAt : $0.createdAt < $1.createdAt } }
                    else if k == "strCode" { items.sort { desc ? ($0.body["strCode"]?.stringValue ?? "") > ($1.body["strCode"]?.stringValue ?? "") : ($0.body["strCode"]?.stringValue ?? "") < ($1.body["strCode"]?.stringValue ?? "") } }
                    else if desc { items.reverse() }
                }
                let start = body["startObjectCount"]?.doubleValue.flatMap(Self.id) ?? 0
                let max = body["maxObjects"]?.doubleValue.flatMap(Self.id) ?? items.count
                if body["startObjectCount"] != nil, body["startObjectCount"]?.doubleValue.flatMap(Self.id) == nil { return rpcError(400, "startObjectCount must be a whole number") }
                if body["maxObjects"] != nil, body["maxObjects"]?.doubleValue.flatMap(Self.id) == nil { return rpcError(400, "maxObjects must be a whole number") }
                let page = Paging.slice(items, offset: start, limit: max).page
                let wanted = (body["fields"]?.stringValue ?? "id").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                let objects: [JSONValue] = page.map { w in
                    var o: [String: JSONValue] = ["id": .number(Double(w.id) ?? 0)]
                    for f in wanted where f != "id" {
                        if f == "dtmDateCreated" { o[f] = .string(fiixDate(w.createdAt)) } else if let v = w.body[f] { o[f] = v }
                    }
                    return .object(o)
                }
                return EmulatorHTTP.json(status: .ok, ["_maCn": JSONValue.string("FindResponse"), "objects": .array(objects), "totalObjects": .number(Double(items.count))])
            case ("FindByIdRequest", "Asset"), ("FindByIdRequest", "User"):
                // Master data by id, from the tenant's numbered assets / users; an unknown id is the same error
                // object as an unknown work order. Without that tenant table every id is a record.
                guard let id = body["id"]?.doubleValue.flatMap(Self.id) else { return rpcError(400, "FindByIdRequest needs a numeric id") }
                let table = cls == "Asset" ? (tenant?.assets ?? []) : (tenant?.users ?? [])
                guard table.isEmpty || table.contains(where: { $0.number == id }) else { return rpcError(404, "No \(cls) with that id") }
                let name = table.first { $0.number == id }.map { $0.name ?? $0.id } ?? "\(cls) \(id)"
                return EmulatorHTTP.json(status: .ok, ["_maCn": JSONValue.string("FindByIdResponse"),
                                                       "object": .object(["id": .number(Double(id)), (cls == "Asset" ? "strName" : "strFullName"): .string(name)])])
            case ("FindByIdRequest", "WorkOrder"):
                guard let id = body["id"]?.doubleValue.flatMap(Self.id).map(String.init), let w = await state.find(id: id) else { return rpcError(404, "No WorkOrder with that id") }
                let explicit = await store.status(id)
                let sid = explicit.flatMap { common($0) == w.status ? $0 : nil } ?? statusId(common: w.status)
                return EmulatorHTTP.json(status: .ok, ["object": JSONValue.object(["id": .number(Double(id) ?? 0), "intWorkOrderStatusID": .number(Double(sid)),
                                                                                     "strAssignedUserIds": .string(w.assignee ?? "")])])
            case ("ChangeRequest", "WorkOrder"):
                guard let id = body["object"]?["id"]?.doubleValue.flatMap(Self.id).map(String.init), let s = body["object"]?["intWorkOrderStatusID"]?.doubleValue.flatMap(Self.id),
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
