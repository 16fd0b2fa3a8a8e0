import Foundation
import Testing
@testable import MillwrightCore

@Suite struct ShiftCalendarTests {
    @Test func localDateArithmetic() {
        #expect(date("1970-01-01").dayNumber == 0)
        #expect(date("2026-11-18").weekday == .wed)
        #expect(date("2024-02-28").adding(days: 1) == date("2024-02-29"))
        #expect(date("2026-12-31").adding(days: 1) == date("2027-01-01"))
        #expect(LocalDate(parsing: "2026-02-29") == nil)
        #expect(LocalDate(dayNumber: date("2031-07-04").dayNumber) == date("2031-07-04"))
    }

    @Test func dayShiftBoundaries() {
        let cal = plantShifts()
        // Wed 2026-11-18, CET (UTC+1)
        #expect(!cal.isOnShift("A", at: utc("2026-11-18T04:59:59Z")))
        #expect(cal.isOnShift("A", at: utc("2026-11-18T05:00:00Z")))      // 06:00 local: start is inclusive
        #expect(cal.isOnShift("A", at: utc("2026-11-18T12:59:59Z")))
        #expect(!cal.isOnShift("A", at: utc("2026-11-18T13:00:00Z")))     // 14:00: end is exclusive
        #expect(cal.currentShift(at: utc("2026-11-18T13:00:00Z"))?.shift == "B")
    }

    @Test func nightShiftCrossesMidnightAndBelongsToItsStartDay() {
        let cal = plantShifts()
        // Fri 22:00 → Sat 06:00 runs; Sat 22:00 does not start.
        let sat0300 = utc("2026-11-21T02:00:00Z")
        let w = cal.currentWindow(of: "C", at: sat0300)
        #expect(w?.date == date("2026-11-20"))
        #expect(w.map { Int($0.duration.rounded()) } == 8 * 3600)
        #expect(!cal.isOnShift("C", at: utc("2026-11-21T21:30:00Z")))
        // Sunday 22:00 is not a C night either (starts on sun, not in days); Mon 22:00 is.
        #expect(!cal.isOnShift("C", at: utc("2026-11-22T23:00:00Z")))
        #expect(cal.isOnShift("C", at: utc("2026-11-23T23:00:00Z")))
        #expect(cal.currentShift(at: utc("2026-11-22T12:00:00Z")) == nil)
    }

    @Test(arguments: [
        // zone, night start date, UTC start, UTC end, hours
        ("Europe/Berlin", "2026-03-28", "2026-03-28T21:00:00Z", "2026-03-29T04:00:00Z", 7.0),
        ("Europe/Berlin", "2026-10-24", "2026-10-24T20:00:00Z", "2026-10-25T05:00:00Z", 9.0),
        ("America/New_York", "2026-03-07", "2026-03-08T03:00:00Z", "2026-03-08T10:00:00Z", 7.0),
        ("America/New_York", "2026-10-31", "2026-11-01T02:00:00Z", "2026-11-01T11:00:00Z", 9.0),
        ("Europe/Berlin", "2026-11-14", "2026-11-14T21:00:00Z", "2026-11-15T05:00:00Z", 8.0),
    ])
    func nightShiftAcrossDSTChange(zone: String, day: String, start: String, end: String, hours: Double) {
        let tz = TimeZone(identifier: zone)!
        let cal = ShiftCalendar(timeZone: tz, shifts: [try! Shift.parse(name: "N", start: "22:00", end: "06:00")])
        let w = cal.window(of: "N", startingOn: date(day))!
        #expect(w.start == utc(start))
        #expect(w.end == utc(end))
        #expect(w.duration == hours * 3600)
        #expect(cal.isOnShift("N", at: utc(end).addingTimeInterval(-1)))
        #expect(!cal.isOnShift("N", at: utc(end)))
    }

    @Test func fullDayShiftWhenEndEqualsStart() {
        let cal = ShiftCalendar(timeZone: berlin, shifts: [try! Shift.parse(name: "D", start: "07:00", end: "07:00", days: ["sat"])])
        let w = cal.window(of: "D", startingOn: date("2026-11-21"))!
        #expect(w.duration == 24 * 3600)
        #expect(cal.isOnShift("D", at: utc("2026-11-22T05:59:00Z")))   // Sun 06:59 local
        #expect(!cal.isOnShift("D", at: utc("2026-11-22T06:00:00Z")))
        // Over the autumn change the same local-time window is 25 h.
        #expect(cal.window(of: "D", startingOn: date("2026-10-24"))!.duration == 25 * 3600)
    }

    @Test func rotatingCrewPattern() throws {
        // 4 on / 4 off from anchor Mon 2026-11-02.
        let s = try Shift.parse(name: "R1", start: "06:00", end: "18:00", rotation: "DDDD----", anchor: "2026-11-02")
        let cal = ShiftCalendar(timeZone: berlin, shifts: [s])
        let working = (0..<16).map { cal.window(of: "R1", startingOn: date("2026-11-02").adding(days: $0)) != nil }
        #expect(working == [true, true, true, true, false, false, false, false, true, true, true, true, false, false, false, false])
        // Days before the anchor follow the same cycle.
        #expect(cal.window(of: "R1", startingOn: date("2026-11-01")) == nil)
        #expect(cal.window(of: "R1", startingOn: date("2026-10-29")) == nil)
        #expect(cal.window(of: "R1", startingOn: date("2026-10-28")) != nil)
        // Next window after the last working day: 4 days later.
        let n = cal.nextWindow(of: "R1", after: utc("2026-11-05T10:00:00Z"))!
        #expect(n.date == date("2026-11-10"))
        #expect(n.start == utc("2026-11-10T05:00:00Z"))
    }

    @Test func holidaysHaveNoShifts() {
        let cal = plantShifts(holidays: [date("2026-12-24"), date("2026-12-25")])
        #expect(!cal.isOnShift("A", at: utc("2026-12-24T08:00:00Z")))
        // The night shift that starts on the 23rd still runs into the 24th.
        #expect(cal.isOnShift("C", at: utc("2026-12-24T03:00:00Z")))
        // Next A after Wed 23rd: Thu/Fri are holidays → Mon 28th.
        #expect(cal.nextWindow(of: "A", after: utc("2026-12-23T06:00:00Z"))?.date == date("2026-12-28"))
    }

    @Test func nextWindowIsStrictlyAfter() {
        let cal = plantShifts()
        let aStart = utc("2026-11-18T05:00:00Z")
        #expect(cal.nextWindow(of: "A", after: aStart)?.date == date("2026-11-19"))
        #expect(cal.nextWindow(of: "A", after: aStart.addingTimeInterval(-1))?.start == aStart)
        // Saturday noon: the next window of any shift is Monday 06:00 (A).
        let n = cal.nextWindow(after: utc("2026-11-21T11:00:00Z"))!
        #expect(n.shift == "A")
        #expect(n.start == utc("2026-11-23T05:00:00Z"))
    }

    @Test func specErrors() {
        #expect(throws: ShiftSpecError.badTime(shift: "A", field: "start", value: "6am")) {
            try Shift.parse(name: "A", start: "6am", end: "14:00")
        }
        #expect(throws: ShiftSpecError.badDay(shift: "A", value: "funday")) {
            try Shift.parse(name: "A", start: "06:00", end: "14:00", days: ["mon", "funday"])
        }
        #expect(throws: ShiftSpecError.badDate("")) {
            try Shift.parse(name: "R", start: "06:00", end: "14:00", rotation: "11--")
        }
    }
}
