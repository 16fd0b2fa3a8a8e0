import Foundation
import MillwrightCore

/// Workload, stock and reservations. Routing and parts for a new incident are decided by
/// `IncidentDecision` in the ingest transaction, so a crash never leaves a work order without
/// its reservation or a reservation without its work order.
extension Store {
    /// Open work per assignee, by priority (the load routing balances): Millwright's own work
    /// orders, plus what the CMMS reports beyond them (counted as medium; the CMMS's count
    /// includes Millwright's delivered ones, which are not counted twice).
    static func workload(_ db: any SQLSession) throws -> Workload {
        var open: [String: [Priority]] = [:]
        var delivered: [String: Int] = [:]
        for row in try db.rows("""
            SELECT w.assignee, w.priority, w.phase FROM work_orders w JOIN incidents i ON i.id = w.incident_id
            WHERE w.assignee IS NOT NULL AND w.shadow = 0 AND i.is_open = 1
            """) {
            open[row["assignee"], default: []].append(Priority(rawValue: row["priority"] ?? "") ?? .low)
            if (row["phase"] as String) == "delivered" { delivered[row["assignee"], default: 0] += 1 }
        }
        for row in try db.rows("SELECT assignee, open FROM external_load") {
            let extra = (row["open"] as Int) - (delivered[row["assignee"]] ?? 0)
            if extra > 0 { open[row["assignee"], default: []] += Array(repeating: .medium, count: extra) }
        }
        return Workload(open)
    }

    /// The CMMS's open work per technician, replacing the previous reading.
    public func replaceExternalLoad(_ counts: [String: Int], now: Date = Date()) async throws {
        try await write { db in
            try db.run("DELETE FROM external_load")
            for (who, n) in counts where n > 0 {
                try db.run("INSERT INTO external_load (assignee, open, at) VALUES (?, ?, ?)", [who, n, now.dbValue])
            }
        }
    }

    /// The load routing sees right now, per assignee (for `GET /v1/technicians`).
    public func currentWorkload() async throws -> Workload {
        try await read { db in try Self.workload(db) }
    }

    /// The incident closed: a false positive or a cancellation puts its parts back; completed
    /// work used them.
    static func settleParts(incident: String, resolution: Resolution, now: Date, db: any SQLSession) throws {
        let held = try db.rows("SELECT sku, qty FROM part_reservations WHERE incident_id = ? AND status = 'reserved'", [incident])
        for r in held {
            let sku: String = r["sku"], qty: Int = r["qty"]
            if resolution == .completed {
                try db.run("UPDATE inventory SET on_hand = GREATEST(on_hand - ?1, 0), reserved = GREATEST(reserved - ?1, 0) WHERE sku = ?2", [qty, sku])
            } else {
                try db.run("UPDATE inventory SET reserved = GREATEST(reserved - ?1, 0) WHERE sku = ?2", [qty, sku])
            }
            let status = resolution == .completed ? "consumed" : "released"
            try db.run("UPDATE part_reservations SET status = ?, settled_at = ? WHERE incident_id = ? AND sku = ?", [status, now.dbValue, incident, sku])
            try db.audit(kind: "part.\(status)", subject: incident, data: ["sku": .string(sku), "qty": .number(Double(qty)), "because": .string(resolution.rawValue)], at: now)
        }
    }

    /// Loads the storeroom export (or the CMMS's stock). Millwright's own reservations survive a re-import.
    public func importInventory(_ items: [InventoryItem], source: String = "csv", now: Date = Date()) async throws {
        try await auditedWrite { db in
            for i in items {
                try db.run("""
                    INSERT INTO inventory (sku, on_hand, external_reserved, location, imported_at) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT(sku) DO UPDATE SET on_hand = excluded.on_hand, external_reserved = excluded.external_reserved,
                        location = excluded.location, imported_at = excluded.imported_at
                    """, [i.sku, i.onHand, i.reserved, i.location, now.dbValue])
            }
            try db.audit(kind: "inventory.imported", subject: "inventory", data: ["skus": .number(Double(items.count)), "source": .string(source)], at: now)
        }
    }

