import Connectors
import Foundation
import HTTPTypes
import Hummingbird
import MillwrightCore
import NIOCore

/// `millwright emulate limble`: Limble API v2 tasks under `/v2`.
///
/// Covers Basic auth with client id/secret, `POST /v2/tasks` (name and a known `locationID` (1–9 are
/// seeded) required, numbers for ids/priority/type, unknown fields rejected → 400 `{"message"}`),
/// `GET /v2/tasks?tasks=` / `?locations=&limit=`, `PATCH /v2/tasks/{id}` (`statusID`, `dateCompleted`:
/// a technician's change), `POST /v2/tasks/{id}/comments`. No machine-readable spec is in
/// shared/specs (SOURCES.md); fields follow Limble's v2 documentation.
public enum LimbleEmulator {
    static let fields: [String: String] = ["name": "s", "description": "s", "locationID": "i", "assetID": "i", "priority": "i", "type": "i", "due": "i", "userID": "i", "teamID": "i"]

    static func fail(_ status: HTTPResponse.Status, _ m: String) -> Response { EmulatorHTTP.json(status: status, ["message": m]) }

    actor Extra {
        var statusID: [String: Int] = [:]
        var completed: [String: Int] = [:]
        func set(_ id: String, status: Int?, done: Int?) { if let status { statusID[id] = status }; if let done { completed[id] = done } }
        func get(_ id: String) -> (Int, Int) { (statusID[id] ?? 0, completed[id] ?? 0) }
    }

    public static func router(state: EmulatorState) -> Hummingbird.Router<BasicRequestContext> {
        let router = Hummingbird.Router()
        let extra = Extra()
        router.add(middleware: FaultInjection(state: state))
        EmulatorHTTP.addInspection(to: router, state: state, kind: "limble")
        let api = router.group("v2/tasks")
        api.add(middleware: BasicAuthCheck(state: state, unauthorized: { fail(.unauthorized, "Invalid client credentials") }))

        @Sendable func view(_ w: EmulatedWorkOrder) async -> JSONValue {
            var v = w.body.objectValue ?? [:]
            let (sid, done) = await extra.get(w.id)
            v["taskID"] = .number(Double(w.id) ?? 0)
            v["statusID"] = .number(Double(w.status == "in_progress" && sid == 0 ? 1 : sid))
            v["dateCompleted"] = .number(Double(w.status == "completed" && done == 0 ? Int(Date().timeIntervalSince1970) : done))
            return .object(v)
        }

        api.post("") { request, _ in
            guard let b = (try? JSONValue.parse(try await EmulatorHTTP.body(request)))?.objectValue else { return fail(.badRequest, "Body must be JSON") }
            for k in b.keys.sorted() {
                guard let t = fields[k] else { return fail(.badRequest, "Unknown field \(k)") }
                if t == "i", b[k]!.doubleValue.map({ $0.rounded() == $0 }) != true { return fail(.badRequest, "\(k) must be a number") }
                if t == "s", b[k]!.stringValue == nil { return fail(.badRequest, "\(k) must be a string") }
            }
            guard let name = b["name"]?.stringValue, !name.isEmpty else { return fail(.badRequest, "name is required") }
            guard let loc = b["locationID"]?.doubleValue, (1...9).contains(loc) else { return fail(.badRequest, "locationID must be an existing location") }
            let wo = await state.add { id in
                let d = b["description"]?.stringValue ?? ""
                let ref = d.range(of: "Millwright reference ").map { String(d[$0.upperBound...].prefix { !$0.isWhitespace }) }
                return EmulatedWorkOrder(id: id, reference: ref, title: name, asset: b["assetID"]?.stringOrNumber, priority: b["priority"]?.stringOrNumber,
                                         status: "open", createdAt: Date(), notes: [], attachments: [], body: .object(b))
            }
            return EmulatorHTTP.json(status: .created, ["taskID": Int(wo.id) ?? 0])
        }
        api.get("") { request, _ in
            let q = request.uri.queryParameters
            var items = await state.all()
            if let ids = q.get("tasks") { let set = Set(ids.split(separator: ",").map(String.init)); items = items.filter { set.contains($0.id) } }
            if let locs = q.get("locations") {
                let set = Set(locs.split(separator: ",").compactMap { Double($0) })
                items = items.filter { set.contains($0.body["locationID"]?.doubleValue ?? -1) }
            }
            if let limit = q.get("limit").flatMap(Int.init) { items = Array(items.sorted { $0.createdAt > $1.createdAt }.prefix(limit)) }
            var out: [JSONValue] = []
            for w in items { out.append(await view(w)) }
            return EmulatorHTTP.json(status: .ok, JSONValue.array(out))
        }
        api.patch(":id") { request, context in
            guard let id = context.parameters.get("id"), await state.find(id: id) != nil else { return fail(.notFound, "Task not found") }
            let b = (try? JSONValue.parse(try await EmulatorHTTP.body(request))) ?? .null
            let sid = b["statusID"]?.doubleValue.map(Int.init)
            let done = b["dateCompleted"]?.doubleValue.map(Int.init)
            guard sid != nil || done != nil else { return fail(.badRequest, "send statusID and/or dateCompleted") }
            await extra.set(id, status: sid, done: done)
            _ = await state.update(id: id) { $0.status = (done ?? 0) > 0 ? "completed" : sid == 1 ? "in_progress" : "open" }
            return EmulatorHTTP.json(status: .ok, ["taskID": Int(id) ?? 0])
        }
        api.post(":id/comments") { request, context in
            guard let text = (try? JSONValue.parse(try await EmulatorHTTP.body(request)))?["comment"]?.stringValue, !text.isEmpty else { return fail(.badRequest, "comment is required") }
            guard let id = context.parameters.get("id"), await state.update(id: id, { $0.notes.append(text) }) != nil else { return fail(.notFound, "Task not found") }
            return EmulatorHTTP.json(status: .created, ["commentID": 1])
        }
        return router
    }
}
