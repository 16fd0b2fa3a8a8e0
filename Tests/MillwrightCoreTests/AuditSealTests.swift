import Foundation
import MillwrightCore
import Testing

/// A trail as the store writes it: `plain` records before the key, then the seal marker and
/// keyed records. Pure values, no database.
struct Trail {
    var records: [AuditRecord] = []

    mutating func append(kind: String = "detection.decided", subject: String? = nil, seal: AuditSeal) {
        let seq = Int64(records.count + 1)
        records.append(AuditRecord(seq: seq, at: Date(timeIntervalSince1970: 1_790_000_000 + Double(seq)), kind: kind, subject: subject ?? "d\(seq)",
                                   data: ["confidence": .number(0.9), "camera": .string("CAM-07")], prevHash: records.last?.hash ?? AuditRecord.genesis, seal: seal))
    }

    static func make(plain: Int = 0, sealed: Int, key: AuditKey) -> Trail {
        var t = Trail()
        for _ in 0..<plain { t.append(seal: .sha256) }
        t.append(kind: AuditChain.sealKind, subject: AuditChain.sealSubject, seal: .hmac(key))
        for _ in 0..<sealed { t.append(seal: .hmac(key)) }
        return t
    }

    /// What someone who can write the database but lacks the key can do: edit a record and
    /// recompute every hash after it with plain SHA-256.
    mutating func rewritePlain(from index: Int, _ edit: (inout AuditRecord) -> Void) {
        edit(&records[index])
        for i in index..<records.count {
            records[i].prevHash = i == 0 ? AuditRecord.genesis : records[i - 1].hash
            records[i].hash = records[i].computeHash(.sha256)
        }
    }
}

@Suite struct AuditSealTests {
    let key = AuditKey(secret: "0123456789abcdef-audit-key")!
    let other = AuditKey(secret: "fedcba9876543210-other-key")!

    @Test func keyedChainVerifiesOnlyWithItsKey() {
        let t = Trail.make(sealed: 20, key: key)
        #expect(AuditChain.verify(t.records, key: key) == nil)
        #expect(AuditChain.verify(t.records, key: other)?.seq == 1)
        let noKey = AuditChain.verify(t.records)
        #expect(noKey?.seq == 1)
        #expect(noKey?.reason.contains("sealed with an audit key") == true)
    }

    @Test func keyedHashIsNotThePlainHash() {
        let t = Trail.make(sealed: 1, key: key)
        #expect(t.records[1].hash != t.records[1].computeHash(.sha256))
        #expect(t.records[1].hash == t.records[1].computeHash(.hmac(key)))
    }

    @Test func editAndPlainRecomputeFailsTheHMAC() {
        var t = Trail.make(sealed: 20, key: key)
        t.rewritePlain(from: 6) { $0.data["confidence"] = .number(0.1) }
        let b = AuditChain.verify(t.records, key: key)
        #expect(b?.seq == 7)
        #expect(b?.reason.contains("HMAC") == true)
    }

    @Test func downgradingTheWholeTrailToPlainIsCaught() {
        // Rewrite the marker too, as an ordinary plain record: no sealed segment is left.
        var t = Trail.make(sealed: 10, key: key)
        t.rewritePlain(from: 0) { $0.kind = "detection.decided"; $0.subject = "d1" }
        #expect(AuditChain.verify(t.records) == nil, "plain verification alone cannot tell")
        let b = AuditChain.verify(t.records, key: key)
        #expect(b?.seq == 1)
        #expect(b?.reason.contains("not sealed") == true)
    }

    @Test func truncatingToThePlainPrefixIsCaughtWithTheKey() {
        var t = Trail.make(plain: 5, sealed: 10, key: key)
        t.records.removeLast(11)
        #expect(AuditChain.verify(t.records, key: key)?.reason.contains("not sealed") == true)
    }

    @Test func plainRecordsBeforeTheMarkerVerifyAsPlain() {
        let t = Trail.make(plain: 8, sealed: 8, key: key)
        var v = AuditChain.Verifier(key: key)
        for r in t.records { #expect(v.check(r) == nil) }
        let o = v.outcome(stoppedAt: nil)
        #expect(o.checked == 17 && o.sealedFrom == 9 && o.firstBreak == nil)
    }

    @Test func editingThePlainPrefixBreaksTheMarker() {
        var t = Trail.make(plain: 8, sealed: 8, key: key)
        t.rewritePlain(from: 2) { $0.subject = "forged" }
        // Recomputing the marker needs the key: it fails whether relinked or not.
        #expect(AuditChain.verify(t.records, key: key)?.seq == 9)
    }

    @Test func plainRecordAppendedAfterTheSealIsCaught() {
        var t = Trail.make(sealed: 3, key: key)
        t.append(seal: .sha256)
        #expect(AuditChain.verify(t.records, key: key)?.seq == 5)
    }

    @Test func theKeyNeverPrints() {
        #expect("\(key)" == "<audit key>")
        #expect(String(reflecting: key) == "<audit key>")
        #expect(AuditKey(secret: "short") == nil)
    }
}

@Suite struct AuditCheckpointTests {
    let key = AuditKey(secret: "0123456789abcdef-audit-key")!
    let at = Date(timeIntervalSince1970: 1_790_000_500)

