import Foundation
import MillwrightCore

public struct OutboxItem: Sendable {
    public var workOrderId: String
    public var incidentId: String
    public var reference: String
    public var cmmsName: String
    public var action: DeliveryState.Action
    public var attempt: Int
    public var draft: WorkOrderDraft
    public var confirmedDetectionAt: Date
    /// When the work order was queued, on the gateway's clock: no create of it can be older, so
    /// a lookup that pages the CMMS's list reads back to here.
    public var queuedAt: Date
    /// This claim's fence token: its outcome is recorded only while the token is current.
    public var fence: Int64
}

public struct DeliveryRecord: Sendable {
    public var state: DeliveryState
    /// Confirming detection → CMMS acknowledgement, when this delivery completed it.
    public var latency: TimeInterval?
    /// The claim's lease had been taken over (this node paused or lost the database past it):
    /// the outcome was not recorded; the node that holds the work order now looks it up.
    public var stale = false
}

extension Store {
    static func deliveryState(_ row: SQLRow) -> DeliveryState {
        DeliveryState(phase: DeliveryState.Phase(rawValue: row["phase"]) ?? .pending, attempts: row["attempts"],
                      nextAttemptAt: (row["next_attempt_at"] as Double?).map(Date.init(db:)), mustVerify: row["must_verify"],
                      cmmsId: row["cmms_id"], lastError: row["last_error"], crashes: row["crashes"])
    }

    static func save(_ s: DeliveryState, workOrder id: String, db: any SQLSession) throws {
        try db.run("""
            UPDATE work_orders SET phase = ?, attempts = ?, next_attempt_at = ?, must_verify = ?, cmms_id = ?, last_error = ?, crashes = ? WHERE id = ?
            """, [s.phase.rawValue, s.attempts, s.nextAttemptAt?.dbValue, s.mustVerify, s.cmmsId, s.lastError, s.crashes, id])
    }

    /// Takes up to `limit` due work orders for one CMMS and marks them in flight, naming the
    /// risky step each is about to take (what a crash during it will be blamed on).
    /// `rendersEvidence`: a create renders the evidence image first when the incident has none.
    /// `suspects`: claim only work orders that were in flight at a crash (delivered one at a
    /// time, least crashed first); otherwise only the others.
    public func claimDue(cmms: String, limit: Int, suspects: Bool = false, rendersEvidence: Bool = false, now: Date = Date()) async throws -> [OutboxItem] {
        guard limit > 0 else { return [] }
        let (node, lease) = (node, lease)
        return try await write { db in
            let rows = try db.rows("""
                SELECT w.*, i.evidence_sha256 FROM work_orders w JOIN incidents i ON i.id = w.incident_id
                WHERE w.cmms_name = ? AND w.phase IN ('pending', 'waiting') AND COALESCE(w.next_attempt_at, 0) <= ?
                  AND \(suspects ? "w.crashes > 0" : "w.crashes = 0")
                ORDER BY \(suspects ? "w.crashes, " : "")w.next_attempt_at LIMIT ?
                """ + db.claiming(of: "w"), [cmms, now.dbValue, limit])
            let leaseUntil = now.addingTimeInterval(lease).dbValue
            var items: [OutboxItem] = []
            for row in rows {
                var state = Self.deliveryState(row)
                // Compare at the stored (millisecond) precision, as the query above did.
                let action = state.claim(now: Date(db: now.dbValue))
                guard action != .none, let draft = Self.decode(WorkOrderDraft.self, row["payload"]) else { continue }
                try Self.save(state, workOrder: row["id"], db: db)
                let step = action == .lookup ? "the CMMS lookup"
                    : rendersEvidence && (row["evidence_sha256"] as String?) == nil ? "evidence rendering" : "the CMMS create"
                let fence: Int64 = row["fence"] + 1
                try db.run("UPDATE work_orders SET in_flight_step = ?, lease_owner = ?, lease_until = ?, fence = ? WHERE id = ?",
                           [step, node, leaseUntil, fence, row["id"] as String])
                items.append(OutboxItem(workOrderId: row["id"], incidentId: row["incident_id"], reference: row["reference"], cmmsName: cmms,
                                        action: action, attempt: state.attempts, draft: draft,
                                        confirmedDetectionAt: Date(db: row["confirmed_detection_at"]), queuedAt: Date(db: row["created_at"]),
                                        fence: fence))
            }
            return items
        }
    }

