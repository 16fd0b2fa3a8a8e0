import Foundation

// Threshold tuning (`POST /v1/analytics/simulate`): the stored detections replayed through
// `IncidentRules.decide`, the confirmation rule ingest runs, once with today's rules and once
// with proposed ones, so the two answers differ only by the rules.
//
// What a replay cannot know, it borrows from what happened: a simulated incident closes when
// the real incident of one of its detections closed (or, when none of its detections had a
// real incident, when the key's next real incident closed); with no such closure it stays
// open to the end of the replay. Verdicts belong to real incidents: a judged incident is kept
// when a simulated incident took one of its detections.

/// A proposal for one defect class, optionally for one camera only (which wins over the
/// class-wide proposal). Unset fields keep the configured value.
public struct ThresholdProposal: Sendable, Equatable {
    public var defectClass: String
    public var camera: String?
    public var minConfidence: Double?
    public var confirmDetections: Int?
    public var confirmWithin: Duration?
    public init(defectClass: String, camera: String? = nil, minConfidence: Double? = nil, confirmDetections: Int? = nil, confirmWithin: Duration? = nil) {
        self.defectClass = defectClass; self.camera = camera; self.minConfidence = minConfidence
        self.confirmDetections = confirmDetections; self.confirmWithin = confirmWithin
    }

    public static let maxConfirmDetections = 1000

    /// The input's problems, each naming its field; empty when it is usable.
    public func problems(index: Int) -> [(field: String, problem: String)] {
        var out: [(String, String)] = []
        let at = "proposals[\(index)]"
        if defectClass.isEmpty || defectClass.utf8.count > 200 { out.append(("\(at).defect_class", "must be 1 to 200 bytes")) }
        if let c = camera, c.isEmpty || c.utf8.count > 200 { out.append(("\(at).camera", "must be 1 to 200 bytes")) }
        if let m = minConfidence, !(m.isFinite && (0...1).contains(m)) { out.append(("\(at).min_confidence", "must be a number from 0 to 1")) }
        if let n = confirmDetections, !(1...Self.maxConfirmDetections).contains(n) {
            out.append(("\(at).confirm.detections", "must be an integer from 1 to \(Self.maxConfirmDetections)"))
        }
        return out
    }
}

/// The rule a detection of `defectClass` on `camera` is decided by: the configured rule with
/// the most specific proposal applied.
public struct ProposedRules: Sendable {
    public var settings: Settings
    public var proposals: [ThresholdProposal]
    public init(settings: Settings, proposals: [ThresholdProposal]) { self.settings = settings; self.proposals = proposals }

    public func rule(defectClass: String, camera: String) -> DefectRule {
        var rule = settings.rule(for: defectClass)
        let p = proposals.first { $0.defectClass == defectClass && $0.camera == camera }
            ?? proposals.first { $0.defectClass == defectClass && $0.camera == nil }
        guard let p else { return rule }
        if let m = p.minConfidence { rule.minConfidence = m }
        if let n = p.confirmDetections { rule.confirmDetections = n }
        if let w = p.confirmWithin { rule.confirmWithin = w }
        return rule
    }
}

public struct ReplayIncident: Sendable, Equatable {
    public var id: String
    public var openedAt: Date
    public var closedAt: Date?
    public var verdict: Verdict?
    public init(id: String, openedAt: Date, closedAt: Date?, verdict: Verdict?) {
        self.id = id; self.openedAt = openedAt; self.closedAt = closedAt; self.verdict = verdict
    }
}

/// One replay's incidents.
public struct ReplayRun: Sendable, Equatable {
    public struct Opened: Sendable, Equatable {
        /// The detections this simulated incident took (the confirmation run and repeats).
        public var detections: Set<String>
        /// The real incidents those detections belonged to.
        public var realIncidents: Set<String>
        /// Detection time of the first detection of the confirmation run → the detection that opened it.
        public var secondsToWorkOrder: Double
    }
    public var opened: [Opened] = []

    public var realIncidentsCovered: Set<String> { opened.reduce(into: Set()) { $0.formUnion($1.realIncidents) } }
    public var detectionsTaken: Set<String> { opened.reduce(into: Set()) { $0.formUnion($1.detections) } }
    public var medianSecondsToWorkOrder: Double? { Stats.median(opened.map(\.secondsToWorkOrder)) }
}

