import Foundation
import MillwrightCore
import Store

/// Which waiting submissions go into the next transaction: all of them, in arrival order, up
/// to `maxDetections` (a single larger entry still goes, on its own). A group forms
/// while the previous transaction commits, so a lone submission never waits for company.
/// Pure: `GroupCommit` drives it.
struct GroupCommitQueue<Waiter> {
    /// One caller's submissions (a REST request: one; an MQTT batch: one per message), which
    /// stay together in one transaction.
    struct Entry {
        var submissions: [IngestSubmission]
        var waiter: Waiter

        init(submissions: [IngestSubmission], waiter: Waiter) {
            self.submissions = submissions
            self.waiter = waiter
        }

        init(submission: IngestSubmission, waiter: Waiter) { self.init(submissions: [submission], waiter: waiter) }

        var detections: Int { submissions.reduce(0) { $0 + $1.detections.count } }
    }

    let maxDetections: Int
    private(set) var waiting: [Entry] = []
    /// A writer is running: it takes the next group when its transaction ends.
    private(set) var writing = false

    init(maxDetections: Int) { self.maxDetections = maxDetections }

    /// True when the caller must start the writer: none was running.
    mutating func enqueue(_ entry: Entry) -> Bool {
        waiting.append(entry)
        guard !writing else { return false }
        writing = true
        return true
    }

    /// The next group, or nil when nothing waits: the writer stops.
    mutating func nextGroup() -> [Entry]? {
        guard !waiting.isEmpty else {
            writing = false
            return nil
        }
        var taken = 0
        var detections = 0
        for entry in waiting {
            let size = entry.detections
            if taken > 0, detections + size > maxDetections { break }
            taken += 1
            detections += size
        }
        defer { waiting.removeFirst(taken) }
        return Array(waiting.prefix(taken))
    }
}

/// Group commit: submissions arriving from REST and MQTT while a transaction runs share the
/// next one, so they pay for one commit (one fsync, one audit-chain append) together. Each
/// caller still returns only after its own detections are durable, so a 202 or a PUBACK is
/// never sent for something a crash could lose.
final class GroupCommit: @unchecked Sendable {
    /// Each submission's outcomes, or why it was not committed.
    typealias Results = [Result<[IngestOutcome], any Error>]
    typealias Waiter = CheckedContinuation<Results, Never>

    /// Detections per transaction: a bigger one holds the database longer than a delivery
    /// outcome should wait for it.
    static let maxDetections = 1_000

    typealias Ingest = @Sendable ([IngestSubmission]) async throws -> [[IngestOutcome]]

    /// One transaction for the submissions given, outcomes per submission.
    private let ingest: Ingest
    private let metrics: GatewayMetrics
    private let lock = NSLock()
    private var queue = GroupCommitQueue<Waiter>(maxDetections: GroupCommit.maxDetections)

    init(metrics: GatewayMetrics, ingest: @escaping Ingest) {
        self.metrics = metrics
        self.ingest = ingest
    }

    /// Entries waiting for the next transaction (tests).
    var waiting: Int { lock.withLock { queue.waiting.count } }

    /// Returns once `detections` are committed, alone or with others.
    func commit(_ detections: [Detection], receivedAt: Date) async throws -> [IngestOutcome] {
        try await commit(batch: [detections], receivedAt: receivedAt)[0].get()
    }

    /// Several submissions at once (an MQTT batch, a message each): one wait for all of them,
    /// in one transaction unless one of them fails it, which then fails only itself.
    func commit(batch: [[Detection]], receivedAt: Date) async -> Results {
        // Prepared here, in the caller's task, so the one writer does less of it.
        let submissions = batch.map { IngestSubmission(detections: $0, receivedAt: receivedAt) }
        return await withCheckedContinuation { (waiter: Waiter) in
            let entry = GroupCommitQueue<Waiter>.Entry(submissions: submissions, waiter: waiter)
            if lock.withLock({ queue.enqueue(entry) }) {
                // Not a child of the caller's task: a client that hangs up must not cancel
                // the others' commit.
                Task { await self.writeGroups() }
            }
        }
    }

    private func writeGroups() async {
        while let group = lock.withLock({ queue.nextGroup() }) {
            let submissions = group.flatMap(\.submissions)
            metrics.committing(submissions: submissions.count)
            do {
                var outcomes = try await ingest(submissions)[...]
                for entry in group {
                    entry.waiter.resume(returning: outcomes.prefix(entry.submissions.count).map { .success($0) })
                    outcomes = outcomes.dropFirst(entry.submissions.count)
                }
            } catch let error as any StoreUnavailableError where error.isUnavailable {
                // The database is away for all of them alike: each caller answers 503 / keeps its message.
                for entry in group { entry.waiter.resume(returning: entry.submissions.map { _ in .failure(error) }) }
            } catch {
                await commitAlone(group, groupError: error)
            }
        }
    }

    /// A group failed for a reason that may be one submission's own: each is tried alone, so
    /// one bad submission fails only itself.
    private func commitAlone(_ group: [GroupCommitQueue<Waiter>.Entry], groupError: any Error) async {
        guard group.count > 1 || group.first?.submissions.count ?? 0 > 1 else {
            group.first?.waiter.resume(returning: [.failure(groupError)])
            return
        }
        for entry in group {
            var results: Results = []
            for submission in entry.submissions {
                do { results.append(.success(try await ingest([submission])[0])) } catch { results.append(.failure(error)) }
            }
            entry.waiter.resume(returning: results)
        }
    }
}
