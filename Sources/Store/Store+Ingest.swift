import Foundation
import MillwrightCore

public struct IngestOutcome: Sendable, Equatable {
    public var id: String
    public var status: DetectionStatus
    public var reason: String
    public var incidentId: String?
    public var workOrderId: String?
    /// The detection_id was stored before: nothing was changed.
    public var duplicate: Bool
    public var cameraId: String
    /// What the floor hears about it, from the decision (nothing for a duplicate).
    public var floor: [IngestEffects.FloorNotice] = []
}

/// One submission's validated detections and when they were received. Several submissions
/// share one transaction under group commit; each keeps its own receive time.
public struct IngestSubmission: Sendable {
    /// Each with its id: the client's, or one given here, so a transaction run again stores the same.
    public let detections: [Detection]
    public let receivedAt: Date
    /// Each detection as stored (`recordJSON`), written by the submitter rather than inside the
    /// transaction, where only one writer runs at a time.
    let records: [String]

    public init(detections: [Detection], receivedAt: Date) {
        var identified = detections
        for i in identified.indices where identified[i].detectionId == nil { identified[i].detectionId = UUID().uuidString.lowercased() }
        self.detections = identified
        self.receivedAt = receivedAt
        records = identified.map(\.recordJSON)
    }
}

extension Store {
    /// Stores a batch of validated detections and everything they cause (incident, outbox
    /// row, audit) in ONE transaction; returns only after it is committed.
    public func ingest(_ detections: [Detection], rules: PipelineRules, now: Date = Date()) async throws -> [IngestOutcome] {
        try await ingest([IngestSubmission(detections: detections, receivedAt: now)], rules: rules)[0]
    }

    /// Several submissions in ONE transaction, decided in order as if one had followed the
    /// other; returns each one's outcomes once all are committed.
    public func ingest(_ submissions: [IngestSubmission], rules: PipelineRules) async throws -> [[IngestOutcome]] {
        let batch = submissions.flatMap(\.detections)
        let records = submissions.flatMap(\.records)
        let receivedAt = submissions.flatMap { s in repeatElement(s.receivedAt, count: s.detections.count) }
        var attempt = 1
        var alone = false
        var outcomes: [IngestOutcome]
        while true {
            do {
                outcomes = try await backend.write { [alone, batch, records, receivedAt] db in
                    try Self.ingestBatch(batch, records: records, receivedAt: receivedAt, alone: alone, rules: rules, db: db)
                }
                break
            } catch IngestRetry.manyNewKeys {
                alone = true
            } catch is IngestRetry where attempt < Self.maxIngestAttempts {
                // Another batch stored a detection this one took for new: decided again from
                // the start, this one sees it as a repeat.
                attempt += 1
            } catch StoreError.stockChanged where attempt < Self.maxIngestAttempts {
                // Another key's incident took the spare in between: decided again, this one
                // finds the shortage instead.
                attempt += 1
            }
        }
        var rest = outcomes[...]
        return submissions.map { s in
            defer { rest = rest.dropFirst(s.detections.count) }
            return Array(rest.prefix(s.detections.count))
        }
    }

    static let maxIngestAttempts = 5
    /// More keys than this that may open an incident: the batch runs alone rather than hold a
    /// lock per key (PostgreSQL's lock table is shared and bounded).
    static let maxKeyLocks = 64

    enum IngestRetry: Error {
        /// A detection id this batch took for new was stored by a batch that committed meanwhile.
        case detectionStoredMeanwhile
        case manyNewKeys
    }

