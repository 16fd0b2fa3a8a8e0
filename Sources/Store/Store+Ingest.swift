import Foundation
import MillwrightCore

public struct IngestOutcome: Sendable, Equatable {
    public var id: String
    public var status: DetectionStatus
    public var reason: String
    public var incidentId: String?
    public var workOrderId: String?
    /// The detection_id was stored before: nothing was changed.
    public var duplicate: Bool
    public var cameraId: String
    /// What the floor hears about it, from the decision (nothing for a duplicate).
    public var floor: [IngestEffects.FloorNotice] = []
}

extension Store {
    /// Stores a batch of validated detections and everything they cause (incident, outbox
    /// row, audit) in ONE transaction; returns only after it is committed.
    public func ingest(_ detections: [Detection], rules: PipelineRules, now: Date = Date()) async throws -> [IngestOutcome] {
        // Under the audit chain's lock: decisions are made one transaction at a time, each
        // seeing the one before, on every backend.
        try await auditedWrite { db in
            try detections.map { try Self.ingestOne($0, rules: rules, now: now, db: db) }
        }
    }

    /// Loads what `IncidentDecision` asks for and applies what it returns; the rules are all there.
    static func ingestOne(_ d: Detection, rules: PipelineRules, now: Date, db: any SQLSession) throws -> IngestOutcome {
        let id = d.detectionId ?? UUID().uuidString.lowercased()
        if let existing = try db.row("SELECT status, reason, incident_id FROM detections WHERE id = ?", [id]) {
            return IngestOutcome(id: id, status: DetectionStatus(rawValue: existing["status"]) ?? .confirmed, reason: existing["reason"],
                                 incidentId: existing["incident_id"], workOrderId: nil, duplicate: true, cameraId: d.cameraId, floor: [])
        }
        var stored = d
        stored.detectionId = id
        var effects: IngestEffects
        switch IncidentDecision.query(for: stored, id: id, rules: rules) {
        case .orphaned(let e):
            effects = e
            try apply(effects, to: stored, now: now, db: db)
        case .key(let query, let mapped):
            effects = try decide(stored, id: id, query: query, mapped: mapped, rules: rules, now: now, db: db)
            if effects.incident == nil {
                try apply(effects, to: stored, now: now, db: db)
            } else {
                do {
                    try db.savepoint { [effects] in try apply(effects, to: stored, now: now, db: db) }
                } catch let e where db.isUniqueViolation(e) {
                    // Another writer on a shared database opened the incident first: decided
                    // again, this detection is a repeat of it, never a second work order.
                    effects = try decide(stored, id: id, query: query, mapped: mapped, rules: rules, now: now, db: db)
                    guard effects.incident == nil else { throw e }
                    try apply(effects, to: stored, now: now, db: db)
                }
            }
        }
        return IngestOutcome(id: id, status: effects.detection.status, reason: effects.detection.reason, incidentId: effects.detection.incidentId,
                             workOrderId: effects.workOrder?.id, duplicate: false, cameraId: d.cameraId, floor: effects.floor)
    }

    static func decide(_ d: Detection, id: String, query: KeyQuery, mapped: MappedDetection, rules: PipelineRules,
                              now: Date, db: any SQLSession) throws -> IngestEffects {
        let snapshot = try keySnapshot(query, db: db)
        switch IncidentDecision.decide(d, id: id, mapped: mapped, snapshot: snapshot, rules: rules) {
        case .done(let e):
            return e
        case .needsOpening(let opening):
            return IncidentDecision.open(d, id: id, mapped: mapped, key: snapshot, opening: try openingSnapshot(opening, db: db),
                                         ids: (UUID().uuidString.lowercased(), UUID().uuidString.lowercased()), rules: rules, now: now)
        }
    }

    /// What the ingest transaction would read about this key now (contract tests, diagnostics).
    public func snapshot(for query: KeyQuery) async throws -> KeySnapshot {
        try await read { db in try Self.keySnapshot(query, db: db) }
    }

    /// The key's open incident, last closure, and its pending detections inside the window
    /// (`ConfirmationWindow`: `from <= ts < until`, in the store's millisecond times).
    static func keySnapshot(_ q: KeyQuery, db: any SQLSession) throws -> KeySnapshot {
        var s = KeySnapshot()
        let key = q.key
        s.openIncidentId = try db.value(as: String.self, "SELECT id FROM incidents WHERE asset = ? AND defect_class = ? AND zone = ? AND is_open = 1", [key.asset, key.defectClass, key.zone])
        if let closed = try db.row("SELECT id, closed_at FROM incidents WHERE asset = ? AND defect_class = ? AND zone = ? AND is_open = 0 ORDER BY closed_at DESC LIMIT 1", [key.asset, key.defectClass, key.zone]) {
            s.lastClosedIncidentId = closed["id"]
            s.lastClosedAt = (closed["closed_at"] as Double?).map(Date.init(db:))
        }
        s.pending = try db.rows("""
            SELECT id, ts, confidence, bbox_area FROM detections
            WHERE asset = ? AND defect_class = ? AND zone = ? AND status = 'pending_confirmation' AND ts >= ? AND ts < ?
            ORDER BY ts, id
            """, [key.asset, key.defectClass, key.zone, Double(q.window.fromMillis) / 1000, Double(q.window.untilMillis) / 1000]).map {
            PendingDetection(id: $0["id"], timestampMillis: Timestamps.millis(Date(db: $0["ts"])), confidence: $0["confidence"], bboxArea: $0["bbox_area"])
        }
        return s
    }

