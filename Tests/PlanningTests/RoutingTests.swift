import Foundation
import Testing
@testable import MillwrightCore

@Suite struct RoutingTests {
    let roster = Roster([
        Technician(id: "T-114", name: "A. Ortiz", skills: ["mechanical"], certifications: [Certification(name: "welding", expires: date("2027-03-31"))], shift: "B", area: "line-2"),
        Technician(id: "T-115", name: "B. Berg", skills: ["mechanical", "welding"], certifications: [Certification(name: "welding", expires: date("2026-01-31"))], shift: "B", area: "line-2"),
        Technician(id: "T-120", name: "C. Chen", skills: ["mechanical"], shift: "A", area: "line-1"),
        Technician(id: "T-130", name: "D. Diaz", skills: ["mechanical", "electrical"], shift: "C", area: "line-2", onCall: true),
        Technician(id: "T-140", name: "E. Evans", skills: ["electrical"], area: "line-1", onCall: true),
    ])
    // Wed 2026-11-18, Berlin (UTC+1)
    let wed1500 = utc("2026-11-18T14:00:00Z")
    let sat1200 = utc("2026-11-21T11:00:00Z")

    func route(_ skills: [String], area: String? = "line-2", _ p: Priority = .high, at now: Date,
               load: Workload = Workload(), distances: DistanceTable = DistanceTable(),
               calendar: ShiftCalendar = plantShifts(), roster r: Roster? = nil) -> RoutingDecision {
        TechnicianRouter.route(RoutingNeeds(skills: skills, area: area, priority: p), roster: r ?? roster, calendar: calendar,
                     workload: load, now: now, distances: distances)
    }

    @Test func validCertificationBeatsExpiredOne() {
        let d = route(["mechanical", "welding"], at: wed1500, load: Workload(["T-114": [.high, .medium]]))
        #expect(d.assignee == .technician("T-114"))
        #expect(d.mode == .now)
        #expect(d.reason == "T-114 A. Ortiz: mechanical ✓, welding cert valid to 2027-03 ✓, on shift B, 2 open (weighted 5), same area line-2")
        #expect(d.candidates.contains("T-115 B. Berg: welding cert expired 2026-01-31 ✗"))
        #expect(d.candidates.contains("T-120 C. Chen: no welding ✗"))
    }

    @Test func certificationValidThroughExpiryDayInSiteZone() {
        // Expires 2026-11-18: still valid at 23:59 Berlin (22:59Z), gone at 00:01 (23:01Z) although UTC is still the 18th.
        let r = Roster([Technician(id: "W", name: "W", certifications: [Certification(name: "welding", expires: date("2026-11-18"))], shift: "C")])
        #expect(route(["welding"], at: utc("2026-11-18T22:59:00Z"), roster: r).assignee == .technician("W"))
        let after = route(["welding"], at: utc("2026-11-18T23:01:00Z"), roster: r)
        #expect(after.mode == .fallback(queue: "supervisor"))
        #expect(after.candidates == ["W W: welding cert expired 2026-11-18 ✗"])
    }

    @Test func loadBalancingByWeightedOpenWork() {
        // Ortiz: high + medium = 5; Berg: critical = 4 → Berg.
        var d = route(["mechanical"], at: wed1500, load: Workload(["T-114": [.high, .medium], "T-115": [.critical]]))
        #expect(d.assignee == .technician("T-115"))
        #expect(d.reason.contains("1 open (weighted 4)"))
        // Three lows (3) beat one critical (4): weight, not count, decides.
        d = route(["mechanical"], at: wed1500, load: Workload(["T-114": [.low, .low, .low], "T-115": [.critical]]))
        #expect(d.assignee == .technician("T-114"))
        // Equal load: lowest id, whatever the roster order.
        d = route(["mechanical"], at: wed1500, roster: Roster(roster.technicians.reversed()))
        #expect(d.assignee == .technician("T-114"))
    }

