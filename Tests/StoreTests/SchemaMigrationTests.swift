import Foundation
import GRDB
import MillwrightCore
@testable import Store
import Testing

/// A plant's SQLite file from an earlier release is brought forward without losing meaning.
struct SchemaMigrationTests {
    @Test func repeatsNotYetNotedSurviveTheMoveToTheIncidentCount() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("mw-migrate-\(UUID().uuidString).sqlite").path
        do {
            // The file as the previous release left it: 4 repeats on the incident, 1 not yet noted.
            let old = try DatabaseQueue(path: path)
            try Schema.migrator.migrate(old, upTo: "v10-cluster")
            try await old.write { db in
                try db.execute(sql: """
                    INSERT INTO incidents (id, asset, defect_class, zone, camera_id, state, is_open, shadow, opened_at, first_seen, last_seen,
                        detection_count, max_confidence, severity, severity_breakdown, priority, priority_rule)
                    VALUES ('i1', 'A0', 'crack', '', 'CAM-0', 'open', 1, 0, 1, 1, 5, 5, 0.9, 50, '{}', 'P2', 'r');
                    INSERT INTO work_orders (id, incident_id, reference, cmms_name, cmms_kind, shadow, phase, created_at, confirmed_detection_at,
                        repeats_unnoted, payload, cmms_id)
                    VALUES ('w1', 'i1', 'MW-1', 'sb', 'sandbox', 0, 'delivered', 1, 1, 1, '{}', 'WO-1');
                    """)
            }
            try old.close()
        }
        let store = try Store(path: path)
        #expect(try await store.workOrder(id: "w1")?.repeatsUnnoted == 1)
        #expect(try await store.openDelivered(cmms: "sb").first?.repeatsUnnoted == 1)
    }

    /// Only detections waiting for confirmation are indexed by key, and the decision's lookup
    /// finds them through that index rather than by scanning a key's history.
    @Test func theDecisionReadsPendingDetectionsThroughThePartialIndex() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("mw-plan-\(UUID().uuidString).sqlite").path
        _ = try Store(path: path)
        let db = try DatabaseQueue(path: path)
        let plan = try await db.read { db in
            try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + Store.keySnapshotSQL, arguments: ["A1", "crack", "", 0.0, 1.0]).map { $0["detail"] as String }
        }
        #expect(plan.contains { $0.contains("detections USING INDEX detections_pending") }, "\(plan)")
        let indexes = try await db.read { db in try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'detections'") }
        #expect(!indexes.contains("detections_key"))
    }

    /// Arguments are bound straight into SQLite: every kind comes back as it went in (an empty
    /// text stays text and an empty blob stays a blob, neither becomes NULL), and a statement
    /// given the wrong number of arguments is refused rather than run with stale ones.
    @Test func argumentsBoundDirectlyRoundTripEveryKind() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("mw-bind-\(UUID().uuidString).sqlite").path
        let backend = try SQLiteBackend(path: path, auditSeal: AuditSeal(key: nil))
        let values: [SQLValue] = [
            .integer(Int64.max), .integer(Int64.min), .real(-1e-300), .real(1.5e300), .text("Grüße 🚧 工場 — \"quoted\" 'single' ?"), .text(""),
            .blob(Data([0, 1, 0xFF])), .blob(Data()), .null,
        ]
        let (rows, refused) = try await backend.write { s in
            try s.run("CREATE TABLE kinds (n INTEGER PRIMARY KEY, v)")
            for (n, v) in values.enumerated() { try s.run("INSERT INTO kinds (n, v) VALUES (?, ?)", SQLArguments([.integer(Int64(n)), v])) }
            // The same cached statement again, with fewer arguments: nothing of the last call's stays bound.
            var refused = false
            do { try s.run("INSERT INTO kinds (n, v) VALUES (?, ?)", SQLArguments([.integer(99)])) } catch { refused = true }
            return (try s.rows("SELECT n, v, typeof(v) AS t FROM kinds ORDER BY n"), refused)
        }
        #expect(refused)
        #expect(rows.map { $0.value("v") } == values)
        #expect(rows.map { $0["t"] as String } == ["integer", "integer", "real", "real", "text", "text", "blob", "blob", "null"])
    }
}
