import Foundation
import MillwrightCore

extension Store {
    public struct EvidenceSource: Sendable {
        public var evidenceSHA256: String?
        /// The incident's detections, oldest first.
        public var detections: [Detection]
    }

    public func evidenceSource(incidentId: String) async throws -> EvidenceSource? {
        try await read { db in
            guard let row = try db.row("SELECT evidence_sha256 FROM incidents WHERE id = ?", [incidentId]) else { return nil }
            let dets = try db.column(as: String.self, "SELECT payload FROM detections WHERE incident_id = ? ORDER BY ts LIMIT 500", [incidentId])
                .compactMap { Self.decode(Detection.self, $0) }
            return EvidenceSource(evidenceSHA256: row["evidence_sha256"], detections: dets)
        }
    }

    /// The annotated image is part of the record: its hash goes into the audit chain, and the
    /// work order's stored payload is updated to what will be sent.
    /// Records the rendered evidence and, in the same write, renews the claim whose fence is
    /// `fence` as `renewDeliveryClaim` does: false when the claim was taken over meanwhile (the
    /// evidence stays recorded for the node holding it now).
    public func recordEvidence(incidentId: String, workOrderId: String, fence: Int64, sha256: String, usedFrame: Bool, note: String,
                               draft: WorkOrderDraft, now: Date = Date()) async throws -> Bool {
        let (node, lease) = (node, lease)
        // Shared: it sets fields of one incident and its work order, read by no decision.
        return try await sharedWrite { db in
            // The work order's row before the incident's, as every shared writer locks them.
            try db.run("UPDATE work_orders SET payload = ?, in_flight_step = 'the CMMS create' WHERE id = ?", [Self.json(draft), workOrderId])
            try db.run("UPDATE incidents SET evidence_sha256 = ?, evidence_note = ? WHERE id = ?", [sha256, note, incidentId])
            try db.audit(kind: "evidence.rendered", subject: incidentId, data: [
                "sha256": .string(sha256), "used_frame": .bool(usedFrame), "note": .string(note),
            ], at: now)
            return try Self.renewClaim(workOrderId: workOrderId, fence: fence, node: node, until: now.addingTimeInterval(lease), db: db)
        }
    }

    public func recordAttachment(workOrderId: String, sha256: String, ok: Bool, now: Date = Date()) async throws {
        try await sharedWrite { db in
            if ok { try db.run("UPDATE work_orders SET evidence_attached = 1 WHERE id = ?", [workOrderId]) }
            try db.audit(kind: ok ? "evidence.attached" : "evidence.attach_failed", subject: workOrderId, data: ["sha256": .string(sha256)], at: now)
        }
    }

    /// Evidence hash of an incident (for `GET /v1/evidence/{incident id}`).
    public func evidenceHash(incidentId: String) async throws -> String? {
        try await read { db in try db.value(as: String.self, "SELECT evidence_sha256 FROM incidents WHERE id = ?", [incidentId]) }
    }

    /// Every evidence hash the audit trail vouches for, and those of open incidents
    /// (which retention must never delete).
    public func evidenceHashes() async throws -> (audited: [String], open: Set<String>) {
        try await read { db in
            let audited = try db.column(as: String.self, "SELECT data FROM audit WHERE kind = 'evidence.rendered' ORDER BY seq")
                .compactMap { Self.jsonObject($0)?["sha256"]?.stringValue }
            let open = try db.column(as: String.self, "SELECT evidence_sha256 FROM incidents WHERE is_open = 1 AND evidence_sha256 IS NOT NULL")
            let frames = try db.column(as: String.self, "SELECT DISTINCT d.frame_sha256 FROM detections d JOIN incidents i ON i.id = d.incident_id WHERE i.is_open = 1 AND d.frame_sha256 IS NOT NULL")
            return (audited, Set(open + frames))
        }
    }

    /// A camera frame that arrived on its own (MQTT snapshot topic), for detections that carry none.
    public func recordSnapshot(camera: String, sha256: String, at: Date) async throws {
        try await write { db in
            try db.run("INSERT INTO camera_snapshots (camera_id, sha256, at) VALUES (?, ?, ?)", [camera, sha256, at.dbValue])
            // Only recent snapshots are useful; keep the table small.
            try db.run("DELETE FROM camera_snapshots WHERE camera_id = ? AND at < ?", [camera, at.dbValue - 3600])
        }
    }

    /// The snapshot of `camera` closest to `time`, within `tolerance` seconds.
    public func snapshot(camera: String, near time: Date, tolerance: TimeInterval) async throws -> String? {
        try await read { db in
            try db.value(as: String.self, """
                SELECT sha256 FROM camera_snapshots WHERE camera_id = ? AND at BETWEEN ? AND ? ORDER BY ABS(at - ?) LIMIT 1
                """, [camera, time.dbValue - tolerance, time.dbValue + tolerance, time.dbValue])
        }
    }
}