    @Test func areaAndDistanceTable() {
        let calA = plantShifts()
        let wed0800 = utc("2026-11-18T07:00:00Z")   // A on shift: only Chen (line-1)
        var d = route(["mechanical"], area: "line-1", at: wed0800, calendar: calA)
        #expect(d.reason.hasSuffix("same area line-1"))
        // B: both on line-2, asset on line-1; unknown distance → other-area cost, still a pick.
        d = route(["mechanical"], area: "line-1", at: wed1500)
        #expect(d.assignee == .technician("T-114"))
        #expect(d.reason.hasSuffix("other area line-2 (asset in line-1)"))
        // Distance counts against load: a 400 m walk (4 units) loses to 3 weighted in the same area.
        let two = Roster([
            Technician(id: "T-1", name: "Near", skills: ["mechanical"], shift: "B", area: "line-1"),
            Technician(id: "T-2", name: "Far", skills: ["mechanical"], shift: "B", area: "line-9"),
        ])
        let table = DistanceTable(["line-9": ["line-1": 400]])
        d = route(["mechanical"], area: "line-1", at: wed1500, load: Workload(["T-1": [.high]]), distances: table, roster: two)
        #expect(d.assignee == .technician("T-1"))
        d = route(["mechanical"], area: "line-1", at: wed1500, load: Workload(["T-1": [.critical, .low]]), distances: table, roster: two)
        #expect(d.assignee == .technician("T-2"))
        #expect(d.reason.hasSuffix("line-9 → line-1 400"))
    }

    @Test(arguments: [
        // local Berlin time as UTC, expected tech — the C/A hand-over at 06:00 and B/C at 22:00
        ("2026-11-18T20:59:59Z", "T-114"),   // Wed 21:59:59 → B
        ("2026-11-18T21:00:00Z", "T-130"),   // Wed 22:00 → C
        ("2026-11-18T23:30:00Z", "T-130"),   // Thu 00:30, C crossed midnight
        ("2026-11-19T04:59:59Z", "T-130"),   // Thu 05:59:59
        ("2026-11-19T05:00:00Z", "T-120"),   // Thu 06:00 → A
    ])
    func shiftBoundariesAcrossMidnight(at: String, expected: String) {
        let d = route(["mechanical"], .critical, at: utc(at))
        #expect(d.assignee == .technician(expected))
        #expect(d.mode == .now)
    }

    @Test func nightShiftOnDSTChangeNight() {
        // C starting Fri 2026-10-23 is 8 h; a C on Sat 24th would be 9 h — use a 7-day calendar.
        let wk = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        let cal = ShiftCalendar(timeZone: berlin, shifts: [
            try! Shift.parse(name: "A", start: "06:00", end: "14:00", days: wk),
            try! Shift.parse(name: "C", start: "22:00", end: "06:00", days: wk),
        ])
        // Sun 2026-10-25 05:30 CET = 04:30Z: the 9-hour night is still on; 06:00 CET = 05:00Z is A.
        #expect(route(["mechanical"], .critical, at: utc("2026-10-25T04:30:00Z"), calendar: cal).assignee == .technician("T-130"))
        #expect(route(["mechanical"], .critical, at: utc("2026-10-25T05:00:00Z"), calendar: cal).assignee == .technician("T-120"))
        // Spring: Sun 2026-03-29 06:00 CEST = 04:00Z already A (the night was 7 h).
        #expect(route(["mechanical"], .critical, at: utc("2026-03-29T03:59:00Z"), calendar: cal).assignee == .technician("T-130"))
        #expect(route(["mechanical"], .critical, at: utc("2026-03-29T04:00:00Z"), calendar: cal).assignee == .technician("T-120"))
    }

