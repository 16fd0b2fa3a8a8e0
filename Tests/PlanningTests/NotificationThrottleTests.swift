import Foundation
import Testing
@testable import MillwrightCore

@Suite struct NotificationThrottleTests {
    let t0 = utc("2026-11-18T14:00:00Z")   // 15:00 Berlin

    @Test func rateLimitPerRecipientWithCriticalBypass() {
        var th = NotificationThrottle(policy: .init(maxPerWindow: 2, window: 3600), timeZone: berlin)
        #expect(th.submit(recipient: "T-114", item: "WO-1", priority: .high, now: t0) == .sendNow)
        th.delivered(recipient: "T-114", at: t0)
        #expect(th.submit(recipient: "T-114", item: "WO-2", priority: .medium, now: t0.addingTimeInterval(60)) == .sendNow)
        th.delivered(recipient: "T-114", at: t0.addingTimeInterval(60))
        #expect(th.submit(recipient: "T-114", item: "WO-3", priority: .high, now: t0.addingTimeInterval(120)) == .deferred(until: t0.addingTimeInterval(3600)))
        // Another recipient has their own budget; critical always goes through.
        #expect(th.submit(recipient: "sup", item: "WO-3", priority: .high, now: t0.addingTimeInterval(120)) == .sendNow)
        #expect(th.submit(recipient: "T-114", item: "WO-4", priority: .critical, now: t0.addingTimeInterval(180)) == .sendNow)
        #expect(th.nextRelease == t0.addingTimeInterval(3600))
        #expect(th.due(now: t0.addingTimeInterval(3599)).isEmpty)
        let d = th.due(now: t0.addingTimeInterval(3600))
        #expect(d.map(\.recipient) == ["T-114"])
        #expect(d.map(\.items) == [["WO-3"]])
        #expect(th.nextRelease == nil)
    }

    @Test func lowPriorityGoesToTheDailyDigest() {
        var th = NotificationThrottle(timeZone: berlin)
        // 15:00 Berlin: next digest is tomorrow 07:00 CET = 06:00Z.
        #expect(th.submit(recipient: "T-114", item: "WO-7", priority: .low, now: t0) == .digest(at: utc("2026-11-19T06:00:00Z")))
        #expect(th.submit(recipient: "T-114", item: "WO-8", priority: .low, now: t0.addingTimeInterval(600)) == .digest(at: utc("2026-11-19T06:00:00Z")))
        #expect(th.submit(recipient: "sup", item: "WO-8", priority: .low, now: t0) == .digest(at: utc("2026-11-19T06:00:00Z")))
        // Early morning: today's digest.
        #expect(th.submit(recipient: "sup", item: "WO-9", priority: .low, now: utc("2026-11-19T05:00:00Z")) == .digest(at: utc("2026-11-19T06:00:00Z")))
        let d = th.due(now: utc("2026-11-19T06:00:00Z"))
        #expect(d.map(\.recipient) == ["T-114", "sup"])
        #expect(d.map(\.items) == [["WO-7", "WO-8"], ["WO-8", "WO-9"]])
        // Digest hour follows local time across DST: 07:00 CEST = 05:00Z in summer.
        var summer = NotificationThrottle(timeZone: berlin)
        #expect(summer.submit(recipient: "x", item: "y", priority: .low, now: utc("2026-07-01T12:00:00Z")) == .digest(at: utc("2026-07-02T05:00:00Z")))
    }
}
