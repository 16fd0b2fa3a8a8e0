import Foundation
import MillwrightCore

/// The rows a batch's repeats, orphans and below-threshold detections write, collected and
/// written at the end of the batch in a few statements instead of two or three each: a batch
/// of repeats costs a handful of round trips to PostgreSQL rather than hundreds.
struct DeferredIngestWrites {
    static let detectionColumns = "(" + detectionTypes.map(\.name).joined(separator: ", ") + ")"
    static let detectionRow = "(" + Array(repeating: "?", count: detectionTypes.count).joined(separator: ", ") + ")"

    /// What the repeats of one open incident add to it.
    struct Append {
        var count = 0
        var lastSeen = -Double.infinity
        var maxConfidence = -Double.infinity
        /// The last non-nil area in batch order, as one UPDATE each would have left it.
        var lastArea: Double?
    }

    var detections: [[SQLValue]] = []
    var appends: [String: Append] = [:]

    mutating func append(to incident: String, at seen: Double, confidence: Double, area: Double?) {
        var a = appends[incident] ?? Append()
        a.count += 1
        a.lastSeen = max(a.lastSeen, seen)
        a.maxConfidence = max(a.maxConfidence, confidence)
        if let area { a.lastArea = area }
        appends[incident] = a
    }

    func write(_ db: any SQLSession) throws {
        try insertDetections(db)
        guard !appends.isEmpty else { return }
        let incidents = appends.keys.sorted()
        for chunk in incidents.chunked(200) {
            let marks = Array(repeating: "?", count: chunk.count).joined(separator: ", ")
            if db.dialect == .postgres {
                // Row locks in one order for every batch (sorted by id), so concurrent batches
                // appending to the same incidents queue rather than deadlock. NO KEY UPDATE, the
                // lock the UPDATE below takes anyway: a plain FOR UPDATE would also wait for the
                // key-share locks that other batches' detection rows (foreign keys to these
                // incidents) hold, a deadlock every time two batches overlap. The work orders'
                // rows are not touched: their unnoted repeats are counted from the incident.
                try db.run("SELECT id FROM incidents WHERE id IN (\(marks)) ORDER BY id FOR NO KEY UPDATE", SQLArguments(chunk.map { .text($0) }))
            }
            var values: [SQLValue] = []
            var rows: [String] = []
            for id in chunk {
                let a = appends[id]!
                values += [.text(id), .integer(Int64(a.count)), .real(a.lastSeen), .real(a.maxConfidence), a.lastArea.sqlValue]
                // Typed: PostgreSQL does not infer a parameter's type inside a derived table.
                rows.append("(CAST(? AS TEXT), CAST(? AS BIGINT), CAST(? AS DOUBLE PRECISION), CAST(? AS DOUBLE PRECISION), CAST(? AS DOUBLE PRECISION))")
            }
            // Both databases name a VALUES list's columns column1, column2, …
            let source = "(SELECT column1 AS id, column2 AS n, column3 AS seen, column4 AS conf, column5 AS area FROM (VALUES "
                + rows.joined(separator: ", ") + ") AS appended) AS v"
            try db.run("""
                UPDATE incidents SET detection_count = detection_count + v.n, last_seen = GREATEST(last_seen, v.seen),
                    max_confidence = GREATEST(max_confidence, v.conf), last_area = COALESCE(v.area, last_area)
                FROM \(source) WHERE incidents.id = v.id
                """, SQLArguments(values))
        }
    }

    private func insertDetections(_ db: any SQLSession) throws {
        guard !detections.isEmpty else { return }
        try db.insert(SQLBulkInsert(into: "detections", columns: Self.detectionTypes, rows: detections, valuesPerStatement: 60))
    }

    /// `detectionColumns` with their types, for a bulk insert.
    static let detectionTypes: [SQLBulkInsert.Column] = [
        .init("id", .text), .init("camera_id", .text), .init("ts", .real), .init("received_at", .real), .init("defect_class", .text),
        .init("confidence", .real), .init("status", .text), .init("reason", .text), .init("asset", .text), .init("zone", .text),
        .init("incident_id", .text), .init("bbox_area", .real), .init("source_format", .text), .init("frame_sha256", .text), .init("payload", .text),
    ]
}

extension Array {
    func chunked(_ size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: size).map { self[$0..<Swift.min($0 + size, count)] }
    }
}
