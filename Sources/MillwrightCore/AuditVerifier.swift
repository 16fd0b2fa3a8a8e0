import Foundation

public enum AuditChain {
    public struct Break: Sendable, Equatable {
        public var seq: Int64
        public var reason: String
    }

    /// The record that starts the sealed segment. A store opened with an audit key writes it
    /// (under the key) when the trail's head is not sealed yet: records before it are plain
    /// SHA-256 (written before there was a key), it and every record after it are HMAC-SHA256.
    public static let sealSubject = "audit"
    public static let sealKind = "audit.sealed"

    public static func isSealMarker(_ r: AuditRecord) -> Bool { r.kind == sealKind && r.subject == sealSubject }

    /// Checks records one at a time in sequence order, so a long chain can be streamed, then
    /// `finish()` checks the end of the trail against the checkpoints.
    public struct Verifier: Sendable {
        private let key: AuditKey?
        private let checkpoints: [Int64: [AuditCheckpoint]]
        private let furthest: AuditCheckpoint?
        private var prev = AuditRecord.genesis
        /// The record before this one: the one a signature record signs.
        private var previous: AuditRecord?
        private var expectedSeq: Int64 = 1
        public private(set) var checked = 0
        /// The seal marker's seq, once passed.
        public private(set) var sealedFrom: Int64?
        /// Checkpoints whose record was found with the hash they vouch for.
        public private(set) var checkpointsMatched = 0

        /// `checkpoints` must already be authentic (`AuditCheckpoint.parse`).
        public init(key: AuditKey? = nil, checkpoints: [AuditCheckpoint] = []) {
            self.key = key
            self.checkpoints = Dictionary(grouping: checkpoints, by: \.seq)
            // Of equals, the latest line: the one a reader of the file looks at first.
            self.furthest = checkpoints.max { ($0.seq, $0.line ?? 0) < ($1.seq, $1.line ?? 0) }
        }

        public mutating func check(_ r: AuditRecord) -> Break? {
            if r.seq != expectedSeq { return Break(seq: r.seq, reason: "sequence jumps from \(expectedSeq - 1) to \(r.seq): a record was removed") }
            if r.prevHash != prev { return Break(seq: r.seq, reason: "previous-hash link does not match record \(r.seq - 1)") }
            if sealedFrom == nil, AuditChain.isSealMarker(r) {
                guard key != nil else {
                    return Break(seq: r.seq, reason: "the trail is sealed with an audit key from this record on; verify with the key (audit.key_env or --key-env)")
                }
                sealedFrom = r.seq
            }
            if let key, sealedFrom != nil {
                if r.computeHash(.hmac(key)) != r.hash {
                    return Break(seq: r.seq, reason: "content does not match its HMAC: the record was altered, or written without this key")
                }
            } else if r.computeHash(.sha256) != r.hash {
                return Break(seq: r.seq, reason: "content does not match its hash: the record was altered")
            }
            for cp in checkpoints[r.seq] ?? [] {
                if cp.head != r.hash { return Break(seq: r.seq, reason: "differs from the checkpoint of \(cp.at)\(Self.place(cp)): the record was rewritten") }
                checkpointsMatched += 1
            }
            if r.kind == SignatureManifest.auditKind, let problem = SignatureManifest.bindingProblem(signature: r, signed: previous) {
                return Break(seq: r.seq, reason: "signature \(problem)")
            }
            previous = r
            prev = r.hash
            expectedSeq = r.seq + 1
            checked += 1
            return nil
        }

        /// Call after the last record: records a checkpoint vouches for must still be there,
        /// and with a key, a trail without a sealed segment was written or rewritten without it.
        public func finish() -> Break? {
            let last = expectedSeq - 1
            if let cp = furthest, cp.seq > last {
                let ends = last == 0 ? "the trail is empty" : "the trail ends at record \(last)"
                return Break(seq: last + 1, reason: "missing: the checkpoint of \(cp.at)\(Self.place(cp)) vouches for \(cp.records) record(s) up to record \(cp.seq), "
                             + "but \(ends): records \(last + 1)…\(cp.seq) were deleted")
            }
            if key != nil, last > 0, sealedFrom == nil {
                return Break(seq: 1, reason: "not sealed: a key is given, but records 1…\(last) are plain SHA-256 — the trail was never opened with the key "
                             + "(serve seals it at start), or was rewritten by someone without it")
            }
            return nil
        }

        /// The result after `firstBreak` stopped the walk, or after the last record (nil).
        public func outcome(stoppedAt firstBreak: Break?) -> Outcome {
            Outcome(checked: checked, sealedFrom: sealedFrom, checkpointsMatched: checkpointsMatched, firstBreak: firstBreak ?? finish())
        }

        private static func place(_ cp: AuditCheckpoint) -> String { cp.line.map { " (checkpoint line \($0))" } ?? "" }
    }

    /// What a walk of the whole trail found.
    public struct Outcome: Sendable, Equatable {
        public var checked: Int
        public var sealedFrom: Int64?
        public var checkpointsMatched: Int
        public var firstBreak: Break?
    }

    public static func verify<S: Sequence>(_ records: S, key: AuditKey? = nil, checkpoints: [AuditCheckpoint] = []) -> Break? where S.Element == AuditRecord {
        var v = Verifier(key: key, checkpoints: checkpoints)
        for r in records { if let b = v.check(r) { return b } }
        return v.finish()
    }
}
