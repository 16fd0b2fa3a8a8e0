import Foundation

/// A value behind a lock, for what the shell's tasks share.
final class LockedValue<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: T
    init(_ value: T) { self.value = value }
    func get() -> T { lock.withLock { value } }
    func set(_ v: T) { lock.withLock { value = v } }
    @discardableResult func update<R>(_ body: (inout T) -> R) -> R { lock.withLock { body(&value) } }
}

/// Runs async sections one at a time, first come first served: the Sparkplug node's messages
/// must leave in the order their `seq` was given, and a retained UNS `state` must not be
/// overtaken by an older one.
actor SerialLock {
    private var busy = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func run<R: Sendable>(_ body: @Sendable () async -> R) async -> R {
        if busy {
            await withCheckedContinuation { waiters.append($0) }
        } else {
            busy = true
        }
        let r = await body()
        if waiters.isEmpty { busy = false } else { waiters.removeFirst().resume() }
        return r
    }
}
