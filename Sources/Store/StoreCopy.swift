import Foundation
import MillwrightCore

/// Copies a plant's store to another backend (`millwright migrate --from sqlite:PATH --to
/// postgres`): every table, in pages along its key, each page in one target transaction; the
/// audit chain is then verified on arrival and must end in the same head as the source.
public enum StoreCopy {
    /// Tables in an order that satisfies their foreign keys, each with the key it is paged by.
    static let tables: [(name: String, key: [String])] = [
        ("detections", ["id"]),
        ("incidents", ["id"]),
        ("work_orders", ["id"]),
        ("delivery_attempts", ["id"]),
        ("feedback", ["id"]),
        ("inventory", ["sku"]),
        ("part_reservations", ["incident_id", "sku"]),
        ("escalations", ["work_order_id"]),
        ("external_load", ["assignee"]),
        ("camera_snapshots", ["camera_id", "at", "sha256"]),
        ("settings_kv", ["key"]),
        ("audit", ["seq"]),
    ]
    /// Integer keys a PostgreSQL identity column hands out; after an explicit copy its
    /// sequence must start past the copied rows.
    static let identityTables = ["delivery_attempts", "feedback"]

    public struct Progress: Sendable {
        public var table: String
        public var copied: Int
        public var total: Int
    }

    public struct Summary: Sendable {
        public var rows: [String: Int]
        public var audit: AuditChain.Outcome
        public var auditHead: String
    }

    public enum CopyError: Error, CustomStringConvertible {
        case targetNotEmpty(table: String, rows: Int)
        case auditMismatch(source: String, target: String)
        case auditBroken(seq: Int64, reason: String)

        public var description: String {
            switch self {
            case .targetNotEmpty(let t, let n):
                "the target already holds data (\(n) row(s) in \(t)); migrate into an empty database, or pass --resume to continue a copy that was interrupted"
            case .auditMismatch(let s, let t):
                "the audit trail arrived with head \(t.prefix(16))… but the source's head is \(s.prefix(16))…; the target was changed during the copy, or the copy is incomplete"
            case .auditBroken(let seq, let reason):
                "the copied audit trail breaks at record \(seq): \(reason)"
            }
        }
    }

    /// `resume`: rows already in the target are kept (a copy interrupted part way is
    /// continued); otherwise a target holding any row is refused before anything is written.
    public static func copy(from source: any SQLBackend, to target: any SQLBackend, auditKey: AuditKey?, resume: Bool, pageSize: Int = 1000,
                            progress: @Sendable (Progress) -> Void = { _ in }) async throws -> Summary {
        if !resume {
            for t in tables {
                let n = try await target.read { db in try db.value(as: Int.self, "SELECT COUNT(*) FROM \(t.name)") ?? 0 }
                if n > 0 { throw CopyError.targetNotEmpty(table: t.name, rows: n) }
            }
        }
        var counts: [String: Int] = [:]
        for t in tables {
            let total = try await source.read { db in try db.value(as: Int.self, "SELECT COUNT(*) FROM \(t.name)") ?? 0 }
            var copied = 0
            var after: [SQLValue]?
            let keyList = t.key.joined(separator: ", ")
            let placeholders = t.key.map { _ in "?" }.joined(separator: ", ")
            progress(Progress(table: t.name, copied: 0, total: total))
            while true {
                let from = after
                let page = try await source.read { db in
                    try db.rows("SELECT * FROM \(t.name)" + (from == nil ? "" : " WHERE (\(keyList)) > (\(placeholders))") + " ORDER BY \(keyList) LIMIT ?",
                                SQLArguments((from ?? []) + [.integer(Int64(pageSize))]))
                }
                guard let last = page.last else { break }
                try await target.write { db in
                    for row in page {
                        let columns = row.names.joined(separator: ", ")
                        let values = row.names.map { _ in "?" }.joined(separator: ", ")
                        try db.run("INSERT INTO \(t.name) (\(columns)) VALUES (\(values)) ON CONFLICT DO NOTHING", SQLArguments(row.values))
                    }
                }
                copied += page.count
                progress(Progress(table: t.name, copied: copied, total: total))
                after = t.key.map { last.value($0) }
                if page.count < pageSize { break }
            }
            counts[t.name] = copied
        }
        if target.dialect == .postgres {
            try await target.write { db in
                for t in identityTables {
                    try db.run("SELECT setval(pg_get_serial_sequence('\(t)', 'id'), GREATEST((SELECT MAX(id) FROM \(t)), 1))")
                }
            }
        }
        let sourceHead = try await source.read { db in try db.value(as: String.self, "SELECT hash FROM audit ORDER BY seq DESC LIMIT 1") } ?? AuditRecord.genesis
        let arrived = Store(backend: target, auditKey: auditKey)
        let outcome = try await arrived.verifyAudit(key: auditKey, checkpoints: [])
        if let b = outcome.firstBreak { throw CopyError.auditBroken(seq: b.seq, reason: b.reason) }
        let targetHead = try await target.read { db in try db.value(as: String.self, "SELECT hash FROM audit ORDER BY seq DESC LIMIT 1") } ?? AuditRecord.genesis
        guard targetHead == sourceHead else { throw CopyError.auditMismatch(source: sourceHead, target: targetHead) }
        return Summary(rows: counts, audit: outcome, auditHead: targetHead)
    }
}
