import Foundation

// Quality analytics (`GET /v1/analytics/quality`): how often an incident Millwright opened
// was a real defect, per camera, defect class, model or zone. The store reads the facts;
// everything computed from them is here, without I/O.

/// A person's (or the CMMS's) judgement of an incident: the latest `feedback` row, whether
/// it came from the API or from a CMMS closure mapped to false positive.
public enum Verdict: String, Sendable, Codable, CaseIterable {
    case confirmed
    case falsePositive = "false_positive"
}

/// What a group is keyed by.
public enum QualityDimension: String, Sendable, Codable, CaseIterable {
    case camera
    case defectClass = "defect_class"
    case model
    case zone
}

/// One stored detection, as analytics and the threshold replay read it.
public struct DetectionFact: Sendable, Equatable {
    public var id: String
    public var camera: String
    public var defectClass: String
    /// "" when the detection has none, as the store keeps it.
    public var zone: String
    /// Nil for an orphan (no asset, no key).
    public var asset: String?
    /// `name@version`, `name`, or nil when the vision system did not say.
    public var model: String?
    public var timestampMillis: Int64
    public var confidence: Double
    public var incidentId: String?
    public init(id: String, camera: String, defectClass: String, zone: String, asset: String?, model: String?,
                timestampMillis: Int64, confidence: Double, incidentId: String?) {
        self.id = id; self.camera = camera; self.defectClass = defectClass; self.zone = zone; self.asset = asset
        self.model = model; self.timestampMillis = timestampMillis; self.confidence = confidence; self.incidentId = incidentId
    }

    public var key: IncidentKey? { asset.map { IncidentKey(asset: $0, defectClass: defectClass, zone: zone) } }
}

/// One incident and what happened to it.
public struct IncidentFact: Sendable, Equatable {
    public var id: String
    public var camera: String
    public var defectClass: String
    public var zone: String
    public var model: String?
    public var openedAt: Date
    public var closedAt: Date?
    public var resolution: Resolution?
    public var verdict: Verdict?
    public var acknowledgedAt: Date?
    public init(id: String, camera: String, defectClass: String, zone: String, model: String?, openedAt: Date, closedAt: Date?,
                resolution: Resolution?, verdict: Verdict?, acknowledgedAt: Date?) {
        self.id = id; self.camera = camera; self.defectClass = defectClass; self.zone = zone; self.model = model
        self.openedAt = openedAt; self.closedAt = closedAt; self.resolution = resolution; self.verdict = verdict
        self.acknowledgedAt = acknowledgedAt
    }
}

/// A proportion's 95 % Wilson score interval: unlike the normal approximation it stays inside
/// 0…1 and is honest for the small counts a new camera has.
public struct Proportion: Sendable, Equatable, Codable {
    public var value: Double
    public var low: Double
    public var high: Double

    public static func wilson(successes: Int, trials: Int, z: Double = 1.959964) -> Proportion? {
        guard trials > 0, successes >= 0, successes <= trials else { return nil }
        let n = Double(trials), p = Double(successes) / n
        let z2 = z * z
        let denominator = 1 + z2 / n
        let centre = (p + z2 / (2 * n)) / denominator
        let half = z * ((p * (1 - p) / n + z2 / (4 * n * n)).squareRoot()) / denominator
        return Proportion(value: p, low: max(0, centre - half), high: min(1, centre + half))
    }
}

public enum Stats {
    /// The median (mean of the middle two for an even count); nil when empty.
    public static func median(_ values: [Double]) -> Double? {
        guard !values.isEmpty else { return nil }
        let s = values.sorted()
        let mid = s.count / 2
        return s.count % 2 == 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2
    }
}

public struct QualityGroup: Sendable, Equatable, Codable {
    public var key: String
    public var detections: Int
    public var incidents: Int
    public var confirmed: Int
    public var falsePositive: Int
    /// Incidents nobody has judged yet.
    public var unjudged: Int
    /// confirmed / (confirmed + false positive), with its 95 % interval; nil without verdicts.
    public var precision: Proportion?
    public var medianSecondsToAcknowledge: Double?
    public var medianSecondsToComplete: Double?

    enum CodingKeys: String, CodingKey {
        case key, detections, incidents, confirmed, unjudged, precision
        case falsePositive = "false_positive"
        case medianSecondsToAcknowledge = "median_seconds_to_acknowledge"
        case medianSecondsToComplete = "median_seconds_to_complete"
    }
}