    /// One batch, beside other ingests on a shared database (`alone`: under the exclusive
    /// writers' lock instead). What a decision reads is locked first, in sorted order (no
    /// deadlocks between batches): the keys that have no open incident, since a detection may
    /// open one. A key with an open incident needs no lock: its detections append to it
    /// whatever other ingests do, and only an exclusive writer, which waits for every ingest,
    /// closes an incident. A detection id stored by a concurrent batch shows as a unique
    /// violation when this one inserts it, and the batch is decided again.
    static func ingestBatch(_ batch: [Detection], records: [String], receivedAt: [Date], alone: Bool, rules: PipelineRules, db: any SQLSession) throws -> [IngestOutcome] {
        let ids = batch.map { $0.detectionId ?? "" }
        if alone { try db.lock(Store.writersLock) } else { try db.lock(exclusive: [], shared: [Store.writersLock]) }
        let stored = try storedDetectionIds(ids, db: db)
        let reads = zip(batch, ids).map { IncidentDecision.query(for: $0, id: $1, rules: rules) }
        var keys = Set<IncidentKey>()
        for case .key(let q, _) in reads { keys.insert(q.key) }
        let open = try openIncidents(of: keys, db: db)
        if !alone {
            let mayOpen = keys.filter { open[$0] == nil }
            guard mayOpen.count <= maxKeyLocks else { throw IngestRetry.manyNewKeys }
            try db.lock(exclusive: mayOpen.map(keyLock), shared: [])
        }

        var deferred = DeferredIngestWrites()
        var outcomes: [IngestOutcome] = []
        outcomes.reserveCapacity(batch.count)
        var firstIndex: [String: Int] = [:]
        do {
            for (i, d) in batch.enumerated() {
                let id = ids[i]
                if let first = firstIndex[id] {
                    // Twice in one batch: the second is a repeat of the first, as across batches.
                    var again = outcomes[first]
                    again.duplicate = true
                    again.workOrderId = nil
                    again.floor = []
                    outcomes.append(again)
                    continue
                }
                firstIndex[id] = outcomes.count
                if stored.contains(id), let existing = try db.row("SELECT status, reason, incident_id FROM detections WHERE id = ?", [id]) {
                    outcomes.append(IngestOutcome(id: id, status: DetectionStatus(rawValue: existing["status"]) ?? .confirmed, reason: existing["reason"],
                                                  incidentId: existing["incident_id"], workOrderId: nil, duplicate: true, cameraId: d.cameraId, floor: []))
                    continue
                }
                outcomes.append(try ingestOne(d, id: id, record: records[i], read: reads[i], openIncident: open, deferred: &deferred, rules: rules, now: receivedAt[i], db: db))
            }
            try deferred.write(db)
        } catch let e where db.isUniqueViolation(e) {
            throw IngestRetry.detectionStoredMeanwhile
        }
        return outcomes
    }

    /// The unit separator cannot occur inside a name the config or a detection gives.
    static func keyLock(_ key: IncidentKey) -> String { "key:\(key.asset)\u{1F}\(key.defectClass)\u{1F}\(key.zone)" }

    /// Loads what `IncidentDecision` asks for and applies what it returns; the rules are all there.
    /// Effects nothing later in the batch reads (repeats, orphans, below threshold) are
    /// collected in `deferred` and written together at the end.
    static func ingestOne(_ d: Detection, id: String, record: String, read: IncidentDecision.Read, openIncident: [IncidentKey: String],
                          deferred: inout DeferredIngestWrites, rules: PipelineRules, now: Date, db: any SQLSession) throws -> IngestOutcome {
        var stored = d
        stored.detectionId = id
        var effects: IngestEffects
        switch read {
        case .orphaned(let e):
            effects = e
            try apply(effects, to: stored, record: record, now: now, deferred: &deferred, db: db)
        case .key(let query, let mapped):
            if let openId = openIncident[query.key],
               case .done(let e) = IncidentDecision.decide(stored, id: id, mapped: mapped, snapshot: KeySnapshot(openIncidentId: openId), rules: rules) {
                effects = e
                try apply(effects, to: stored, record: record, now: now, deferred: &deferred, db: db)
                break
            }
            effects = try decide(stored, id: id, query: query, mapped: mapped, rules: rules, now: now, db: db)
            if effects.incident == nil {
                try apply(effects, to: stored, record: record, now: now, deferred: &deferred, db: db)
            } else {
                do {
                    try db.savepoint { [effects] in
                        var none = DeferredIngestWrites()
                        try apply(effects, to: stored, record: record, now: now, deferred: &none, db: db)
                    }
                } catch let e where db.isUniqueViolation(e) {
                    // Another writer on a shared database opened the incident first: decided
                    // again, this detection is a repeat of it, never a second work order.
                    effects = try decide(stored, id: id, query: query, mapped: mapped, rules: rules, now: now, db: db)
                    guard effects.incident == nil else { throw e }
                    try apply(effects, to: stored, record: record, now: now, deferred: &deferred, db: db)
                }
            }
        }
        return IngestOutcome(id: id, status: effects.detection.status, reason: effects.detection.reason, incidentId: effects.detection.incidentId,
                             workOrderId: effects.workOrder?.id, duplicate: false, cameraId: d.cameraId, floor: effects.floor)
    }