public enum ThresholdReplay {
    /// Replays `detections` (any order; sorted here by time, then id) with `rule`. Orphans
    /// (no asset) are skipped: they never open an incident under any threshold.
    public static func run(_ detections: [DetectionFact], incidents: [String: ReplayIncident], policy: IncidentPolicy,
                           rule: (DetectionFact) -> DefectRule) -> ReplayRun {
        /// The key's simulated incident: its index in `run.opened` and when it closes.
        struct Open { var index: Int; var closesAt: Date?; var knownClose: Bool }
        struct KeyState { var open: Open?; var lastClosedAt: Date?; var pending: [DetectionFact] = [] }
        let sorted = detections.filter { $0.key != nil }.sorted { ($0.timestampMillis, $0.id) < ($1.timestampMillis, $1.id) }
        // Real incidents per key, by opening time: the closure borrowed when a simulated
        // incident's detections had no real incident.
        var keyOfIncident: [String: IncidentKey] = [:]
        for d in sorted { if let i = d.incidentId, keyOfIncident[i] == nil { keyOfIncident[i] = d.key } }
        var realByKey: [IncidentKey: [ReplayIncident]] = [:]
        for (id, key) in keyOfIncident { if let r = incidents[id] { realByKey[key, default: []].append(r) } }
        for k in realByKey.keys { realByKey[k]!.sort { ($0.openedAt, $0.id) < ($1.openedAt, $1.id) } }

        var state: [IncidentKey: KeyState] = [:]
        var run = ReplayRun()

        /// The simulated incident takes these detections, and with them their real incidents.
        func take(_ members: [DetectionFact], into open: inout Open) {
            for m in members {
                run.opened[open.index].detections.insert(m.id)
                guard let id = m.incidentId, let real = incidents[id] else { continue }
                run.opened[open.index].realIncidents.insert(id)
                // The first real incident with a closure tells when this work would have been closed.
                if !open.knownClose, let closed = real.closedAt { open.closesAt = closed; open.knownClose = true }
            }
        }

        for d in sorted {
            let key = d.key!
            var s = state[key] ?? KeyState()
            let now = Timestamps.date(millis: d.timestampMillis)
            if let open = s.open, let closes = open.closesAt, closes <= now {
                s.lastClosedAt = closes
                s.open = nil
            }
            let r = rule(d)
            let window = ConfirmationWindow(around: now, within: r.confirmWithin)
            s.pending.removeAll { !window.contains(millis: $0.timestampMillis) }
            let snapshot = KeySnapshot(openIncidentId: s.open == nil ? nil : "simulated", lastClosedAt: s.lastClosedAt,
                                       pending: s.pending.map { PendingDetection(id: $0.id, timestampMillis: $0.timestampMillis, confidence: $0.confidence, bboxArea: nil) })
            let detection = Detection(detectionId: d.id, cameraId: d.camera, timestamp: now, defectClass: d.defectClass, confidence: d.confidence,
                                      zone: d.zone.isEmpty ? nil : d.zone)
            let decision = IncidentRules.decide(detection: detection, rule: r, history: snapshot.history(minConfidence: r.minConfidence),
                                                policy: policy, shadow: false)
            switch decision {
            case .openIncident:
                // The same detections the store would move into the new incident: the pending ones in the window, and this one.
                let members = s.pending + [d]
                let first = members.map(\.timestampMillis).min() ?? d.timestampMillis
                run.opened.append(.init(detections: [], realIncidents: [], secondsToWorkOrder: Double(d.timestampMillis - first) / 1000))
                var open = Open(index: run.opened.count - 1, closesAt: nil, knownClose: false)
                take(members, into: &open)
                if !open.knownClose, open.closesAt == nil, run.opened[open.index].realIncidents.isEmpty {
                    open.closesAt = realByKey[key]?.first { $0.openedAt >= now && $0.closedAt != nil }?.closedAt
                }
                s.pending.removeAll()
                s.open = open
            case .appendToOpen:
                if var open = s.open { take([d], into: &open); s.open = open }
            case .pendingConfirmation:
                s.pending.append(d)
            case .belowThreshold, .suppressedAfterClose, .orphaned:
                break
            }
            state[key] = s
        }
        return run
    }
}

/// What `POST /v1/analytics/simulate` answers: the proposed rules against today's, over the
/// same detections.
public struct SimulationResult: Sendable, Equatable, Codable {
    public var detectionsReplayed: Int
    /// Work orders the configured rules open on this history (the baseline replay).
    public var workOrdersNow: Int
    /// Work orders the proposed rules open.
    public var workOrdersProposed: Int
    /// Baseline work orders none of whose detections a proposed work order took.
    public var workOrdersAvoided: Int
    /// Proposed work orders none of whose detections a baseline work order took.
    public var workOrdersCreated: Int
    /// Real incidents judged false positive that no proposed work order took.
    public var falsePositivesAvoided: Int
    /// Real incidents judged confirmed that no proposed work order took.
    public var trueDefectsLost: Int
    public var lostIncidents: [String]
    public var medianSecondsToWorkOrderNow: Double?
    public var medianSecondsToWorkOrderProposed: Double?
    /// Proposed minus now; nil when either is unknown.
    public var medianSecondsToWorkOrderChange: Double?

    enum CodingKeys: String, CodingKey {
        case detectionsReplayed = "detections_replayed"
        case workOrdersNow = "work_orders_now", workOrdersProposed = "work_orders_proposed"
        case workOrdersAvoided = "work_orders_avoided", workOrdersCreated = "work_orders_created"
        case falsePositivesAvoided = "false_positives_avoided", trueDefectsLost = "true_defects_lost", lostIncidents = "lost_incidents"
        case medianSecondsToWorkOrderNow = "median_seconds_to_work_order_now"
        case medianSecondsToWorkOrderProposed = "median_seconds_to_work_order_proposed"
        case medianSecondsToWorkOrderChange = "median_seconds_to_work_order_change"
    }

