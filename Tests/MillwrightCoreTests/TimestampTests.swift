import Foundation
import MillwrightCore
import Testing

/// `Timestamps.parseISO` reads RFC 3339 date-times, the `format: date-time` of the OpenAPI
/// document, so every time a client generator produces is read.
@Suite struct TimestampTests {
    @Test func readsWhatFoundationReadsToTheSameMillisecond() {
        var rng = SplitMix64(seed: 3339)
        let foundation = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        for _ in 0..<2000 {
            let t = Date(timeIntervalSince1970: Double(rng.next() % 4_000_000_000_000) / 1000)
            let text = foundation.format(t)
            guard let ours = Timestamps.parseRFC3339(text), let theirs = try? foundation.parse(text) else {
                Issue.record("\(text) not read"); continue
            }
            #expect(Timestamps.millis(ours) == Timestamps.millis(theirs), "\(text)")
            #expect(Timestamps.format(ours) == Timestamps.format(theirs), "formats as what Foundation read: \(text)")
        }
    }

    @Test func readsEveryRFC3339Spelling() {
        let cases: [(String, Double)] = [
            ("2026-11-21T02:14:00Z", 1_795_227_240),
            ("2026-11-21t02:14:00z", 1_795_227_240),
            ("2026-11-21 02:14:00Z", 1_795_227_240),
            ("2026-11-21T03:14:00+01:00", 1_795_227_240),
            ("2026-11-21T03:14:00+0100", 1_795_227_240),
            ("2026-11-20T07:22:00-18:52", 1_795_227_240),
            ("2026-11-21T02:14:00.5Z", 1_795_227_240.5),
            ("2026-11-21T02:14:00.123456789123Z", 1_795_227_240.123456789),
            ("2016-12-31T23:59:60Z", 1_483_228_800),
            ("0777-10-06T14:56:34+18:52", -37_623_412_526),
        ]
        for (text, seconds) in cases {
            #expect(Timestamps.parseRFC3339(text).map { abs($0.timeIntervalSince1970 - seconds) < 1e-6 } == true, "\(text)")
            #expect(Timestamps.parseISO(text).map { abs($0.timeIntervalSince1970 - seconds) < 1e-6 } == true, "\(text)")
        }
    }

    @Test func refusesWhatIsNotADateTime() {
        for text in ["2026-11-21", "2026-11-21T02:14Z", "2026-02-30T00:00:00Z", "2025-02-29T00:00:00Z", "2026-13-01T00:00:00Z",
                     "2026-11-21T24:00:00Z", "2026-11-21T02:60:00Z", "2026-11-21T02:14:00", "2026-11-21T02:14:00.Z",
                     "2026-11-21T02:14:00+24:00", "2026-11-21T02:14:00Z ", "+2026-11-21T02:14:00Z", "２０２６-11-21T02:14:00Z"] {
            #expect(Timestamps.parseRFC3339(text) == nil, "\(text)")
        }
        #expect(Timestamps.parseRFC3339("2024-02-29T00:00:00Z") != nil)
    }
}