    /// Whether a work order that was in flight at a crash is due for this CMMS.
    public func hasSuspects(cmms: String, now: Date = Date()) async throws -> Bool {
        try await read { db in
            try db.value(as: Bool.self, """
                SELECT EXISTS (SELECT 1 FROM work_orders WHERE crashes > 0 AND cmms_name = ? AND phase IN ('pending', 'waiting')
                               AND COALESCE(next_attempt_at, 0) <= ?)
                """, [cmms, now.dbValue]) ?? false
        }
    }

    /// When the next waiting work order of this CMMS becomes due.
    public func nextDue(cmms: String) async throws -> Date? {
        try await read { db in
            try db.value(as: Double.self, "SELECT MIN(COALESCE(next_attempt_at, 0)) FROM work_orders WHERE cmms_name = ? AND phase IN ('pending', 'waiting')",
                                [cmms]).map(Date.init(db:))
        }
    }

    /// Just before the CMMS is called: whether the claim is still this node's, and if so it is
    /// extended for another lease. A claim taken over while this node rendered evidence or
    /// was paused must send nothing: the new holder looks the work order up, and a create sent
    /// now could land after that lookup found nothing (a second record in the CMMS).
    public func renewDeliveryClaim(workOrderId: String, fence: Int64, now: Date = Date()) async throws -> Bool {
        let (node, lease) = (node, lease)
        return try await write { db in try Self.renewClaim(workOrderId: workOrderId, fence: fence, node: node, until: now.addingTimeInterval(lease), db: db) }
    }

    static func renewClaim(workOrderId: String, fence: Int64, node: String, until: Date, db: any SQLSession) throws -> Bool {
        try db.run("""
            UPDATE work_orders SET lease_until = ? WHERE id = ? AND fence = ? AND lease_owner = ? AND phase IN ('sending', 'verifying')
            """, [until.dbValue, workOrderId, fence, node]) == 1
    }

    /// Records the outcome of the claim whose fence token is `fence`. A claim whose lease was
    /// taken over records nothing (`stale`): its outcome is left to the lookup of the node that
    /// holds the work order now.
    public func recordDelivery(workOrderId: String, fence: Int64, action: DeliveryState.Action, outcome: DeliveryState.Outcome, duration: TimeInterval,
                               policy: DispatchPolicy, jitter: Double, now: Date = Date()) async throws -> DeliveryRecord {
        let node = node
        // Shared: the work order's row lock and its fence decide, and an incident's state is
        // changed only by exclusive writers otherwise.
        return try await sharedWrite { db in
            guard let row = try db.row("SELECT * FROM work_orders WHERE id = ?" + db.lockingRead, [workOrderId]) else {
                throw StoreError.notFound("work order \(workOrderId)")
            }
            var state = Self.deliveryState(row)
            guard row["fence"] == fence, state.phase == .sending || state.phase == .verifying else {
                try db.audit(kind: "delivery.stale_outcome", subject: workOrderId, data: [
                    "node": .string(node), "fence": .number(Double(fence)), "current_fence": .number(Double(row["fence"] as Int64)),
                    "outcome": .string(outcome.label), "detail": JSONValue(outcome.detail),
                    "note": .string("the lease was taken over; not recorded, the work order is looked up by its current holder"),
                ], at: now)
                return DeliveryRecord(state: state, latency: nil, stale: true)
            }
            state.record(outcome, now: now, policy: policy, jitter: jitter)
            try Self.save(state, workOrder: workOrderId, db: db)
            try db.run("UPDATE work_orders SET lease_owner = NULL, lease_until = NULL WHERE id = ?", [workOrderId])
            let (label, detail) = (outcome.label, outcome.detail)
            try db.run("INSERT INTO delivery_attempts (work_order_id, at, action, outcome, detail, duration_ms) VALUES (?, ?, ?, ?, ?, ?)",
                           [workOrderId, now.dbValue, action == .lookup ? "lookup" : "create", label, detail, duration * 1000])
            var latency: TimeInterval?
            if state.phase == .delivered {
                latency = now.timeIntervalSince(Date(db: row["confirmed_detection_at"]))
                try db.run("UPDATE work_orders SET delivered_at = ?, cmms_status = 'open' WHERE id = ?", [now.dbValue, workOrderId])
                try Self.applyIncidentEvent(.workOrderCreated, incident: row["incident_id"], now: now, db: db)
            }
            try db.audit(kind: "delivery.attempt", subject: workOrderId, data: [
                "action": .string(action == .lookup ? "lookup" : "create"), "outcome": .string(label), "detail": JSONValue(detail),
                "phase": .string(state.phase.rawValue), "attempts": .number(Double(state.attempts)), "cmms_id": JSONValue(state.cmmsId),
            ], at: now)
            return DeliveryRecord(state: state, latency: latency)
        }
    }

