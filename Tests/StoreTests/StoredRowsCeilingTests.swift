import Foundation
import MillwrightCore
@testable import Store
import Testing

/// `bench` reports `stored_rows_ceiling_per_s` as the rate at which the store takes what each
/// detection must leave. That holds only while the ceiling writes what ingest writes for a
/// repeat: these tests compare the two, row and audit record, column by column.
@Suite struct StoredRowsCeilingTests {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mw-ceiling-\(UUID().uuidString)").path

    /// What a detection left: which columns are filled, the reason's wording, and its audit
    /// records' kinds and keys (values differ between runs; the shape must not).
    struct Shape: Equatable {
        var status: String
        /// With the incident's id taken out.
        var reason: String
        var filled: [String]
        var audit: [String]
    }

    func shape(of id: String, in store: Store) async throws -> Shape {
        try await store.read { db in
            let row = try #require(try db.row("SELECT * FROM detections WHERE id = ?", [id]))
            let columns = ["asset", "incident_id", "bbox_area", "source_format", "frame_sha256", "zone"]
            let filled = try columns.filter { c in
                try db.value(as: Int.self, "SELECT \(c) IS NOT NULL AND \(c) <> '' FROM detections WHERE id = ?", [id]) == 1
            }
            let reason: String = row["reason"]
            let incident: String = row["incident_id"] ?? "none"
            let audit = try db.rows("SELECT kind, data FROM audit WHERE subject = ? ORDER BY seq", [id]).map { r -> String in
                let data: String = r["data"]
                let keys = (try? JSONSerialization.jsonObject(with: Data(data.utf8)) as? [String: Any])?.keys.sorted() ?? []
                return (r["kind"] as String) + " " + keys.joined(separator: ",")
            }
            return Shape(status: row["status"], reason: reason.replacingOccurrences(of: incident, with: "<incident>"), filled: filled, audit: audit)
        }
    }

    func rules() -> PipelineRules {
        var s = Settings()
        s.cmms = [CMMSSettings(name: "sb", kind: "sandbox", baseURL: "http://127.0.0.1:1")]
        s.assets.cameras = (0..<3).map { CameraMapping(camera: "CAM-\($0)", asset: "A\($0)", cmms: "sb") }
        var crack = DefectRule()
        crack.minConfidence = 0.5
        crack.confirmDetections = 1
        s.defects["crack"] = crack
        return PipelineRules(settings: s, mapper: AssetMapper(cameras: s.assets.cameras, register: nil))
    }

    func detection(_ id: String, camera: Int, at t: Date) -> Detection {
        Detection(detectionId: id, cameraId: "CAM-\(camera)", timestamp: t, defectClass: "crack", confidence: 0.9,
                  bbox: BoundingBox(x: 10, y: 10, width: 50, height: 20), image: ImageRef(width: 1920, height: 1080), sourceFormat: "native")
    }

    @Test func theCeilingLeavesWhatIngestLeavesForARepeat() async throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let t = Date()
        let gateway = try Store(path: dir + "/ingest.sqlite")
        _ = try await gateway.ingest([detection("opens", camera: 0, at: t)], rules: rules(), now: t)
        let repeated = try await gateway.ingest([detection("repeats", camera: 0, at: t + 1)], rules: rules(), now: t + 1)
        #expect(repeated.map(\.status) == [.suppressedRepeat])
        let expected = try await shape(of: "repeats", in: gateway)

        let ceiling = try Store(path: dir + "/ceiling.sqlite")
        #expect(try await ceiling.storedRowsRate(count: 30, detection: { detection("c\($0)", camera: $0 % 3, at: t) }, incidents: 3, rowsPerTransaction: 7, now: t) > 0)
        for id in ["c0", "c13", "c29"] {
            #expect(try await shape(of: id, in: ceiling) == expected)
        }
        let spread = try await ceiling.read { db in
            (try db.value(as: Int.self, "SELECT COUNT(DISTINCT incident_id) FROM detections"),
             try db.value(as: Int.self, "SELECT COUNT(*) FROM audit WHERE kind = 'detection.decided'"))
        }
        #expect(spread.0 == 3)
        #expect(spread.1 == 30)
        #expect(try await ceiling.verifyAudit().firstBreak == nil)
    }
}
