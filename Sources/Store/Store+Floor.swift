import Foundation
import MillwrightCore

/// Work-order outcomes the plant floor has not yet confirmed hearing about.
extension Store {
    public struct FloorWorkOrder: Sendable, Equatable {
        public var workOrderId: String
        public var incidentId: String
        public var camera: String
        public var reference: String
        public var phase: String
        public var cmmsId: String?
    }

    /// Delivered or dead-lettered work orders whose outcome was never confirmed published.
    public func unannouncedWorkOrders(limit: Int = 500) async throws -> [FloorWorkOrder] {
        try await read { db in
            try db.rows("""
                SELECT w.id, w.incident_id, w.reference, w.phase, w.cmms_id, i.camera_id
                FROM work_orders w JOIN incidents i ON i.id = w.incident_id
                WHERE w.floor_announced IS NULL AND w.phase IN ('delivered', 'dead_letter', 'quarantined', 'needs_review')
                ORDER BY w.created_at LIMIT ?
                """, [limit]).map {
                FloorWorkOrder(workOrderId: $0["id"], incidentId: $0["incident_id"], camera: $0["camera_id"],
                               reference: $0["reference"], phase: $0["phase"], cmmsId: $0["cmms_id"])
            }
        }
    }

    /// The broker acknowledged the announcement of `phase` for this work order.
    public func markAnnounced(workOrderId: String, phase: String) async throws {
        _ = try await write { db in
            try db.run("UPDATE work_orders SET floor_announced = ? WHERE id = ? AND phase = ?", [phase, workOrderId, phase])
        }
    }

    public struct FloorIncident: Sendable, Equatable {
        public var incidentId: String
        public var camera: String
        public var state: String
    }

    /// Incidents whose current state was never confirmed published (shadow ones are not news).
    public func unannouncedIncidents(limit: Int = 500) async throws -> [FloorIncident] {
        try await read { db in
            try db.rows("""
                SELECT id, camera_id, state FROM incidents
                WHERE (floor_announced IS NULL OR floor_announced != state) AND shadow = 0
                ORDER BY opened_at LIMIT ?
                """, [limit]).map { FloorIncident(incidentId: $0["id"], camera: $0["camera_id"], state: $0["state"]) }
        }
    }

    /// The broker acknowledged the announcement of this incident state.
    public func markIncidentAnnounced(incidentId: String, state: String) async throws {
        _ = try await write { db in
            try db.run("UPDATE incidents SET floor_announced = ? WHERE id = ? AND state = ?", [state, incidentId, state])
        }
    }

    /// A camera's open incidents (and the highest severity among them) and its work orders
    /// not yet delivered, for the UNS `state` leaf and the Sparkplug device metrics.
    public struct CameraFloorCounts: Sendable, Equatable {
        public var openIncidents = 0
        public var severity: Int?
        public var pendingWorkOrders = 0
        public init(openIncidents: Int = 0, severity: Int? = nil, pendingWorkOrders: Int = 0) {
            self.openIncidents = openIncidents; self.severity = severity; self.pendingWorkOrders = pendingWorkOrders
        }
    }

    /// Counts for `cameras` (shadow incidents are not the floor's business); a camera with
    /// nothing open is answered with zeros.
    public func cameraFloorCounts(cameras: [String]) async throws -> [String: CameraFloorCounts] {
        guard !cameras.isEmpty else { return [:] }
        let marks = Array(repeating: "?", count: cameras.count).joined(separator: ", ")
        return try await read { db in
            var out = Dictionary(cameras.map { ($0, CameraFloorCounts()) }, uniquingKeysWith: { a, _ in a })
            for r in try db.rows("""
                SELECT camera_id, COUNT(*) AS n, MAX(severity) AS severity FROM incidents
                WHERE is_open = 1 AND shadow = 0 AND camera_id IN (\(marks)) GROUP BY camera_id
                """, SQLArguments(cameras.map { $0.sqlValue })) {
                let camera: String = r["camera_id"]
                out[camera]?.openIncidents = r["n"]
                out[camera]?.severity = r["severity"]
            }
            for r in try db.rows("""
                SELECT i.camera_id, COUNT(*) AS n FROM work_orders w JOIN incidents i ON i.id = w.incident_id
                WHERE w.phase IN ('pending', 'sending', 'verifying', 'waiting') AND i.camera_id IN (\(marks)) GROUP BY i.camera_id
                """, SQLArguments(cameras.map { $0.sqlValue })) {
                let camera: String = r["camera_id"]
                out[camera]?.pendingWorkOrders = r["n"]
            }
            return out
        }
    }
}
