import Foundation

extension Priority {
    /// Weight of one open work order in a technician's load.
    public var workloadWeight: Int {
        switch self { case .critical: 4; case .high: 3; case .medium: 2; case .low: 1 }
    }
}

/// What a work order needs from its technician.
public struct RoutingNeeds: Sendable, Equatable {
    /// From the defect rule (`skills: [mechanical]`); each must be met by a skill or a valid certification.
    public var skills: [String]
    public var area: String?
    public var priority: Priority
    public init(skills: [String], area: String?, priority: Priority) {
        self.skills = skills; self.area = area; self.priority = priority
    }
}

/// Optional area→area distances (metres, minutes — any unit, used relatively). Symmetric lookup.
public struct DistanceTable: Sendable, Equatable {
    public var distances: [String: [String: Double]]
    public init(_ distances: [String: [String: Double]] = [:]) { self.distances = distances }
    public func distance(_ a: String, _ b: String) -> Double? {
        if a == b { return 0 }
        return distances[a]?[b] ?? distances[b]?[a]
    }
}

/// Open work orders per technician (Millwright-created plus what the CMMS reports).
public struct Workload: Sendable, Equatable {
    public var open: [String: [Priority]]
    public init(_ open: [String: [Priority]] = [:]) { self.open = open }
    public func count(_ id: String) -> Int { open[id]?.count ?? 0 }
    public func weighted(_ id: String) -> Int { open[id]?.reduce(0) { $0 + $1.workloadWeight } ?? 0 }
}

public struct RoutingPolicy: Sendable, Equatable {
    /// Where work goes when nobody qualified can take it (e.g. the supervisor queue).
    public var fallbackQueue: String
    /// At or above this priority, off-shift on-call technicians are interrupted.
    public var interruptAt: Priority
    /// Cost of working in another area whose distance is unknown, in weighted-load units.
    public var otherAreaCost: Double
    /// Distance-table units per weighted-load unit (100 m ≈ one low work order by default).
    public var distancePerLoadUnit: Double
    public init(fallbackQueue: String = "supervisor", interruptAt: Priority = .critical,
                otherAreaCost: Double = 3, distancePerLoadUnit: Double = 100) {
        self.fallbackQueue = fallbackQueue; self.interruptAt = interruptAt
        self.otherAreaCost = otherAreaCost; self.distancePerLoadUnit = distancePerLoadUnit
    }
}

public enum Assignee: Sendable, Equatable, Codable {
    case technician(String)
    case queue(String)
}

public enum DispatchMode: Sendable, Equatable, Codable {
    /// Qualified and on shift: dispatch immediately.
    case now
    /// Critical with nobody qualified on shift: page the on-call technician.
    case interruptOnCall
    /// Not urgent and nobody on shift: planned for the next shift window starting at this instant.
    case nextWindow(Date)
    /// Nobody qualified (or nobody reachable): assigned to the fallback queue.
    case fallback(queue: String)
}

public struct RoutingDecision: Sendable, Equatable {
    public var assignee: Assignee
    public var mode: DispatchMode
    /// One line a planner reads, written onto the work order and into the API record.
    public var reason: String
    /// Every technician considered, best first among the eligible, with why (not) chosen.
    public var candidates: [String]
}