    func checkpoint(_ t: Trail, upTo seq: Int) -> AuditCheckpoint {
        AuditCheckpoint(seq: Int64(seq), head: t.records[seq - 1].hash, records: Int64(seq), at: at, key: key)
    }

    func parsed(_ lines: [String]) -> (checkpoints: [AuditCheckpoint], problems: [AuditCheckpoint.Problem]) {
        AuditCheckpoint.parse(lines.joined(separator: "\n") + "\n", key: key)
    }

    @Test func aLineRoundTripsAndIsSigned() {
        let t = Trail.make(sealed: 5, key: key)
        let cp = checkpoint(t, upTo: 6)
        let back = parsed([cp.jsonLine])
        #expect(back.problems.isEmpty)
        #expect(back.checkpoints.count == 1)
        #expect(back.checkpoints[0].seq == 6 && back.checkpoints[0].head == cp.head && back.checkpoints[0].line == 1)
        #expect(cp.jsonLine.hasPrefix("{\"at\":\""))
        #expect(!cp.jsonLine.contains("\n"))
    }

    @Test func anAlteredOrForeignLineIsReported() {
        let t = Trail.make(sealed: 5, key: key)
        let good = checkpoint(t, upTo: 6).jsonLine
        let moved = good.replacingOccurrences(of: "\"seq\":6", with: "\"seq\":3").replacingOccurrences(of: "\"records\":6", with: "\"records\":3")
        let foreign = AuditCheckpoint(seq: 6, head: t.records[5].hash, records: 6, at: at, key: AuditKey(secret: "another-key-of-16+")!).jsonLine
        let r = parsed([good, "", moved, foreign, "not json"])
        #expect(r.checkpoints.count == 1)
        #expect(r.problems.map(\.line) == [3, 4, 5])
        #expect(r.problems[0].reason.contains("HMAC does not match"))
        #expect(r.problems[2].reason.contains("not a checkpoint"))
    }

    @Test func anInconsistentRecordCountIsReported() {
        let t = Trail.make(sealed: 5, key: key)
        let bad = AuditCheckpoint(seq: 6, head: t.records[5].hash, records: 4, at: at, key: key)
        #expect(parsed([bad.jsonLine]).problems.first?.reason.contains("does not match seq") == true)
    }

    @Test func deletingTheLastRecordsIsCaught() {
        var t = Trail.make(sealed: 200, key: key)
        let cp = checkpoint(t, upTo: 201)
        #expect(AuditChain.verify(t.records, key: key, checkpoints: [cp]) == nil)
        t.records.removeLast(100)
        let b = AuditChain.verify(t.records, key: key, checkpoints: [cp])
        #expect(b?.seq == 102)
        #expect(b?.reason.contains("records 102…201 were deleted") == true)
    }

    @Test func deletingEveryRecordIsCaught() {
        let t = Trail.make(sealed: 10, key: key)
        let b = AuditChain.verify([], key: key, checkpoints: [checkpoint(t, upTo: 11)])
        #expect(b?.seq == 1)
        #expect(b?.reason.contains("the trail is empty") == true)
    }

    @Test func aRecordThatDiffersFromItsCheckpointIsCaught() {
        let t = Trail.make(sealed: 10, key: key)
        var cp = checkpoint(t, upTo: 5)
        cp.head = t.records[3].hash
        let b = AuditChain.verify(t.records, key: key, checkpoints: [cp])
        #expect(b?.seq == 5)
        #expect(b?.reason.contains("differs from the checkpoint") == true)
    }

    @Test func everyCheckpointIsCompared() {
        let t = Trail.make(sealed: 30, key: key)
        var v = AuditChain.Verifier(key: key, checkpoints: [checkpoint(t, upTo: 3), checkpoint(t, upTo: 17), checkpoint(t, upTo: 31)])
        for r in t.records { #expect(v.check(r) == nil) }
        #expect(v.outcome(stoppedAt: nil).checkpointsMatched == 3)
    }
}
