import Foundation
@testable import Gateway
import MillwrightCore
@testable import Store
import Testing

/// Group commit: who shares a transaction, and that each caller gets its own outcomes.
@Suite struct GroupCommitTests {
    static func submission(_ n: Int) -> IngestSubmission {
        IngestSubmission(detections: Array(repeating: Detection(cameraId: "C", timestamp: Date(timeIntervalSince1970: 0), defectClass: "crack", confidence: 0.9),
                                           count: n), receivedAt: Date(timeIntervalSince1970: 0))
    }

    static func next(_ q: inout GroupCommitQueue<Int>) -> [Int]? { q.nextGroup()?.map(\.waiter) }

    @Test func theFirstSubmissionStartsTheWriterAndTheNextOnesWaitForIt() {
        var q = GroupCommitQueue<Int>(maxDetections: 10)
        let startsWriter = q.enqueue(.init(submission: Self.submission(1), waiter: 1))
        let startsAnother = q.enqueue(.init(submission: Self.submission(1), waiter: 2))
        #expect(startsWriter && !startsAnother)
        #expect(Self.next(&q) == [1, 2])
        #expect(Self.next(&q) == nil)
        #expect(!q.writing)
        let startsAgain = q.enqueue(.init(submission: Self.submission(1), waiter: 3))
        #expect(startsAgain, "the writer stopped: the next one starts it again")
    }

    @Test func aGroupStopsAtTheSizeLimitAndAnOversizedSubmissionGoesAlone() {
        var q = GroupCommitQueue<Int>(maxDetections: 10)
        for (i, n) in [4, 5, 2, 25, 1].enumerated() { _ = q.enqueue(.init(submission: Self.submission(n), waiter: i)) }
        #expect(Self.next(&q) == [0, 1])
        #expect(Self.next(&q) == [2])
        #expect(Self.next(&q) == [3])
        #expect(Self.next(&q) == [4])
        #expect(Self.next(&q) == nil)
    }

    /// Stands in for the store: the first transaction is held until the test lets it go, and
    /// every transaction's submissions are recorded.
    final class FakeStore: @unchecked Sendable {
        let lock = NSLock()
        var groups: [[Int]] = []
        var gate: CheckedContinuation<Void, Never>?
        var holdFirst = true
        var failing: Set<Int> = []
        var unavailable = false

        struct Unavailable: StoreUnavailableError { var isUnavailable: Bool { true } }
        struct Refused: Error {}

        func ingest(_ subs: [IngestSubmission]) async throws -> [[IngestOutcome]] {
            let sizes = subs.map(\.detections.count)
            let hold = lock.withLock { groups.append(sizes); defer { holdFirst = false }; return holdFirst }
            if hold { await withCheckedContinuation { c in lock.withLock { gate = c } } }
            if lock.withLock({ unavailable }) { throw Unavailable() }
            if lock.withLock({ !failing.isDisjoint(with: sizes) }) { throw Refused() }
            return subs.map { s in s.detections.map { _ in IngestOutcome(id: "\(s.detections.count)", status: .confirmed, reason: "", duplicate: false, cameraId: "C") } }
        }

        func release() { lock.withLock { gate }?.resume() }
        var held: Bool { lock.withLock { gate != nil } }
    }

    /// Waits for a condition the code under test reaches on its own, with a deadline.
    static func eventually(_ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while !condition() {
            guard ContinuousClock.now < deadline else { throw CancellationError() }
            await Task.yield()
        }
    }

    typealias Commit = Task<[IngestOutcome], any Error>

    /// A first submission (1 detection) whose transaction the fake holds, then submissions of
    /// `sizes` detections that queue behind it; the held transaction is let go once they all wait.
    static func commitsQueuedBehindAHeldOne(_ fake: FakeStore, sizes: ClosedRange<Int>, meanwhile: () -> Void = {}) async throws -> (first: Commit, later: [Commit]) {
        let commit = GroupCommit(metrics: GatewayMetrics()) { try await fake.ingest($0) }
        let first = Task { try await commit.commit(Self.submission(1).detections, receivedAt: Date()) }
        try await Self.eventually { fake.held }
        meanwhile()
        let later = sizes.map { n in Task { try await commit.commit(Self.submission(n).detections, receivedAt: Date()) } }
        try await Self.eventually { commit.waiting == sizes.count }
        fake.release()
        return (first, later)
    }

    @Test func submissionsArrivingDuringACommitShareTheNextOneAndEachGetsItsOwnOutcomes() async throws {
        let fake = FakeStore()
        let (first, later) = try await Self.commitsQueuedBehindAHeldOne(fake, sizes: 2...9)
        #expect(try await first.value.map(\.id) == ["1"])
        for (n, task) in zip(2...9, later) { #expect(try await task.value.map(\.id) == Array(repeating: "\(n)", count: n)) }
        let groups = fake.lock.withLock { fake.groups }
        #expect(groups.count == 2)
        #expect(groups[1].sorted() == Array(2...9))
    }

    @Test func oneSubmissionThatFailsTheGroupFailsOnlyItself() async throws {
        let fake = FakeStore()
        fake.failing = [3]
        let (first, later) = try await Self.commitsQueuedBehindAHeldOne(fake, sizes: 2...4)
        _ = try await first.value
        #expect(try await later[0].value.count == 2)
        await #expect(throws: FakeStore.Refused.self) { try await later[1].value }
        #expect(try await later[2].value.count == 4)
    }

    @Test func anUnavailableDatabaseFailsTheWholeGroupWithoutRetryingEachOne() async throws {
        let fake = FakeStore()
        let (first, later) = try await Self.commitsQueuedBehindAHeldOne(fake, sizes: 2...4) { fake.lock.withLock { fake.unavailable = true } }
        for task in [first] + later { await #expect(throws: FakeStore.Unavailable.self) { try await task.value } }
        #expect(fake.lock.withLock { fake.groups.count } == 2)
    }

    /// An MQTT batch is one entry: its submissions share one transaction, each gets its own
    /// outcomes, and one that fails the transaction fails only itself.
    @Test func aBatchSharesOneTransactionAndOneBadSubmissionFailsOnlyItself() async throws {
        let fake = FakeStore()
        fake.holdFirst = false
        let commit = GroupCommit(metrics: GatewayMetrics()) { try await fake.ingest($0) }
        let sizes = [2, 3, 4]
        let together = await commit.commit(batch: sizes.map { Self.submission($0).detections }, receivedAt: Date())
        #expect(try together.map { try $0.get().count } == sizes)
        #expect(fake.lock.withLock { fake.groups } == [sizes], "one transaction")

        fake.lock.withLock { fake.failing = [3] }
        let results = await commit.commit(batch: sizes.map { Self.submission($0).detections }, receivedAt: Date())
        #expect(try results[0].get().count == 2)
        #expect(throws: FakeStore.Refused.self) { try results[1].get() }
        #expect(try results[2].get().count == 4)
        #expect(fake.lock.withLock { Array(fake.groups.dropFirst()) } == [sizes, [2], [3], [4]], "the group, then each alone")
    }
}
