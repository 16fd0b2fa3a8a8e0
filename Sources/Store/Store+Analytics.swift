import Foundation
import MillwrightCore

/// What quality analytics and the threshold replay read: detections and incidents since an
/// instant, bounded, with each incident's verdict. Everything computed from them is in Core
/// (`QualityReport`, `ThresholdReplay`).
public struct AnalyticsFacts: Sendable {
    /// Oldest first.
    public var detections: [DetectionFact]
    /// Incidents opened since the instant, and older ones some detection since then belongs to.
    public var incidents: [IncidentFact]
    /// More detections than the limit were stored since the instant; these are the newest.
    public var truncated: Bool

    public var replayIncidents: [String: ReplayIncident] {
        Dictionary(incidents.map { ($0.id, ReplayIncident(id: $0.id, openedAt: $0.openedAt, closedAt: $0.closedAt, verdict: $0.verdict)) },
                   uniquingKeysWith: { a, _ in a })
    }
}

/// The reads behind quality analytics, threshold tuning and the training export.
public protocol AnalyticsStore: Sendable {
    func analyticsFacts(since: Date, limit: Int, models: Bool) async throws -> AnalyticsFacts
    func trainingSamples(since: Date, verdict: Verdict?, limit: Int) async throws -> TrainingSelection
}

/// Judged detections for the training export, oldest first.
public struct TrainingSelection: Sendable {
    public var samples: [TrainingSample]
    /// Judged detections (of the verdict asked for) without a stored frame: not exported.
    public var withoutFrame: Int
    /// More samples than the limit; these are the oldest.
    public var truncated: Bool
}

extension Store {
    /// `models`: also read each detection's model from its stored payload (only `by=model`
    /// needs it, and it is the expensive part). One read transaction, so the three reads agree.
    public func analyticsFacts(since: Date, limit: Int, models: Bool) async throws -> AnalyticsFacts {
        try await read { db in
            let columns = "id, camera_id, defect_class, zone, asset, ts, confidence, incident_id" + (models ? ", payload" : "")
            let rows = try db.rows("SELECT \(columns) FROM detections WHERE ts >= ? ORDER BY ts DESC, id DESC LIMIT ?",
                                   [since.dbValue, limit + 1])
            let truncated = rows.count > limit
            var detections: [DetectionFact] = []
            detections.reserveCapacity(min(rows.count, limit))
            for r in rows.prefix(limit).reversed() {
                var model: String?
                if models, let p: String = r["payload"] { model = Self.decode(ModelOnly.self, p)?.model.flatMap(Self.modelName) }
                detections.append(DetectionFact(id: r["id"], camera: r["camera_id"], defectClass: r["defect_class"], zone: r["zone"], asset: r["asset"],
                                                model: model, timestampMillis: Timestamps.millis(Date(db: r["ts"])), confidence: r["confidence"],
                                                incidentId: r["incident_id"]))
            }
            let oldest = detections.first.map { Timestamps.date(millis: $0.timestampMillis) } ?? since
            // Incidents opened since, and those the detections read belong to (opened earlier).
            let incidentRows = try db.rows("""
                SELECT i.id, i.camera_id, i.defect_class, i.zone, i.opened_at, i.closed_at, i.resolution, w.acknowledged_at
                FROM incidents i LEFT JOIN work_orders w ON w.incident_id = i.id
                WHERE i.opened_at >= ? OR i.id IN (SELECT incident_id FROM detections WHERE ts >= ? AND incident_id IS NOT NULL)
                ORDER BY i.opened_at DESC LIMIT ?
                """, [since.dbValue, oldest.dbValue, limit])
            // The latest verdict wins: a planner may confirm what the CMMS closed as a false positive.
            var verdicts: [String: Verdict] = [:]
            for r in try db.rows("""
                SELECT incident_id, verdict FROM feedback WHERE incident_id IN (
                    SELECT id FROM incidents WHERE opened_at >= ? OR id IN (SELECT incident_id FROM detections WHERE ts >= ? AND incident_id IS NOT NULL))
                ORDER BY id
                """, [since.dbValue, oldest.dbValue]) {
                if let v = Verdict(rawValue: r["verdict"]) { verdicts[r["incident_id"]] = v }
            }
            var modelOf: [String: String] = [:]
            if models { for d in detections { if let i = d.incidentId, modelOf[i] == nil, let m = d.model { modelOf[i] = m } } }
            let incidents = incidentRows.reversed().map { r -> IncidentFact in
                let id: String = r["id"]
                return IncidentFact(id: id, camera: r["camera_id"], defectClass: r["defect_class"], zone: r["zone"], model: modelOf[id],
                                    openedAt: Date(db: r["opened_at"]), closedAt: (r["closed_at"] as Double?).map(Date.init(db:)),
                                    resolution: (r["resolution"] as String?).flatMap(Resolution.init(rawValue:)), verdict: verdicts[id],
                                    acknowledgedAt: (r["acknowledged_at"] as Double?).map(Date.init(db:)))
            }
            return AnalyticsFacts(detections: detections, incidents: incidents, truncated: truncated)
        }
    }