    /// Both replays over the same detections, compared. At most `lostLimit` lost incident ids are listed.
    public static func compare(_ detections: [DetectionFact], incidents: [String: ReplayIncident], settings: Settings,
                               proposals: [ThresholdProposal], lostLimit: Int = 100) -> SimulationResult {
        let now = ProposedRules(settings: settings, proposals: [])
        let proposed = ProposedRules(settings: settings, proposals: proposals)
        let base = ThresholdReplay.run(detections, incidents: incidents, policy: settings.incidents) { now.rule(defectClass: $0.defectClass, camera: $0.camera) }
        let next = ThresholdReplay.run(detections, incidents: incidents, policy: settings.incidents) { proposed.rule(defectClass: $0.defectClass, camera: $0.camera) }
        let covered = next.realIncidentsCovered
        let baseTaken = base.detectionsTaken, nextTaken = next.detectionsTaken
        // Judged incidents are the real ones, whatever opened them.
        let judged = Set(detections.compactMap(\.incidentId)).compactMap { incidents[$0] }.filter { $0.verdict != nil }
        let lost = judged.filter { $0.verdict == .confirmed && !covered.contains($0.id) }.map(\.id).sorted()
        let medianNow = base.medianSecondsToWorkOrder, medianNext = next.medianSecondsToWorkOrder
        return SimulationResult(
            detectionsReplayed: detections.count,
            workOrdersNow: base.opened.count, workOrdersProposed: next.opened.count,
            workOrdersAvoided: base.opened.filter { $0.detections.isDisjoint(with: nextTaken) }.count,
            workOrdersCreated: next.opened.filter { $0.detections.isDisjoint(with: baseTaken) }.count,
            falsePositivesAvoided: judged.filter { $0.verdict == .falsePositive && !covered.contains($0.id) }.count,
            trueDefectsLost: lost.count, lostIncidents: Array(lost.prefix(lostLimit)),
            medianSecondsToWorkOrderNow: medianNow, medianSecondsToWorkOrderProposed: medianNext,
            medianSecondsToWorkOrderChange: medianNow.flatMap { a in medianNext.map { $0 - a } })
    }
}

/// A suggested `min_confidence` for one defect class: the highest that keeps every confirmed
/// defect of the history it was found on, checked by the replay itself.
public struct ThresholdSuggestion: Sendable, Equatable, Codable {
    public var defectClass: String
    public var current: Double
    public var suggested: Double
    public var confirmed: Int
    public var result: SimulationResult

    enum CodingKeys: String, CodingKey {
        case defectClass = "defect_class", current, suggested, confirmed, result
    }

    /// The `defects:` block that sets it, for the configuration file.
    public var yaml: String {
        "defects:\n  \(defectClass):\n    min_confidence: \(Self.format(suggested))\n"
    }

    public static func format(_ v: Double) -> String {
        // Confidences are shown to the thousandth; a suggestion is one of the stored values rounded down, so it still keeps them.
        let thousandths = (v * 1000).rounded(.down) / 1000
        return String(format: "%.3f", thousandths)
    }

    /// One suggestion per defect class with at least one confirmed incident among `detections`.
    /// The candidates are the confidences of the detections of confirmed incidents (rounded down to
    /// the thousandth, as the YAML shows them); the highest for which the replay loses no confirmed
    /// defect wins, found by bisection (a lower threshold keeps at least as many detections).
    public static func suggest(_ detections: [DetectionFact], incidents: [String: ReplayIncident], settings: Settings) -> [ThresholdSuggestion] {
        let byClass = Dictionary(grouping: detections.filter { $0.key != nil }, by: \.defectClass)
        var out: [ThresholdSuggestion] = []
        for (defect, dets) in byClass.sorted(by: { $0.key < $1.key }) {
            let confirmedIds = Set(dets.compactMap(\.incidentId)).filter { incidents[$0]?.verdict == .confirmed }
            guard !confirmedIds.isEmpty else { continue }
            let current = settings.rule(for: defect).minConfidence
            let candidates = Set(dets.filter { $0.incidentId.map(confirmedIds.contains) ?? false }
                .map { (($0.confidence * 1000).rounded(.down) / 1000) }).sorted()
            func trial(_ m: Double) -> SimulationResult {
                SimulationResult.compare(dets, incidents: incidents, settings: settings, proposals: [ThresholdProposal(defectClass: defect, minConfidence: m)])
            }
            // Bisection for the last candidate that loses nothing; the lowest is tried first as a floor.
            var lo = 0, hi = candidates.count - 1
            let floor = trial(candidates[0])
            guard floor.trueDefectsLost == 0 else { continue }
            var best = floor, bestValue = candidates[0]
            while lo < hi {
                let mid = (lo + hi + 1) / 2
                let r = trial(candidates[mid])
                if r.trueDefectsLost == 0 { lo = mid; best = r; bestValue = candidates[mid] } else { hi = mid - 1 }
            }
            out.append(ThresholdSuggestion(defectClass: defect, current: current, suggested: bestValue, confirmed: confirmedIds.count, result: best))
        }
        return out
    }
}
