import Foundation
import MillwrightCore

/// The board's news (`GET /v1/events`): the last events of this node, numbered, so a page
/// that lost its connection asks for what came after the last one it saw. Pure state; the
/// `EventJournal` below is its locked, awaitable shell.
///
/// Incidents and work orders are kept one event each. Detections arrive thousands a minute
/// and would push them out of the ring, so they are counted by status and kept as at most
/// one `detections` summary a second.
public struct EventRing: Sendable {
    public struct Event: Sendable, Equatable {
        public var seq: UInt64
        public var name: String
        /// One line of JSON.
        public var data: String
    }

    /// Where a client picks up.
    public enum Resume: Sendable, Equatable {
        /// Everything after this sequence number is still held.
        case after(UInt64)
        /// The id is from another run of the gateway, malformed, or older than the ring: the
        /// events in between are gone, so the client reloads its lists.
        case reset
    }

    /// Tells this run's ids from another's (and another node's): ids are `<boot>.<seq>`.
    public let boot: String
    public let capacity: Int
    public let summaryInterval: TimeInterval
    private var events: [Event] = []
    private var head = 0
    public private(set) var lastSeq: UInt64 = 0
    private var counts: [String: Int] = [:]
    private var lastSummary: Date?

    public init(boot: String, capacity: Int = 512, summaryInterval: TimeInterval = 1) {
        self.boot = boot
        self.capacity = max(1, capacity)
        self.summaryInterval = summaryInterval
    }

    public func id(_ e: Event) -> String { "\(boot).\(e.seq)" }

    /// Keeps `name` with `data`, dropping the oldest event when full. `data` is the caller's
    /// JSON, bounded by what it is built from (ids ≤ 128 bytes, a detail line).
    @discardableResult
    public mutating func append(_ name: String, _ data: String) -> Event {
        lastSeq += 1
        let e = Event(seq: lastSeq, name: name, data: data)
        if events.count < capacity { events.append(e) } else {
            events[head] = e
            head = (head + 1) % capacity
        }
        return e
    }

    /// Counts a detection; appends the summary when the last one is `summaryInterval` old.
    /// True when it appended.
    public mutating func count(status: String, now: Date) -> Bool {
        counts[status, default: 0] += 1
        return flushSummary(now: now)
    }

    /// Appends the counts since the last summary, if there are any and it is time.
    @discardableResult
    public mutating func flushSummary(now: Date) -> Bool {
        guard !counts.isEmpty, lastSummary.map({ now.timeIntervalSince($0) >= summaryInterval }) ?? true else { return false }
        let total = counts.values.reduce(0, +)
        let byStatus = JSONValue.object(counts.mapValues { .number(Double($0)) })
        var out = "{\"by_status\":"
        CanonicalJSON.write(byStatus, into: &out)
        out += ",\"total\":\(total)}"
        append("detections", out)
        counts = [:]
        lastSummary = now
        return true
    }

    /// Whether counted detections are waiting for their summary.
    public var summaryPending: Bool { !counts.isEmpty }

    /// Where a client that last saw `lastEventId` (nil: a new client) picks up.
    public func resume(from lastEventId: String?) -> Resume {
        guard let lastEventId else { return .after(lastSeq) }
        let parts = lastEventId.split(separator: ".", maxSplits: 1)
        guard parts.count == 2, parts[0] == boot, parts[1].utf8.count <= 20, let seq = UInt64(parts[1]), seq <= lastSeq else { return .reset }
        return holds(after: seq) ? .after(seq) : .reset
    }

    /// Whether every event after `seq` is still in the ring.
    func holds(after seq: UInt64) -> Bool {
        let oldest = lastSeq - UInt64(events.count) + 1
        return seq + 1 >= oldest
    }

    /// The events after `seq`, oldest first; nil when some of them have been dropped.
    public func events(after seq: UInt64) -> [Event]? {
        guard holds(after: seq) else { return nil }
        let n = Int(lastSeq - seq)
        guard n > 0 else { return [] }
        let ordered = events.count < capacity ? events : Array(events[head...] + events[..<head])
        return Array(ordered.suffix(n))
    }
}

