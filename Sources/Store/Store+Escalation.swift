import Foundation
import MillwrightCore

/// Who heard about a work order and whether anyone took it: the first notification after
/// delivery, acknowledgements, and the escalation chain, each durable so a restart neither
/// forgets a stage nor repeats a sent one.
extension Store {
    public struct WorkOrderToNotify: Sendable {
        public var workOrderId: String
        public var cmmsId: String?
        public var draft: WorkOrderDraft
        /// The assignee (technician or fallback queue) first, then the priority rule's and `always` names.
        public var recipients: [String]
        public var acknowledged: Bool
        /// Earlier passes that left someone untold.
        public var attempts: Int
        /// Whether the storeroom's pick list still has to go out (`pick:` entries of a retry).
        public var pickListRecipients: [String]?
        /// Until when this node's claim holds (`renewNotifyClaim`).
        public var claimedUntil: Date
    }

    /// Delivered work orders nobody has been told about yet (and whose planned window has come).
    /// Claimed for `lease`: another node sharing the database passes them over until then, and
    /// if this one dies before recording the outcome, they come due again.
    public func workOrdersToNotify(now: Date = Date(), limit: Int = 100) async throws -> [WorkOrderToNotify] {
        let claimedUntil = now.addingTimeInterval(lease)
        let leaseUntil = claimedUntil.dbValue
        return try await write { db in
            let rows = try db.rows("""
                SELECT id, cmms_id, payload, assignee, notify, acknowledged_at, notify_attempts, notify_remaining FROM work_orders
                WHERE notified_at IS NULL AND notify_gave_up_at IS NULL AND phase = 'delivered' AND COALESCE(notify_at, 0) <= ?
                ORDER BY created_at LIMIT ?
                """ + db.claiming(), [now.dbValue, limit])
            for row in rows {
                try db.run("UPDATE work_orders SET notify_at = ? WHERE id = ?", [leaseUntil, row["id"] as String])
            }
            return rows.compactMap { row in
                guard let draft = Self.decode(WorkOrderDraft.self, row["payload"]) else { return nil }
                var names: [String] = []
                var pick: [String]?
                if let remaining = row["notify_remaining"] as String? {
                    // A retry: only those still untold.
                    let entries = remaining.split(separator: ",").map(String.init)
                    names = entries.filter { !$0.hasPrefix("pick:") }
                    pick = entries.filter { $0.hasPrefix("pick:") }.map { String($0.dropFirst(5)) }
                } else {
                    for n in [row["assignee"] as String?].compactMap({ $0 }) + (row["notify"] as String).split(separator: ",").map(String.init)
                    where !names.contains(n) { names.append(n) }
                }
                return WorkOrderToNotify(workOrderId: row["id"], cmmsId: row["cmms_id"], draft: draft, recipients: names,
                                         acknowledged: (row["acknowledged_at"] as Double?) != nil, attempts: row["notify_attempts"],
                                         pickListRecipients: pick, claimedUntil: Date(db: leaseUntil))
            }
        }
    }

    /// Just before a work order's notifications are sent: extends this node's claim on it for
    /// another lease. Nil when the claim was lost — a pass over many work orders outlasted the
    /// lease and another node took this one over (or it was notified meanwhile) — and then
    /// this node must not send it: the claim is for the whole pass, the sends one at a time.
    public func renewNotifyClaim(workOrderId: String, claimedUntil: Date, now: Date = Date()) async throws -> Date? {
        let until = Date(db: now.addingTimeInterval(lease).dbValue)
        // A conditional update of one row: no writers' lock needed, as for a delivery claim.
        return try await write { db in
            try db.run("""
                UPDATE work_orders SET notify_at = ? WHERE id = ? AND notify_at = ? AND notified_at IS NULL AND notify_gave_up_at IS NULL
                """, [until.dbValue, workOrderId, claimedUntil.dbValue]) == 1 ? until : nil
        }
    }