    /// Which claims a recovery takes back.
    public enum RecoveryScope: Sendable {
        /// Every claim: one process owns a SQLite file, and at its start nothing of it can be in flight.
        case all
        /// Claims whose lease ran out: on a shared database the others belong to live nodes.
        case expired
        /// At a node's start on a shared database: expired claims, and its own from before a
        /// restart (a configured `node_id` is the same after one; it must be unique among live nodes).
        case expiredOrMine
    }

    /// After a crash: anything caught mid-request is looked up before it is sent again.
    @discardableResult
    public func recoverInFlight(_ scope: RecoveryScope, now: Date = Date()) async throws -> Int {
        let node = node
        return try await auditedWrite { db in
            let rows = try db.rows("""
                SELECT * FROM work_orders WHERE phase IN ('sending', 'verifying')
                  AND (? = 1 OR COALESCE(lease_until, 0) <= ? OR (? = 1 AND lease_owner = ?))
                """ + db.claiming(), [scope == .all, now.dbValue, scope == .expiredOrMine, node])
            for row in rows {
                var s = Self.deliveryState(row)
                s.recoverAfterRestart(now: now, step: row["in_flight_step"] ?? "delivery")
                try Self.save(s, workOrder: row["id"], db: db)
                // A new fence: the claim that was lost can no longer record its outcome.
                try db.run("UPDATE work_orders SET lease_owner = NULL, lease_until = NULL, fence = fence + 1 WHERE id = ?", [row["id"] as String])
                if s.phase == .quarantined {
                    try db.audit(kind: "delivery.quarantined", subject: row["id"], data: [
                        "reason": JSONValue(s.lastError), "step": JSONValue(row["in_flight_step"] as String?), "crashes": .number(Double(s.crashes)),
                    ], at: now)
                } else {
                    try db.audit(kind: "delivery.recovered", subject: row["id"], data: [
                        "note": .string("in flight at restart; will verify with the CMMS before sending again"), "crashes": .number(Double(s.crashes)),
                    ], at: now)
                }
            }
            return rows.count
        }
    }

    public func redrive(workOrderId: String, by: String, signature: SignatureIntent? = nil, now: Date = Date()) async throws -> Bool {
        try await auditedWrite { db in
            guard let row = try db.row("SELECT * FROM work_orders WHERE id = ?", [workOrderId]) else {
                throw StoreError.notFound("work order \(workOrderId)")
            }
            var s = Self.deliveryState(row)
            guard s.redrive(now: now) else { return false }
            try Self.save(s, workOrder: workOrderId, db: db)
            // Its next outcome is news for the floor again.
            try db.run("UPDATE work_orders SET floor_announced = NULL WHERE id = ?", [workOrderId])
            try db.audit(kind: "delivery.redriven", subject: workOrderId, data: ["by": .string(by)], at: now)
            try db.sign(signature)
            return true
        }
    }

    /// Delivered work orders whose incident is still open: their CMMS status is read back.
    public struct OpenWorkOrder: Sendable {
        public var workOrderId: String
        public var incidentId: String
        public var cmmsId: String
        public var repeatsUnnoted: Int
        public var lastSeen: Date
        /// Evidence rendered but not yet uploaded to the CMMS.
        public var evidenceToAttach: String?
        public var reference: String
        public var camera: String
    }

