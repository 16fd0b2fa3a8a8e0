import Foundation

/// A defect a person found, from the plant's manual inspection log.
public struct ManualFinding: Sendable, Equatable, Codable {
    /// When it was found. For a date without a time, the start of that day at the site.
    public var foundAt: Date
    /// The log gave a day, not a time: it was found some time in `[foundAt, foundAt + 1 day)`.
    public var dateOnly: Bool
    public var asset: String
    /// Normalised the way Millwright names classes: lower case, spaces and hyphens as `_`.
    public var defectClass: String
    public var foundBy: String
    public var notes: String?
    /// Line in the imported file where the row starts.
    public var line: Int

    public init(foundAt: Date, dateOnly: Bool, asset: String, defectClass: String, foundBy: String, notes: String? = nil, line: Int) {
        self.foundAt = foundAt; self.dateOnly = dateOnly; self.asset = asset; self.defectClass = defectClass
        self.foundBy = foundBy; self.notes = notes; self.line = line
    }

    /// The end of the span in which it was found.
    public var foundBefore: Date { dateOnly ? foundAt.addingTimeInterval(86_400) : foundAt }

    enum CodingKeys: String, CodingKey {
        case foundAt = "found_at", dateOnly = "date_only", asset, defectClass = "defect_class", foundBy = "found_by", notes, line
    }
}

/// The plant's manual inspection log as CSV (RFC 4180, read by `CSV`: quoted fields may hold
/// commas, quotes and line breaks). A header names the columns `date`, `asset`, `defect` and `found_by` in any
/// order, and optionally `notes`; other columns are ignored and reported. Every problem names
/// its line; one bad row refuses the whole file, so an import is all or nothing.
public enum ManualLogCSV {
    public static let maxRows = 50_000
    public static let maxFieldBytes = 1_000
    public static let maxNotesBytes = 4_000
    /// Problems listed in one answer; the count says how many there were.
    public static let maxProblemsListed = 50

    public static let required = ["date", "asset", "defect", "found_by"]

    public struct Problem: Sendable, Equatable, Error, Codable {
        public var line: Int
        public var column: String?
        public var detail: String
        public init(line: Int, column: String? = nil, detail: String) { self.line = line; self.column = column; self.detail = detail }
    }

    public struct Parsed: Sendable, Equatable {
        public var findings: [ManualFinding]
        /// Header columns that are not read, as named in the file.
        public var ignoredColumns: [String]
    }

    public enum Failure: Error, Sendable, Equatable {
        /// The problems found (at most `maxProblemsListed`) and how many there were in all.
        case invalid([Problem], total: Int)
    }