/// Volume and precision in one time bucket, for the chart.
public struct QualityBucket: Sendable, Equatable, Codable {
    public var start: Date
    public var detections: Int
    public var incidents: Int
    public var confirmed: Int
    public var falsePositive: Int
    public var precision: Double?

    enum CodingKeys: String, CodingKey {
        case start, detections, incidents, confirmed, precision
        case falsePositive = "false_positive"
    }
}

public struct QualityReport: Sendable, Equatable, Codable {
    public var by: QualityDimension
    public var since: Date
    public var until: Date
    public var groups: [QualityGroup]
    public var series: [QualityBucket]
    /// The store read at most this many detections (newest first); older ones are not counted.
    public var detectionsTruncated: Bool

    enum CodingKeys: String, CodingKey {
        case by, since, until, groups, series
        case detectionsTruncated = "detections_truncated"
    }

    public static let unknownGroup = "(none)"

    static func group(_ dim: QualityDimension, camera: String, defectClass: String, zone: String, model: String?) -> String {
        switch dim {
        case .camera: camera
        case .defectClass: defectClass
        case .zone: zone.isEmpty ? unknownGroup : zone
        case .model: model ?? unknownGroup
        }
    }

    /// Groups sorted by key; the series in `bucket`-wide steps from `since` (at most `maxBuckets`;
    /// the step widens to fit).
    public static func compute(detections: [DetectionFact], incidents: [IncidentFact], by dim: QualityDimension,
                               since: Date, until: Date, truncated: Bool, bucket: TimeInterval = 86_400, maxBuckets: Int = 120) -> QualityReport {
        struct Acc { var det = 0, inc = 0, conf = 0, fp = 0, open = 0; var ack: [Double] = [], done: [Double] = [] }
        var acc: [String: Acc] = [:]
        for d in detections {
            acc[group(dim, camera: d.camera, defectClass: d.defectClass, zone: d.zone, model: d.model), default: Acc()].det += 1
        }
        for i in incidents {
            let g = group(dim, camera: i.camera, defectClass: i.defectClass, zone: i.zone, model: i.model)
            var a = acc[g, default: Acc()]
            a.inc += 1
            switch i.verdict {
            case .confirmed: a.conf += 1
            case .falsePositive: a.fp += 1
            case nil: a.open += 1
            }
            if let ack = i.acknowledgedAt { a.ack.append(max(0, ack.timeIntervalSince(i.openedAt))) }
            if i.resolution == .completed, let closed = i.closedAt { a.done.append(max(0, closed.timeIntervalSince(i.openedAt))) }
            acc[g] = a
        }
        let groups = acc.keys.sorted().map { k in
            let a = acc[k]!
            return QualityGroup(key: k, detections: a.det, incidents: a.inc, confirmed: a.conf, falsePositive: a.fp, unjudged: a.open,
                                precision: Proportion.wilson(successes: a.conf, trials: a.conf + a.fp),
                                medianSecondsToAcknowledge: Stats.median(a.ack), medianSecondsToComplete: Stats.median(a.done))
        }

        let span = max(0, until.timeIntervalSince(since))
        let step = max(bucket, (span / Double(max(1, maxBuckets))).rounded(.up))
        let count = max(1, Checked.int((span / step).rounded(.up), clampedTo: 1...max(1, maxBuckets)))
        var series = (0..<count).map { QualityBucket(start: since.addingTimeInterval(Double($0) * step), detections: 0, incidents: 0, confirmed: 0, falsePositive: 0) }
        func index(_ t: Date) -> Int? {
            let x = t.timeIntervalSince(since) / step
            guard x.isFinite, x >= 0 else { return nil }
            let i = Checked.int(x.rounded(.down), clampedTo: 0...count)
            return i < count ? i : nil
        }
        for d in detections { if let i = index(Timestamps.date(millis: d.timestampMillis)) { series[i].detections += 1 } }
        for inc in incidents {
            guard let i = index(inc.openedAt) else { continue }
            series[i].incidents += 1
            if inc.verdict == .confirmed { series[i].confirmed += 1 }
            if inc.verdict == .falsePositive { series[i].falsePositive += 1 }
        }
        for i in series.indices where series[i].confirmed + series[i].falsePositive > 0 {
            series[i].precision = Double(series[i].confirmed) / Double(series[i].confirmed + series[i].falsePositive)
        }
        return QualityReport(by: dim, since: since, until: until, groups: groups, series: series, detectionsTruncated: truncated)
    }
}