    /// Everyone was told (`sent` is the audit summary); the escalation clock starts now unless
    /// the work was already acknowledged or its priority has no chain.
    public func markNotified(workOrderId: String, sent: [JSONValue], escalation: Escalation?, now: Date = Date()) async throws {
        // Shared: conditional updates of one work order; an acknowledgement is exclusive.
        try await sharedWrite { db in
            let changed = try db.run("UPDATE work_orders SET notified_at = ?, notify_remaining = NULL, notify_error = NULL WHERE id = ? AND notified_at IS NULL",
                       [now.dbValue, workOrderId])
            guard changed == 1 else { return }
            try db.audit(kind: "work_order.notified", subject: workOrderId, data: ["sent": .array(sent)], at: now)
            let acked = try db.value(as: Double.self, "SELECT acknowledged_at FROM work_orders WHERE id = ?", [workOrderId]) != nil
            if let escalation, !acked, let due = escalation.nextDue {
                try db.run("INSERT INTO escalations (work_order_id, state, next_due) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                           [workOrderId, Self.json(escalation), due.dbValue])
            }
        }
    }

    /// Someone was not told: try them (`remaining`; `pick:<name>` for a pick list) again at
    /// `retryAt`, or, with no `retryAt`, give up — recorded in the audit trail and on the work
    /// order, and the escalation chain starts anyway: it is the safety net for exactly this.
    public func recordNotifyFailure(workOrderId: String, remaining: [String], sent: [JSONValue], error: String, retryAt: Date?,
                                    escalation: Escalation?, now: Date = Date()) async throws {
        try await sharedWrite { db in
            if let retryAt {
                let changed = try db.run("""
                    UPDATE work_orders SET notify_attempts = notify_attempts + 1, notify_at = ?, notify_remaining = ?, notify_error = ?
                    WHERE id = ? AND notified_at IS NULL
                    """, [retryAt.dbValue, remaining.joined(separator: ","), error, workOrderId])
                guard changed == 1 else { return }
                try db.audit(kind: "work_order.notify_failed", subject: workOrderId, data: [
                    "sent": .array(sent), "untold": .array(remaining.map { .string($0) }), "retry_at": .string(Timestamps.format(retryAt)),
                ], at: now)
                return
            }
            let changed = try db.run("""
                UPDATE work_orders SET notify_attempts = notify_attempts + 1, notify_gave_up_at = ?, notify_remaining = ?, notify_error = ?
                WHERE id = ? AND notified_at IS NULL AND notify_gave_up_at IS NULL
                """, [now.dbValue, remaining.joined(separator: ","), "gave up: \(error)", workOrderId])
            guard changed == 1 else { return }
            try db.audit(kind: "work_order.notify_gave_up", subject: workOrderId, data: [
                "sent": .array(sent), "untold": .array(remaining.map { .string($0) }), "error": .string(error),
            ], at: now)
            let acked = try db.value(as: Double.self, "SELECT acknowledged_at FROM work_orders WHERE id = ?", [workOrderId]) != nil
            if let escalation, !acked, let due = escalation.nextDue {
                try db.run("INSERT INTO escalations (work_order_id, state, next_due) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                           [workOrderId, Self.json(escalation), due.dbValue])
            }
        }
    }

    /// When the next notification retry is due.
    public func nextNotificationDue() async throws -> Date? {
        try await read { db in
            try db.value(as: Double.self, """
                SELECT MIN(notify_at) FROM work_orders
                WHERE notified_at IS NULL AND notify_gave_up_at IS NULL AND phase = 'delivered' AND notify_remaining IS NOT NULL
                """).map(Date.init(db:))
        }
    }

    public struct DueEscalation: Sendable {
        public var escalation: Escalation
        public var draft: WorkOrderDraft
        public var cmmsId: String?
    }

    public func dueEscalations(now: Date = Date(), limit: Int = 100) async throws -> [DueEscalation] {
        try await read { db in
            try db.rows("""
                SELECT e.state, w.payload, w.cmms_id FROM escalations e JOIN work_orders w ON w.id = e.work_order_id
                WHERE e.next_due IS NOT NULL AND e.next_due <= ? ORDER BY e.next_due LIMIT ?
                """, [now.dbValue, limit]).compactMap { row in
                guard let e = Self.decode(Escalation.self, row["state"]), let d = Self.decode(WorkOrderDraft.self, row["payload"]) else { return nil }
                return DueEscalation(escalation: e, draft: d, cmmsId: row["cmms_id"])
            }
        }
    }

    /// When the next escalation stage is due, for one timer instead of polling.
    public func nextEscalationDue() async throws -> Date? {
        try await read { db in try db.value(as: Double.self, "SELECT MIN(next_due) FROM escalations WHERE next_due IS NOT NULL").map(Date.init(db:)) }
    }

    /// Ticks one escalation inside a transaction, so an acknowledgement that arrived meanwhile
    /// wins: the notices returned are the stages still to send, already recorded as sent.
    public func advanceEscalation(workOrderId: String, now: Date = Date()) async throws -> [EscalationNotice] {
        try await write { db in
            // Locked: two nodes ticking the same escalation must not both send its stage.
            guard let state = try db.value(as: String.self, "SELECT state FROM escalations WHERE work_order_id = ?" + db.lockingRead, [workOrderId]),
                  var e = Self.decode(Escalation.self, state) else { return [] }
            let notices = e.tick(now)
            try db.run("UPDATE escalations SET state = ?, next_due = ? WHERE work_order_id = ?", [Self.json(e), e.nextDue?.dbValue, workOrderId])
            return notices
        }
    }

    /// Records what an escalation stage reached (after sending).
    public func recordEscalation(_ notice: EscalationNotice, sent: [JSONValue], now: Date = Date()) async throws {
        try await sharedWrite { db in
            try db.audit(kind: "work_order.escalated", subject: notice.workOrder, data: [
                "stage": .number(Double(notice.stage + 1)), "recipients": .array(notice.recipients.map(JSONValue.string)),
                "due_at": .string(Timestamps.format(notice.dueAt)), "sent": .array(sent),
            ], at: now)
        }
    }

    public enum Acknowledgement: Sendable, Equatable {
        case acknowledged(at: Date, by: String)
        /// Someone got there first; nothing changed.
        case already(at: Date, by: String)
    }

    /// `POST /v1/work-orders/{id}/ack`: stops the escalation.
    public func acknowledge(workOrderId: String, by: String, signature: SignatureIntent? = nil, now: Date = Date()) async throws -> Acknowledgement {
        try await auditedWrite { db in try Self.acknowledge(workOrderId: workOrderId, by: by, signature: signature, now: now, db: db) }
    }

    static func acknowledge(workOrderId: String, by: String, signature: SignatureIntent? = nil, now: Date, db: any SQLSession) throws -> Acknowledgement {
        guard let row = try db.row("SELECT acknowledged_at, acknowledged_by FROM work_orders WHERE id = ?", [workOrderId]) else {
            throw StoreError.notFound("work order \(workOrderId)")
        }
        if let at = row["acknowledged_at"] as Double? { return .already(at: Date(db: at), by: row["acknowledged_by"] ?? "") }
        try db.run("UPDATE work_orders SET acknowledged_at = ?, acknowledged_by = ? WHERE id = ?", [now.dbValue, by, workOrderId])
        if let state = try db.value(as: String.self, "SELECT state FROM escalations WHERE work_order_id = ?", [workOrderId]),
           var e = decode(Escalation.self, state) {
            e.acknowledged(at: now, by: by)
            try db.run("UPDATE escalations SET state = ?, next_due = NULL WHERE work_order_id = ?", [json(e), workOrderId])
        }
        try db.audit(kind: "work_order.acknowledged", subject: workOrderId, data: ["by": .string(by)], at: now)
        try db.sign(signature)
        return .acknowledged(at: now, by: by)
    }

    /// Small durable values (the notifier's held digests survive a restart).
    public func loadValue(_ key: String) async throws -> Data? {
        try await read { db in try db.value(as: Data.self, "SELECT value FROM settings_kv WHERE key = ?", [key]) }
    }

    public func saveValue(_ key: String, _ value: Data) async throws {
        _ = try await write { db in
            try db.run("INSERT INTO settings_kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", [key, value])
        }
    }

    /// This node's own copy of a value, under `name/node`: nodes sharing the database each
    /// hold their own (a notifier's held digests), so they never overwrite each other's.
    public func nodeValueKey(_ name: String) -> String { "\(name)/\(node)" }

    /// Takes over the copies of `name` left by nodes that are gone — left the cluster, or not
    /// heard from within `window` — and the pre-cluster value under `name` itself. `merge`
    /// gets this node's copy and theirs and returns the new copy, saved as this node's in the
    /// same transaction that deletes theirs: exactly one node takes each, and nothing is in
    /// neither place. Returns the merged copy, or nil when there was nothing to take.
    public func adoptOrphanedValues(_ name: String, window: TimeInterval, now: Date,
                                    merge: @escaping @Sendable (_ own: Data?, _ orphans: [Data]) throws -> Data) async throws -> Data? {
        let own = nodeValueKey(name)
        let prefix = name + "/"
        let pattern = prefix.replacingOccurrences(of: "!", with: "!!").replacingOccurrences(of: "%", with: "!%")
            .replacingOccurrences(of: "_", with: "!_") + "%"
        let liveSince = now.addingTimeInterval(-window).dbValue
        return try await write { db in
            let rows = try db.rows("""
                SELECT key, value FROM settings_kv
                WHERE key = ? OR (key LIKE ? ESCAPE '!' AND key <> ?
                    AND key NOT IN (SELECT ? || node_id FROM nodes WHERE heartbeat_at >= ?))
                ORDER BY key
                """, [name, pattern, own, prefix, liveSince])
            guard !rows.isEmpty else { return nil }
            var orphans: [Data] = []
            for row in rows {
                // Another node may have taken it since the SELECT (PostgreSQL, read committed):
                // then this whole adoption rolls back and the next pass looks again.
                guard try db.run("DELETE FROM settings_kv WHERE key = ?", [row["key"] as String]) == 1 else {
                    throw ValueTakenOver(key: row["key"])
                }
                orphans.append(row["value"])
            }
            let current = try db.value(as: Data.self, "SELECT value FROM settings_kv WHERE key = ?", [own])
            let merged = try merge(current, orphans)
            try db.run("INSERT INTO settings_kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", [own, merged])
            return merged
        }
    }
}

/// Another node took over a value while this one was adopting it; nothing was changed.
public struct ValueTakenOver: Error, Sendable, CustomStringConvertible {
    public let key: String
    public var description: String { "\(key) was taken over by another node; nothing adopted" }
}