    public func openDelivered(cmms: String) async throws -> [OpenWorkOrder] {
        try await read { db in
            try db.rows("""
                SELECT w.id, w.incident_id, w.cmms_id, GREATEST(i.detection_count - 1 - w.repeats_noted, 0) AS repeats_unnoted, w.reference, i.last_seen, i.camera_id,
                    CASE WHEN w.evidence_attached = 0 THEN i.evidence_sha256 END AS evidence_to_attach
                FROM work_orders w JOIN incidents i ON i.id = w.incident_id
                WHERE w.cmms_name = ? AND w.phase = 'delivered' AND i.is_open = 1
                """, [cmms]).map {
                OpenWorkOrder(workOrderId: $0["id"], incidentId: $0["incident_id"], cmmsId: $0["cmms_id"],
                              repeatsUnnoted: $0["repeats_unnoted"], lastSeen: Date(db: $0["last_seen"]),
                              evidenceToAttach: $0["evidence_to_attach"], reference: $0["reference"], camera: $0["camera_id"])
            }
        }
    }

    /// A note waiting for the CMMS (a verdict), on a work order the CMMS already has.
    public struct PendingNote: Sendable, Equatable {
        public var id: Int64
        public var workOrderId: String
        public var cmmsId: String
        public var kind: String
        public var text: String
    }

    /// Gives up on a note after this many failed sends: the audit trail still has the decision.
    static let maxNoteAttempts = 20

    public func pendingNotes(cmms: String, limit: Int = 50) async throws -> [PendingNote] {
        try await read { db in
            try db.rows("""
                SELECT n.id, n.work_order_id, w.cmms_id, n.kind, n.text FROM cmms_notes n JOIN work_orders w ON w.id = n.work_order_id
                WHERE n.sent_at IS NULL AND n.attempts < ? AND w.cmms_name = ? AND w.cmms_id IS NOT NULL ORDER BY n.id LIMIT ?
                """, [Self.maxNoteAttempts, cmms, limit]).map {
                PendingNote(id: $0["id"], workOrderId: $0["work_order_id"], cmmsId: $0["cmms_id"], kind: $0["kind"], text: $0["text"])
            }
        }
    }

    public func recordNote(_ note: PendingNote, sent: Bool, now: Date = Date()) async throws {
        try await sharedWrite { db in
            if sent {
                try db.run("UPDATE cmms_notes SET sent_at = ? WHERE id = ? AND sent_at IS NULL", [now.dbValue, note.id])
                try db.audit(kind: "work_order.noted", subject: note.workOrderId, data: ["note": .string(note.kind)], at: now)
            } else {
                try db.run("UPDATE cmms_notes SET attempts = attempts + 1 WHERE id = ?", [note.id])
            }
        }
    }

    /// The CMMS has been told about `count` repeats.
    public func markRepeatsNoted(workOrderId: String, count: Int, now: Date = Date()) async throws {
        // Only the work order's row: ingest counts repeats on the incident, never here.
        try await sharedWrite { db in
            try db.run("UPDATE work_orders SET repeats_noted = repeats_noted + ? WHERE id = ?", [count, workOrderId])
            try db.audit(kind: "work_order.noted", subject: workOrderId, data: ["repeats": .number(Double(count))], at: now)
        }
    }

    /// Applies a status the CMMS reported; closes the incident when the work is done.
    @discardableResult
    public func applyCMMSStatus(workOrderId: String, status: CMMSStatus, now: Date = Date()) async throws -> IncidentLifecycle.Transition {
        // Most reads of a CMMS status change nothing but when it was checked: that much runs
        // beside ingest. A change, which may close the incident, runs alone.
        let unchanged = try await sharedWrite { db -> IncidentLifecycle.Transition? in
            guard let row = try db.row("""
                SELECT w.cmms_status, i.state, i.resolution FROM work_orders w JOIN incidents i ON i.id = w.incident_id WHERE w.id = ?
                """, [workOrderId]), (row["cmms_status"] as String?) == status.rawValue else { return nil }
            var life = IncidentLifecycle(state: IncidentState(rawValue: row["state"]) ?? .open,
                                         resolution: (row["resolution"] as String?).flatMap(Resolution.init(rawValue:)))
            let t = life.apply(.cmmsStatus(status))
            if case .moved = t { return nil }
            try db.run("UPDATE work_orders SET status_checked_at = ? WHERE id = ?", [now.dbValue, workOrderId])
            return t
        }
        if let unchanged { return unchanged }
        return try await auditedWrite { db in
            guard let row = try db.row("SELECT incident_id, cmms_status FROM work_orders WHERE id = ?", [workOrderId]) else {
                throw StoreError.notFound("work order \(workOrderId)")
            }
            try db.run("UPDATE work_orders SET cmms_status = ?, status_checked_at = ? WHERE id = ?", [status.rawValue, now.dbValue, workOrderId])
            if (row["cmms_status"] as String?) != status.rawValue {
                try db.audit(kind: "work_order.status", subject: workOrderId, data: ["status": .string(status.rawValue)], at: now)
            }
            let t = try Self.applyIncidentEvent(.cmmsStatus(status), incident: row["incident_id"], now: now, db: db)
            if status == .falsePositive, case .moved = t {
                try db.run("INSERT INTO feedback (incident_id, at, verdict, by, note, source) VALUES (?, ?, 'false_positive', NULL, 'closed as false positive in the CMMS', 'cmms')",
                               [row["incident_id"] as String, now.dbValue])
            }
            return t
        }
    }

