import Foundation
import GRDB
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
}

/// Everything the ingest transaction needs to decide, fixed for the gateway's lifetime.
public struct PipelineRules: Sendable {
    public var settings: Settings
    public var mapper: AssetMapper
    /// Roster, shifts, procedures, inventory: nil when none is configured.
    public var planning: PlanningContext?
    public init(settings: Settings, mapper: AssetMapper, planning: PlanningContext? = nil) {
        self.settings = settings; self.mapper = mapper; self.planning = planning
    }
}

extension Store {
    /// Stores a batch of validated detections and everything they cause (incident, outbox
    /// row, audit) in ONE transaction; returns only after it is committed.
    public func ingest(_ detections: [Detection], rules: PipelineRules, now: Date = Date()) async throws -> [IngestOutcome] {
        try await pool.write { db in
            try detections.map { try Self.ingestOne($0, rules: rules, now: now, db: db) }
        }
    }

    static func ingestOne(_ d: Detection, rules: PipelineRules, now: Date, db: Database) throws -> IngestOutcome {
        let id = d.detectionId ?? UUID().uuidString.lowercased()
        if let existing = try db.row("SELECT status, reason, incident_id FROM detections WHERE id = ?", [id]) {
            return IngestOutcome(id: id, status: DetectionStatus(rawValue: existing["status"]) ?? .confirmed, reason: existing["reason"],
                                 incidentId: existing["incident_id"], workOrderId: nil, duplicate: true, cameraId: d.cameraId)
        }
        var stored = d
        stored.detectionId = id
        let settings = rules.settings

        let mapped: MappedDetection
        switch rules.mapper.map(stored) {
        case .orphaned(let reason):
            try insertDetection(stored, status: .orphaned, reason: reason, asset: nil, incident: nil, now: now, db: db)
            try db.audit(kind: "detection.orphaned", subject: id, data: ["camera": .string(d.cameraId), "reason": .string(reason)], at: now)
            return IngestOutcome(id: id, status: .orphaned, reason: reason, duplicate: false, cameraId: d.cameraId)
        case .mapped(let m):
            mapped = m
        }
        let key = mapped.key
        let rule = settings.rule(for: d.defectClass)
        let history = try keyHistory(key, at: d.timestamp, rule: rule, db: db)
        let decision = IncidentRules.decide(detection: stored, rule: rule, history: history, policy: settings.incidents, shadow: settings.shadow)

        var incidentId: String?
        var workOrderId: String?
        switch decision {
        case .orphaned, .belowThreshold, .pendingConfirmation:
            break
        case .appendToOpen(let open):
            incidentId = open
            try appendRepeat(stored, to: open, db: db)
        case .suppressedAfterClose(let closed, _):
            incidentId = closed
        case .openIncident(let shadow):
            do {
                (incidentId, workOrderId) = try openIncident(stored, mapped: mapped, rule: rule, rules: rules, shadow: shadow, now: now, db: db)
            } catch let e as DatabaseError where e.resultCode == .SQLITE_CONSTRAINT {
                // Another node opened the incident first (shared PostgreSQL/replicated store):
                // this detection becomes a repeat of it, never a second work order.
                guard let open = try keyHistory(key, at: d.timestamp, rule: rule, db: db).openIncidentId else { throw e }
                incidentId = open
                try appendRepeat(stored, to: open, db: db)
                let status = DetectionStatus.suppressedRepeat
                try insertDetection(stored, status: status, reason: "repeat appended to open incident \(open)", asset: key.asset, incident: open, now: now, db: db)
                return IngestOutcome(id: id, status: status, reason: "repeat appended to open incident \(open)", incidentId: open, duplicate: false, cameraId: d.cameraId)
            }
        }
        try insertDetection(stored, status: decision.status, reason: decision.explanation, asset: key.asset, incident: incidentId, now: now, db: db)
        if case .openIncident = decision, let incidentId {
            // The pending detections that built up to confirmation belong to the incident.
            try db.run("""
                UPDATE detections SET status = 'confirmed', incident_id = ?, reason = 'confirmed with ' || ?
                WHERE asset = ? AND defect_class = ? AND zone = ? AND status = 'pending_confirmation' AND ts BETWEEN ? AND ?
                """, [incidentId, id, key.asset, key.defectClass, key.zone,
                                 d.timestamp.dbValue - rule.confirmWithin.seconds, d.timestamp.dbValue + rule.confirmWithin.seconds])
        }
        try db.audit(kind: "detection.decided", subject: id, data: [
            "camera": .string(d.cameraId), "status": .string(decision.status.rawValue), "reason": .string(decision.explanation),
            "asset": .string(key.asset), "defect_class": .string(d.defectClass), "confidence": .number(d.confidence),
            "incident": JSONValue(incidentId),
        ], at: now)
        return IngestOutcome(id: id, status: decision.status, reason: decision.explanation, incidentId: incidentId,
                             workOrderId: workOrderId, duplicate: false, cameraId: d.cameraId)
    }

