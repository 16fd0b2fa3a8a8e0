import Foundation
import MillwrightCore

extension Store {
    public func detections(_ f: DetectionFilter) async throws -> [DetectionView] {
        try await detectionsPage(f, after: nil).items
    }

    /// Newest first by (detection time, id); `after` continues from a page's `next`.
    public func detectionsPage(_ f: DetectionFilter, after: PageKey?) async throws -> Page<DetectionView> {
        try await read { db in
            var sql = "SELECT * FROM detections WHERE 1 = 1"
            var args: [any SQLBindable] = []
            if let c = f.camera { sql += " AND camera_id = ?"; args.append(c) }
            if let s = f.status { sql += " AND status = ?"; args.append(s.rawValue) }
            if let since = f.since { sql += " AND ts >= ?"; args.append(since.dbValue) }
            if let after, after.ids.count == 1 { sql += " AND (ts, id) < (?, ?)"; args += [after.time, after.ids[0]] }
            sql += " ORDER BY ts DESC, id DESC LIMIT ?"
            args.append(f.limit + 1)
            return Page.of(try db.rows(sql, SQLArguments(args.map(\.sqlValue))), limit: f.limit,
                           key: { PageKey(time: $0["ts"], ids: [$0["id"]]) }, item: { Self.detectionView($0, full: true) })
        }
    }

    public func detection(id: String) async throws -> DetectionView? {
        try await read { db in try db.row("SELECT * FROM detections WHERE id = ?", [id]).map { Self.detectionView($0, full: true) } }
    }

    static func detectionView(_ r: SQLRow, full: Bool) -> DetectionView {
        let zone: String = r["zone"]
        return DetectionView(id: r["id"], cameraId: r["camera_id"], timestamp: Date(db: r["ts"]), receivedAt: Date(db: r["received_at"]),
                             defectClass: r["defect_class"], confidence: r["confidence"], status: r["status"], reason: r["reason"],
                             asset: r["asset"], zone: zone.isEmpty ? nil : zone, incidentId: r["incident_id"],
                             detection: full ? decode(Detection.self, r["payload"]) : nil)
    }

    public func incidents(open: Bool? = nil, limit: Int = 100) async throws -> [IncidentView] {
        try await incidentsPage(open: open, limit: limit, after: nil).items
    }

    /// Newest first by (opened_at, id); `after` continues from a page's `next`.
    public func incidentsPage(open: Bool? = nil, limit: Int = 100, after: PageKey?) async throws -> Page<IncidentView> {
        try await read { db in
            var sql = "SELECT i.*, w.id AS w_id, w.reference AS w_reference, w.cmms_name AS w_cmms, w.phase AS w_phase, w.cmms_id AS w_cmms_id, w.cmms_status AS w_cmms_status FROM incidents i LEFT JOIN work_orders w ON w.incident_id = i.id WHERE 1 = 1"
            var args: [any SQLBindable] = []
            if let open { sql += " AND i.is_open = ?"; args.append(open) }
            if let after, after.ids.count == 1 { sql += " AND (i.opened_at, i.id) < (?, ?)"; args += [after.time, after.ids[0]] }
            sql += " ORDER BY i.opened_at DESC, i.id DESC LIMIT ?"
            args.append(limit + 1)
            return Page.of(try db.rows(sql, SQLArguments(args.map(\.sqlValue))), limit: limit,
                           key: { PageKey(time: $0["opened_at"], ids: [$0["id"]]) }, item: Self.incidentView)
        }
    }

    public func incident(id: String) async throws -> IncidentView? {
        try await read { db in
            guard let row = try db.row("SELECT i.*, w.id AS w_id, w.reference AS w_reference, w.cmms_name AS w_cmms, w.phase AS w_phase, w.cmms_id AS w_cmms_id, w.cmms_status AS w_cmms_status FROM incidents i LEFT JOIN work_orders w ON w.incident_id = i.id WHERE i.id = ?", [id]) else { return nil }
            var v = Self.incidentView(row)
            v.detections = try db.rows("SELECT * FROM detections WHERE incident_id = ? ORDER BY ts LIMIT 1000", [id]).map { Self.detectionView($0, full: false) }
            let woId: String? = row["w_id"]
            v.timeline = try db.rows("SELECT * FROM audit WHERE subject = ? OR subject = ? ORDER BY seq", [id, woId ?? id]).map(Self.timelineEntry)
            v.signatures = v.timeline?.filter { $0.kind == SignatureManifest.auditKind }.compactMap { SignatureManifest(auditData: $0.data, at: $0.at) }
            return v
        }
    }