    @discardableResult
    static func applyIncidentEvent(_ event: IncidentLifecycle.Event, incident: String, now: Date, db: any SQLSession) throws -> IncidentLifecycle.Transition {
        guard let row = try db.row("SELECT state, resolution FROM incidents WHERE id = ?", [incident]) else {
            throw StoreError.notFound("incident \(incident)")
        }
        var life = IncidentLifecycle(state: IncidentState(rawValue: row["state"]) ?? .open,
                                     resolution: (row["resolution"] as String?).flatMap(Resolution.init(rawValue:)))
        let t = life.apply(event)
        guard case .moved(let from, let to) = t else { return t }
        try db.run("UPDATE incidents SET state = ?, resolution = ?, is_open = ?, closed_at = ? WHERE id = ?",
                       [to.rawValue, life.resolution?.rawValue, to.isOpen, to.isOpen ? nil : now.dbValue, incident])
        try db.audit(kind: "incident.\(to.rawValue)", subject: incident, data: [
            "from": .string(from.rawValue), "to": .string(to.rawValue), "resolution": JSONValue(life.resolution?.rawValue),
        ], at: now)
        if let r = life.resolution { try settleParts(incident: incident, resolution: r, now: now, db: db) }
        if to == .inProgress, let wo = try db.value(as: String.self, "SELECT id FROM work_orders WHERE incident_id = ?", [incident]) {
            // The CMMS moving the work to in progress is an acknowledgement: escalation stops.
            _ = try acknowledge(workOrderId: wo, by: "cmms", now: now, db: db)
        }
        return t
    }

    /// A planner's verdict (`POST /v1/incidents/{id}/feedback`).
    public func feedback(incidentId: String, falsePositive: Bool, by: String?, note: String?, signature: SignatureIntent? = nil,
                         now: Date = Date()) async throws -> IncidentLifecycle.Transition {
        try await auditedWrite { db in
            guard try db.value(as: Bool.self, "SELECT 1 FROM incidents WHERE id = ?", [incidentId]) != nil else {
                throw StoreError.notFound("incident \(incidentId)")
            }
            let verdict = falsePositive ? "false_positive" : "confirmed"
            try db.run("INSERT INTO feedback (incident_id, at, verdict, by, note, source) VALUES (?, ?, ?, ?, ?, 'api')",
                           [incidentId, now.dbValue, verdict, by, note])
            try db.audit(kind: "feedback", subject: incidentId, data: ["verdict": .string(verdict), "by": JSONValue(by), "note": JSONValue(note)], at: now)
            let manifest = try db.sign(signature)
            // The CMMS hears of it too (status sync sends it once the work order has a CMMS id).
            if let wo = try db.value(as: String.self, "SELECT id FROM work_orders WHERE incident_id = ? AND phase <> 'shadow'", [incidentId]) {
                try db.run("INSERT INTO cmms_notes (work_order_id, kind, text, created_at) VALUES (?, 'verdict', ?, ?)",
                           [wo, VerdictNote.text(falsePositive: falsePositive, by: by, note: note, signature: manifest), now.dbValue])
            }
            return try Self.applyIncidentEvent(.feedback(falsePositive: falsePositive), incident: incidentId, now: now, db: db)
        }
    }
}

public enum StoreError: Error, Sendable, CustomStringConvertible {
    case notFound(String)
    /// Free stock fell between reading and reserving inside one transaction (a second writer
    /// on a shared database); the submission rolls back and the client retries.
    case stockChanged(sku: String)
    public var description: String {
        switch self {
        case .notFound(let what): "\(what) not found"
        case .stockChanged(let sku): "the free stock of \(sku) changed while it was being reserved; retry"
        }
    }
}
