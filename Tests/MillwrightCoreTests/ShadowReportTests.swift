import Foundation
import MillwrightCore
import Testing

/// The manual inspection log's CSV, and the shadow report's matching.
@Suite struct ManualLogCSVTests {
    let berlin = TimeZone(identifier: "Europe/Berlin")!

    func parse(_ text: String, _ zone: TimeZone = .gmt) -> Result<ManualLogCSV.Parsed, ManualLogCSV.Failure> {
        ManualLogCSV.parse(Data(text.utf8), timeZone: zone)
    }

    @Test func quotedFieldsBOMAndCRLFAreReadAndColumnsMayComeInAnyOrder() throws {
        let text = "\u{FEFF}Found By,asset,Defect,date,notes,shift\r\n"
            + "\"Ann, day shift\",P-101,Missing part,2026-11-02T08:15:00Z,\"said \"\"loose\"\"\nsecond line\",A\r\n"
            + "\r\n"
            + "Bob,P-102,crack,2026-11-03,,B\r\n"
        let parsed = try parse(text).get()
        #expect(parsed.ignoredColumns == ["shift"])
        #expect(parsed.findings.count == 2)
        let a = parsed.findings[0], b = parsed.findings[1]
        #expect(a.foundBy == "Ann, day shift" && a.asset == "P-101" && a.defectClass == "missing_part")
        #expect(a.notes == "said \"loose\"\nsecond line")
        #expect(a.foundAt == Timestamps.parseISO("2026-11-02T08:15:00Z") && !a.dateOnly && a.line == 2)
        #expect(b.line == 5, "the quoted line break and the blank line still count as lines")
        #expect(b.dateOnly && b.foundAt == Timestamps.parseISO("2026-11-03T00:00:00Z") && b.notes == nil)
    }

    @Test func datesAndZonelessTimesAreTheSitesLocalTime() throws {
        let parsed = try parse("date,asset,defect,found_by\n2026-07-01,A,crack,x\n2026-07-01 08:30,A,crack,y\n2026-07-01T08:30:15+00:00,A,crack,z\n", berlin).get()
        #expect(parsed.findings.map(\.foundAt) == [Timestamps.parseISO("2026-06-30T22:00:00Z"), Timestamps.parseISO("2026-07-01T06:30:00Z"),
                                                   Timestamps.parseISO("2026-07-01T08:30:15Z")])
        #expect(parsed.findings.map(\.dateOnly) == [true, false, false])
    }

    @Test func everyProblemNamesItsLineAndNothingIsReturned() throws {
        let text = "date,asset,defect,found_by\n2026-11-01,A,crack,ann\n2026-11-01,,crack,ann\n2026-02-31,A,crack,ann\nyesterday,A,crack,ann\n2026-11-01,A,crack,\n"
        guard case .failure(.invalid(let problems, let total)) = parse(text) else { Issue.record("a bad log was accepted"); return }
        #expect(total == 4)
        #expect(problems.map(\.line) == [3, 4, 5, 6])
        #expect(problems.map(\.column) == ["asset", "date", "date", "found_by"])
        #expect(problems[1].detail.contains("2026-02-31"), "an impossible day is refused, not rolled into March")
    }

    @Test func aMissingColumnAnUnclosedQuoteAndALongFieldAreRefusedClearly() {
        guard case .failure(.invalid(let p1, _)) = parse("date,asset,found_by\n2026-11-01,A,ann\n") else { Issue.record("accepted"); return }
        #expect(p1.first?.line == 1 && p1.first?.detail.contains("defect") == true)
        guard case .failure(.invalid(let p2, _)) = parse("date,asset,defect,found_by\n2026-11-01,A,\"crack,ann\n") else { Issue.record("accepted"); return }
        #expect(p2.first?.line == 2 && p2.first?.detail.contains("not closed") == true)
        let long = String(repeating: "x", count: ManualLogCSV.maxFieldBytes + 1)
        guard case .failure(.invalid(let p3, _)) = parse("date,asset,defect,found_by\n2026-11-01,\(long),crack,ann\n") else { Issue.record("accepted"); return }
        #expect(p3.first?.column == "asset")
        guard case .failure(.invalid(let p4, _)) = ManualLogCSV.parse(Data([0xff, 0xfe, 0x00]), timeZone: .gmt) else { Issue.record("accepted"); return }
        #expect(p4.first?.detail.contains("UTF-8") == true)
        guard case .failure(.invalid(let p5, _)) = parse("") else { Issue.record("accepted"); return }
        #expect(p5.first?.detail.contains("empty") == true)
    }

    @Test func moreRowsThanTheLimitAreRefusedWithoutReadingThemAll() {
        var text = "date,asset,defect,found_by\n"
        text += String(repeating: "2026-11-01,A,crack,ann\n", count: ManualLogCSV.maxRows + 1)
        guard case .failure(.invalid(let p, _)) = parse(text) else { Issue.record("accepted"); return }
        #expect(p.first?.detail.contains("split the log") == true)
    }
}

/// Dates hold seconds since 2001 as a Double: a difference is exact to well under a millisecond.
func close(_ a: Double?, _ b: Double) -> Bool { a.map { abs($0 - b) < 0.001 } ?? false }