/// `EventRing` behind a lock, fed by the floor events, with waiting for the next event.
public final class EventJournal: @unchecked Sendable {
    private let lock = NSLock()
    private var ring: EventRing
    private var waiters: [UUID: CheckedContinuation<Void, Never>] = [:]
    /// Each waiter's timeout, cancelled when it wakes earlier.
    private var timers: [UUID: Task<Void, Never>] = [:]
    /// Streams open now, against `maxClients`.
    private var clients = 0
    public let maxClients: Int

    public init(capacity: Int = 512, maxClients: Int = 32) {
        ring = EventRing(boot: String(UInt32.random(in: 0...UInt32.max), radix: 16), capacity: capacity)
        self.maxClients = maxClients
    }

    public var boot: String { lock.withLock { ring.boot } }
    /// The newest event's number (0 before the first).
    public var lastSeq: UInt64 { lock.withLock { ring.lastSeq } }
    public func id(seq: UInt64) -> String { lock.withLock { "\(ring.boot).\(seq)" } }

    func record(_ event: FloorEvent, now: Date = Date()) {
        let appended: Bool = lock.withLock {
            switch event {
            case .detection(let o, _):
                return ring.count(status: o.status.rawValue, now: now)
            case .incident(let id, let camera, let state, let detail):
                ring.append("incident", Self.object(["id": .string(id), "camera": .string(camera), "state": .string(state), "detail": .string(detail)]))
                return true
            case .workOrder(let id, let incidentId, let camera, let reference, let phase, let cmmsId):
                ring.append("work_order", Self.object(["id": .string(id), "incident_id": .string(incidentId), "camera": .string(camera),
                                                       "reference": .string(reference), "phase": .string(phase), "cmms_id": cmmsId.map(JSONValue.string) ?? .null]))
                return true
            case .notification:
                return false
            }
        }
        if appended { wakeAll() }
    }

    /// Something the board shows changed without a floor event (a verdict, a re-drive).
    public func note(_ name: String, _ fields: [String: JSONValue]) {
        lock.withLock { _ = ring.append(name, Self.object(fields)) }
        wakeAll()
    }

    static func object(_ fields: [String: JSONValue]) -> String {
        var out = ""
        CanonicalJSON.write(.object(fields), into: &out)
        return out
    }

    public func resume(from lastEventId: String?) -> EventRing.Resume { lock.withLock { ring.resume(from: lastEventId) } }

    /// The events after `seq` with their ids; nil when the client fell behind the ring.
    public func events(after seq: UInt64, now: Date = Date()) -> [(id: String, event: EventRing.Event)]? {
        lock.withLock {
            ring.flushSummary(now: now)
            return ring.events(after: seq).map { $0.map { (ring.id($0), $0) } }
        }
    }

    /// Returns when an event after `seq` is held, after `timeout`, or at once when one already
    /// is. With detections counted but not summarised it waits at most the summary interval.
    public func wait(after seq: UInt64, timeout: Duration) async {
        let key = UUID()
        let (ready, limit): (Bool, Duration) = lock.withLock {
            (ring.lastSeq > seq, ring.summaryPending ? min(timeout, .seconds(ring.summaryInterval)) : timeout)
        }
        guard !ready else { return }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let resumeNow = lock.withLock {
                    if ring.lastSeq > seq || Task.isCancelled { return true }
                    waiters[key] = c
                    return false
                }
                if resumeNow { c.resume(); return }
                // Registered first, so the timer cannot fire for a waiter not yet there.
                let timer = Task { [weak self] in
                    try? await Task.sleep(for: limit)
                    self?.wake(key)
                }
                lock.withLock { timers[key] = timer }
            }
        } onCancel: {
            self.wake(key)
        }
        lock.withLock { timers.removeValue(forKey: key) }?.cancel()
    }

    private func wake(_ key: UUID) {
        let c = lock.withLock { waiters.removeValue(forKey: key) }
        c?.resume()
    }

    /// Ends every wait now: a stream that is stopping (graceful shutdown) looks at once.
    public func wakeAll() {
        let all = lock.withLock { let w = waiters; waiters = [:]; return w }
        for c in all.values { c.resume() }
    }

    /// A place for one more stream, or false when `maxClients` are open.
    public func admit() -> Bool {
        lock.withLock {
            guard clients < maxClients else { return false }
            clients += 1
            return true
        }
    }

    public func leave() { lock.withLock { clients -= 1 } }
}
