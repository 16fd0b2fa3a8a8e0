import Foundation

/// Who may run now: ordinary submissions run beside each other; a suspect (a payload that was
/// in progress when the process died) runs with nothing else in progress, so that if it kills
/// the process again the crash is counted against it alone, not against the batch or the
/// requests that happened to be in flight with it. Suspects go first once one waits, or a
/// steady stream of ordinary work would never let one through. Pure: `SuspectGate` drives it.
struct SuspectGateState<Waiter> {
    private(set) var ordinaryRunning = 0
    private(set) var suspectRunning = false
    private(set) var waitingOrdinary: [Waiter] = []
    private(set) var waitingSuspects: [Waiter] = []

    /// True: go now. False: wait; a later `leave` hands back this waiter.
    mutating func enterOrdinary(_ waiter: Waiter) -> Bool {
        guard !suspectRunning, waitingSuspects.isEmpty else {
            waitingOrdinary.append(waiter)
            return false
        }
        ordinaryRunning += 1
        return true
    }

    mutating func enterSuspect(_ waiter: Waiter) -> Bool {
        guard !suspectRunning, ordinaryRunning == 0 else {
            waitingSuspects.append(waiter)
            return false
        }
        suspectRunning = true
        return true
    }

    /// One ordinary submission ended: the waiters that may go now.
    mutating func leaveOrdinary() -> [Waiter] {
        ordinaryRunning -= 1
        return admit()
    }

    mutating func leaveSuspect() -> [Waiter] {
        suspectRunning = false
        return admit()
    }

    private mutating func admit() -> [Waiter] {
        guard !suspectRunning else { return [] }
        if !waitingSuspects.isEmpty {
            guard ordinaryRunning == 0 else { return [] }
            suspectRunning = true
            return [waitingSuspects.removeFirst()]
        }
        let go = waitingOrdinary
        ordinaryRunning += go.count
        waitingOrdinary = []
        return go
    }
}

/// `SuspectGateState` for async callers.
final class SuspectGate: @unchecked Sendable {
    private let lock = NSLock()
    private var state = SuspectGateState<CheckedContinuation<Void, Never>>()

    /// Runs `body` beside other ordinary work, or alone when `suspect`.
    func run<T>(suspect: Bool, _ body: () async throws -> T) async rethrows -> T {
        await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
            let now = lock.withLock { suspect ? state.enterSuspect(waiter) : state.enterOrdinary(waiter) }
            if now { waiter.resume() }
        }
        defer {
            let go = lock.withLock { suspect ? state.leaveSuspect() : state.leaveOrdinary() }
            for waiter in go { waiter.resume() }
        }
        return try await body()
    }
}
