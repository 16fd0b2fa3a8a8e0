import Foundation
import MillwrightCore

extension Store {
    /// `bench`'s ceiling for ingest: the same detection rows inserted into the same table with
    /// its indexes, in transactions of `batch`, at this store's durability, with no decision,
    /// incident, outbox row or audit record. Rows are built before the clock starts. Returns
    /// detections per second.
    public func plainInsertRate(_ detections: [Detection], batch: Int, now: Date = Date()) async throws -> Double {
        let rows = detections.enumerated().map { i, d in
            Self.detectionRow(d, id: d.detectionId ?? "ceiling-\(i)", record: d.recordJSON, receivedAt: now, status: .orphaned, reason: "ceiling", asset: nil, incidentId: nil)
        }
        let started = ContinuousClock.now
        for chunk in rows.chunked(max(1, batch)) {
            try await backend.write { db in
                var plain = DeferredIngestWrites()
                plain.detections = Array(chunk)
                try plain.write(db)
            }
        }
        return Double(detections.count) / max((ContinuousClock.now - started).seconds, 1e-9)
    }

    /// `bench`'s second ceiling: what each detection of a REST load leaves in the store and
    /// nothing else. The detection row as a repeat of its camera's open incident (asset,
    /// incident, status and reason filled in, so every index is written as ingest writes it)
    /// and its `detection.decided` record on the audit chain, in transactions of
    /// `rowsPerTransaction`, at this store's durability. No decision, no incident update, no
    /// HTTP: the gateway cannot store detections faster than this. `incidents` spreads the rows
    /// over that many incidents and assets, as the load does. Each transaction's rows are built
    /// before its clock starts, one transaction at a time, so a large load costs no memory; the
    /// audit record's JSON is written inside, as ingest writes it.
    public func storedRowsRate(count: Int, detection: (Int) -> Detection, incidents: Int, rowsPerTransaction: Int, now: Date = Date()) async throws -> Double {
        let incidentIds = (0..<max(1, incidents)).map { _ in UUID().uuidString.lowercased() }
        var writing = Duration.zero
        for first in stride(from: 0, to: count, by: max(1, rowsPerTransaction)) {
            let rows = (first..<min(count, first + max(1, rowsPerTransaction))).map { i in
                let d = detection(i)
                let incident = incidentIds[i % incidentIds.count]
                let asset = "A\(i % incidentIds.count)"
                let id = d.detectionId ?? "stored-rows-\(i)"
                let reason = "repeat appended to open incident \(incident)"
                let row = Self.detectionRow(d, id: id, record: d.recordJSON, receivedAt: now, status: .suppressedRepeat,
                                            reason: reason, asset: asset, incidentId: incident)
                let decided: [String: JSONValue] = [
                    "camera": .string(d.cameraId), "status": .string(DetectionStatus.suppressedRepeat.rawValue), "reason": .string(reason),
                    "asset": .string(asset), "defect_class": .string(d.defectClass), "confidence": .number(d.confidence), "incident": .string(incident),
                ]
                return (id: id, row: row, decided: decided)
            }
            let started = ContinuousClock.now
            try await backend.write { db in
                var plain = DeferredIngestWrites()
                plain.detections = rows.map(\.row)
                try plain.write(db)
                for r in rows { try db.audit(kind: "detection.decided", subject: r.id, data: r.decided, at: now) }
            }
            writing += ContinuousClock.now - started
        }
        return Double(count) / max(writing.seconds, 1e-9)
    }
}
