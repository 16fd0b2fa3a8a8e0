import Foundation

public enum Priority: String, Sendable, Codable, CaseIterable, Comparable {
    case low, medium, high, critical
    var rank: Int { Priority.allCases.firstIndex(of: self)! }
    public static func < (l: Priority, r: Priority) -> Bool { l.rank < r.rank }
}

/// One ordered `priority:` rule; the first whose condition holds wins.
public struct PriorityRule: Sendable, Equatable {
    public var condition: Condition
    public var priority: Priority
    public var notify: [String]
    public init(condition: Condition, priority: Priority, notify: [String] = []) {
        self.condition = condition; self.priority = priority; self.notify = notify
    }
}

/// What a priority condition can look at.
public struct PriorityFacts: Sendable, Equatable {
    public var severity: Double
    public var criticality: Criticality
    public var defectClass: String
    public var zone: String?
    public var camera: String
    public var asset: String
    public var confidence: Double
    public init(severity: Double, criticality: Criticality, defectClass: String, zone: String?,
                camera: String, asset: String, confidence: Double) {
        self.severity = severity; self.criticality = criticality; self.defectClass = defectClass
        self.zone = zone; self.camera = camera; self.asset = asset; self.confidence = confidence
    }
}

public struct PriorityDecision: Sendable, Equatable, Codable {
    public var priority: Priority
    /// The rule's text and position, so the work order can say why.
    public var rule: String
    public var notify: [String]
}

public enum PriorityRules {
    public static func decide(_ rules: [PriorityRule], facts: PriorityFacts) -> PriorityDecision {
        for (i, rule) in rules.enumerated() where rule.condition.holds(for: facts) {
            return PriorityDecision(priority: rule.priority, rule: "rule \(i + 1): \(rule.condition.text)", notify: rule.notify)
        }
        return PriorityDecision(priority: .low, rule: "no rule matched (default low)", notify: [])
    }
}

/// A small boolean expression over `PriorityFacts`:
/// `severity >= 85 and criticality == A or defect == crack`. `and` binds tighter than `or`.
public struct Condition: Sendable, Equatable {
    public enum Field: String, Sendable, CaseIterable {
        case severity, criticality, defect, defect_class, zone, camera, asset, confidence
    }
    public enum Op: String, Sendable, CaseIterable { case ge = ">=", le = "<=", ne = "!=", eq = "==", gt = ">", lt = "<" }
    public struct Clause: Sendable, Equatable {
        public var field: Field
        public var op: Op
        public var value: String
    }
    /// Disjunction of conjunctions.
    public var anyOf: [[Clause]]
    public var text: String

    public static let always = Condition(anyOf: [[]], text: "always")

    public static func parse(_ text: String) throws(FieldProblem) -> Condition {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.isEmpty { return .always }
        var groups: [[Clause]] = []
        for orPart in split(trimmed, words: ["or", "||"]) {
            var clauses: [Clause] = []
            for andPart in split(orPart, words: ["and", "&&"]) {
                clauses.append(try parseClause(andPart.trimmingCharacters(in: .whitespaces), whole: trimmed))
            }
            groups.append(clauses)
        }
        return Condition(anyOf: groups, text: trimmed)
    }

    private static func split(_ s: String, words: [String]) -> [String] {
        var parts: [String] = []
        var current: [Substring] = []
        for token in s.split(separator: " ", omittingEmptySubsequences: true) {
            if words.contains(token.lowercased()) { parts.append(current.joined(separator: " ")); current = [] }
            else { current.append(token) }
        }
        parts.append(current.joined(separator: " "))
        return parts
    }

    private static func parseClause(_ s: String, whole: String) throws(FieldProblem) -> Clause {
        for op in Op.allCases {
            guard let r = s.range(of: op.rawValue) else { continue }
            let lhs = s[..<r.lowerBound].trimmingCharacters(in: .whitespaces)
            var rhs = s[r.upperBound...].trimmingCharacters(in: .whitespaces)
            if rhs.count >= 2, let f = rhs.first, f == "\"" || f == "'", rhs.last == f { rhs = String(rhs.dropFirst().dropLast()) }
            guard let field = Field(rawValue: lhs.lowercased()) else {
                throw FieldProblem(field: "when", "unknown field '\(lhs)' in '\(whole)'; use one of \(Field.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard !rhs.isEmpty else { throw FieldProblem(field: "when", "missing value after '\(op.rawValue)' in '\(whole)'") }
            if field == .severity || field == .confidence, Double(rhs) == nil {
                throw FieldProblem(field: "when", "'\(rhs)' is not a number in '\(whole)'")
            }
            if field == .criticality, Criticality(rawValue: rhs.uppercased()) == nil {
                throw FieldProblem(field: "when", "criticality must be A, B or C in '\(whole)'")
            }
            return Clause(field: field, op: op, value: rhs)
        }
        throw FieldProblem(field: "when", "cannot read '\(s)' in '\(whole)'; write e.g. 'severity >= 85 and criticality == A'")
    }

    public func holds(for f: PriorityFacts) -> Bool {
        anyOf.contains { group in group.allSatisfy { $0.holds(for: f) } }
    }
}

extension Condition.Clause {
    func holds(for f: PriorityFacts) -> Bool {
        switch field {
        case .severity: return compare(f.severity, Double(value) ?? .nan)
        case .confidence: return compare(f.confidence, Double(value) ?? .nan)
        // A is the most critical: `criticality >= B` means A or B.
        case .criticality:
            let rank: (Criticality) -> Int = { [.c, .b, .a].firstIndex(of: $0)! }
            let other = Criticality(rawValue: value.uppercased()) ?? .c
            return compare(Double(rank(f.criticality)), Double(rank(other)))
        case .defect, .defect_class: return compareText(f.defectClass)
        case .zone: return compareText(f.zone ?? "")
        case .camera: return compareText(f.camera)
        case .asset: return compareText(f.asset)
        }
    }

    private func compare(_ l: Double, _ r: Double) -> Bool {
        switch op {
        case .ge: l >= r
        case .le: l <= r
        case .gt: l > r
        case .lt: l < r
        case .eq: l == r
        case .ne: l != r
        }
    }

    private func compareText(_ l: String) -> Bool {
        switch op {
        case .eq: l.caseInsensitiveCompare(value) == .orderedSame
        case .ne: l.caseInsensitiveCompare(value) != .orderedSame
        default: false
        }
    }
}