    /// The open incident of each key, in one query.
    static func openIncidents(of keys: Set<IncidentKey>, db: any SQLSession) throws -> [IncidentKey: String] {
        guard !keys.isEmpty else { return [:] }
        let assets = Array(Set(keys.map(\.asset)))
        var open: [IncidentKey: String] = [:]
        for chunk in assets.chunked(500) {
            let marks = Array(repeating: "?", count: chunk.count).joined(separator: ", ")
            for r in try db.rows("SELECT id, asset, defect_class, zone FROM incidents WHERE is_open = 1 AND asset IN (\(marks))",
                                 SQLArguments(chunk.map { .text($0) })) {
                let key = IncidentKey(asset: r["asset"], defectClass: r["defect_class"], zone: r["zone"] as String)
                if keys.contains(key) { open[key] = r["id"] }
            }
        }
        return open
    }

    static func decide(_ d: Detection, id: String, query: KeyQuery, mapped: MappedDetection, rules: PipelineRules,
                              now: Date, db: any SQLSession) throws -> IngestEffects {
        let snapshot = try keySnapshot(query, db: db)
        switch IncidentDecision.decide(d, id: id, mapped: mapped, snapshot: snapshot, rules: rules) {
        case .done(let e):
            return e
        case .needsOpening(let opening):
            return IncidentDecision.open(d, id: id, mapped: mapped, key: snapshot, opening: try openingSnapshot(opening, db: db),
                                         ids: (UUID().uuidString.lowercased(), UUID().uuidString.lowercased()), rules: rules, now: now)
        }
    }

    static func storedDetectionIds(_ ids: [String], db: any SQLSession) throws -> Set<String> {
        var found = Set<String>()
        for chunk in ids.chunked(500) {
            let marks = Array(repeating: "?", count: chunk.count).joined(separator: ", ")
            found.formUnion(try db.column(as: String.self, "SELECT id FROM detections WHERE id IN (\(marks))", SQLArguments(chunk.map { .text($0) })))
        }
        return found
    }

    /// What the ingest transaction would read about this key now (contract tests, diagnostics).
    public func snapshot(for query: KeyQuery) async throws -> KeySnapshot {
        try await read { db in try Self.keySnapshot(query, db: db) }
    }

    /// The key's open incident, last closure, and its pending detections inside the window
    /// (`ConfirmationWindow`: `from <= ts < until`, in the store's millisecond times).
    static func keySnapshot(_ q: KeyQuery, db: any SQLSession) throws -> KeySnapshot {
        var s = KeySnapshot()
        let key = q.key
        // One statement (one round trip on PostgreSQL) for the three things a decision reads.
        // The NULLs are typed: PostgreSQL resolves a bare NULL inside a subquery as text.
        let rows = try db.rows(keySnapshotSQL, [key.asset, key.defectClass, key.zone, Double(q.window.fromMillis) / 1000, Double(q.window.untilMillis) / 1000])
        for r in rows {
            switch r["part"] as String {
            case "open": s.openIncidentId = r["id"]
            case "closed":
                s.lastClosedIncidentId = r["id"]
                s.lastClosedAt = (r["at"] as Double?).map(Date.init(db:))
            default:
                s.pending.append(PendingDetection(id: r["id"], timestampMillis: Timestamps.millis(Date(db: r["at"])),
                                                  confidence: r["confidence"], bboxArea: r["bbox_area"]))
            }
        }
        return s
    }

