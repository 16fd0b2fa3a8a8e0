import Foundation
import Hummingbird
import MillwrightCore
import Store

/// Who is doing the work and with what: technicians and their load, part reservations,
/// and the acknowledgement that stops escalation.
extension APIServer {
    struct TechnicianResponse: Encodable {
        struct Cert: Encodable { var name: String; var expires: String?; var valid: Bool }
        struct Assigned: Encodable { var id: String; var reference: String; var priority: String; var phase: String; var acknowledged: Bool }
        var id: String
        var name: String
        var skills: [String]
        var certifications: [Cert]
        var shift: String?
        var onShift: Bool
        var onCall: Bool
        var area: String?
        var openWorkOrders: Int
        var weightedLoad: Int
        var workOrders: [Assigned]
    }

    struct TechniciansResponse: Encodable {
        var items: [TechnicianResponse]
        /// Absent on the last page.
        var nextCursor: String?
        /// Work waiting in fallback queues (nobody qualified was available); on every page.
        var queues: [String: [TechnicianResponse.Assigned]]
    }

    /// The roster by technician id, in pages like every list.
    func listTechnicians(_ request: Request, _ ctx: MillwrightContext) async throws -> Response {
        try ctx.require(.read)
        let limit = try limit(request.uri.queryParameters), after = try ListCursor.after(request, list: .technicians)
        let assigned = try await gateway.store.assignments()
        // Includes the open work the CMMS reports beyond Millwright's (routing.load_from).
        let load = try await gateway.store.currentWorkload()
        let roster = gateway.rules.planning?.roster ?? Roster([])
        let now = Date()
        func view(_ a: Store.AssignedWorkOrder) -> TechnicianResponse.Assigned {
            .init(id: a.workOrderId, reference: a.reference, priority: a.priority.rawValue, phase: a.phase, acknowledged: a.acknowledged)
        }
        let ordered = roster.technicians.sorted { $0.id < $1.id }.filter { t in after.map { t.id > $0.ids[0] } ?? true }
        let page = Page.of(ordered.prefix(limit + 1).map { $0 }, limit: limit, key: { PageKey(time: 0, ids: [$0.id]) }, item: { $0 })
        let items = page.items.map { t -> TechnicianResponse in
            let mine = assigned[t.id] ?? []
            let today = gateway.rules.planning.map { LocalDate.of(now, in: $0.calendar.timeZone) } ?? LocalDate.of(now, in: .gmt)
            return TechnicianResponse(
                id: t.id, name: t.name, skills: t.skills.sorted(),
                certifications: t.certifications.map { .init(name: $0.name, expires: $0.expires?.description, valid: $0.isValid(on: today)) },
                shift: t.shift, onShift: t.shift.map { gateway.rules.planning?.calendar.isOnShift($0, at: now) ?? false } ?? false,
                onCall: t.onCall, area: t.area, openWorkOrders: load.count(t.id),
                weightedLoad: load.weighted(t.id), workOrders: mine.map(view))
        }
        let ids = Set(roster.technicians.map(\.id))
        let queues = assigned.filter { !ids.contains($0.key) }.mapValues { $0.map(view) }
        let cursor = page.next.map { ListCursor.encode($0, list: .technicians) }
        var response = json(TechniciansResponse(items: items, nextCursor: cursor, queues: queues))
        if let cursor { response.headers[.init("Link")!] = "<\(ListCursor.nextTarget(request, cursor: cursor))>; rel=\"next\"" }
        return response
    }

    struct ReservationResponse: Encodable {
        var incidentId: String
        var workOrderId: String?
        var reference: String?
        var asset: String
        var defectClass: String
        var sku: String
        var qty: Int
        var status: String
        var location: String?
        var freeNow: Int?
        var at: Date
        var settledAt: Date?
    }

    func listReservations(_ request: Request, _ ctx: MillwrightContext) async throws -> Response {
        try ctx.require(.read)
        let q = request.uri.queryParameters
        let statuses = ["reserved", "short", "unknown", "released", "consumed"]
        if let s = q.get("status"), !statuses.contains(s) {
            throw Problem(.badRequest, type: "invalid-query", detail: "status '\(s)' is not one of \(statuses.joined(separator: ", ")); leave it out for everything still held or short")
        }
        let limit = try limit(q), after = try ListCursor.after(request, list: .reservations)
        let rows = try await gateway.store.reservationsPage(status: q.get("status"), limit: limit, after: after)
        let page = Page(items: rows.items.map {
            ReservationResponse(incidentId: $0.incidentId, workOrderId: $0.workOrderId, reference: $0.reference, asset: $0.asset,
                                defectClass: $0.defectClass, sku: $0.sku, qty: $0.qty, status: $0.status, location: $0.location,
                                freeNow: $0.free, at: $0.at, settledAt: $0.settledAt)
        }, next: rows.next)
        return ListCursor.response(page, list: .reservations, request: request)
    }

    struct AckResponse: Encodable {
        var workOrderId: String
        var acknowledgedAt: Date
        var acknowledgedBy: String
        /// False when someone had already acknowledged it (nothing changed).
        var changed: Bool
    }

    func acknowledge(_ request: Request, _ ctx: MillwrightContext) async throws -> Response {
        try ctx.require(.feedback)
        let id = try ctx.parameters.require("id")
        var by = ctx.caller?.name ?? "api"
        let input = try await optionalJSONObject(request, example: "{\"by\": \"T-114\"}")
        if let who = input?["by"] {
            guard let s = who.stringValue, !s.isEmpty, s.count <= 200 else {
                throw Problem(.unprocessableContent, type: "invalid-ack", detail: "by must be a non-empty string of at most 200 characters",
                              errors: [ProblemItem(index: nil, field: "by", problem: "must be a non-empty string ≤ 200 characters")])
            }
            by = s
        }
        let signature = try await sign("acknowledgement", input, ctx, needs: .feedback)
        if let signature { by = signature.user }
        let workOrderId = try await gateway.store.workOrder(id: id)?.id ?? id
        let ack: Store.Acknowledgement
        do { ack = try await gateway.store.acknowledge(workOrderId: workOrderId, by: by, signature: signature, now: Date()) } catch StoreError.notFound { throw notFound("work order") }
        gateway.wakePlanning()
        switch ack {
        case .acknowledged(let at, let who): return json(AckResponse(workOrderId: workOrderId, acknowledgedAt: at, acknowledgedBy: who, changed: true))
        case .already(let at, let who): return json(AckResponse(workOrderId: workOrderId, acknowledgedAt: at, acknowledgedBy: who, changed: false))
        }
    }
}
