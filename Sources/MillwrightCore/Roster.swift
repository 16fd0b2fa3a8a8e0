import Foundation

/// A certification held by a technician. Valid through its expiry date (inclusive, site-local);
/// no expiry means it does not lapse.
public struct Certification: Sendable, Equatable, Hashable, Codable {
    public var name: String
    public var expires: LocalDate?
    public init(name: String, expires: LocalDate? = nil) { self.name = name; self.expires = expires }
    public func isValid(on date: LocalDate) -> Bool { expires.map { date <= $0 } ?? true }
}

public struct Technician: Sendable, Equatable, Codable {
    public var id: String
    public var name: String
    public var skills: Set<String>
    public var certifications: [Certification]
    /// Name of a shift in the `ShiftCalendar`; nil = not on any planned shift.
    public var shift: String?
    public var area: String?
    /// May be interrupted off-shift for critical work.
    public var onCall: Bool

    public init(id: String, name: String, skills: Set<String> = [], certifications: [Certification] = [],
                shift: String? = nil, area: String? = nil, onCall: Bool = false) {
        self.id = id; self.name = name; self.skills = skills; self.certifications = certifications
        self.shift = shift; self.area = area; self.onCall = onCall
    }

    /// How one required skill is (or is not) met. A certification of that name takes precedence
    /// over a plain skill entry: a lapsed welding certificate disqualifies even if "welding" is listed.
    public func qualification(for skill: String, on date: LocalDate) -> SkillCheck {
        let certs = certifications.filter { $0.name.caseInsensitiveCompare(skill) == .orderedSame }
        if !certs.isEmpty {
            // The longest-valid certificate of that name decides.
            if let valid = certs.filter({ $0.isValid(on: date) }).max(by: { ($0.expires?.dayNumber ?? .max) < ($1.expires?.dayNumber ?? .max) }) {
                return .certified(skill, until: valid.expires)
            }
            let latest = certs.compactMap(\.expires).max()!
            return .certificationExpired(skill, on: latest)
        }
        if skills.contains(where: { $0.caseInsensitiveCompare(skill) == .orderedSame }) { return .skilled(skill) }
        return .missing(skill)
    }
}

public enum SkillCheck: Sendable, Equatable {
    case skilled(String)
    case certified(String, until: LocalDate?)
    case certificationExpired(String, on: LocalDate)
    case missing(String)

    public var isMet: Bool {
        switch self { case .skilled, .certified: return true; case .certificationExpired, .missing: return false }
    }

    /// "mechanical ✓", "welding cert valid to 2027-03 ✓", "welding cert expired 2026-01-31 ✗".
    public var text: String {
        switch self {
        case .skilled(let s): return "\(s) ✓"
        case .certified(let s, let until):
            guard let until else { return "\(s) cert ✓" }
            return "\(s) cert valid to \(String(format: "%04d-%02d", until.year, until.month)) ✓"
        case .certificationExpired(let s, let on): return "\(s) cert expired \(on) ✗"
        case .missing(let s): return "no \(s) ✗"
        }
    }
}

public struct Roster: Sendable, Equatable {
    public var technicians: [Technician]
    public init(_ technicians: [Technician]) { self.technicians = technicians }
    public func technician(_ id: String) -> Technician? { technicians.first { $0.id == id } }
}

public struct RosterCSVError: Error, Equatable, CustomStringConvertible {
    public var line: Int
    public var message: String
    public var description: String { "roster line \(line): \(message)" }
}

extension Roster {
    /// Roster CSV: header with `id` (required), `name`, `skills` (`;`-separated), `certifications`
    /// (`welding@2027-03-31;forklift`), `shift`, `area`, `on_call` (`true/yes/1`). Other columns are ignored.
    public static func parseCSV(_ text: String) throws(RosterCSVError) -> Roster {
        // Blank lines are skipped so a trailing newline or spacer row is harmless.
        let rows = CSV.parse(text).filter { !($0.fields.count == 1 && $0.fields[0].trimmingCharacters(in: .whitespaces).isEmpty) }.map { ($0.line, $0.fields) }
        guard let header = rows.first?.1 else { throw RosterCSVError(line: 1, message: "empty file (expected a header row)") }
        let cols = header.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard let idCol = cols.firstIndex(of: "id") else { throw RosterCSVError(line: 1, message: "missing column id") }
        func col(_ n: String) -> Int? { cols.firstIndex(of: n) }
        var techs: [Technician] = []
        var seen = Set<String>()
        for (line, r) in rows.dropFirst() {
            func v(_ i: Int?) -> String? {
                guard let i, i < r.count else { return nil }
                let s = r[i].trimmingCharacters(in: .whitespaces)
                return s.isEmpty ? nil : s
            }
            guard let id = v(idCol) else { throw RosterCSVError(line: line, message: "id is empty") }
            guard seen.insert(id).inserted else { throw RosterCSVError(line: line, message: "duplicate id \(id)") }
            let skills = Set((v(col("skills")) ?? "").split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
            var certs: [Certification] = []
            for c in (v(col("certifications")) ?? "").split(separator: ";") {
                let parts = c.split(separator: "@", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard let name = parts.first, !name.isEmpty else { continue }
                var exp: LocalDate?
                if parts.count == 2 {
                    guard let d = LocalDate(parsing: parts[1]) else {
                        throw RosterCSVError(line: line, message: "certification \(name): expiry \"\(parts[1])\" is not YYYY-MM-DD")
                    }
                    exp = d
                }
                certs.append(Certification(name: name, expires: exp))
            }
            let onCall = ["true", "yes", "1", "y"].contains((v(col("on_call")) ?? "").lowercased())
            techs.append(Technician(id: id, name: v(col("name")) ?? id, skills: skills, certifications: certs,
                                    shift: v(col("shift")), area: v(col("area")), onCall: onCall))
        }
        return Roster(techs)
    }
}