    /// Parses and checks the whole file. Times without a zone, and dates, are read in `timeZone`.
    public static func parse(_ data: Data, timeZone: TimeZone) -> Result<Parsed, Failure> {
        var problems: [Problem] = []
        var total = 0
        func problem(_ p: Problem) {
            total += 1
            if problems.count < maxProblemsListed { problems.append(p) }
        }
        guard let text = String(data: data, encoding: .utf8) else {
            return .failure(.invalid([Problem(line: 1, detail: "the file is not UTF-8 text; save it as CSV UTF-8")], total: 1))
        }
        let records: [CSV.Row]
        do {
            // The header row counts too; the blank rows skipped below are bounded by the bytes.
            records = try CSV.parse(text, limits: CSV.Limits(maxFieldBytes: maxNotesBytes, maxRows: maxRows + 1))
        } catch {
            let detail = error.kind == .tooManyRows ? "more than \(maxRows) rows; split the log into several files" : error.detail
            return .failure(.invalid([Problem(line: error.line, detail: detail)], total: 1))
        }
        guard let header = records.first else {
            return .failure(.invalid([Problem(line: 1, detail: "the file is empty; the first line must name the columns \(required.joined(separator: ","))")], total: 1))
        }
        let names = header.fields.map { $0.trimmingCharacters(in: .whitespaces).lowercased().replacingOccurrences(of: " ", with: "_") }
        var index: [String: Int] = [:]
        var ignored: [String] = []
        for (i, n) in names.enumerated() {
            if (required + ["notes"]).contains(n) {
                if index[n] != nil {
                    problem(Problem(line: header.line, column: n, detail: "column '\(n)' appears twice in the header"))
                } else {
                    index[n] = i
                }
            } else if !n.isEmpty {
                ignored.append(header.fields[i])
            }
        }
        let missing = required.filter { index[$0] == nil }
        if !missing.isEmpty {
            problem(Problem(line: header.line, detail: "the header lacks \(missing.joined(separator: ", ")); the first line must name the columns \(required.joined(separator: ",")) (notes optional)"))
            return .failure(.invalid(problems, total: total))
        }
        let rows = records.dropFirst().filter { !$0.fields.allSatisfy { $0.trimmingCharacters(in: .whitespaces).isEmpty } }
        if rows.count > maxRows {
            return .failure(.invalid([Problem(line: rows[rows.startIndex + maxRows].line,
                                              detail: "more than \(maxRows) rows; split the log into several files")], total: 1))
        }
        var findings: [ManualFinding] = []
        findings.reserveCapacity(rows.count)
        for row in rows {
            func field(_ name: String) -> String? {
                guard let i = index[name], i < row.fields.count else { return nil }
                let v = row.fields[i].trimmingCharacters(in: .whitespacesAndNewlines)
                return v.isEmpty ? nil : v
            }
            var ok = true
            var values: [String: String] = [:]
            for name in required {
                guard let v = field(name) else {
                    problem(Problem(line: row.line, column: name, detail: "\(name) is empty"))
                    ok = false
                    continue
                }
                guard v.utf8.count <= maxFieldBytes else {
                    problem(Problem(line: row.line, column: name, detail: "\(name) is longer than \(maxFieldBytes) bytes"))
                    ok = false
                    continue
                }
                values[name] = v
            }
            let notes = field("notes")
            if let notes, notes.utf8.count > maxNotesBytes {
                problem(Problem(line: row.line, column: "notes", detail: "notes are longer than \(maxNotesBytes) bytes"))
                ok = false
            }
            var when: (Date, Bool)?
            if let d = values["date"] {
                when = parseWhen(d, timeZone: timeZone)
                if when == nil {
                    problem(Problem(line: row.line, column: "date", detail: "date '\(d.prefix(40))' is not a date (2026-11-29) or a time (2026-11-29T08:15:00Z, 2026-11-29 08:15)"))
                    ok = false
                }
            }
            guard ok, let (at, dateOnly) = when else { continue }
            findings.append(ManualFinding(foundAt: at, dateOnly: dateOnly, asset: values["asset"]!, defectClass: normalisedClass(values["defect"]!),
                                          foundBy: values["found_by"]!, notes: notes, line: row.line))
        }
        if total > 0 { return .failure(.invalid(problems, total: total)) }
        return .success(Parsed(findings: findings, ignoredColumns: ignored))
    }

    /// `Missing part` and `missing-part` are the class `missing_part`.
    public static func normalisedClass(_ text: String) -> String {
        text.lowercased().split(whereSeparator: { $0 == " " || $0 == "-" || $0 == "\t" }).joined(separator: "_")
    }

    /// A date (`2026-11-29`, start of that day in `timeZone`) or a time: ISO 8601 with a zone,
    /// or `YYYY-MM-DD HH:MM[:SS]` / `YYYY-MM-DDTHH:MM[:SS]` read in `timeZone`.
    static func parseWhen(_ text: String, timeZone: TimeZone) -> (Date, Bool)? {
        if let d = Timestamps.parseISO(text) { return (d, false) }
        let parts = text.split(whereSeparator: { $0 == " " || $0 == "T" })
        guard parts.count == 1 || parts.count == 2 else { return nil }
        let ymd = parts[0].split(separator: "-", omittingEmptySubsequences: false)
        guard ymd.count == 3, ymd[0].count == 4, ymd[1].count == 2, ymd[2].count == 2,
              let y = Int(ymd[0]), let mo = Int(ymd[1]), let da = Int(ymd[2]), (1...12).contains(mo), (1...31).contains(da) else { return nil }
        var h = 0, mi = 0, s = 0
        if parts.count == 2 {
            let hms = parts[1].split(separator: ":", omittingEmptySubsequences: false)
            guard hms.count == 2 || hms.count == 3, hms.allSatisfy({ $0.count == 2 }),
                  let hh = Int(hms[0]), let mm = Int(hms[1]), (0...23).contains(hh), (0...59).contains(mm) else { return nil }
            h = hh; mi = mm
            if hms.count == 3 { guard let ss = Int(hms[2]), (0...59).contains(ss) else { return nil }; s = ss }
        }
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = timeZone
        let c = DateComponents(year: y, month: mo, day: da, hour: h, minute: mi, second: s)
        // Refuses 2026-02-31 rather than rolling it into March.
        guard c.isValidDate(in: cal), let d = cal.date(from: c) else { return nil }
        return (d, parts.count == 1)
    }
}

