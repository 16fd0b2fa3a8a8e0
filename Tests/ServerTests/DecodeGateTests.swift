@testable import Server
import Testing

/// Thumbnails decode under a bound: so many at once, so many waiting, the rest refused.
@Suite struct DecodeGateTests {
    @Test func atMostTheLimitDecodeAtOnceAndTheRestWaitOrAreRefused() async throws {
        let gate = DecodeGate(limit: 1, maxWaiting: 1)
        try await gate.acquire()
        let second = Task { try await gate.acquire(); return true }
        try await waitUntil { await gate.waitingCount == 1 }
        await #expect(throws: DecodeGate.Busy.self) { try await gate.acquire() }
        await gate.release()
        #expect(try await second.value)
        await gate.release()
        #expect(try await gate.run { 4 } == 4)
        #expect(await gate.waitingCount == 0)
    }

    func waitUntil(_ condition: () async -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while await !condition() {
            guard ContinuousClock.now < deadline else { Issue.record("condition never held"); return }
            await Task.yield()
        }
    }
}
