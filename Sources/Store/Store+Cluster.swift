import Foundation
import MillwrightCore

/// The nodes sharing this database, as their heartbeats say. Nothing is decided by them (no
/// leader): claims are leases on rows; this is what an operator reads in `GET /v1/cluster`.
extension Store {
    public struct NodeView: Sendable, Equatable, Codable {
        public var nodeId: String
        public var version: String
        public var startedAt: Date
        public var heartbeatAt: Date
        /// Seconds since its last heartbeat, on this node's clock.
        public var lagSeconds: Double
        /// Work orders it holds in flight under a lease, and when the last of those runs out.
        public var leases: Int
        public var leaseUntil: Date?
        /// This node is the one answering.
        public var isSelf: Bool
    }

    /// Records that this node is alive (started at `startedAt`).
    public func heartbeat(version: String, startedAt: Date, now: Date = Date()) async throws {
        let node = node
        _ = try await write { db in
            try db.run("""
                INSERT INTO nodes (node_id, started_at, heartbeat_at, version) VALUES (?, ?, ?, ?)
                ON CONFLICT (node_id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, version = excluded.version
                """, [node, startedAt.dbValue, now.dbValue, version])
        }
    }

    /// A graceful stop: the node leaves the list at once instead of going stale.
    public func leaveCluster() async throws {
        let node = node
        _ = try await write { db in try db.run("DELETE FROM nodes WHERE node_id = ?", [node]) }
    }

    /// Nodes heard from within `window`, newest heartbeat first; older rows are removed.
    public func liveNodes(window: TimeInterval, now: Date = Date()) async throws -> [NodeView] {
        let me = node
        return try await write { db in
            try db.run("DELETE FROM nodes WHERE heartbeat_at < ?", [now.addingTimeInterval(-window).dbValue])
            return try db.rows("""
                SELECT n.node_id, n.version, n.started_at, n.heartbeat_at,
                    (SELECT COUNT(*) FROM work_orders w WHERE w.lease_owner = n.node_id AND w.phase IN ('sending', 'verifying')) AS leases,
                    (SELECT MAX(w.lease_until) FROM work_orders w WHERE w.lease_owner = n.node_id AND w.phase IN ('sending', 'verifying')) AS lease_until
                FROM nodes n ORDER BY n.heartbeat_at DESC, n.node_id
                """).map { r in
                let beat = Date(db: r["heartbeat_at"])
                return NodeView(nodeId: r["node_id"], version: r["version"], startedAt: Date(db: r["started_at"]), heartbeatAt: beat,
                                lagSeconds: max(0, now.timeIntervalSince(beat)), leases: r["leases"],
                                leaseUntil: (r["lease_until"] as Double?).map(Date.init(db:)), isSelf: (r["node_id"] as String) == me)
            }
        }
    }

    /// One cheap round trip: whether the database answers now (`/readyz`).
    public func ping() async throws {
        _ = try await read { db in try db.value(as: Int.self, "SELECT 1") }
    }
}