/// An incident as the shadow report sees it.
public struct ShadowIncident: Sendable, Equatable {
    public var id: String
    public var asset: String
    public var defectClass: String
    public var camera: String
    /// The first detection of it: when Millwright knew.
    public var firstSeen: Date
    public var shadow: Bool
    public var verdict: Verdict?
    public init(id: String, asset: String, defectClass: String, camera: String, firstSeen: Date, shadow: Bool, verdict: Verdict? = nil) {
        self.id = id; self.asset = asset; self.defectClass = defectClass; self.camera = camera
        self.firstSeen = firstSeen; self.shadow = shadow; self.verdict = verdict
    }
}

/// Detections of one asset and class in a span, by status: why a defect people found did not
/// become an incident.
public struct DetectionTally: Sendable, Equatable {
    public var asset: String
    public var defectClass: String
    public var byStatus: [String: Int]
    public init(asset: String, defectClass: String, byStatus: [String: Int]) {
        self.asset = asset; self.defectClass = defectClass; self.byStatus = byStatus
    }
}

/// What shadow mode would have created, lined up against what people found: the go/no-go
/// evidence for switching shadow off. A finding matches an incident of the same asset and
/// defect class that Millwright first saw at most `maxLead` before it was found, or at most
/// `maxLag` after. Several findings may match one incident (people log the same crack twice;
/// Millwright keeps one incident per asset, class and zone while it is open).
public struct ShadowReport: Sendable, Encodable, Equatable {
    public struct Match: Sendable, Encodable, Equatable {
        public var finding: ManualFinding
        public var incidentId: String
        public var camera: String
        public var firstSeen: Date
        /// How long before the person Millwright saw it (negative: after). For a date-only
        /// finding, measured to the start of its day when earlier, to its end when later, and
        /// 0 when Millwright saw it that same day.
        public var leadSeconds: Double
        enum CodingKeys: String, CodingKey {
            case finding, incidentId = "incident_id", camera, firstSeen = "first_seen", leadSeconds = "lead_seconds"
        }
    }

    public struct Miss: Sendable, Encodable, Equatable {
        public var finding: ManualFinding
        /// `not_watched`: no camera is mapped to the asset. `not_detected`: no detection of the
        /// class on the asset in the window. `not_confirmed`: detections, none became an incident.
        public var reason: String
        /// Detections of the class on the asset in the window, by status (for `not_confirmed`).
        public var detections: [String: Int]
    }

    public struct Extra: Sendable, Encodable, Equatable {
        public var incidentId: String
        public var asset: String
        public var defectClass: String
        public var camera: String
        public var firstSeen: Date
        /// A planner's verdict on it, if any: a confirmed extra is a defect people missed.
        public var verdict: Verdict?
        enum CodingKeys: String, CodingKey {
            case incidentId = "incident_id", asset, defectClass = "defect_class", camera, firstSeen = "first_seen", verdict
        }
    }

    public struct Summary: Sendable, Encodable, Equatable {
        public var findings: Int
        public var matched: Int
        public var caughtFirst: Int
        public var missed: Int
        public var extras: Int
        public var extrasConfirmed: Int
        public var extrasFalsePositive: Int
        /// matched / findings.
        public var recall: Double?
        public var medianLeadSeconds: Double?
        enum CodingKeys: String, CodingKey {
            case findings, matched, caughtFirst = "caught_first", missed, extras, extrasConfirmed = "extras_confirmed",
                 extrasFalsePositive = "extras_false_positive", recall, medianLeadSeconds = "median_lead_seconds"
        }
    }

    public var since: Date
    public var until: Date
    public var mode: String
    public var maxLeadSeconds: Double
    public var maxLagSeconds: Double
    public var summary: Summary
    /// Matches where Millwright saw the defect before the person found it, earliest lead first.
    public var caughtFirst: [Match]
    /// Matches where the person was first, or the same day.
    public var foundByPeopleFirst: [Match]
    public var missed: [Miss]
    public var extras: [Extra]
    /// More findings or incidents than one report reads: the newest are left out.
    public var truncated: Bool

    enum CodingKeys: String, CodingKey {
        case since, until, mode, maxLeadSeconds = "max_lead_seconds", maxLagSeconds = "max_lag_seconds", summary,
             caughtFirst = "caught_first", foundByPeopleFirst = "found_by_people_first", missed, extras, truncated
    }

