import Foundation

/// Conversions of numbers that came from outside: a camera, a client, a CMMS, a config file.
/// `Int(someDouble)` traps on NaN, ±∞ and anything past Int's range, and one such trap in the
/// ingest path crash-loops the gateway (the broker redelivers the message after each restart).
/// Everything that turns an untrusted Double into an Int goes through here.
public enum Checked {
    /// `v` rounded and clamped into `range`; NaN gives the range's lower bound.
    public static func int(_ v: Double, clampedTo range: ClosedRange<Int>,
                           rounding rule: FloatingPointRoundingRule = .toNearestOrAwayFromZero) -> Int {
        guard !v.isNaN else { return range.lowerBound }
        let r = v.rounded(rule)
        if r <= Double(range.lowerBound) { return range.lowerBound }
        if r >= Double(range.upperBound) { return range.upperBound }
        return Int(r)
    }

    /// `v` as an Int when it is a whole number inside `range`, else nil.
    public static func exactInt(_ v: Double, in range: ClosedRange<Int>) -> Int? {
        guard v.isFinite, v.rounded() == v, v >= Double(range.lowerBound), v <= Double(range.upperBound) else { return nil }
        return Int(v)
    }

    /// A percentage for display, 0…100 whatever the input.
    public static func percent(_ fraction: Double) -> Int { int(fraction * 100, clampedTo: 0...100) }

    /// A ratio or count for display, clamped to a range a person can read.
    public static func display(_ v: Double) -> Int { int(v, clampedTo: -1_000_000_000...1_000_000_000) }
}
