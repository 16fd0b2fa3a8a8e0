import Foundation
import Hummingbird
import NIOCore

/// Resolves to the port a server bound (used with port 0 for in-process servers).
final class BoundPort: @unchecked Sendable {
    private let lock = NSLock()
    private var port: Int?
    private var waiters: [CheckedContinuation<Int, Never>] = []

    func set(_ channel: any Channel) {
        let p = channel.localAddress?.port ?? 0
        lock.lock()
        port = p
        let w = waiters
        waiters = []
        lock.unlock()
        for c in w { c.resume(returning: p) }
    }

    var value: Int {
        get async {
            await withCheckedContinuation { c in
                lock.lock()
                if let port { lock.unlock(); c.resume(returning: port) } else { waiters.append(c); lock.unlock() }
            }
        }
    }
}
