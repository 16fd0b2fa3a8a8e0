import Foundation
import Gateway
import Testing

/// The crash memory behind ingest quarantine, without crashing anything: a guard dropped
/// without `finished` is what a dead process leaves behind.
@Suite struct PoisonGuardTests {
    func directory() -> URL {
        URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("poison-\(UUID().uuidString)")
    }

    @Test func aPayloadInProgressAtThreeDeathsIsRefusedTheFourthTime() throws {
        let dir = directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        for death in 1...3 {
            let guardian = try PoisonGuard(directory: dir)
            #expect(guardian.begin("poison") == .proceed(key: "poison"), "start \(death)")
            let fine = guardian.begin("fine")
            guardian.finished("fine")
            #expect(fine == .proceed(key: "fine"))
        }
        let after = try PoisonGuard(directory: dir)
        #expect(after.begin("poison") == .quarantine(key: "poison", crashes: 3))
        #expect(after.begin("fine") == .proceed(key: "fine"), "finished every time: never counted")
    }

    @Test func aPayloadThatGetsThroughAfterACrashStartsAfresh() throws {
        let dir = directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        for _ in 1...2 { _ = try PoisonGuard(directory: dir).begin("flaky") }
        let third = try PoisonGuard(directory: dir)
        #expect(third.begin("flaky") == .proceed(key: "flaky"))
        third.finished("flaky")
        for _ in 1...2 { _ = try PoisonGuard(directory: dir).begin("flaky") }
        #expect(try PoisonGuard(directory: dir).begin("flaky") == .proceed(key: "flaky"), "two crashes since it last got through")
    }

    @Test func theJournalIsRewrittenWhenLongAndStillKnowsWhatIsInProgress() throws {
        let dir = directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let guardian = try PoisonGuard(directory: dir)
        _ = guardian.begin("stuck")
        for i in 0..<20_000 {
            let key = PoisonGuard.key(Data("\(i)".utf8), context: "")
            _ = guardian.begin(key)
            guardian.finished(key)
        }
        let size = try #require(try FileManager.default.attributesOfItem(atPath: dir.appendingPathComponent("journal").path)[.size] as? Int)
        #expect(size < 1 << 20, "rewritten: \(size) bytes")
        for _ in 1...2 { _ = try PoisonGuard(directory: dir).begin("stuck") }
        #expect(try PoisonGuard(directory: dir).begin("stuck") == .quarantine(key: "stuck", crashes: 3))
    }

    /// An MQTT batch starts and ends together in one append each: what a death in the middle
    /// leaves counts for each of its payloads, and a quarantined one in a batch is refused alone.
    @Test func aBatchIsJournalledAsItsPayloadsWouldBeOneByOne() throws {
        let dir = directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        for death in 1...3 {
            let guardian = try PoisonGuard(directory: dir)
            #expect(guardian.begin(["poison", "fine"]) == [.proceed(key: "poison"), .proceed(key: "fine")], "start \(death)")
            guardian.finished(["fine"])
        }
        let after = try PoisonGuard(directory: dir)
        #expect(after.begin(["other", "poison", "fine"]) == [.proceed(key: "other"), .quarantine(key: "poison", crashes: 3), .proceed(key: "fine")])
        after.finished(["other", "fine"])
        let next = try PoisonGuard(directory: dir)
        #expect(next.begin(["other", "fine"]) == [.proceed(key: "other"), .proceed(key: "fine")], "finished together: never counted")
    }
}
