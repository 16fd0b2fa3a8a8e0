import Foundation
import Hummingbird
import MillwrightCore

/// `millwright emulate sandbox`: the sandbox CMMS. Covers create, lookup by external
/// reference, status read and change, notes and attachments, Bearer auth.
public enum SandboxEmulator {
    public static let statuses = CMMSStatus.allCases.map(\.rawValue)

    public static func router(state: EmulatorState) -> Hummingbird.Router<BasicRequestContext> {
        let router = Hummingbird.Router()
        router.add(middleware: FaultInjection(state: state))
        EmulatorHTTP.addInspection(to: router, state: state, kind: "sandbox")
        state.preload { s in
            EmulatedWorkOrder(id: s.id, reference: s.reference, title: s.title, asset: s.asset, priority: ["low", "medium", "high", "critical"][s.index % 4],
                              status: s.status, createdAt: s.createdAt, notes: [], attachments: [],
                              body: .object(["title": .string(s.title), "reference": .string(s.reference), "asset": .string(s.asset)]))
        }
        let api = router.group("api")
        api.add(middleware: BearerCheck(state: state))

        api.get("whoami") { _, _ in
            EmulatorHTTP.json(status: .ok, ["user": .string("integration"), "permissions": JSONValue.array(["create", "attach", "read"].map(JSONValue.string))])
        }
        api.post("work-orders") { request, _ in
            let data = try await EmulatorHTTP.body(request)
            let req: [String: JSONValue]
            switch checked(data) {
            case .failure(let p): return problem(.unprocessableContent, p.message)
            case .success(let fields): req = fields
            }
            let title = req["title"]?.stringValue ?? "", reference = req["reference"]?.stringValue ?? ""
            if title.isEmpty || title.count > 40 { return problem(.unprocessableContent, "title must be 1–40 characters") }
            if reference.isEmpty || reference.count > 20 { return problem(.unprocessableContent, "reference must be 1–20 characters") }
            let wo = await state.add { id in
                EmulatedWorkOrder(id: id, reference: reference, title: title, asset: req["asset"]?.stringValue, priority: req["priority"]?.stringValue,
                                  status: "open", createdAt: Date(), notes: [], attachments: [], body: .object(req), assignee: req["assignee"]?.stringValue)
            }
            return EmulatorHTTP.json(status: .created, view(wo), headers: [.location: "/api/work-orders/\(wo.id)"])
        }
        api.get("work-orders") { request, _ in
            let items = if let ref = request.uri.queryParameters.get("reference") { await state.find(reference: ref) } else { await state.all() }
            return EmulatorHTTP.json(status: .ok, ["items": items.map(view)])
        }
        api.get("work-orders/:id") { _, context in
            guard let id = context.parameters.get("id"), let wo = await state.find(id: id) else { return problem(.notFound, "no such work order") }
            return EmulatorHTTP.json(status: .ok, view(wo))
        }
        api.patch("work-orders/:id") { request, context in
            let data = try await EmulatorHTTP.body(request)
            guard let status = (try? JSONValue.parse(data))?["status"]?.stringValue, statuses.contains(status) else {
                return problem(.unprocessableContent, "status must be one of \(statuses.joined(separator: ", "))")
            }
            guard let id = context.parameters.get("id"), let wo = await state.update(id: id, { $0.status = status }) else {
                return problem(.notFound, "no such work order")
            }
            return EmulatorHTTP.json(status: .ok, view(wo))
        }
        api.post("work-orders/:id/notes") { request, context in
            let data = try await EmulatorHTTP.body(request)
            guard let text = (try? JSONValue.parse(data))?["text"]?.stringValue, !text.isEmpty else { return problem(.unprocessableContent, "text is required") }
            guard let id = context.parameters.get("id"), let wo = await state.update(id: id, { $0.notes.append(text) }) else {
                return problem(.notFound, "no such work order")
            }
            return EmulatorHTTP.json(status: .created, view(wo))
        }
        api.put("work-orders/:id/attachments/:name") { request, context in
            let data = try await EmulatorHTTP.body(request)
            guard !data.isEmpty else { return problem(.unprocessableContent, "empty attachment") }
            // PUT is idempotent: the same name replaces, never duplicates.
            guard let id = context.parameters.get("id"), let name = context.parameters.get("name"),
                  await state.attach(id: id, name: name, data: data), let wo = await state.find(id: id) else {
                return problem(.notFound, "no such work order")
            }
            return EmulatorHTTP.json(status: .created, view(wo))
        }
        return router
    }