    /// The pending part reads the partial index `detections_pending`: its `status` term is the
    /// index's condition, written as a literal so both planners can match it.
    static let keySnapshotSQL = """
        SELECT 'open' AS part, id, CAST(NULL AS DOUBLE PRECISION) AS at, CAST(NULL AS DOUBLE PRECISION) AS confidence,
               CAST(NULL AS DOUBLE PRECISION) AS bbox_area
          FROM incidents WHERE asset = ?1 AND defect_class = ?2 AND zone = ?3 AND is_open = 1
        UNION ALL
        SELECT * FROM (SELECT 'closed' AS part, id, closed_at AS at, CAST(NULL AS DOUBLE PRECISION) AS confidence,
                              CAST(NULL AS DOUBLE PRECISION) AS bbox_area
                         FROM incidents WHERE asset = ?1 AND defect_class = ?2 AND zone = ?3 AND is_open = 0
                        ORDER BY closed_at DESC LIMIT 1) AS last_closed
        UNION ALL
        SELECT 'pending' AS part, id, ts AS at, confidence, bbox_area FROM detections
         WHERE asset = ?1 AND defect_class = ?2 AND zone = ?3 AND status = 'pending_confirmation' AND ts >= ?4 AND ts < ?5
        ORDER BY 1, 3, 2
        """

    static func openingSnapshot(_ q: OpeningQuery, db: any SQLSession) throws -> OpeningSnapshot {
        var s = OpeningSnapshot()
        s.priorIncidents = try db.value(as: Int.self, "SELECT COUNT(*) FROM incidents WHERE asset = ? AND opened_at >= ? AND shadow = ?",
                                        [q.asset, Double(q.priorSinceMillis) / 1000, q.shadow]) ?? 0
        if q.needsWorkload { s.workload = try workload(db) }
        for sku in q.skus {
            if let row = try db.row("SELECT GREATEST(on_hand - external_reserved - reserved, 0) AS free, location FROM inventory WHERE sku = ?", [sku]) {
                s.stock[sku] = StockLevel(free: row["free"], location: row["location"])
            }
        }
        return s
    }

    /// A detection's row, in the order of `DeferredIngestWrites.detectionColumns`.
    static func detectionRow(_ d: Detection, id: String, record: String, receivedAt: Date, status: DetectionStatus, reason: String, asset: String?,
                             incidentId: String?) -> [SQLValue] {
        [.text(id), .text(d.cameraId), .real(d.timestamp.dbValue), .real(receivedAt.dbValue), .text(d.defectClass),
         .real(d.confidence), .text(status.rawValue), .text(reason),
         asset.sqlValue, .text(d.zone ?? ""), incidentId.sqlValue, d.bbox?.area.sqlValue ?? .null,
         d.sourceFormat.sqlValue, d.frameSHA256.sqlValue, .text(record)]
    }

