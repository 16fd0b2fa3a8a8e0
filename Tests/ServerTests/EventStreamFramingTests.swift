import Foundation
import Gateway
import Hummingbird
import NIOCore
@testable import Server
import Testing

/// What `GET /v1/events` writes, without a socket: the retry hint, events with ids, a reset
/// when the start cannot be resumed, heartbeat comments on a quiet stream.
@Suite struct EventStreamFramingTests {
    /// A body writer that keeps what is written.
    final class Collected: @unchecked Sendable {
        private let lock = NSLock()
        private var text = ""
        func append(_ s: String) { lock.withLock { text += s } }
        var value: String { lock.withLock { text } }
    }

    struct Writer: ResponseBodyWriter {
        let collected: Collected
        mutating func write(_ buffer: ByteBuffer) async throws { collected.append(String(buffer: buffer)) }
        consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
    }

    func run(_ start: EventRing.Resume, _ journal: EventJournal, until condition: @escaping @Sendable (String) -> Bool) async throws -> String {
        let collected = Collected()
        let task = Task {
            var writer: any ResponseBodyWriter = Writer(collected: collected)
            try await EventStream.stream(start, journal: journal, heartbeat: .milliseconds(20), to: &writer)
        }
        defer { task.cancel() }
        // Generous: on a machine busy with the whole suite the cooperative pool can lag for seconds.
        let deadline = ContinuousClock.now + .seconds(60)
        while !condition(collected.value) {
            guard ContinuousClock.now < deadline else { Issue.record("never written: \(collected.value)"); break }
            try await Task.sleep(for: .milliseconds(5))
        }
        return collected.value
    }

    @Test func eventsCarryIdsAndAQuietStreamGetsHeartbeats() async throws {
        let journal = EventJournal(capacity: 8)
        journal.note("incident", ["id": .string("i1")])
        let boot = journal.boot
        let out = try await run(.after(0), journal) { $0.contains(": heartbeat\n\n") }
        #expect(out.hasPrefix("retry: 3000\n\nid: \(boot).1\nevent: incident\ndata: {\"id\":\"i1\"}\n\n"))
        #expect(out.hasSuffix(": heartbeat\n\n"))
    }

    @Test func aStartThatCannotBeResumedBeginsWithAReset() async throws {
        let journal = EventJournal(capacity: 8)
        journal.note("work_order", ["id": .string("w1")])
        let out = try await run(journal.resume(from: "other.1"), journal) { $0.contains("event: reset") }
        #expect(out == "retry: 3000\n\nid: \(journal.boot).1\nevent: reset\ndata: {}\n\n")
    }
}
