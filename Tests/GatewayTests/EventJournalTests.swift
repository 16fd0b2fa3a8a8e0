import Foundation
import Gateway
import Testing

/// The board's event ring: numbered events, resume from an id, reset when the id cannot be
/// resumed, detections summarised rather than kept one by one.
@Suite struct EventJournalTests {
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func resumesAfterAHeldIdAndResetsOtherwise() {
        var ring = EventRing(boot: "b1", capacity: 4)
        #expect(ring.resume(from: nil) == .after(0))
        for i in 1...3 { ring.append("incident", "{\"n\":\(i)}") }
        #expect(ring.resume(from: "b1.1") == .after(1))
        #expect(ring.events(after: 1)?.map(\.seq) == [2, 3])
        #expect(ring.resume(from: "b1.3") == .after(3))
        #expect(ring.events(after: 3) == [])
        // Another run's id, a malformed one, one from the future: the events in between are unknown.
        for id in ["b0.2", "b1", "b1.x", "b1.9", "", "b1.-1", "b1.99999999999999999999999"] {
            #expect(ring.resume(from: id) == .reset, "\(id)")
        }
        // A new client starts at the newest event.
        #expect(ring.resume(from: nil) == .after(3))
    }

    @Test func aWrappedRingKeepsTheNewestInOrderAndResetsThoseItDropped() {
        var ring = EventRing(boot: "b", capacity: 4)
        for i in 1...10 { ring.append("work_order", "\(i)") }
        #expect(ring.events(after: 6)?.map(\.data) == ["7", "8", "9", "10"])
        #expect(ring.events(after: 8)?.map(\.data) == ["9", "10"])
        #expect(ring.resume(from: "b.6") == .after(6))
        #expect(ring.events(after: 5) == nil)
        #expect(ring.resume(from: "b.5") == .reset)
        #expect(ring.id(ring.events(after: 9)![0]) == "b.10")
    }

    @Test func detectionsAreCountedIntoAtMostOneSummaryPerInterval() {
        var ring = EventRing(boot: "b", capacity: 8, summaryInterval: 1)
        let first = ring.count(status: "confirmed", now: Self.t0)
        #expect(first)
        var appended = 0
        for i in 0..<500 where ring.count(status: i % 2 == 0 ? "orphaned" : "confirmed", now: Self.t0.addingTimeInterval(0.5)) { appended += 1 }
        #expect(appended == 0)
        #expect(ring.summaryPending)
        let early = ring.flushSummary(now: Self.t0.addingTimeInterval(0.9))
        #expect(!early)
        let due = ring.flushSummary(now: Self.t0.addingTimeInterval(1))
        #expect(due)
        let events = ring.events(after: 0) ?? []
        #expect(events.map(\.name) == ["detections", "detections"])
        #expect(events[0].data == "{\"by_status\":{\"confirmed\":1},\"total\":1}")
        #expect(events[1].data == "{\"by_status\":{\"confirmed\":250,\"orphaned\":250},\"total\":500}")
        #expect(!ring.summaryPending)
    }

    @Test func aWaiterWakesForANewEventAndTheJournalCountsItsClients() async {
        let journal = EventJournal(capacity: 8, maxClients: 2)
        #expect(journal.admit() && journal.admit())
        #expect(!journal.admit())
        journal.leave()
        #expect(journal.admit())
        let seq = journal.lastSeq
        async let woke: Void = journal.wait(after: seq, timeout: .seconds(60))
        journal.note("incident", ["id": .string("i1")])
        await woke
        let got = journal.events(after: seq) ?? []
        #expect(got.map(\.event.name) == ["incident"])
        #expect(got.first?.event.data == "{\"id\":\"i1\"}")
    }
}
