import Foundation
@testable import Gateway
import Testing

/// A payload in progress at a crash runs with nothing else in progress: the rules as a value,
/// then the async shell holding a suspect back behind a running submission.
@Suite struct SuspectGateTests {
    @Test func ordinaryWorkRunsTogetherAndASuspectWaitsForItToDrain() {
        var gate = SuspectGateState<String>()
        let a = gate.enterOrdinary("a"), b = gate.enterOrdinary("b")
        #expect(a && b)
        let s = gate.enterSuspect("s")
        #expect(!s, "two ordinary submissions run")
        let c = gate.enterOrdinary("c")
        #expect(!c, "a suspect waits: nothing new starts before it")
        let afterA = gate.leaveOrdinary()
        #expect(afterA.isEmpty)
        let afterB = gate.leaveOrdinary()
        #expect(afterB == ["s"], "the last one out lets the suspect in, alone")
        #expect(gate.suspectRunning && gate.ordinaryRunning == 0)
        let t = gate.enterSuspect("t")
        #expect(!t)
        let afterS = gate.leaveSuspect()
        #expect(afterS == ["t"], "suspects one at a time, before the ordinary waiting")
        let afterT = gate.leaveSuspect()
        #expect(afterT == ["c"])
        #expect(gate.ordinaryRunning == 1 && !gate.suspectRunning)
    }

    @Test func withNothingRunningASuspectGoesAtOnce() {
        var gate = SuspectGateState<Int>()
        let one = gate.enterSuspect(1)
        #expect(one)
        let two = gate.enterOrdinary(2), three = gate.enterOrdinary(3)
        #expect(!two && !three)
        let after = gate.leaveSuspect()
        #expect(after == [2, 3])
    }

    @Test func theShellHoldsASuspectUntilTheRunningSubmissionEnds() async throws {
        let gate = SuspectGate()
        let events = Events()
        let (released, release) = AsyncStream<Void>.makeStream()
        let ordinary = Task {
            await gate.run(suspect: false) {
                events.add("ordinary started")
                for await _ in released { break }
                events.add("ordinary ended")
            }
        }
        while !events.all.contains("ordinary started") { await Task.yield() }
        let suspect = Task { await gate.run(suspect: true) { events.add("suspect ran") } }
        // Give the suspect every chance to run early; it must not.
        for _ in 0..<1000 { await Task.yield() }
        #expect(!events.all.contains("suspect ran"))
        release.yield()
        await ordinary.value
        await suspect.value
        #expect(events.all == ["ordinary started", "ordinary ended", "suspect ran"])
    }

    final class Events: @unchecked Sendable {
        private let lock = NSLock()
        private var items: [String] = []
        func add(_ s: String) { lock.withLock { items.append(s) } }
        var all: [String] { lock.withLock { items } }
    }
}