/// Picks a technician for a work order. Pure and total: it always returns a decision, never
/// throws, so routing can never block creating the work order.
public enum TechnicianRouter {
    public static func route(_ needs: RoutingNeeds, roster: Roster, calendar: ShiftCalendar, workload: Workload,
                             now: Date, distances: DistanceTable = DistanceTable(),
                             policy: RoutingPolicy = RoutingPolicy()) -> RoutingDecision {
        let today = LocalDate.of(now, in: calendar.timeZone)

        struct Candidate {
            var tech: Technician
            var checks: [SkillCheck]
            var window: ShiftWindow?        // current window, if on shift
            var next: ShiftWindow?          // next window, if off shift
            var cost: Double
            var areaText: String
        }

        var candidates: [Candidate] = []
        var rejected: [String] = []
        // Sorted by id so every later tie resolves the same way regardless of roster order.
        for tech in roster.technicians.sorted(by: { $0.id < $1.id }) {
            let checks = needs.skills.map { tech.qualification(for: $0, on: today) }
            if let bad = checks.first(where: { !$0.isMet }) {
                rejected.append("\(tech.id) \(tech.name): \(bad.text)")
                continue
            }
            let window = tech.shift.flatMap { calendar.currentWindow(of: $0, at: now) }
            let next = window == nil ? tech.shift.flatMap { calendar.nextWindow(of: $0, after: now) } : nil
            let (areaCost, areaText) = Self.areaCost(tech: tech.area, asset: needs.area, distances: distances, policy: policy)
            candidates.append(Candidate(tech: tech, checks: checks, window: window, next: next,
                                        cost: Double(workload.weighted(tech.id)) + areaCost, areaText: areaText))
        }

        func describe(_ c: Candidate) -> String {
            var parts = c.checks.map(\.text)
            if let w = c.window { parts.append("on shift \(w.shift)") }
            else if let n = c.next { parts.append("off shift (\(n.shift) starts \(Self.local(n.start, calendar.timeZone)))") }
            else if c.tech.shift == nil { parts.append("no shift") }
            else { parts.append("off shift \(c.tech.shift!)") }
            if c.tech.onCall { parts.append("on call") }
            parts.append("\(workload.count(c.tech.id)) open (weighted \(workload.weighted(c.tech.id)))")
            parts.append(c.areaText)
            return parts.joined(separator: ", ")
        }
        func byCost(_ a: Candidate, _ b: Candidate) -> Bool { (a.cost, a.tech.id) < (b.cost, b.tech.id) }
        func notes(_ ordered: [Candidate]) -> [String] {
            ordered.map { "\($0.tech.id) \($0.tech.name): \(describe($0))" } + rejected
        }

        let needText = needs.skills.isEmpty ? "no particular skill" : needs.skills.joined(separator: " + ")
        if candidates.isEmpty {
            return RoutingDecision(assignee: .queue(policy.fallbackQueue), mode: .fallback(queue: policy.fallbackQueue),
                                   reason: "nobody qualified (\(needText)) → fallback to \(policy.fallbackQueue) queue",
                                   candidates: rejected)
        }

        let onShift = candidates.filter { $0.window != nil }.sorted(by: byCost)
        if let best = onShift.first {
            return RoutingDecision(assignee: .technician(best.tech.id), mode: .now,
                                   reason: "\(best.tech.id) \(best.tech.name): \(describe(best))",
                                   candidates: notes(onShift + candidates.filter { $0.window == nil }.sorted(by: byCost)))
        }

        if needs.priority >= policy.interruptAt {
            let onCall = candidates.filter(\.tech.onCall).sorted(by: byCost)
            if let best = onCall.first {
                return RoutingDecision(assignee: .technician(best.tech.id), mode: .interruptOnCall,
                                       reason: "\(needs.priority.rawValue), nobody qualified on shift → interrupting on-call \(best.tech.id) \(best.tech.name): \(describe(best))",
                                       candidates: notes(onCall + candidates.filter { !$0.tech.onCall }.sorted(by: byCost)))
            }
            return RoutingDecision(assignee: .queue(policy.fallbackQueue), mode: .fallback(queue: policy.fallbackQueue),
                                   reason: "\(needs.priority.rawValue), nobody qualified on shift or on call → fallback to \(policy.fallbackQueue) queue",
                                   candidates: notes(candidates.sorted(by: byCost)))
        }

        // Not urgent: plan it into the earliest upcoming window of a qualified technician, no paging.
        let planned = candidates.filter { $0.next != nil }.sorted {
            ($0.next!.start, $0.cost, $0.tech.id) < ($1.next!.start, $1.cost, $1.tech.id)
        }
        if let best = planned.first, let w = best.next {
            return RoutingDecision(assignee: .technician(best.tech.id), mode: .nextWindow(w.start),
                                   reason: "\(needs.priority.rawValue), nobody qualified on shift → planned for shift \(w.shift) at \(Self.local(w.start, calendar.timeZone)), no page; \(best.tech.id) \(best.tech.name): \(describe(best))",
                                   candidates: notes(planned + candidates.filter { $0.next == nil }.sorted(by: byCost)))
        }
        return RoutingDecision(assignee: .queue(policy.fallbackQueue), mode: .fallback(queue: policy.fallbackQueue),
                               reason: "nobody qualified has an upcoming shift → fallback to \(policy.fallbackQueue) queue",
                               candidates: notes(candidates.sorted(by: byCost)))
    }

    static func areaCost(tech: String?, asset: String?, distances: DistanceTable, policy: RoutingPolicy) -> (Double, String) {
        guard let asset else { return (0, "asset area unknown") }
        guard let tech else { return (policy.otherAreaCost, "no home area (asset in \(asset))") }
        if tech == asset { return (0, "same area \(asset)") }
        if let d = distances.distance(tech, asset) {
            return (d / policy.distancePerLoadUnit, "\(tech) → \(asset) \(Self.number(d))")
        }
        return (policy.otherAreaCost, "other area \(tech) (asset in \(asset))")
    }

    static func number(_ d: Double) -> String {
        Checked.exactInt(d, in: -1_000_000_000...1_000_000_000).map(String.init) ?? String(format: "%.1f", d)
    }

    /// "Mon 2026-03-30 06:00" in the site zone, for reasons a planner reads.
    static func local(_ date: Date, _ tz: TimeZone) -> String {
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = tz
        let c = cal.dateComponents([.year, .month, .day, .hour, .minute], from: date)
        let d = LocalDate(year: c.year!, month: c.month!, day: c.day!)
        return "\(d.weekday.rawValue.capitalized) \(d) \(String(format: "%02d:%02d", c.hour!, c.minute!))"
    }
}