    static func openingSnapshot(_ q: OpeningQuery, db: any SQLSession) throws -> OpeningSnapshot {
        var s = OpeningSnapshot()
        s.priorIncidents = try db.value(as: Int.self, "SELECT COUNT(*) FROM incidents WHERE asset = ? AND opened_at >= ? AND shadow = ?",
                                        [q.asset, Double(q.priorSinceMillis) / 1000, q.shadow]) ?? 0
        if q.needsWorkload { s.workload = try workload(db) }
        for sku in q.skus {
            if let row = try db.row("SELECT GREATEST(on_hand - external_reserved - reserved, 0) AS free, location FROM inventory WHERE sku = ?", [sku]) {
                s.stock[sku] = StockLevel(free: row["free"], location: row["location"])
            }
        }
        return s
    }

    static func apply(_ e: IngestEffects, to d: Detection, now: Date, db: any SQLSession) throws {
        let id = e.detection.id
        if let i = e.incident, let w = e.workOrder {
            // First, so that losing the race on the one-open-incident index leaves nothing behind.
            try db.run("""
                INSERT INTO incidents (id, asset, defect_class, zone, camera_id, state, is_open, shadow, opened_at, first_seen, last_seen,
                    detection_count, max_confidence, first_area, last_area, severity, severity_breakdown, priority, priority_rule, work_order_id)
                VALUES (?, ?, ?, ?, ?, 'open', 1, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [i.id, i.key.asset, i.key.defectClass, i.key.zone, i.camera, i.shadow, now.dbValue, i.firstSeen.dbValue,
                                 i.firstSeen.dbValue, i.maxConfidence, i.firstArea, i.lastArea, i.severity.total, json(i.severity),
                                 i.priority.priority.rawValue, i.priority.rule, w.id])
            for r in e.reservations where r.take {
                if r.line.status == .reserved {
                    // The decision saw enough free stock in this transaction; the condition
                    // still guards it, and a failure rolls the whole submission back.
                    let changed = try db.run("""
                        UPDATE inventory SET reserved = reserved + ?1
                        WHERE sku = ?2 AND on_hand - external_reserved - reserved >= ?1
                        """, [r.line.qty, r.line.sku])
                    guard changed == 1 else { throw StoreError.stockChanged(sku: r.line.sku) }
                }
                try db.run("INSERT INTO part_reservations (incident_id, sku, qty, status, at) VALUES (?, ?, ?, ?, ?)",
                           [i.id, r.line.sku, r.line.qty, r.line.status.rawValue, now.dbValue])
            }
            try db.run("""
                INSERT INTO work_orders (id, incident_id, reference, cmms_name, cmms_kind, shadow, phase, next_attempt_at, created_at, confirmed_detection_at, payload,
                    assignee, priority, notify, notify_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [w.id, i.id, w.draft.reference, w.cmmsName, w.cmmsKind, w.phase == .shadow, w.phase.rawValue,
                                 now.dbValue, now.dbValue, d.timestamp.dbValue, w.payload,
                                 w.draft.assignee, i.priority.priority.rawValue, w.notify.joined(separator: ","), w.notifyAt?.dbValue])
        }
        if let open = e.appendTo {
            try db.run("""
                UPDATE incidents SET detection_count = detection_count + 1, last_seen = GREATEST(last_seen, ?),
                    max_confidence = GREATEST(max_confidence, ?), last_area = COALESCE(?, last_area)
                WHERE id = ?
                """, [d.timestamp.dbValue, d.confidence, d.bbox?.area, open])
            // Noted on the work order by the dispatcher (where the CMMS takes notes).
            try db.run("UPDATE work_orders SET repeats_unnoted = repeats_unnoted + 1 WHERE incident_id = ?", [open])
        }
        try db.run("""
            INSERT INTO detections (id, camera_id, ts, received_at, defect_class, confidence, status, reason, asset, zone, incident_id, bbox_area, source_format, frame_sha256, payload)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [id, d.cameraId, d.timestamp.dbValue, now.dbValue, d.defectClass, d.confidence, e.detection.status.rawValue, e.detection.reason,
                             e.detection.asset, d.zone ?? "", e.detection.incidentId, d.bbox?.area, d.sourceFormat, d.frameSHA256, json(d)])
        if let incident = e.incident?.id {
            for pending in e.confirms {
                try db.run("UPDATE detections SET status = 'confirmed', incident_id = ?, reason = ? WHERE id = ? AND status = 'pending_confirmation'",
                           [incident, "confirmed with \(id)", pending])
            }
        }
        for a in e.audit { try db.audit(kind: a.kind, subject: a.subject, data: a.data, at: now) }
    }
}

extension Store {
    /// A payload refused because processing it killed the gateway repeatedly: kept in the audit
    /// trail (its hash and size; the bytes themselves may be hostile) as rejected.
    public func recordIngestQuarantine(sha256: String, bytes: Int, format: String?, camera: String?, crashes: Int, now: Date = Date()) async throws {
        try await auditedWrite { db in
            try db.audit(kind: "ingest.quarantined", subject: "payload:\(sha256)", data: [
                "bytes": .number(Double(bytes)), "format": JSONValue(format), "camera": JSONValue(camera),
                "crashes": .number(Double(crashes)), "decision": .string("rejected"),
            ], at: now)
        }
    }
}