@Suite struct ShadowReportTests {
    let t0 = Timestamps.parseISO("2026-11-10T12:00:00Z")!
    let day = 86_400.0

    func finding(_ hoursFromT0: Double, asset: String = "P-101", defect: String = "crack", dateOnly: Bool = false, line: Int) -> ManualFinding {
        ManualFinding(foundAt: t0.addingTimeInterval(hoursFromT0 * 3600), dateOnly: dateOnly, asset: asset, defectClass: defect, foundBy: "ann", line: line)
    }

    func incident(_ id: String, _ hoursFromT0: Double, asset: String = "P-101", defect: String = "crack", verdict: Verdict? = nil) -> ShadowIncident {
        ShadowIncident(id: id, asset: asset, defectClass: defect, camera: "CAM-1", firstSeen: t0.addingTimeInterval(hoursFromT0 * 3600), shadow: true, verdict: verdict)
    }

    func report(_ findings: [ManualFinding], _ incidents: [ShadowIncident], watched: Set<String> = ["P-101", "P-102"], tallies: [DetectionTally] = []) -> ShadowReport {
        ShadowReport.compute(findings: findings, incidents: incidents, watched: watched, tallies: tallies,
                             since: t0.addingTimeInterval(-30 * day), until: t0.addingTimeInterval(30 * day), mode: "shadow",
                             maxLead: 14 * day, maxLag: 2 * day)
    }

    @Test func millwrightFirstPeopleFirstAndTheWindowsEdges() {
        let r = report([finding(0, line: 2), finding(0, asset: "P-102", line: 3), finding(0, defect: "corrosion", line: 4)],
                       [incident("early", -50), incident("late", 24, asset: "P-102"), incident("too-early", -15 * 24, defect: "corrosion")])
        #expect(r.caughtFirst.map(\.incidentId) == ["early"])
        #expect(close(r.caughtFirst.first?.leadSeconds, 50 * 3600))
        #expect(r.foundByPeopleFirst.map(\.incidentId) == ["late"])
        #expect(close(r.foundByPeopleFirst.first?.leadSeconds, -24 * 3600))
        #expect(r.missed.map(\.finding.line) == [4], "first seen 15 days before is past max_lead: not the same defect")
        #expect(r.extras.map(\.incidentId) == ["too-early"])
        #expect(r.summary.findings == 3 && r.summary.matched == 2 && r.summary.caughtFirst == 1 && r.summary.recall == 2.0 / 3.0)
        #expect(close(r.summary.medianLeadSeconds, 13 * 3600))
    }

    @Test func aDateOnlyFindingIsTheWholeDay() {
        let dayStart = ManualFinding(foundAt: t0, dateOnly: true, asset: "P-101", defectClass: "crack", foundBy: "ann", line: 2)
        let r = report([dayStart], [incident("same-day", 10)])
        #expect(r.foundByPeopleFirst.first?.leadSeconds == 0, "seen within the day: the same day, nobody first")
        let before = report([dayStart], [incident("before", -3)])
        #expect(close(before.caughtFirst.first?.leadSeconds, 3 * 3600))
        let after = report([dayStart], [incident("after", 26)])
        #expect(close(after.foundByPeopleFirst.first?.leadSeconds, -2 * 3600), "measured from the end of the day")
    }

    @Test func twoPeopleLoggingOneDefectMatchTheOneIncident() {
        let r = report([finding(0, line: 2), finding(2, line: 3)], [incident("one", -1)])
        #expect(r.caughtFirst.count == 2 && r.missed.isEmpty && r.extras.isEmpty)
    }

    @Test func theClosestIncidentIsTheMatch() {
        let r = report([finding(0, line: 2)], [incident("old", -100), incident("recent", -2), incident("after", 1)])
        #expect(r.foundByPeopleFirst.first?.incidentId == "after", "1 h after is closer than 2 h before")
        #expect(Set(r.extras.map(\.incidentId)) == ["old", "recent"])
    }

    @Test func aMissSaysWhy() {
        let tallies = [DetectionTally(asset: "P-102", defectClass: "crack", byStatus: ["below_threshold": 3, "pending_confirmation": 1])]
        let r = report([finding(0, asset: "P-999", line: 2), finding(0, asset: "P-101", line: 3), finding(0, asset: "P-102", line: 4)], [], tallies: tallies)
        #expect(r.missed.map(\.reason) == ["not_watched", "not_detected", "not_confirmed"])
        #expect(r.missed[2].detections == ["below_threshold": 3, "pending_confirmation": 1])
    }

    @Test func extrasCarryTheirVerdictAndOnlyThoseInThePeriodCount() {
        let r = ShadowReport.compute(findings: [], incidents: [incident("fp", 1, verdict: .falsePositive), incident("real", 2, verdict: .confirmed),
                                                               incident("before-period", -48)],
                                     watched: [], tallies: [], since: t0, until: t0.addingTimeInterval(day), mode: "shadow", maxLead: 14 * day, maxLag: 2 * day)
        #expect(r.extras.map(\.incidentId) == ["fp", "real"])
        #expect(r.summary.extrasConfirmed == 1 && r.summary.extrasFalsePositive == 1 && r.summary.recall == nil)
    }
}