    static func incidentView(_ r: SQLRow) -> IncidentView {
        let zone: String = r["zone"]
        let first: Double? = r["first_area"], last: Double? = r["last_area"]
        var growth: Double?
        if let first, let last, first > 0 { growth = last / first - 1 }
        var wo: WorkOrderSummary?
        if let wid: String = r["w_id"] {
            wo = WorkOrderSummary(id: wid, reference: r["w_reference"], cmms: r["w_cmms"], phase: r["w_phase"], cmmsId: r["w_cmms_id"], cmmsStatus: r["w_cmms_status"])
        }
        return IncidentView(id: r["id"], asset: r["asset"], defectClass: r["defect_class"], zone: zone.isEmpty ? nil : zone, cameraId: r["camera_id"],
                            state: r["state"], resolution: r["resolution"], shadow: r["shadow"], openedAt: Date(db: r["opened_at"]),
                            closedAt: (r["closed_at"] as Double?).map(Date.init(db:)), firstSeen: Date(db: r["first_seen"]), lastSeen: Date(db: r["last_seen"]),
                            detectionCount: r["detection_count"], maxConfidence: r["max_confidence"], growth: growth, severity: r["severity"],
                            severityBreakdown: decode(SeverityBreakdown.self, r["severity_breakdown"]), priority: r["priority"],
                            priorityRule: r["priority_rule"], workOrder: wo, evidenceSha256: r["evidence_sha256"], evidenceNote: r["evidence_note"],
                            detections: nil, timeline: nil)
    }

    static func timelineEntry(_ r: SQLRow) -> TimelineEntry {
        TimelineEntry(seq: r["seq"], at: Date(db: r["at"]), kind: r["kind"], subject: r["subject"],
                      data: jsonObject(r["data"]) ?? [:])
    }

    public func workOrders(shadow: Bool? = nil, phase: String? = nil, limit: Int = 100) async throws -> [WorkOrderView] {
        try await workOrdersPage(shadow: shadow, phase: phase, limit: limit, after: nil).items
    }

    /// Newest first by (created_at, id); `after` continues from a page's `next`.
    public func workOrdersPage(shadow: Bool? = nil, phase: String? = nil, limit: Int = 100, after: PageKey?) async throws -> Page<WorkOrderView> {
        try await read { db in
            var sql = "SELECT \(Self.workOrderColumns) FROM work_orders w WHERE 1 = 1"
            var args: [any SQLBindable] = []
            if let shadow { sql += " AND shadow = ?"; args.append(shadow) }
            if let phase { sql += " AND phase = ?"; args.append(phase) }
            if let after, after.ids.count == 1 { sql += " AND (created_at, id) < (?, ?)"; args += [after.time, after.ids[0]] }
            sql += " ORDER BY created_at DESC, id DESC LIMIT ?"
            args.append(limit + 1)
            return Page.of(try db.rows(sql, SQLArguments(args.map(\.sqlValue))), limit: limit,
                           key: { PageKey(time: $0["created_at"], ids: [$0["id"]]) }, item: { Self.workOrderView($0) })
        }
    }

    public func workOrder(id: String) async throws -> WorkOrderView? {
        try await read { db in
            guard let row = try db.row("SELECT \(Self.workOrderColumns) FROM work_orders w WHERE id = ? OR reference = ?", [id, id]) else { return nil }
            var v = Self.workOrderView(row)
            v.deliveryAttempts = try db.rows("SELECT * FROM delivery_attempts WHERE work_order_id = ? ORDER BY id", [v.id]).map {
                DeliveryAttemptView(at: Date(db: $0["at"]), action: $0["action"], outcome: $0["outcome"], detail: $0["detail"], durationMs: $0["duration_ms"])
            }
            return v
        }
    }

    /// A work order's columns and its repeats not yet noted in the CMMS: the incident's
    /// detections after the first, less those noted (ingest counts repeats on the incident only).
    static let workOrderColumns = "w.*, " + repeatsUnnoted("w") + " AS repeats_unnoted"

    static func repeatsUnnoted(_ workOrder: String) -> String {
        "(SELECT GREATEST(i.detection_count - 1 - \(workOrder).repeats_noted, 0) FROM incidents i WHERE i.id = \(workOrder).incident_id)"
    }