    /// The sandbox's work-order body, the emulator's own table (the sandbox is Millwright's own test
    /// CMMS, its contract is the README's "A CMMS to talk to"; no connector type is shared):
    /// field → (JSON type, required). `detected_at` is an ISO 8601 time.
    static let fields: [String: (type: String, required: Bool)] = [
        "reference": ("string", true), "title": ("string", true), "description": ("string", true), "asset": ("string", true),
        "priority": ("string", true), "defect_class": ("string", true), "severity": ("integer", true), "camera": ("string", true),
        "detected_at": ("time", true), "location": ("string", false), "evidence_url": ("string", false), "assignee": ("string", false),
        "work_type": ("string", false), "cost_center": ("string", false),
    ]

    /// The body's fields, or what is wrong with it: not a JSON object, an unknown field, a missing
    /// required one, or a value of the wrong type (an optional field may be null).
    static func checked(_ data: Data) -> Result<[String: JSONValue], SandboxBodyProblem> {
        guard let body = (try? JSONValue.parse(data))?.objectValue else { return .failure(SandboxBodyProblem("work order body must be a JSON object")) }
        let known = fields.keys.sorted()
        if let unknown = body.keys.sorted().first(where: { fields[$0] == nil }) {
            return .failure(SandboxBodyProblem("unknown field '\(unknown)'; the sandbox takes \(known.joined(separator: ", "))"))
        }
        for name in known {
            let (type, required) = fields[name]!
            guard let v = body[name], !v.isNull else {
                if required { return .failure(SandboxBodyProblem("\(name) is required")) }
                continue
            }
            let ok: Bool
            switch type {
            case "integer": ok = v.doubleValue.map { Checked.exactInt($0, in: -(1 << 53)...(1 << 53)) != nil } ?? false
            case "time": ok = v.stringValue.flatMap(Timestamps.parseISO) != nil
            default: ok = v.stringValue != nil
            }
            if !ok { return .failure(SandboxBodyProblem("\(name) must be \(type == "time" ? "an ISO 8601 time" : type == "integer" ? "a whole number" : "a string")")) }
        }
        return .success(body)
    }

    struct SandboxBodyProblem: Error { var message: String; init(_ m: String) { message = m } }

    static func view(_ w: EmulatedWorkOrder) -> [String: JSONValue] {
        ["id": .string(w.id), "reference": JSONValue(w.reference), "title": .string(w.title), "status": .string(w.status),
         "asset": JSONValue(w.asset), "priority": JSONValue(w.priority), "notes": .array(w.notes.map(JSONValue.string)),
         "created_at": .string(Timestamps.format(w.createdAt))]
    }

    static func problem(_ status: HTTPResponse.Status, _ detail: String) -> Response {
        EmulatorHTTP.json(status: status, ["type": "about:blank", "title": status.reasonPhrase, "status": String(status.code), "detail": detail])
    }
}

struct BearerCheck<Context: RequestContext>: RouterMiddleware {
    let state: EmulatorState
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let auth = request.headers[.authorization], auth.hasPrefix("Bearer "), auth.count > 7 else {
            return SandboxEmulator.problem(.unauthorized, "send Authorization: Bearer <token>")
        }
        if let valid = state.options.credentials, !valid.contains(String(auth.dropFirst(7))) {
            return SandboxEmulator.problem(.unauthorized, "token not accepted")
        }
        return try await next(request, context)
    }
}
