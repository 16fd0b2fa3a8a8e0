import Foundation

/// A calendar date in the site's time zone (no time, no zone). Arithmetic is done on a
/// day number so rotation cycles and weekdays never depend on DST.
public struct LocalDate: Hashable, Comparable, Sendable, CustomStringConvertible, Codable {
    public var year: Int
    public var month: Int
    public var day: Int

    public init(year: Int, month: Int, day: Int) { self.year = year; self.month = month; self.day = day }

    /// `2026-12-24`; nil when malformed or not a real date.
    public init?(parsing text: String) {
        let parts = text.trimmingCharacters(in: .whitespaces).split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2]),
              (1...12).contains(m), d >= 1, d <= LocalDate.daysIn(month: m, year: y) else { return nil }
        self.init(year: y, month: m, day: d)
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 (proleptic Gregorian; Howard Hinnant's days_from_civil).
    public var dayNumber: Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    public init(dayNumber z0: Int) {
        let z = z0 + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        self.init(year: yoe + era * 400 + (m <= 2 ? 1 : 0), month: m, day: d)
    }

    public func adding(days: Int) -> LocalDate { LocalDate(dayNumber: dayNumber + days) }

    public var weekday: Weekday {
        // 1970-01-01 was a Thursday.
        let i = ((dayNumber % 7) + 7 + 3) % 7   // 0 = mon
        return Weekday.allCases[i]
    }

    public var description: String {
        String(format: "%04d-%02d-%02d", year, month, day)
    }

    public static func < (l: LocalDate, r: LocalDate) -> Bool { l.dayNumber < r.dayNumber }

    /// The site-local date of an instant.
    public static func of(_ date: Date, in timeZone: TimeZone) -> LocalDate {
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = timeZone
        let c = cal.dateComponents([.year, .month, .day], from: date)
        return LocalDate(year: c.year!, month: c.month!, day: c.day!)
    }
}

public enum Weekday: String, CaseIterable, Sendable, Codable {
    case mon, tue, wed, thu, fri, sat, sun
    /// Accepts `mon`, `Monday`, `MON`.
    public init?(parsing text: String) {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        guard t.count >= 3, let w = Weekday(rawValue: String(t.prefix(3))) else { return nil }
        self = w
    }
}

/// A wall-clock time of day in the site's time zone.
public struct LocalTime: Hashable, Comparable, Sendable, CustomStringConvertible, Codable {
    public var hour: Int
    public var minute: Int
    public init(hour: Int, minute: Int) { self.hour = hour; self.minute = minute }
    /// `06:00`, `6:30`, `24:00` is not accepted (use `00:00`).
    public init?(parsing text: String) {
        let p = text.trimmingCharacters(in: .whitespaces).split(separator: ":")
        guard p.count == 2, p[1].count == 2, let h = Int(p[0]), let m = Int(p[1]), (0...23).contains(h), (0...59).contains(m) else { return nil }
        self.init(hour: h, minute: m)
    }
    public var minutes: Int { hour * 60 + minute }
    public var description: String { String(format: "%02d:%02d", hour, minute) }
    public static func < (l: LocalTime, r: LocalTime) -> Bool { l.minutes < r.minutes }
}

/// Which dates a shift starts on.
public enum ShiftPattern: Sendable, Equatable {
    /// Every week on these days (`days: [mon, tue, …]`).
    case weekly(Set<Weekday>)
    /// A crew rotation: day `k` after `anchor` works when `working[k mod working.count]`.
    /// E.g. 4-on/4-off is `[true, true, true, true, false, false, false, false]`.
    case rotating(anchor: LocalDate, working: [Bool])

    func starts(on date: LocalDate) -> Bool {
        switch self {
        case .weekly(let days): return days.contains(date.weekday)
        case .rotating(let anchor, let working):
            guard !working.isEmpty else { return false }
            let n = working.count
            let k = ((date.dayNumber - anchor.dayNumber) % n + n) % n
            return working[k]
        }
    }
}

public struct Shift: Sendable, Equatable {
    public var name: String
    public var start: LocalTime
    public var end: LocalTime
    public var pattern: ShiftPattern
    public init(name: String, start: LocalTime, end: LocalTime, pattern: ShiftPattern) {
        self.name = name; self.start = start; self.end = end; self.pattern = pattern
    }
    /// Ends the next day: `22:00–06:00`, or `end == start` (a 24-hour shift).
    public var crossesMidnight: Bool { end <= start }
}

/// One concrete occurrence of a shift: [start, end).
public struct ShiftWindow: Sendable, Equatable, Hashable {
    public var shift: String
    /// The local date the window starts on (a night shift belongs to the day it starts).
    public var date: LocalDate
    public var start: Date
    public var end: Date
    public func contains(_ instant: Date) -> Bool { instant >= start && instant < end }
    public var duration: TimeInterval { end.timeIntervalSince(start) }
}

/// The site's shift plan: named shifts, local times in one IANA time zone, and holidays
/// (dates on which no shift starts). Pure: every query takes the instant it is about.
public struct ShiftCalendar: Sendable {
    public var timeZone: TimeZone
    public var shifts: [String: Shift]
    public var holidays: Set<LocalDate>

    public init(timeZone: TimeZone, shifts: [Shift], holidays: Set<LocalDate> = []) {
        self.timeZone = timeZone
        self.shifts = Dictionary(shifts.map { ($0.name, $0) }, uniquingKeysWith: { _, last in last })
        self.holidays = holidays
    }

