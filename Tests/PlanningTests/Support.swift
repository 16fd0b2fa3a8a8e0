import Foundation
@testable import MillwrightCore

/// `2026-03-28T21:00:00Z`
func utc(_ s: String) -> Date {
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withInternetDateTime]
    guard let d = f.date(from: s) else { fatalError("bad test date \(s)") }
    return d
}

func date(_ s: String) -> LocalDate { LocalDate(parsing: s)! }

let berlin = TimeZone(identifier: "Europe/Berlin")!
let newYork = TimeZone(identifier: "America/New_York")!

/// The PRODUCT §5 plan: A 06–14, B 14–22, C 22–06, Monday to Friday.
func plantShifts(_ tz: TimeZone = berlin, holidays: Set<LocalDate> = []) -> ShiftCalendar {
    let wk = ["mon", "tue", "wed", "thu", "fri"]
    return ShiftCalendar(timeZone: tz, shifts: [
        try! Shift.parse(name: "A", start: "06:00", end: "14:00", days: wk),
        try! Shift.parse(name: "B", start: "14:00", end: "22:00", days: wk),
        try! Shift.parse(name: "C", start: "22:00", end: "06:00", days: wk),
    ], holidays: holidays)
}