    @Test func criticalOffShiftInterruptsOnCall() {
        let d = route(["mechanical"], .critical, at: sat1200)
        #expect(d.assignee == .technician("T-130"))
        #expect(d.mode == .interruptOnCall)
        #expect(d.reason.hasPrefix("critical, nobody qualified on shift → interrupting on-call T-130 D. Diaz"))
        // Two on-call electricians: the one in the asset's area.
        #expect(route(["electrical"], area: "line-1", .critical, at: sat1200).assignee == .technician("T-140"))
        #expect(route(["electrical"], area: "line-2", .critical, at: sat1200).assignee == .technician("T-130"))
    }

    @Test func minorAtNightGoesToNextWindowWithoutPaging() {
        let d = route(["mechanical"], .low, at: sat1200)
        #expect(d.assignee == .technician("T-120"))                 // A, Mon 06:00 — the earliest window
        #expect(d.mode == .nextWindow(utc("2026-11-23T05:00:00Z")))
        #expect(d.reason.contains("planned for shift A at Mon 2026-11-23 06:00, no page"))
        // Medium and high are not paged either (interrupt is for critical by default).
        #expect(route(["mechanical"], .high, at: sat1200).mode == .nextWindow(utc("2026-11-23T05:00:00Z")))
        // Holiday Monday: next window is Tuesday.
        let hol = plantShifts(holidays: [date("2026-11-23")])
        #expect(route(["mechanical"], .medium, at: sat1200, calendar: hol).mode == .nextWindow(utc("2026-11-24T05:00:00Z")))
        // Welding: only Ortiz (B) qualifies → Monday 14:00.
        let w = route(["welding"], .low, at: sat1200)
        #expect(w.assignee == .technician("T-114"))
        #expect(w.mode == .nextWindow(utc("2026-11-23T13:00:00Z")))
    }

    @Test func fallbackWhenNobodyQualifiedOrReachable() {
        var d = route(["hydraulics"], .critical, at: wed1500)
        #expect(d.assignee == .queue("supervisor"))
        #expect(d.mode == .fallback(queue: "supervisor"))
        #expect(d.reason == "nobody qualified (hydraulics) → fallback to supervisor queue")
        #expect(d.candidates.count == 5)
        // Critical welding at the weekend: Ortiz qualifies but is neither on shift nor on call.
        d = route(["welding"], .critical, at: sat1200)
        #expect(d.mode == .fallback(queue: "supervisor"))
        #expect(d.reason.contains("nobody qualified on shift or on call"))
        // Qualified but without any shift, not critical: nothing to plan into.
        d = route(["electrical"], area: "line-1", .low, at: sat1200, roster: Roster([roster.technicians[4]]))
        #expect(d.mode == .fallback(queue: "supervisor"))
        // Empty roster: still an answer.
        #expect(route(["mechanical"], at: wed1500, roster: Roster([])).assignee == .queue("supervisor"))
        let custom = TechnicianRouter.route(RoutingNeeds(skills: ["x"], area: nil, priority: .low), roster: roster, calendar: plantShifts(),
                                  workload: Workload(), now: wed1500, policy: RoutingPolicy(fallbackQueue: "maint-planner"))
        #expect(custom.assignee == .queue("maint-planner"))
    }

    @Test func rosterCSV() throws {
        let r = try Roster.parseCSV("""
        id,name,skills,certifications,shift,area,on_call,phone
        T-114,A. Ortiz,mechanical;welding,welding@2027-03-31,B,line-2,no,123
        T-130,"Diaz, D.",mechanical,,C,line-2,yes,

        """)
        #expect(r.technicians.count == 2)
        #expect(r.technicians[0].certifications == [Certification(name: "welding", expires: date("2027-03-31"))])
        #expect(r.technicians[1].name == "Diaz, D.")
        #expect(r.technicians[1].onCall)
        #expect(throws: RosterCSVError(line: 3, message: "certification welding: expiry \"03/2027\" is not YYYY-MM-DD")) {
            try Roster.parseCSV("id,certifications\nA,\nB,welding@03/2027\n")
        }
        #expect(throws: RosterCSVError(line: 1, message: "missing column id")) { try Roster.parseCSV("name\nx\n") }
    }
}
