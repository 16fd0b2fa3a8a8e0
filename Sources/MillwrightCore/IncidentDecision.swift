import Foundation

// What happens to one detection, decided in one place and without I/O.
//
// The store runs it in three steps inside one write transaction:
//   1. `IncidentDecision.query(for:rules:)` says what to read about the detection's key;
//   2. the store loads that `KeySnapshot` and calls `decide(…)`; when the detection opens an
//      incident, the answer is `.needsOpening(OpeningQuery)` and the store loads the
//      `OpeningSnapshot` (prior incidents, workload, stock) and calls `open(…)`;
//   3. the store applies the returned `IngestEffects` and nothing else.
// So every rule (the window, confirmation, suppression, severity, priority, routing, parts,
// the text) is here, and the SQL only reads and writes what these types name.

/// What the confirmation rules read about a key (summarised from its `KeySnapshot`).
public struct KeyHistory: Sendable, Equatable {
    public var openIncidentId: String?
    /// When the most recent closed incident of this key was closed.
    public var lastClosedAt: Date?
    public var lastClosedIncidentId: String?
    /// Earlier qualifying detections of this key inside the confirmation window.
    public var qualifyingInWindow: Int
    public init(openIncidentId: String? = nil, lastClosedAt: Date? = nil, lastClosedIncidentId: String? = nil, qualifyingInWindow: Int = 0) {
        self.openIncidentId = openIncidentId; self.lastClosedAt = lastClosedAt
        self.lastClosedIncidentId = lastClosedIncidentId; self.qualifyingInWindow = qualifyingInWindow
    }
}

public enum Decision: Sendable, Equatable {
    case orphaned(reason: String)
    case belowThreshold(minConfidence: Double)
    case pendingConfirmation(have: Int, need: Int)
    /// Appended to an open incident: noted on its work order, never a second one.
    case appendToOpen(incidentId: String)
    /// A repeat within `reopen_after` of the last closure.
    case suppressedAfterClose(incidentId: String?, reopensAt: Date)
    /// A new incident and its work order.
    case openIncident(shadow: Bool)

    public var status: DetectionStatus {
        switch self {
        case .orphaned: .orphaned
        case .belowThreshold: .belowThreshold
        case .pendingConfirmation: .pendingConfirmation
        case .appendToOpen, .suppressedAfterClose: .suppressedRepeat
        case .openIncident(let shadow): shadow ? .shadow : .confirmed
        }
    }

    public var explanation: String {
        switch self {
        case .orphaned(let reason): reason
        case .belowThreshold(let min): "confidence below min_confidence \(min)"
        case .pendingConfirmation(let have, let need): "\(have) of \(need) detections needed to confirm"
        case .appendToOpen(let id): "repeat appended to open incident \(id)"
        case .suppressedAfterClose(_, let at): "repeat within reopen_after of the last closure; a new incident may open after \(Timestamps.format(at))"
        case .openIncident(let shadow): shadow ? "confirmed (shadow mode: recorded, not sent)" : "confirmed: new incident"
        }
    }
}

/// The confirmation and incident rules, in one place.
public enum IncidentRules {
    public static func decide(detection d: Detection, rule: DefectRule, history h: KeyHistory,
                              policy: IncidentPolicy, shadow: Bool) -> Decision {
        guard d.confidence >= rule.minConfidence else { return .belowThreshold(minConfidence: rule.minConfidence) }
        if let open = h.openIncidentId { return .appendToOpen(incidentId: open) }
        let have = h.qualifyingInWindow + 1
        if have < rule.confirmDetections { return .pendingConfirmation(have: have, need: rule.confirmDetections) }
        if let closed = h.lastClosedAt {
            let reopensAt = closed.addingTimeInterval(policy.reopenAfter.seconds)
            if d.timestamp < reopensAt { return .suppressedAfterClose(incidentId: h.lastClosedIncidentId, reopensAt: reopensAt) }
        }
        return .openIncident(shadow: shadow)
    }
}