    /// Detections since `since` of incidents with a verdict (the latest `feedback` row), with
    /// their stored frame; `verdict` keeps one kind only.
    public func trainingSamples(since: Date, verdict: Verdict?, limit: Int) async throws -> TrainingSelection {
        try await read { db in
            var verdicts: [String: Verdict] = [:]
            for r in try db.rows("""
                SELECT incident_id, verdict FROM feedback WHERE incident_id IN (SELECT incident_id FROM detections WHERE ts >= ? AND incident_id IS NOT NULL)
                ORDER BY id
                """, [since.dbValue]) {
                if let v = Verdict(rawValue: r["verdict"]) { verdicts[r["incident_id"]] = v }
            }
            let wanted = Set(verdicts.filter { verdict == nil || $0.value == verdict }.keys)
            var samples: [TrainingSample] = [], withoutFrame = 0, truncated = false
            guard !wanted.isEmpty else { return TrainingSelection(samples: [], withoutFrame: 0, truncated: false) }
            for r in try db.rows("""
                SELECT incident_id, COUNT(*) AS n FROM detections WHERE ts >= ? AND frame_sha256 IS NULL
                AND incident_id IN (SELECT incident_id FROM feedback) GROUP BY incident_id
                """, [since.dbValue]) where wanted.contains(r["incident_id"]) {
                withoutFrame += r["n"] as Int
            }
            // At most `scanLimit` rows are read, whatever the verdict filter leaves of them.
            let rows = try db.rows("""
                SELECT d.id, d.incident_id, d.camera_id, d.defect_class, d.ts, d.frame_sha256, d.payload FROM detections d
                WHERE d.ts >= ? AND d.frame_sha256 IS NOT NULL AND d.incident_id IN (SELECT incident_id FROM feedback) ORDER BY d.ts, d.id LIMIT ?
                """, [since.dbValue, Self.trainingScanLimit + 1])
            truncated = rows.count > Self.trainingScanLimit
            for r in rows.prefix(Self.trainingScanLimit) {
                let incident: String = r["incident_id"]
                guard wanted.contains(incident), let v = verdicts[incident] else { continue }
                guard samples.count < limit else { truncated = true; break }
                let d = Self.decode(Detection.self, r["payload"])
                samples.append(TrainingSample(detectionId: r["id"], incidentId: incident, camera: r["camera_id"], defectClass: r["defect_class"],
                                              verdict: v, timestamp: Date(db: r["ts"]), bbox: d?.bbox, width: d?.image?.width, height: d?.image?.height,
                                              frameSHA256: r["frame_sha256"]))
            }
            return TrainingSelection(samples: samples, withoutFrame: withoutFrame, truncated: truncated)
        }
    }

    static let trainingScanLimit = 200_000

    private struct ModelOnly: Decodable { var model: ModelInfo? }

    static func modelName(_ m: ModelInfo) -> String? {
        switch (m.name, m.version) {
        case (let n?, let v?): "\(n)@\(v)"
        case (let n?, nil): n
        case (nil, let v?): "@\(v)"
        case (nil, nil): nil
        }
    }
}
