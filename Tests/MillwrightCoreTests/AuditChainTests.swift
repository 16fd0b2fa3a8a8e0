import Foundation
import MillwrightCore
import Testing

@Suite struct AuditChainTests {
    func chain(_ n: Int) -> [AuditRecord] {
        var out: [AuditRecord] = []
        var prev = AuditRecord.genesis
        for i in 1...n {
            let r = AuditRecord(seq: Int64(i), at: Date(timeIntervalSince1970: 1_790_000_000 + Double(i)), kind: "detection.decided",
                                subject: "d\(i)", data: ["confidence": .number(0.9), "camera": .string("CAM-07")], prevHash: prev)
            out.append(r)
            prev = r.hash
        }
        return out
    }

    @Test func intactChainVerifies() { #expect(AuditChain.verify(chain(20)) == nil) }

    @Test func alteredRecordIsFound() {
        var c = chain(10)
        c[4].data["confidence"] = .number(0.1)
        #expect(AuditChain.verify(c)?.seq == 5)
        #expect(AuditChain.verify(c)?.reason.contains("altered") == true)
    }

    @Test func removedOrRelinkedRecordsAreFound() {
        var c = chain(10)
        c.remove(at: 6)
        #expect(AuditChain.verify(c)?.seq == 8)
        var d = chain(10)
        // Re-hashing a changed record does not help: the next link breaks.
        d[2].data["camera"] = .string("CAM-99")
        d[2].hash = d[2].computeHash()
        #expect(AuditChain.verify(d)?.seq == 4)
    }
}
