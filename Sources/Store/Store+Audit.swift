import Foundation
import MillwrightCore

/// Why a writer may not open the audit trail as configured.
public enum AuditTrailError: Error, Sendable, CustomStringConvertible {
    case keyRequired(sealedFrom: Int64)
    case keyMismatch(seq: Int64)
    case gap(head: Int64, records: Int64)

    public var description: String {
        switch self {
        case .keyRequired(let seq):
            "the audit trail is sealed with a key from record \(seq) on; set audit.key_env to that key (unsealed records after it would break the chain)"
        case .keyMismatch(let seq):
            "audit.key_env: the key does not seal the audit trail's last record (\(seq)): it is not the key the trail was sealed with, or that record was altered; "
                + "run `millwright audit verify` with the right key"
        case .gap(let head, let records):
            "the audit trail's last record is \(head) but it holds \(records) record(s): records were removed; run `millwright audit verify`"
        }
    }
}

extension Store {
    /// Call before a writer starts (serve, replay). With a key: seals a trail that is not sealed
    /// yet by appending the marker record under it, or checks that the key seals the last
    /// record. Without one: refuses a sealed trail. Returns the marker's seq when sealed.
    @discardableResult
    public func prepareAuditTrail() async throws -> Int64? {
        let key = auditKey
        return try await auditedWrite { db in
            let marker = try Self.sealMarker(db)
            switch (key, marker) {
            case (nil, nil): return nil
            case (nil, let seq?): throw AuditTrailError.keyRequired(sealedFrom: seq)
            case (_?, nil):
                let plain = try db.value(as: Int64.self, "SELECT COALESCE(MAX(seq), 0) FROM audit") ?? 0
                try db.audit(kind: AuditChain.sealKind, subject: AuditChain.sealSubject,
                             data: ["scheme": .string("hmac-sha256"), "plain_records_before": .number(Double(plain))], at: Date())
                return plain + 1
            case (let key?, let seq?):
                if let head = try Self.lastAuditRecord(db), head.computeHash(.hmac(key)) != head.hash {
                    throw AuditTrailError.keyMismatch(seq: head.seq)
                }
                return seq
            }
        }
    }

    /// The trail's head, signed. Refuses a head the key does not seal, or a trail whose record
    /// count does not match its head, so a checkpoint never vouches for a visibly damaged trail.
    public func auditCheckpoint(key: AuditKey, at now: Date = Date()) async throws -> AuditCheckpoint {
        try await read { db in
            guard let head = try Self.lastAuditRecord(db) else {
                return AuditCheckpoint(seq: 0, head: AuditRecord.genesis, records: 0, at: now, key: key)
            }
            guard head.computeHash(.hmac(key)) == head.hash else { throw AuditTrailError.keyMismatch(seq: head.seq) }
            let records = try db.value(as: Int64.self, "SELECT COUNT(*) FROM audit") ?? 0
            guard records == head.seq else { throw AuditTrailError.gap(head: head.seq, records: records) }
            return AuditCheckpoint(seq: head.seq, head: head.hash, records: records, at: now, key: key)
        }
    }

    /// Signs the head and appends it to `file` (fsynced).
    @discardableResult
    public func appendAuditCheckpoint(key: AuditKey, to file: AuditCheckpointFile, at now: Date = Date()) async throws -> AuditCheckpoint {
        let cp = try await auditCheckpoint(key: key, at: now)
        try file.append(cp)
        return cp
    }

    /// Walks the audit chain in order, streaming, against the (authentic) checkpoints.
    public func verifyAudit(key: AuditKey? = nil, checkpoints: [AuditCheckpoint] = []) async throws -> AuditChain.Outcome {
        try await read { db in
            var verifier = AuditChain.Verifier(key: key, checkpoints: checkpoints)
            // In pages along the primary key, so a long trail is never held in memory at once.
            var after: Int64 = 0
            while true {
                let page = try db.rows("SELECT * FROM audit WHERE seq > ? ORDER BY seq LIMIT 1000", [after])
                for r in page {
                    if let b = verifier.check(Self.auditRecord(r)) { return verifier.outcome(stoppedAt: b) }
                }
                guard let last = page.last, page.count == 1000 else { break }
                after = last["seq"]
            }
            return verifier.outcome(stoppedAt: nil)
        }
    }

    /// The seq of the record that starts the sealed segment, if any.
    public func auditSealedFrom() async throws -> Int64? {
        try await read { db in
            try Self.sealMarker(db)
        }
    }

    /// Found through the subject index: few records are about the trail itself.
    static func sealMarker(_ db: any SQLSession) throws -> Int64? {
        try db.value(as: Int64.self, "SELECT seq FROM audit WHERE subject = ? AND kind = ? ORDER BY seq LIMIT 1",
                           [AuditChain.sealSubject, AuditChain.sealKind])
    }

    static func lastAuditRecord(_ db: any SQLSession) throws -> AuditRecord? {
        try db.row("SELECT * FROM audit ORDER BY seq DESC LIMIT 1").map(auditRecord)
    }

    static func auditRecord(_ r: SQLRow) -> AuditRecord {
        AuditRecord(seq: r["seq"], at: Date(db: r["at"]), kind: r["kind"], subject: r["subject"],
                    data: jsonObject(r["data"]) ?? ["<unreadable>": .null], prevHash: r["prev_hash"], hash: r["hash"])
    }
}

extension Store {
    static let configRevisionKey = "config.revision"

    /// Records the configuration a node starts with: its hash, and what changed since the
    /// configuration recorded before (by any node), as one audit record. Unchanged: nothing.
    @discardableResult
    public func recordConfiguration(_ revision: ConfigRevision, file: String, now: Date = Date()) async throws -> Bool {
        let node = self.node
        return try await auditedWrite { db in
            let previous = try db.value(as: Data.self, "SELECT value FROM settings_kv WHERE key = ?", [Self.configRevisionKey])
                .flatMap { try? JSONValue.parse($0).objectValue }
            let before = ConfigRevision(sha256: previous?["sha256"]?.stringValue ?? "", redacted: previous?["redacted"]?.stringValue ?? "")
            guard before.sha256 != revision.sha256 else { return false }
            var data: [String: JSONValue] = ["sha256": .string(revision.sha256), "file": .string(file), "node": .string(node)]
            if previous == nil {
                data["first"] = .bool(true)
            } else {
                data["previous_sha256"] = .string(before.sha256)
                data["diff"] = .array(ConfigRevision.diff(from: before.redacted, to: revision.redacted).map { .string($0) })
            }
            try db.audit(kind: "config.changed", subject: "config", data: data, at: now)
            var stored = ""
            CanonicalJSON.write(.object(["sha256": .string(revision.sha256), "redacted": .string(revision.redacted)]), into: &stored)
            try db.run("INSERT INTO settings_kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                       [Self.configRevisionKey, Data(stored.utf8)])
            return true
        }
    }
}