/// Milliseconds since 1970: the resolution the store keeps times at. Comparing in whole
/// milliseconds makes the window below select exactly the rows the store's SQL selects.
extension Timestamps {
    public static func millis(_ date: Date) -> Int64 {
        // Dates come from parsed input (bounded to year 9999) or the clock, far inside this range.
        let ms = (date.timeIntervalSince1970 * 1000).rounded()
        guard ms.isFinite else { return 0 }
        return Int64(min(max(ms, -9e15), 9e15))
    }

    public static func date(millis: Int64) -> Date { Date(timeIntervalSince1970: Double(millis) / 1000) }
}

/// The confirmation window of a detection at time t: the detections of the same key that
/// confirm together with it are those at `t − w ≤ ts < t + w` (w = `confirm_within`).
/// Symmetric because cameras deliver out of order; half-open so that a window never counts
/// the same instant on both of its edges. Defined here only: the store's queries take
/// `fromMillis`/`untilMillis` and compare with `>=` and `<`.
public struct ConfirmationWindow: Sendable, Equatable {
    public var fromMillis: Int64
    public var untilMillis: Int64

    public init(around t: Date, within: Duration) {
        let center = Timestamps.millis(t)
        // `Duration.parse` bounds config durations to a century; 0 if it is somehow negative.
        let width = Int64(Checked.int(within.seconds * 1000, clampedTo: 0...9_000_000_000_000))
        fromMillis = center - width
        untilMillis = center + width
    }

    public func contains(millis ts: Int64) -> Bool { fromMillis <= ts && ts < untilMillis }
    public func contains(_ t: Date) -> Bool { contains(millis: Timestamps.millis(t)) }
}

/// What to read about one mapped detection.
public struct KeyQuery: Sendable, Equatable {
    public var key: IncidentKey
    public var window: ConfirmationWindow
}

/// A detection waiting for confirmation, as the store holds it.
public struct PendingDetection: Sendable, Equatable {
    public var id: String
    public var timestampMillis: Int64
    public var confidence: Double
    public var bboxArea: Double?
    public init(id: String, timestampMillis: Int64, confidence: Double, bboxArea: Double?) {
        self.id = id; self.timestampMillis = timestampMillis; self.confidence = confidence; self.bboxArea = bboxArea
    }
}

/// The key's state when the detection arrives, read in the same write transaction that
/// stores the decision, so concurrent submissions see each other.
public struct KeySnapshot: Sendable, Equatable {
    public var openIncidentId: String?
    public var lastClosedIncidentId: String?
    public var lastClosedAt: Date?
    /// Every `pending_confirmation` detection of the key inside the window, oldest first.
    public var pending: [PendingDetection]
    public init(openIncidentId: String? = nil, lastClosedIncidentId: String? = nil, lastClosedAt: Date? = nil, pending: [PendingDetection] = []) {
        self.openIncidentId = openIncidentId; self.lastClosedIncidentId = lastClosedIncidentId
        self.lastClosedAt = lastClosedAt; self.pending = pending
    }

    /// The summary the confirmation rules read.
    public func history(minConfidence: Double) -> KeyHistory {
        KeyHistory(openIncidentId: openIncidentId, lastClosedAt: lastClosedAt, lastClosedIncidentId: lastClosedIncidentId,
                   qualifyingInWindow: pending.filter { $0.confidence >= minConfidence }.count)
    }
}

/// What else to read when a detection opens an incident.
public struct OpeningQuery: Sendable, Equatable {
    public var asset: String
    /// Incidents of the asset opened at or after this instant count as its history (severity).
    public var priorSinceMillis: Int64
    public var shadow: Bool
    /// Routing balances open work per technician; read only when a roster is configured.
    public var needsWorkload: Bool
    /// The SKUs whose free stock the reservation needs; empty without inventory tracking.
    public var skus: [String]
}

public struct StockLevel: Sendable, Equatable {
    /// On hand minus reserved elsewhere and by Millwright, never below zero.
    public var free: Int
    public var location: String?
    public init(free: Int, location: String?) { self.free = free; self.location = location }
}

public struct OpeningSnapshot: Sendable, Equatable {
    public var priorIncidents: Int
    public var workload: Workload
    /// Missing SKU: not in the inventory.
    public var stock: [String: StockLevel]
    public init(priorIncidents: Int = 0, workload: Workload = Workload(), stock: [String: StockLevel] = [:]) {
        self.priorIncidents = priorIncidents; self.workload = workload; self.stock = stock
    }
}