    static func keyHistory(_ key: IncidentKey, at t: Date, rule: DefectRule, db: Database) throws -> KeyHistory {
        var h = KeyHistory()
        h.openIncidentId = try db.value(as: String.self, "SELECT id FROM incidents WHERE asset = ? AND defect_class = ? AND zone = ? AND is_open = 1", [key.asset, key.defectClass, key.zone])
        if let closed = try db.row("SELECT id, closed_at FROM incidents WHERE asset = ? AND defect_class = ? AND zone = ? AND is_open = 0 ORDER BY closed_at DESC LIMIT 1", [key.asset, key.defectClass, key.zone]) {
            h.lastClosedIncidentId = closed["id"]
            h.lastClosedAt = (closed["closed_at"] as Double?).map(Date.init(db:))
        }
        let window = rule.confirmWithin.seconds
        h.qualifyingInWindow = try db.value(as: Int.self, """
            SELECT COUNT(*) FROM detections WHERE asset = ? AND defect_class = ? AND zone = ? AND status = 'pending_confirmation'
            AND confidence >= ? AND ts BETWEEN ? AND ?
            """, [key.asset, key.defectClass, key.zone, rule.minConfidence, t.dbValue - window, t.dbValue + window]) ?? 0
        return h
    }

    static func insertDetection(_ d: Detection, status: DetectionStatus, reason: String, asset: String?, incident: String?, now: Date, db: Database) throws {
        try db.run("""
            INSERT INTO detections (id, camera_id, ts, received_at, defect_class, confidence, status, reason, asset, zone, incident_id, bbox_area, source_format, frame_sha256, payload)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [d.detectionId, d.cameraId, d.timestamp.dbValue, now.dbValue, d.defectClass, d.confidence, status.rawValue, reason,
                             asset, d.zone ?? "", incident, d.bbox?.area, d.sourceFormat, d.frameSHA256, json(d)])
    }

    static func appendRepeat(_ d: Detection, to incident: String, db: Database) throws {
        try db.run("""
            UPDATE incidents SET detection_count = detection_count + 1, last_seen = MAX(last_seen, ?),
                max_confidence = MAX(max_confidence, ?), last_area = COALESCE(?, last_area)
            WHERE id = ?
            """, [d.timestamp.dbValue, d.confidence, d.bbox?.area, incident])
        // Noted on the work order by the dispatcher (where the CMMS takes notes).
        try db.run("UPDATE work_orders SET repeats_unnoted = repeats_unnoted + 1 WHERE incident_id = ?", [incident])
    }

    static func openIncident(_ d: Detection, mapped: MappedDetection, rule: DefectRule, rules: PipelineRules, shadow: Bool,
                             now: Date, db: Database) throws -> (String, String) {
        let settings = rules.settings
        let key = mapped.key
        let incidentId = UUID().uuidString.lowercased()
        let prior = try db.value(as: Int.self, "SELECT COUNT(*) FROM incidents WHERE asset = ? AND opened_at >= ? AND shadow = ?", [key.asset, d.timestamp.dbValue - SeverityModel.historyWindow, shadow]) ?? 0
        let firstArea = try db.value(as: Double.self, """
            SELECT bbox_area FROM detections WHERE asset = ? AND defect_class = ? AND zone = ? AND status = 'pending_confirmation'
            AND ts >= ? AND bbox_area IS NOT NULL ORDER BY ts LIMIT 1
            """, [key.asset, key.defectClass, key.zone, d.timestamp.dbValue - rule.confirmWithin.seconds])
        let criticality = mapped.registerEntry?.criticality ?? mapped.camera.criticality
        let severity = SeverityModel.score(.init(base: rule.severityBase, bbox: d.bbox, frameWidth: d.image?.width, frameHeight: d.image?.height,
                                                 measurements: d.measurements, firstArea: firstArea, criticality: criticality, priorIncidents: prior))
        let facts = PriorityFacts(severity: Double(severity.total), criticality: criticality, defectClass: d.defectClass, zone: d.zone,
                                  camera: d.cameraId, asset: key.asset, confidence: d.confidence)
        let priority = PriorityRules.decide(settings.priority, facts: facts)
        let cmms = settings.cmms(named: mapped.camera.cmms)
        var draft = WorkOrderComposer.compose(incidentId: incidentId, detection: d, mapped: mapped, rule: rule, severity: severity,
                                              priority: priority, site: settings.site, evidenceURL: nil)
        let plan = try plan(draft, mapped: mapped, rule: rule, rules: rules, now: now, db: db)
        let workOrderId = UUID().uuidString.lowercased()
        try db.run("""
            INSERT INTO incidents (id, asset, defect_class, zone, camera_id, state, is_open, shadow, opened_at, first_seen, last_seen,
                detection_count, max_confidence, first_area, last_area, severity, severity_breakdown, priority, priority_rule, work_order_id)
            VALUES (?, ?, ?, ?, ?, 'open', 1, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [incidentId, key.asset, key.defectClass, key.zone, d.cameraId, shadow, now.dbValue, d.timestamp.dbValue,
                             d.timestamp.dbValue, d.confidence, firstArea ?? d.bbox?.area, d.bbox?.area, severity.total, json(severity),
                             priority.priority.rawValue, priority.rule, workOrderId])
        let phase: DeliveryState.Phase = shadow || cmms == nil ? .shadow : .pending
        let parts = try reserveParts(plan, incident: incidentId, take: phase != .shadow, rules: rules, now: now, db: db)
        DispatchPlanner.apply(plan, parts: parts, context: rules.planning, to: &draft, timezone: settings.site.timezone)
        var notify: [String] = []
        for name in priority.notify + settings.planning.notifications.always where !notify.contains(name) { notify.append(name) }
        try db.run("""
            INSERT INTO work_orders (id, incident_id, reference, cmms_name, cmms_kind, shadow, phase, next_attempt_at, created_at, confirmed_detection_at, payload,
                assignee, priority, notify, notify_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [workOrderId, incidentId, draft.reference, cmms?.name ?? "", cmms?.kind ?? "", phase == .shadow, phase.rawValue,
                             now.dbValue, now.dbValue, d.timestamp.dbValue, json(draft),
                             draft.assignee, priority.priority.rawValue, notify.joined(separator: ","), plan.notifyAt?.dbValue])
        if let r = plan.routing {
            try db.audit(kind: "work_order.routed", subject: workOrderId, data: [
                "assignee": JSONValue(draft.assignee), "reason": .string(r.reason), "candidates": .array(r.candidates.map(JSONValue.string)),
                "procedure": JSONValue(plan.procedure?.source),
            ], at: now)
        }
        try db.audit(kind: "incident.opened", subject: incidentId, data: [
            "asset": .string(key.asset), "defect_class": .string(key.defectClass), "zone": .string(key.zone),
            "severity": .from(severity), "priority": .from(priority), "shadow": .bool(shadow), "detection": .string(d.detectionId ?? ""),
        ], at: now)
        try db.audit(kind: "work_order.queued", subject: workOrderId, data: [
            "incident": .string(incidentId), "reference": .string(draft.reference), "cmms": .string(cmms?.name ?? ""),
            "phase": .string(phase.rawValue), "payload_sha256": .string(Hashing.sha256Hex(Data(json(draft).utf8))),
        ], at: now)
        return (incidentId, workOrderId)
    }
}

extension Store {
    /// A payload refused because processing it killed the gateway repeatedly: kept in the audit
    /// trail (its hash and size; the bytes themselves may be hostile) as rejected.
    public func recordIngestQuarantine(sha256: String, bytes: Int, format: String?, camera: String?, crashes: Int, now: Date = Date()) async throws {
        try await pool.write { db in
            try db.audit(kind: "ingest.quarantined", subject: "payload:\(sha256)", data: [
                "bytes": .number(Double(bytes)), "format": JSONValue(format), "camera": JSONValue(camera),
                "crashes": .number(Double(crashes)), "decision": .string("rejected"),
            ], at: now)
        }
    }
}