    static func apply(_ e: IngestEffects, to d: Detection, record: String, now: Date, deferred: inout DeferredIngestWrites, db: any SQLSession) throws {
        let id = e.detection.id
        let detectionRow = Self.detectionRow(d, id: id, record: record, receivedAt: now, status: e.detection.status, reason: e.detection.reason,
                                              asset: e.detection.asset, incidentId: e.detection.incidentId)
        // A pending detection is read by the next decisions of its key; an opening writes
        // several rows in order. The rest waits for the end of the batch.
        if e.incident == nil, e.detection.status != .pendingConfirmation {
            if let open = e.appendTo { deferred.append(to: open, at: d.timestamp.dbValue, confidence: d.confidence, area: d.bbox?.area) }
            deferred.detections.append(detectionRow)
            for a in e.audit { try db.audit(kind: a.kind, subject: a.subject, data: a.data, at: now) }
            return
        }
        if let i = e.incident, let w = e.workOrder {
            // First, so that losing the race on the one-open-incident index leaves nothing behind.
            try db.run("""
                INSERT INTO incidents (id, asset, defect_class, zone, camera_id, state, is_open, shadow, opened_at, first_seen, last_seen,
                    detection_count, max_confidence, first_area, last_area, severity, severity_breakdown, priority, priority_rule, work_order_id)
                VALUES (?, ?, ?, ?, ?, 'open', 1, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [i.id, i.key.asset, i.key.defectClass, i.key.zone, i.camera, i.shadow, now.dbValue, i.firstSeen.dbValue,
                                 i.firstSeen.dbValue, i.maxConfidence, i.firstArea, i.lastArea, i.severity.total, json(i.severity),
                                 i.priority.priority.rawValue, i.priority.rule, w.id])
            for r in e.reservations where r.take {
                if r.line.status == .reserved {
                    // The decision saw enough free stock in this transaction; the condition
                    // still guards it, and a failure rolls the whole submission back.
                    let changed = try db.run("""
                        UPDATE inventory SET reserved = reserved + ?1
                        WHERE sku = ?2 AND on_hand - external_reserved - reserved >= ?1
                        """, [r.line.qty, r.line.sku])
                    guard changed == 1 else { throw StoreError.stockChanged(sku: r.line.sku) }
                }
                try db.run("INSERT INTO part_reservations (incident_id, sku, qty, status, at) VALUES (?, ?, ?, ?, ?)",
                           [i.id, r.line.sku, r.line.qty, r.line.status.rawValue, now.dbValue])
            }
            try db.run("""
                INSERT INTO work_orders (id, incident_id, reference, cmms_name, cmms_kind, shadow, phase, next_attempt_at, created_at, confirmed_detection_at, payload,
                    assignee, priority, notify, notify_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [w.id, i.id, w.draft.reference, w.cmmsName, w.cmmsKind, w.phase == .shadow, w.phase.rawValue,
                                 now.dbValue, now.dbValue, d.timestamp.dbValue, w.payload,
                                 w.draft.assignee, i.priority.priority.rawValue, w.notify.joined(separator: ","), w.notifyAt?.dbValue])
        }
        try db.run("INSERT INTO detections \(DeferredIngestWrites.detectionColumns) VALUES \(DeferredIngestWrites.detectionRow)", SQLArguments(detectionRow))
        if let incident = e.incident?.id {
            for pending in e.confirms {
                try db.run("UPDATE detections SET status = 'confirmed', incident_id = ?, reason = ? WHERE id = ? AND status = 'pending_confirmation'",
                           [incident, "confirmed with \(id)", pending])
            }
        }
        for a in e.audit { try db.audit(kind: a.kind, subject: a.subject, data: a.data, at: now) }
    }
}

extension Store {
    /// A payload refused because processing it killed the gateway repeatedly: kept in the audit
    /// trail (its hash and size; the bytes themselves may be hostile) as rejected.
    public func recordIngestQuarantine(sha256: String, bytes: Int, format: String?, camera: String?, crashes: Int, now: Date = Date()) async throws {
        try await auditedWrite { db in
            try db.audit(kind: "ingest.quarantined", subject: "payload:\(sha256)", data: [
                "bytes": .number(Double(bytes)), "format": JSONValue(format), "camera": JSONValue(camera),
                "crashes": .number(Double(crashes)), "decision": .string("rejected"),
            ], at: now)
        }
    }
}
