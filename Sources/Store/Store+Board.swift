import Foundation
import MillwrightCore

/// Orphaned detections of one camera for one reason (the board groups them so twenty
/// identical rows read as one problem with a count).
public struct OrphanGroup: Sendable, Codable, Equatable {
    public var cameraId: String
    public var reason: String
    public var count: Int
    public var firstSeen: Date
    public var lastSeen: Date
}

extension Store {
    /// The board's incidents: every open one and those closed at or after `closedSince`,
    /// open first, then newest first; at most `limit`.
    public func boardIncidents(closedSince: Date, limit: Int) async throws -> [IncidentView] {
        try await read { db in
            let sql = "SELECT i.*, w.id AS w_id, w.reference AS w_reference, w.cmms_name AS w_cmms, w.phase AS w_phase, w.cmms_id AS w_cmms_id, w.cmms_status AS w_cmms_status FROM incidents i LEFT JOIN work_orders w ON w.incident_id = i.id WHERE i.is_open = ? OR i.closed_at >= ? ORDER BY i.is_open DESC, i.opened_at DESC, i.id DESC LIMIT ?"
            return try db.rows(sql, SQLArguments([true.sqlValue, closedSince.dbValue.sqlValue, limit.sqlValue])).map(Self.incidentView)
        }
    }

    /// Orphaned detections grouped by camera and reason, most recently seen first; at most `limit` groups.
    public func orphanGroups(limit: Int) async throws -> [OrphanGroup] {
        try await read { db in
            try db.rows("SELECT camera_id, reason, COUNT(*) AS n, MIN(ts) AS first_ts, MAX(ts) AS last_ts FROM detections WHERE status = ? GROUP BY camera_id, reason ORDER BY MAX(ts) DESC, camera_id LIMIT ?",
                        SQLArguments([DetectionStatus.orphaned.rawValue.sqlValue, limit.sqlValue])).map { r in
                OrphanGroup(cameraId: r["camera_id"], reason: r["reason"], count: r["n"], firstSeen: Date(db: r["first_ts"]), lastSeen: Date(db: r["last_ts"]))
            }
        }
    }
}