    public struct StockView: Sendable, Equatable {
        public var sku: String
        public var onHand: Int
        public var externalReserved: Int
        public var reserved: Int
        public var location: String?
        public var free: Int { max(0, onHand - externalReserved - reserved) }
    }

    public func stock(sku: String) async throws -> StockView? {
        try await read { db in
            try db.row("SELECT * FROM inventory WHERE sku = ?", [sku]).map {
                StockView(sku: $0["sku"], onHand: $0["on_hand"], externalReserved: $0["external_reserved"], reserved: $0["reserved"], location: $0["location"])
            }
        }
    }

    public struct ReservationView: Sendable, Equatable {
        public var incidentId: String
        public var sku: String
        public var qty: Int
        public var status: String
        public var at: Date
        public var settledAt: Date?
        public var asset: String
        public var defectClass: String
        public var workOrderId: String?
        public var reference: String?
        public var location: String?
        public var free: Int?
    }

    /// `status` nil = everything still held or short (what a storeroom acts on).
    public func reservations(status: String? = nil, limit: Int = 500) async throws -> [ReservationView] {
        try await reservationsPage(status: status, limit: limit, after: nil).items
    }

    /// Newest first by (at, incident, sku) — the primary key breaks ties; `after` continues from a page's `next`.
    public func reservationsPage(status: String? = nil, limit: Int = 500, after: PageKey?) async throws -> Page<ReservationView> {
        try await read { db in
            var sql = """
                SELECT r.*, i.asset, i.defect_class, w.id AS w_id, w.reference, s.location,
                       GREATEST(s.on_hand - s.external_reserved - s.reserved, 0) AS free
                FROM part_reservations r JOIN incidents i ON i.id = r.incident_id
                LEFT JOIN work_orders w ON w.incident_id = r.incident_id LEFT JOIN inventory s ON s.sku = r.sku
                """
            var args: [any SQLBindable] = []
            if let status { sql += " WHERE r.status = ?"; args.append(status) } else { sql += " WHERE r.status IN ('reserved', 'short', 'unknown')" }
            if let after, after.ids.count == 2 {
                sql += " AND (r.at, r.incident_id, r.sku) < (?, ?, ?)"; args += [after.time, after.ids[0], after.ids[1]]
            }
            sql += " ORDER BY r.at DESC, r.incident_id DESC, r.sku DESC LIMIT ?"
            args.append(limit + 1)
            return Page.of(try db.rows(sql, SQLArguments(args.map(\.sqlValue))), limit: limit,
                           key: { PageKey(time: $0["at"], ids: [$0["incident_id"], $0["sku"]]) }, item: {
                ReservationView(incidentId: $0["incident_id"], sku: $0["sku"], qty: $0["qty"], status: $0["status"], at: Date(db: $0["at"]),
                                settledAt: ($0["settled_at"] as Double?).map(Date.init(db:)), asset: $0["asset"], defectClass: $0["defect_class"],
                                workOrderId: $0["w_id"], reference: $0["reference"], location: $0["location"], free: $0["free"])
            })
        }
    }

    public struct AssignedWorkOrder: Sendable, Equatable {
        public var workOrderId: String
        public var reference: String
        public var priority: Priority
        public var phase: String
        public var acknowledged: Bool
    }

    /// Open Millwright work orders per assignee (for `GET /v1/technicians`).
    public func assignments() async throws -> [String: [AssignedWorkOrder]] {
        try await read { db in
            var out: [String: [AssignedWorkOrder]] = [:]
            for row in try db.rows("""
                SELECT w.id, w.reference, w.assignee, w.priority, w.phase, w.acknowledged_at FROM work_orders w JOIN incidents i ON i.id = w.incident_id
                WHERE w.assignee IS NOT NULL AND w.shadow = 0 AND i.is_open = 1 ORDER BY w.created_at
                """) {
                out[row["assignee"], default: []].append(AssignedWorkOrder(
                    workOrderId: row["id"], reference: row["reference"], priority: Priority(rawValue: row["priority"] ?? "") ?? .low,
                    phase: row["phase"], acknowledged: (row["acknowledged_at"] as Double?) != nil))
            }
            return out
        }
    }
}
