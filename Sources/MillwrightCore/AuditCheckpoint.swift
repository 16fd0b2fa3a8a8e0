import Crypto
import Foundation

/// One line of the checkpoint file: the audit trail's head as it was at `at`, signed with
/// the audit key. The file lives outside the database, so whoever can rewrite the database
/// but neither the key nor this file cannot make the trail agree with it again.
public struct AuditCheckpoint: Sendable, Equatable {
    /// The last record's sequence number and hash; 0 and the genesis hash for an empty trail.
    public var seq: Int64
    public var head: String
    public var records: Int64
    /// ISO 8601, as written; signed as text so reading it back needs no date round trip.
    public var at: String
    public var hmac: String
    /// Where it was read from (1-based), for messages; nil for one just made.
    public var line: Int?

    public init(seq: Int64, head: String, records: Int64, at: Date, key: AuditKey) {
        self.seq = seq; self.head = head; self.records = records; self.at = Timestamps.format(at)
        self.hmac = Hex.encode(key.mac([Self.signedBytes(seq: seq, head: head, records: records, at: self.at)]))
    }

    public func isSigned(by key: AuditKey) -> Bool {
        guard let mac = Hex.decode(hmac) else { return false }
        return HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: Self.signedBytes(seq: seq, head: head, records: records, at: at),
                                                      using: key.key)
    }

    /// Record hashes are HMACs of `<64 hex>\n{…}`; this prefix keeps a checkpoint's MAC from
    /// ever being usable as a record's, or the other way round.
    private static func signedBytes(seq: Int64, head: String, records: Int64, at: String) -> Data {
        var body = "millwright-audit-checkpoint-v1\n"
        CanonicalJSON.write(.object(["seq": .number(Double(seq)), "head": .string(head), "records": .number(Double(records)), "at": .string(at)]), into: &body)
        return Data(body.utf8)
    }

    /// The file's line format (sorted keys, no newline).
    public var jsonLine: String {
        var out = ""
        CanonicalJSON.write(.object(["seq": .number(Double(seq)), "head": .string(head), "records": .number(Double(records)),
                                     "at": .string(at), "hmac": .string(hmac)]), into: &out)
        return out
    }

    /// Why the record count or head cannot belong to any trail: sequence numbers run from 1
    /// without gaps, so a trail whose head is `seq` holds exactly `seq` records.
    var inconsistency: String? {
        if records != seq { return "records \(records) does not match seq \(seq) (sequence numbers run from 1 without gaps)" }
        if seq == 0 && head != AuditRecord.genesis { return "an empty trail's head must be the genesis hash" }
        return nil
    }

    public struct Problem: Sendable, Equatable, CustomStringConvertible {
        public var line: Int
        public var reason: String
        public var description: String { "line \(line): \(reason)" }
    }

    private struct Line: Decodable { var seq: Int64; var head: String; var records: Int64; var at: String; var hmac: String }

    /// Reads a checkpoint file's text. Lines that do not parse, are signed with another key,
    /// or are inconsistent are problems; the rest are returned in file order.
    public static func parse(_ text: String, key: AuditKey) -> (checkpoints: [AuditCheckpoint], problems: [Problem]) {
        var out: [AuditCheckpoint] = [], problems: [Problem] = []
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let n = i + 1
            guard !raw.allSatisfy(\.isWhitespace) else { continue }
            guard let l = try? JSONDecoder().decode(Line.self, from: Data(raw.utf8)) else {
                problems.append(Problem(line: n, reason: "not a checkpoint (want {\"at\",\"head\",\"hmac\",\"records\",\"seq\"})")); continue
            }
            let cp = AuditCheckpoint(seq: l.seq, head: l.head, records: l.records, at: l.at, hmac: l.hmac, line: n)
            if !cp.isSigned(by: key) {
                problems.append(Problem(line: n, reason: "checkpoint seq \(l.seq) at \(l.at): HMAC does not match — the line was altered, or signed with another key"))
            } else if let why = cp.inconsistency {
                problems.append(Problem(line: n, reason: "checkpoint seq \(l.seq) at \(l.at): \(why)"))
            } else {
                out.append(cp)
            }
        }
        return (out, problems)
    }

    private init(seq: Int64, head: String, records: Int64, at: String, hmac: String, line: Int) {
        self.seq = seq; self.head = head; self.records = records; self.at = at; self.hmac = hmac; self.line = line
    }
}