/// Everything one detection changes. The store writes exactly this.
public struct IngestEffects: Sendable, Equatable {
    public struct DetectionRecord: Sendable, Equatable {
        public var id: String
        public var status: DetectionStatus
        public var reason: String
        public var asset: String?
        public var incidentId: String?
    }

    public struct NewIncident: Sendable, Equatable {
        public var id: String
        public var key: IncidentKey
        public var camera: String
        public var shadow: Bool
        public var firstSeen: Date
        public var maxConfidence: Double
        public var firstArea: Double?
        public var lastArea: Double?
        public var severity: SeverityBreakdown
        public var priority: PriorityDecision
    }

    public struct NewWorkOrder: Sendable, Equatable {
        public var id: String
        public var draft: WorkOrderDraft
        /// The draft as stored (and hashed into the audit record): encoded once.
        public var payload: String
        public var cmmsName: String
        public var cmmsKind: String
        public var phase: DeliveryState.Phase
        /// Notification recipients, in order, without repeats.
        public var notify: [String]
        /// Nil: notify at once.
        public var notifyAt: Date?
    }

    /// A part the new incident needs. `take`: reserve it (a conditional update that must
    /// succeed, since the decision saw enough free stock in this transaction) and record it.
    public struct Reservation: Sendable, Equatable {
        public var line: PartLine
        public var take: Bool
    }

    public struct AuditEntry: Sendable, Equatable {
        public var kind: String
        public var subject: String
        public var data: [String: JSONValue]
    }

    /// What the plant floor hears once the transaction is committed (MQTT, best effort).
    public enum FloorNotice: Sendable, Equatable {
        /// Every stored detection, with where it ended up.
        case detection
        case incidentOpened(id: String, camera: String, detail: String)
    }

    public var detection: DetectionRecord
    public var decision: Decision
    /// A repeat: the open incident grows by this detection and its work order gets a note.
    public var appendTo: String?
    public var incident: NewIncident?
    public var workOrder: NewWorkOrder?
    /// Pending detections that this one confirmed: they join the new incident.
    public var confirms: [String] = []
    public var reservations: [Reservation] = []
    /// In the order they are appended to the trail.
    public var audit: [AuditEntry] = []
    public var floor: [FloorNotice] = [.detection]
}

public enum IncidentDecision {
    /// Step 1: what to read, or the orphan record when the camera maps to no asset.
    public enum Read: Sendable, Equatable {
        case orphaned(IngestEffects)
        case key(KeyQuery, MappedDetection)
    }

    public static func query(for d: Detection, id: String, rules: PipelineRules) -> Read {
        switch rules.mapper.map(d) {
        case .orphaned(let reason):
            var e = IngestEffects(detection: .init(id: id, status: .orphaned, reason: reason, asset: nil, incidentId: nil),
                                  decision: .orphaned(reason: reason))
            e.audit = [.init(kind: "detection.orphaned", subject: id, data: ["camera": .string(d.cameraId), "reason": .string(reason)])]
            return .orphaned(e)
        case .mapped(let m):
            let rule = rules.settings.rule(for: d.defectClass)
            return .key(KeyQuery(key: m.key, window: ConfirmationWindow(around: d.timestamp, within: rule.confirmWithin)), m)
        }
    }

    /// Step 2 decided.
    public enum Step: Sendable, Equatable {
        case done(IngestEffects)
        /// The detection opens an incident: read this, then call `open`.
        case needsOpening(OpeningQuery)
    }

