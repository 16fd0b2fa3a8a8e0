import Foundation

/// Bounds the image decodes running at once (each holds a decoded frame, up to 150 MB at the
/// pixel limit) and the requests waiting for one; past both, a request is refused at once
/// rather than queued without end.
actor DecodeGate {
    let limit: Int
    let maxWaiting: Int
    private var running = 0
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(limit: Int, maxWaiting: Int) {
        self.limit = max(1, limit)
        self.maxWaiting = max(0, maxWaiting)
    }

    struct Busy: Error {}

    /// Requests waiting for a place now.
    var waitingCount: Int { waiting.count }

    /// Runs `work` (off this actor) when a place is free; throws `Busy` when `limit` run and
    /// `maxWaiting` wait.
    nonisolated func run<T: Sendable>(_ work: @Sendable () throws -> T) async throws -> T {
        try await acquire()
        let result = Result { try work() }
        await release()
        return try result.get()
    }

    func acquire() async throws {
        guard running >= limit else { running += 1; return }
        guard waiting.count < maxWaiting else { throw Busy() }
        // The place is handed over by `release`, so `running` already counts this request.
        await withCheckedContinuation { waiting.append($0) }
    }

    func release() {
        if waiting.isEmpty { running -= 1 } else { waiting.removeFirst().resume() }
    }
}
