import Foundation

/// A level-triggered wake-up with a timeout: `signal()` before `wait` is not lost, many
/// signals collapse into one. Lets the dispatcher sleep until new work or its next due time.
final class Wakeup: @unchecked Sendable {
    private let lock = NSLock()
    private var pending = false
    private var waiter: (id: UInt64, continuation: CheckedContinuation<Void, Never>)?
    private var nextId: UInt64 = 0

    func signal() {
        lock.lock()
        if let w = waiter {
            waiter = nil
            lock.unlock()
            w.continuation.resume()
        } else {
            pending = true
            lock.unlock()
        }
    }

    func wait(timeout: Duration) async {
        let id: UInt64 = lock.withLock { nextId += 1; return nextId }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                lock.lock()
                if pending || Task.isCancelled {
                    pending = false
                    lock.unlock()
                    c.resume()
                    return
                }
                waiter = (id, c)
                lock.unlock()
                Task { [weak self] in
                    try? await Task.sleep(for: timeout)
                    self?.expire(id)
                }
            }
        } onCancel: {
            self.expire(id)
        }
    }

    private func expire(_ id: UInt64) {
        lock.lock()
        guard let w = waiter, w.id == id else { lock.unlock(); return }
        waiter = nil
        lock.unlock()
        w.continuation.resume()
    }
}

final class InFlightCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func add(_ n: Int) { lock.withLock { value += n } }
    var current: Int { lock.withLock { value } }
}

/// Across the dispatch loops of all CMMSs: normal deliveries run side by side, but a suspect
/// (a work order in flight when the process died) runs alone. Once one is waiting, no new normal delivery
/// starts until the running ones finish.
final class DeliveryIsolation: @unchecked Sendable {
    private let lock = NSLock()
    private var normalInFlight = 0
    private var soloWanted = false
    private var soloRunning = false

    func requestSolo() { lock.withLock { soloWanted = true } }

    /// True when this caller may deliver one suspect now (call `endSolo` after, in any case).
    func beginSolo() -> Bool {
        lock.withLock {
            guard soloWanted, !soloRunning, normalInFlight == 0 else { return false }
            soloRunning = true
            soloWanted = false
            return true
        }
    }

    func endSolo() { lock.withLock { soloRunning = false } }

    var allowsNormal: Bool { lock.withLock { !soloWanted && !soloRunning } }

    func normal(_ delta: Int) { lock.withLock { normalInFlight += delta } }
}
