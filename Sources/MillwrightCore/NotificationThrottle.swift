import Foundation

/// Per-recipient rate limiting and the low-priority daily digest, as a value: the caller passes
/// `now` and persists the value, so nobody learns to ignore the channel and tests need no clock.
public struct NotificationThrottle: Sendable, Equatable, Codable {
    public struct Policy: Sendable, Equatable, Codable {
        /// At most this many immediate notifications per recipient per `window`…
        public var maxPerWindow: Int
        public var window: TimeInterval
        /// …except at or above this priority, which always goes through (a critical page is never held back).
        public var bypassAt: Priority
        /// At or below this priority, notifications are collected into the daily digest instead.
        public var digestAtOrBelow: Priority?
        /// Site-local time the digest is sent.
        public var digestTime: LocalTime
        public init(maxPerWindow: Int = 5, window: TimeInterval = 3600, bypassAt: Priority = .critical,
                    digestAtOrBelow: Priority? = .low, digestTime: LocalTime = LocalTime(hour: 7, minute: 0)) {
            self.maxPerWindow = maxPerWindow; self.window = window; self.bypassAt = bypassAt
            self.digestAtOrBelow = digestAtOrBelow; self.digestTime = digestTime
        }
    }

    public enum Decision: Sendable, Equatable {
        case sendNow
        /// Held for the digest due at this instant.
        case digest(at: Date)
        /// Over the rate limit: held until the window frees up at this instant (folded into the next send).
        case deferred(until: Date)
    }

    public struct Held: Sendable, Equatable, Codable {
        public var recipient: String
        public var item: String
        public var releaseAt: Date
    }

    public var policy: Policy
    /// The site's zone from the current configuration (a restored state takes the new one).
    public var timeZone: TimeZone
    /// Recent immediate sends per recipient (pruned to the window).
    public private(set) var sent: [String: [Date]] = [:]
    public private(set) var held: [Held] = []

    public init(policy: Policy = Policy(), timeZone: TimeZone) { self.policy = policy; self.timeZone = timeZone }

    /// Decides for one notification `item` (e.g. a work-order id) to `recipient`. A `.sendNow`
    /// counts against the rate limit only once `delivered` says it reached the recipient: a
    /// page that failed on every channel must not use up the allowance for the retry.
    public mutating func submit(recipient: String, item: String, priority: Priority, now: Date) -> Decision {
        if let cap = policy.digestAtOrBelow, priority <= cap, priority < policy.bypassAt {
            let at = nextDigest(after: now)
            held.append(Held(recipient: recipient, item: item, releaseAt: at))
            return .digest(at: at)
        }
        let recent = (sent[recipient] ?? []).filter { now.timeIntervalSince($0) < policy.window }
        if priority >= policy.bypassAt || recent.count < policy.maxPerWindow {
            sent[recipient] = recent
            return .sendNow
        }
        // The window frees up when the oldest send in it ages out.
        let until = recent.min()!.addingTimeInterval(policy.window)
        sent[recipient] = recent
        held.append(Held(recipient: recipient, item: item, releaseAt: until))
        return .deferred(until: until)
    }

    /// A `.sendNow` notification reached `recipient` on at least one channel.
    public mutating func delivered(recipient: String, at now: Date) {
        sent[recipient, default: []].append(now)
    }

    /// Everything held that is due at `now`, grouped per recipient (one message each), in
    /// recipient order; removed from the held list.
    public mutating func due(now: Date) -> [(recipient: String, items: [String])] {
        let ready = held.filter { $0.releaseAt <= now }
        held.removeAll { $0.releaseAt <= now }
        let grouped = Dictionary(grouping: ready, by: \.recipient)
        return grouped.keys.sorted().map { r in
            sent[r, default: []].append(now)
            return (r, grouped[r]!.map(\.item))
        }
    }

    /// Takes in what another throttle held and sent (a node that is gone): its items are
    /// released with this one's, and its sends count against the rate limit here.
    public mutating func absorb(_ other: NotificationThrottle) {
        held += other.held
        for (recipient, times) in other.sent { sent[recipient, default: []] += times }
    }

    /// Earliest instant anything held becomes due (for one timer).
    public var nextRelease: Date? { held.map(\.releaseAt).min() }

    func nextDigest(after now: Date) -> Date {
        let today = LocalDate.of(now, in: timeZone)
        let cal = ShiftCalendar(timeZone: timeZone, shifts: [])
        let t = cal.instant(today, policy.digestTime)
        return t > now ? t : cal.instant(today.adding(days: 1), policy.digestTime)
    }
}
