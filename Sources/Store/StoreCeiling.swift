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
}
