import Foundation
import MillwrightCore

/// The closure read back from the CMMS once a work order closed (`cmms_readbacks`): one row
/// per work order, written when the read succeeded, was not supported, or was given up.
public protocol ReadbackStore: Sendable {
    func pendingReadbacks(cmms: String, limit: Int, now: Date) async throws -> [Store.ReadbackDue]
    func recordReadback(workOrderId: String, _ readback: Store.ReadbackRecord, now: Date) async throws
    func recordReadbackFailure(workOrderId: String, error: String, now: Date) async throws
    func readback(incidentId: String) async throws -> Store.ReadbackRecord?
    func completionPhotos(since: Date, limit: Int) async throws -> [CompletionSample]
}

extension Store {
    /// A closed work order whose closure has not been read back yet.
    public struct ReadbackDue: Sendable, Equatable {
        public var workOrderId: String
        public var incidentId: String
        public var cmmsId: String
        public var reference: String
        public var camera: String
    }

    /// What was read back, as stored.
    public struct ReadbackRecord: Sendable, Equatable {
        public enum Outcome: String, Sendable { case read, unsupported, failed }
        public var outcome: Outcome
        public var closureCode: String?
        public var notes: [ReadbackNote]
        /// The completion photo in the evidence store (JPEG), by its SHA-256.
        public var photoSHA256: String?
        public var photoName: String?
        /// What was not taken and why (or, unsupported/failed: why nothing was).
        public var refused: [String]
        public var readAt: Date?
        public init(outcome: Outcome, closureCode: String? = nil, notes: [ReadbackNote] = [], photoSHA256: String? = nil, photoName: String? = nil,
                    refused: [String] = [], readAt: Date? = nil) {
            self.outcome = outcome; self.closureCode = closureCode; self.notes = notes; self.photoSHA256 = photoSHA256
            self.photoName = photoName; self.refused = refused; self.readAt = readAt
        }
    }

    /// Failed reads of one work order before it is given up (said in its timeline).
    public static let maxReadbackAttempts = 5
    /// Only work orders closed this recently are read back: an upgrade does not read years of history.
    public static let readbackHorizon: TimeInterval = 30 * 86_400

    public func pendingReadbacks(cmms: String, limit: Int = 20, now: Date = Date()) async throws -> [ReadbackDue] {
        try await read { db in
            try db.rows("""
                SELECT w.id, w.incident_id, w.cmms_id, w.reference, i.camera_id FROM work_orders w JOIN incidents i ON i.id = w.incident_id
                LEFT JOIN cmms_readbacks r ON r.work_order_id = w.id
                WHERE w.cmms_name = ? AND w.phase = 'delivered' AND w.cmms_id IS NOT NULL AND i.is_open = 0 AND i.closed_at >= ?
                  AND w.cmms_status IN ('completed', 'false_positive', 'cancelled')
                  AND (r.work_order_id IS NULL OR (r.outcome = 'pending' AND r.attempts < ?))
                ORDER BY i.closed_at, w.id LIMIT ?
                """, [cmms, now.dbValue - Self.readbackHorizon, Self.maxReadbackAttempts, limit]).map {
                ReadbackDue(workOrderId: $0["id"], incidentId: $0["incident_id"], cmmsId: $0["cmms_id"], reference: $0["reference"], camera: $0["camera_id"])
            }
        }
    }

    /// Stores the read-back and writes its audit record (`cmms.readback`, on the work order, so
    /// it is in the incident's timeline). The notes are bounded by `ReadbackLimits` already.
    public func recordReadback(workOrderId: String, _ r: ReadbackRecord, now: Date = Date()) async throws {
        try await sharedWrite { db in
            guard let incident = try db.value(as: String.self, "SELECT incident_id FROM work_orders WHERE id = ?", [workOrderId]) else {
                throw StoreError.notFound("work order \(workOrderId)")
            }
            let notes = Self.json(r.notes), refused = Self.json(r.refused)
            try db.run("""
                INSERT INTO cmms_readbacks (work_order_id, incident_id, outcome, attempts, read_at, closure_code, notes, photo_sha256, photo_name, refused)
                VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (work_order_id) DO UPDATE SET outcome = excluded.outcome, attempts = cmms_readbacks.attempts + 1, read_at = excluded.read_at,
                  closure_code = excluded.closure_code, notes = excluded.notes, photo_sha256 = excluded.photo_sha256,
                  photo_name = excluded.photo_name, refused = excluded.refused
                """, [workOrderId, incident, r.outcome.rawValue, now.dbValue, r.closureCode, notes, r.photoSHA256, r.photoName, refused])
            try db.audit(kind: "cmms.readback", subject: workOrderId, data: [
                "outcome": .string(r.outcome.rawValue), "closure_code": JSONValue(r.closureCode),
                "notes": .array(r.notes.map { .string($0.text) }), "photo_sha256": JSONValue(r.photoSHA256), "photo_name": JSONValue(r.photoName),
                "refused": .array(r.refused.map(JSONValue.string)),
            ], at: now)
        }
    }