    private var calendar: Calendar {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = timeZone
        return c
    }

    /// Instant of a local date and time. In a spring-forward gap the clock time does not
    /// exist; Foundation moves it forward, which is what a plant clock does too.
    public func instant(_ date: LocalDate, _ time: LocalTime) -> Date {
        let comps = DateComponents(year: date.year, month: date.month, day: date.day, hour: time.hour, minute: time.minute)
        if let d = calendar.date(from: comps) { return d }
        // Not expected for valid dates; fall back to a UTC interpretation offset by the zone.
        let utc = Double(date.dayNumber * 86400 + time.minutes * 60)
        return Date(timeIntervalSince1970: utc - Double(timeZone.secondsFromGMT()))
    }

    /// The window of `shift` that starts on `date`, or nil if it does not work that day.
    public func window(of shiftName: String, startingOn date: LocalDate) -> ShiftWindow? {
        guard let s = shifts[shiftName], !holidays.contains(date), s.pattern.starts(on: date) else { return nil }
        let start = instant(date, s.start)
        // Ends at the local end time, so a 22:00–06:00 shift is 7 or 9 real hours on a DST night.
        let end = instant(s.crossesMidnight ? date.adding(days: 1) : date, s.end)
        return ShiftWindow(shift: shiftName, date: date, start: start, end: end)
    }

    /// The window of `shift` that contains `instant`, if any.
    public func currentWindow(of shiftName: String, at instant: Date) -> ShiftWindow? {
        let today = LocalDate.of(instant, in: timeZone)
        // A window containing `instant` started today or, crossing midnight, yesterday.
        for d in [today, today.adding(days: -1)] {
            if let w = window(of: shiftName, startingOn: d), w.contains(instant) { return w }
        }
        return nil
    }

    public func isOnShift(_ shiftName: String, at instant: Date) -> Bool {
        currentWindow(of: shiftName, at: instant) != nil
    }

    /// Every shift running at `instant`, in name order (shifts may overlap).
    public func currentShifts(at instant: Date) -> [ShiftWindow] {
        shifts.keys.sorted().compactMap { currentWindow(of: $0, at: instant) }
    }

    /// The running shift that started most recently (the "current" one during a hand-over overlap).
    public func currentShift(at instant: Date) -> ShiftWindow? {
        currentShifts(at: instant).max { ($0.start, $1.shift) < ($1.start, $0.shift) }
    }

    /// The next window of `shift` starting strictly after `instant`. Searches `horizonDays`
    /// ahead (long enough for any rotation and holiday run); nil if none.
    public func nextWindow(of shiftName: String, after instant: Date, horizonDays: Int = 400) -> ShiftWindow? {
        let today = LocalDate.of(instant, in: timeZone)
        for k in 0...horizonDays {
            if let w = window(of: shiftName, startingOn: today.adding(days: k)), w.start > instant { return w }
        }
        return nil
    }

    /// The next window of any shift starting after `instant` (earliest start, then name).
    public func nextWindow(after instant: Date) -> ShiftWindow? {
        shifts.keys.sorted().compactMap { nextWindow(of: $0, after: instant) }.min { ($0.start, $0.shift) < ($1.start, $1.shift) }
    }
}

/// Parsing of the YAML values (`start: "06:00"`, `days: [mon, …]`) into shifts; the Config
/// module hands over plain strings so this stays free of YAML.
public enum ShiftSpecError: Error, Equatable, CustomStringConvertible {
    case badTime(shift: String, field: String, value: String)
    case badDay(shift: String, value: String)
    case badDate(String)
    case emptyRotation(shift: String)
    public var description: String {
        switch self {
        case .badTime(let s, let f, let v): return "shift \(s): \(f) \"\(v)\" is not HH:MM"
        case .badDay(let s, let v): return "shift \(s): \"\(v)\" is not a weekday (mon…sun)"
        case .badDate(let v): return "\"\(v)\" is not a date (YYYY-MM-DD)"
        case .emptyRotation(let s): return "shift \(s): rotation pattern is empty"
        }
    }
}

extension Shift {
    /// `days` are weekday names; `rotation` (if given) is a pattern such as `"1111000"` or
    /// `"DDDD----"` (any of `1 x D N W` works, `0 - . o` is off) anchored at `anchor`.
    public static func parse(name: String, start: String, end: String, days: [String]? = nil,
                             rotation: String? = nil, anchor: String? = nil) throws(ShiftSpecError) -> Shift {
        guard let s = LocalTime(parsing: start) else { throw .badTime(shift: name, field: "start", value: start) }
        guard let e = LocalTime(parsing: end) else { throw .badTime(shift: name, field: "end", value: end) }
        if let rotation {
            let working = rotation.filter { !$0.isWhitespace }.map { !"0-.oO".contains($0) }
            guard !working.isEmpty else { throw .emptyRotation(shift: name) }
            let a = anchor ?? ""
            guard let ad = LocalDate(parsing: a) else { throw .badDate(a) }
            return Shift(name: name, start: s, end: e, pattern: .rotating(anchor: ad, working: working))
        }
        var set = Set<Weekday>()
        for d in days ?? Weekday.allCases.map(\.rawValue) {
            guard let w = Weekday(parsing: d) else { throw .badDay(shift: name, value: d) }
            set.insert(w)
        }
        return Shift(name: name, start: s, end: e, pattern: .weekly(set))
    }
}