    /// - Parameters:
    ///   - findings: found in `[since, until]`.
    ///   - incidents: first seen in `[since - maxLead, until + maxLag]`; only those first seen in
    ///     `[since, until]` can be extras.
    ///   - watched: assets some camera is mapped to.
    ///   - tallies: detections by asset and class in `[since - maxLead, until + maxLag]`.
    public static func compute(findings: [ManualFinding], incidents: [ShadowIncident], watched: Set<String>, tallies: [DetectionTally],
                               since: Date, until: Date, mode: String, maxLead: TimeInterval, maxLag: TimeInterval,
                               truncated: Bool = false) -> ShadowReport {
        struct Key: Hashable { var asset: String; var defectClass: String }
        let byKey = Dictionary(grouping: incidents, by: { Key(asset: $0.asset, defectClass: $0.defectClass) })
        let tallyByKey = Dictionary(tallies.map { (Key(asset: $0.asset, defectClass: $0.defectClass), $0.byStatus) }, uniquingKeysWith: { a, _ in a })
        var caught: [Match] = [], later: [Match] = [], missed: [Miss] = []
        var matchedIncidents = Set<String>()
        for f in findings {
            let candidates = (byKey[Key(asset: f.asset, defectClass: f.defectClass)] ?? []).compactMap { i -> (ShadowIncident, Double)? in
                let lead = leadSeconds(f, i.firstSeen)
                return (-maxLag...maxLead).contains(lead) ? (i, lead) : nil
            }
            // The closest in time; on a tie, the one Millwright saw first.
            if let (i, lead) = candidates.min(by: { (abs($0.1), -$0.1) < (abs($1.1), -$1.1) }) {
                matchedIncidents.insert(i.id)
                let m = Match(finding: f, incidentId: i.id, camera: i.camera, firstSeen: i.firstSeen, leadSeconds: lead)
                if lead > 0 { caught.append(m) } else { later.append(m) }
            } else if !watched.contains(f.asset) {
                missed.append(Miss(finding: f, reason: "not_watched", detections: [:]))
            } else if let t = tallyByKey[Key(asset: f.asset, defectClass: f.defectClass)], t.values.contains(where: { $0 > 0 }) {
                missed.append(Miss(finding: f, reason: "not_confirmed", detections: t))
            } else {
                missed.append(Miss(finding: f, reason: "not_detected", detections: [:]))
            }
        }
        let extras = incidents
            .filter { !matchedIncidents.contains($0.id) && $0.firstSeen >= since && $0.firstSeen <= until }
            .sorted { ($0.firstSeen, $0.id) < ($1.firstSeen, $1.id) }
            .map { Extra(incidentId: $0.id, asset: $0.asset, defectClass: $0.defectClass, camera: $0.camera, firstSeen: $0.firstSeen, verdict: $0.verdict) }
        caught.sort { ($0.leadSeconds, $0.finding.line) > ($1.leadSeconds, $1.finding.line) }
        later.sort { ($0.finding.foundAt, $0.finding.line) < ($1.finding.foundAt, $1.finding.line) }
        missed.sort { ($0.finding.foundAt, $0.finding.line) < ($1.finding.foundAt, $1.finding.line) }
        let matched = caught.count + later.count
        let leads = (caught + later).map(\.leadSeconds).sorted()
        let median: Double? = leads.isEmpty ? nil : leads.count % 2 == 1 ? leads[leads.count / 2] : (leads[leads.count / 2 - 1] + leads[leads.count / 2]) / 2
        let summary = Summary(findings: findings.count, matched: matched, caughtFirst: caught.count, missed: missed.count, extras: extras.count,
                              extrasConfirmed: extras.filter { $0.verdict == .confirmed }.count,
                              extrasFalsePositive: extras.filter { $0.verdict == .falsePositive }.count,
                              recall: findings.isEmpty ? nil : Double(matched) / Double(findings.count), medianLeadSeconds: median)
        return ShadowReport(since: since, until: until, mode: mode, maxLeadSeconds: maxLead, maxLagSeconds: maxLag, summary: summary,
                            caughtFirst: caught, foundByPeopleFirst: later, missed: missed, extras: extras, truncated: truncated)
    }

    /// Positive when Millwright saw it before the person found it.
    static func leadSeconds(_ f: ManualFinding, _ seen: Date) -> Double {
        if seen < f.foundAt { return f.foundAt.timeIntervalSince(seen) }
        if seen > f.foundBefore { return -seen.timeIntervalSince(f.foundBefore) }
        return 0
    }
}