    public static func decide(_ d: Detection, id: String, mapped: MappedDetection, snapshot: KeySnapshot, rules: PipelineRules) -> Step {
        let settings = rules.settings
        let rule = settings.rule(for: d.defectClass)
        let decision = IncidentRules.decide(detection: d, rule: rule, history: snapshot.history(minConfidence: rule.minConfidence),
                                            policy: settings.incidents, shadow: settings.shadow)
        var incidentId: String?
        var appendTo: String?
        switch decision {
        case .openIncident(let shadow):
            let needs = DispatchPlanner.partNeeds(rule: rule, defect: d.defectClass, assetClass: assetClass(mapped), context: rules.planning)
            return .needsOpening(OpeningQuery(
                asset: mapped.key.asset,
                priorSinceMillis: Timestamps.millis(d.timestamp) - Int64(SeverityModel.historyWindow * 1000),
                shadow: shadow,
                needsWorkload: rules.planning.map { !$0.roster.technicians.isEmpty } ?? false,
                skus: rules.planning?.tracksInventory == true ? needs.map(\.sku) : []))
        case .appendToOpen(let open):
            incidentId = open
            appendTo = open
        case .suppressedAfterClose(let closed, _):
            incidentId = closed
        case .orphaned, .belowThreshold, .pendingConfirmation:
            break
        }
        var e = IngestEffects(detection: .init(id: id, status: decision.status, reason: decision.explanation, asset: mapped.key.asset, incidentId: incidentId),
                              decision: decision, appendTo: appendTo)
        e.audit = [decided(d, id: id, effects: e)]
        return .done(e)
    }

    /// Step 3, for a detection that opens an incident: severity, priority, the work order,
    /// routing, parts, and the audit records, from the two snapshots.
    public static func open(_ d: Detection, id: String, mapped: MappedDetection, key snapshot: KeySnapshot, opening: OpeningSnapshot,
                            ids: (incident: String, workOrder: String), rules: PipelineRules, now: Date) -> IngestEffects {
        let settings = rules.settings
        let rule = settings.rule(for: d.defectClass)
        let shadowRun = settings.shadow
        let key = mapped.key
        let firstArea = snapshot.pending.first { $0.bboxArea != nil }?.bboxArea
        let criticality = mapped.registerEntry?.criticality ?? mapped.camera.criticality
        let severity = SeverityModel.score(.init(base: rule.severityBase, bbox: d.bbox, frameWidth: d.image?.width, frameHeight: d.image?.height,
                                                 measurements: d.measurements, firstArea: firstArea, criticality: criticality,
                                                 priorIncidents: opening.priorIncidents))
        let priority = PriorityRules.decide(settings.priority, facts: PriorityFacts(
            severity: Double(severity.total), criticality: criticality, defectClass: d.defectClass, zone: d.zone,
            camera: d.cameraId, asset: key.asset, confidence: d.confidence))
        let cmms = settings.cmms(named: mapped.camera.cmms)
        let phase: DeliveryState.Phase = shadowRun || cmms == nil ? .shadow : .pending
        let take = phase != .shadow

        var draft = WorkOrderComposer.fields(incidentId: ids.incident, detection: d, mapped: mapped, rule: rule, severity: severity,
                                             priority: priority, site: settings.site)
        let plan = DispatchPlanner.plan(draft, rule: rule, assetClass: assetClass(mapped), area: mapped.registerEntry?.area ?? mapped.camera.area,
                                        context: rules.planning, workload: opening.workload, now: now)
        let reservations = rules.planning?.tracksInventory == true ? plan.partNeeds.map { need in
            reserve(need, stock: opening.stock[need.sku], take: take)
        } : []
        DispatchPlanner.apply(plan, parts: reservations.isEmpty ? nil : reservations.map(\.line), context: rules.planning, to: &draft)
        WorkOrderComposer.composeText(&draft, timezone: settings.site.timezone)

        let payload = RecordJSON.encode(draft)
        var notify: [String] = []
        for name in priority.notify + settings.planning.notifications.always where !notify.contains(name) { notify.append(name) }
        let decision = Decision.openIncident(shadow: shadowRun)
        var e = IngestEffects(
            detection: .init(id: id, status: decision.status, reason: decision.explanation, asset: key.asset, incidentId: ids.incident),
            decision: decision,
            incident: .init(id: ids.incident, key: key, camera: d.cameraId, shadow: shadowRun, firstSeen: d.timestamp,
                            maxConfidence: d.confidence, firstArea: firstArea ?? d.bbox?.area, lastArea: d.bbox?.area,
                            severity: severity, priority: priority),
            workOrder: .init(id: ids.workOrder, draft: draft, payload: payload, cmmsName: cmms?.name ?? "", cmmsKind: cmms?.kind ?? "", phase: phase,
                             notify: notify, notifyAt: plan.notifyAt),
            confirms: snapshot.pending.map(\.id),
            reservations: reservations)

        var audit: [IngestEffects.AuditEntry] = reservations.filter(\.take).map { r in
            .init(kind: r.line.status == .reserved ? "part.reserved" : "part.short", subject: ids.incident, data: [
                "sku": .string(r.line.sku), "qty": .number(Double(r.line.qty)), "free_after": .number(Double(r.line.free)),
            ])
        }
        if let r = plan.routing {
            audit.append(.init(kind: "work_order.routed", subject: ids.workOrder, data: [
                "assignee": JSONValue(draft.assignee), "reason": .string(r.reason), "candidates": .array(r.candidates.map(JSONValue.string)),
                "procedure": JSONValue(plan.procedure?.source),
            ]))
        }
        audit.append(.init(kind: "incident.opened", subject: ids.incident, data: [
            "asset": .string(key.asset), "defect_class": .string(key.defectClass), "zone": .string(key.zone),
            "severity": .from(severity), "priority": .from(priority), "shadow": .bool(shadowRun), "detection": .string(id),
        ]))
        audit.append(.init(kind: "work_order.queued", subject: ids.workOrder, data: [
            "incident": .string(ids.incident), "reference": .string(draft.reference), "cmms": .string(cmms?.name ?? ""),
            "phase": .string(phase.rawValue), "payload_sha256": .string(Hashing.sha256Hex(Data(payload.utf8))),
        ]))
        audit.append(decided(d, id: id, effects: e))
        e.audit = audit
        e.floor = [.detection, .incidentOpened(id: ids.incident, camera: d.cameraId, detail: e.detection.reason)]
        return e
    }