    /// A read that failed (the CMMS did not answer): asked again on a later poll, given up after
    /// `maxReadbackAttempts` with a `cmms.readback` record saying why.
    public func recordReadbackFailure(workOrderId: String, error: String, now: Date = Date()) async throws {
        let error = CMMSReadback.cut(error, ReadbackLimits.refusalBytes)
        try await sharedWrite { db in
            guard let incident = try db.value(as: String.self, "SELECT incident_id FROM work_orders WHERE id = ?", [workOrderId]) else {
                throw StoreError.notFound("work order \(workOrderId)")
            }
            try db.run("""
                INSERT INTO cmms_readbacks (work_order_id, incident_id, outcome, attempts, last_error) VALUES (?, ?, 'pending', 1, ?)
                ON CONFLICT (work_order_id) DO UPDATE SET attempts = cmms_readbacks.attempts + 1, last_error = excluded.last_error
                """, [workOrderId, incident, error])
            let attempts = try db.value(as: Int.self, "SELECT attempts FROM cmms_readbacks WHERE work_order_id = ?", [workOrderId]) ?? 0
            if attempts >= Self.maxReadbackAttempts {
                try db.run("UPDATE cmms_readbacks SET outcome = 'failed', refused = ? WHERE work_order_id = ?", [Self.json([error]), workOrderId])
                try db.audit(kind: "cmms.readback", subject: workOrderId, data: [
                    "outcome": .string("failed"), "attempts": .number(Double(attempts)), "refused": .array([.string(error)]),
                ], at: now)
            }
        }
    }

    /// The incident's read-back, once there is one (not while reads are still being retried).
    public func readback(incidentId: String) async throws -> ReadbackRecord? {
        try await read { db in
            guard let r = try db.row("SELECT * FROM cmms_readbacks WHERE incident_id = ? AND outcome <> 'pending'", [incidentId]),
                  let outcome = ReadbackRecord.Outcome(rawValue: r["outcome"]) else { return nil }
            return ReadbackRecord(outcome: outcome, closureCode: r["closure_code"],
                                  notes: (r["notes"] as String?).flatMap { Self.decode([ReadbackNote].self, $0) } ?? [],
                                  photoSHA256: r["photo_sha256"], photoName: r["photo_name"],
                                  refused: (r["refused"] as String?).flatMap { Self.decode([String].self, $0) } ?? [],
                                  readAt: (r["read_at"] as Double?).map(Date.init(db:)))
        }
    }

    /// Completion photos read back since `since`, oldest first.
    public func completionPhotos(since: Date, limit: Int) async throws -> [CompletionSample] {
        try await read { db in
            try db.rows("""
                SELECT r.incident_id, r.work_order_id, r.photo_sha256, r.read_at, i.camera_id, i.asset, i.defect_class
                FROM cmms_readbacks r JOIN incidents i ON i.id = r.incident_id
                WHERE r.photo_sha256 IS NOT NULL AND r.read_at >= ? ORDER BY r.read_at, r.work_order_id LIMIT ?
                """, [since.dbValue, limit]).map {
                CompletionSample(incidentId: $0["incident_id"], workOrderId: $0["work_order_id"], camera: $0["camera_id"], asset: $0["asset"],
                                 defectClass: $0["defect_class"], photoSHA256: $0["photo_sha256"], readAt: Date(db: $0["read_at"]))
            }
        }
    }
}