    static func workOrderView(_ r: SQLRow) -> WorkOrderView {
        let delivered = (r["delivered_at"] as Double?).map(Date.init(db:))
        let confirmed = Date(db: r["confirmed_detection_at"])
        return WorkOrderView(id: r["id"], incidentId: r["incident_id"], reference: r["reference"], cmms: r["cmms_name"], cmmsKind: r["cmms_kind"],
                             shadow: r["shadow"], phase: r["phase"], cmmsId: r["cmms_id"], cmmsStatus: r["cmms_status"], attempts: r["attempts"],
                             nextAttemptAt: (r["next_attempt_at"] as Double?).map(Date.init(db:)), lastError: r["last_error"],
                             createdAt: Date(db: r["created_at"]), deliveredAt: delivered,
                             latencyMs: delivered.map { $0.timeIntervalSince(confirmed) * 1000 }, repeatsUnnoted: r["repeats_unnoted"],
                             payload: decode(WorkOrderDraft.self, r["payload"]), deliveryAttempts: nil, assignee: r["assignee"],
                             notifiedAt: (r["notified_at"] as Double?).map(Date.init(db:)),
                             acknowledgedAt: (r["acknowledged_at"] as Double?).map(Date.init(db:)), acknowledgedBy: r["acknowledged_by"],
                             notificationError: r["notify_error"], notificationGaveUpAt: (r["notify_gave_up_at"] as Double?).map(Date.init(db:)))
    }

    /// Work orders per delivery phase (cheap; for the outbox gauges).
    public func workOrdersByPhase() async throws -> [String: Int] {
        try await read { db in
            var byPhase: [String: Int] = [:]
            for r in try db.rows("SELECT phase, COUNT(*) AS n FROM work_orders GROUP BY phase") { byPhase[r["phase"]] = r["n"] }
            return byPhase
        }
    }

    public func stats() async throws -> StoreStats {
        try await read { db in
            var byStatus: [String: Int] = [:]
            for r in try db.rows("SELECT status, COUNT(*) AS n FROM detections GROUP BY status") { byStatus[r["status"]] = r["n"] }
            var byPhase: [String: Int] = [:]
            for r in try db.rows("SELECT phase, COUNT(*) AS n FROM work_orders GROUP BY phase") { byPhase[r["phase"]] = r["n"] }
            let latencies = try db.column(as: Double.self, "SELECT (delivered_at - confirmed_detection_at) * 1000 FROM work_orders WHERE delivered_at IS NOT NULL ORDER BY 1")
            func pct(_ p: Double) -> Double? {
                guard !latencies.isEmpty else { return nil }
                return latencies[min(latencies.count - 1, Int((p * Double(latencies.count - 1)).rounded()))]
            }
            return StoreStats(detectionsByStatus: byStatus, detectionsTotal: byStatus.values.reduce(0, +),
                              incidentsOpen: try db.value(as: Int.self, "SELECT COUNT(*) FROM incidents WHERE is_open = 1") ?? 0,
                              incidentsTotal: try db.value(as: Int.self, "SELECT COUNT(*) FROM incidents") ?? 0,
                              workOrdersByPhase: byPhase, latencyP50Ms: pct(0.5), latencyP99Ms: pct(0.99), latencyMaxMs: latencies.last,
                              deliveryAttempts: try db.value(as: Int.self, "SELECT COUNT(*) FROM delivery_attempts") ?? 0,
                              failedAttempts: try db.value(as: Int.self, "SELECT COUNT(*) FROM delivery_attempts WHERE outcome NOT IN ('created', 'found_existing', 'not_found')") ?? 0)
        }
    }

    /// Detections stored, and nothing else: cheap enough to poll (`millwright bench`).
    public func detectionsStored() async throws -> Int {
        try await read { db in try db.value(as: Int.self, "SELECT COUNT(*) FROM detections") ?? 0 }
    }

    /// Cameras that sent detections, for `assets validate` against a live store.
    public func camerasSeen() async throws -> [String] {
        try await read { db in try db.column(as: String.self, "SELECT DISTINCT camera_id FROM detections") }
    }
}

extension Store {
    /// Detection timestamp → stored, per detection, sorted (for `millwright bench`).
    public func receiptLatenciesMs() async throws -> [Double] {
        try await read { db in try db.column(as: Double.self, "SELECT (received_at - ts) * 1000 FROM detections ORDER BY 1") }
    }
}