    /// One SKU, all or nothing; shadow mode looks and never takes.
    static func reserve(_ need: PartNeed, stock: StockLevel?, take: Bool) -> IngestEffects.Reservation {
        guard let stock else {
            return .init(line: PartLine(sku: need.sku, qty: need.qty, status: .unknown, free: 0, location: nil), take: take)
        }
        let enough = stock.free >= need.qty
        let status: PartLine.Status = take ? (enough ? .reserved : .short) : (enough ? .available : .short)
        let freeAfter = status == .reserved ? stock.free - need.qty : stock.free
        return .init(line: PartLine(sku: need.sku, qty: need.qty, status: status, free: freeAfter, location: stock.location), take: take)
    }

    static func assetClass(_ m: MappedDetection) -> String? { m.registerEntry?.assetClass ?? m.camera.assetClass }

    static func decided(_ d: Detection, id: String, effects e: IngestEffects) -> IngestEffects.AuditEntry {
        .init(kind: "detection.decided", subject: id, data: [
            "camera": .string(d.cameraId), "status": .string(e.detection.status.rawValue), "reason": .string(e.detection.reason),
            "asset": JSONValue(e.detection.asset), "defect_class": .string(d.defectClass), "confidence": .number(d.confidence),
            "incident": JSONValue(e.detection.incidentId),
        ])
    }
}

/// Everything the decision needs that is fixed for the gateway's lifetime.
public struct PipelineRules: Sendable {
    public var settings: Settings
    public var mapper: AssetMapper
    /// Roster, shifts, procedures, inventory: nil when none is configured.
    public var planning: PlanningContext?
    public init(settings: Settings, mapper: AssetMapper, planning: PlanningContext? = nil) {
        self.settings = settings; self.mapper = mapper; self.planning = planning
    }
}

/// How records (detections, drafts, breakdowns) are written to the store: sorted keys, ISO 8601
/// times. One encoder, so the hash in an audit record is the hash of the stored bytes.
public enum RecordJSON {
    public static func encode<T: Encodable>(_ v: T) -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        enc.dateEncodingStrategy = .custom { d, e in var c = e.singleValueContainer(); try c.encode(Timestamps.format(d)) }
        return (try? String(decoding: enc.encode(v), as: UTF8.self)) ?? "null"
    }
}
