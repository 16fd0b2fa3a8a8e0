import Foundation
import MillwrightCore
import Testing

@Suite struct SeverityTests {
    func input(bbox: BoundingBox? = nil, measurements: [String: Double]? = nil, firstArea: Double? = nil,
               criticality: Criticality = .b, prior: Int = 0) -> SeverityModel.Input {
        .init(base: 50, bbox: bbox, frameWidth: 1920, frameHeight: 1080, measurements: measurements, firstArea: firstArea,
              criticality: criticality, priorIncidents: prior)
    }

    @Test func breakdownAddsUpAndIsStored() {
        let b = SeverityModel.score(input(bbox: BoundingBox(x: 0, y: 0, width: 1920 * 0.1, height: 1080 * 0.5)))
        #expect(b.base == 50)
        #expect(b.size == 15) // 5 % of the frame is the cap
        #expect(b.criticality == 5)
        #expect(b.total == 70)
    }

    @Test func smallBoxesStillCountBySquareRoot() {
        // 60×18 on 1080p is 0.05 % of the frame: sqrt(0.0104) × 15 ≈ 1.5 points.
        let b = SeverityModel.score(input(bbox: BoundingBox(x: 0, y: 0, width: 60, height: 18)))
        #expect(b.size > 1 && b.size < 2)
    }

    @Test func measuredLengthWinsOverPixels() {
        let b = SeverityModel.score(input(bbox: BoundingBox(x: 0, y: 0, width: 10, height: 10), measurements: ["length_mm": 12.5]))
        #expect(b.size == 12.5)
        #expect(b.notes.contains { $0.contains("12.5 mm") })
    }

    @Test func growthCriticalityAndHistory() {
        let b = SeverityModel.score(input(bbox: BoundingBox(x: 0, y: 0, width: 20, height: 20), firstArea: 200, criticality: .a, prior: 5))
        #expect(b.growth == 10) // doubled area: capped at 10
        #expect(b.criticality == 15)
        #expect(b.history == 10) // 5 × 3 capped at 10
    }

    @Test func totalIsClampedTo100() {
        var i = input(bbox: BoundingBox(x: 0, y: 0, width: 1920, height: 1080), criticality: .a, prior: 10)
        i.base = 95
        #expect(SeverityModel.score(i).total == 100)
    }
}

@Suite struct PriorityRuleTests {
    func facts(_ severity: Double, crit: Criticality = .b, defect: String = "crack", zone: String? = nil) -> PriorityFacts {
        PriorityFacts(severity: severity, criticality: crit, defectClass: defect, zone: zone, camera: "CAM-07", asset: "1", confidence: 0.9)
    }

    func rules() throws -> [PriorityRule] {
        [
            PriorityRule(condition: try Condition.parse("severity >= 85"), priority: .critical, notify: ["supervisor"]),
            PriorityRule(condition: try Condition.parse("criticality == A and defect == crack"), priority: .high),
            PriorityRule(condition: try Condition.parse("severity >= 60 or zone == 'head-pulley'"), priority: .high),
            PriorityRule(condition: try Condition.parse("severity >= 30"), priority: .medium),
            PriorityRule(condition: .always, priority: .low),
        ]
    }

    @Test func firstMatchWins() throws {
        let r = try rules()
        #expect(PriorityRules.decide(r, facts: facts(90)).priority == .critical)
        #expect(PriorityRules.decide(r, facts: facts(90)).notify == ["supervisor"])
        #expect(PriorityRules.decide(r, facts: facts(20, crit: .a)).priority == .high)
        #expect(PriorityRules.decide(r, facts: facts(20, crit: .a)).rule.hasPrefix("rule 2"))
        #expect(PriorityRules.decide(r, facts: facts(20, zone: "head-pulley")).priority == .high)
        #expect(PriorityRules.decide(r, facts: facts(45)).priority == .medium)
        #expect(PriorityRules.decide(r, facts: facts(10)).priority == .low)
    }

    @Test func criticalityOrderingTreatsAAsHighest() throws {
        let c = try Condition.parse("criticality >= B")
        #expect(c.holds(for: facts(0, crit: .a)))
        #expect(c.holds(for: facts(0, crit: .b)))
        #expect(!c.holds(for: facts(0, crit: .c)))
    }

    @Test func badConditionsSayWhy() {
        #expect(throws: FieldProblem.self) { try Condition.parse("severty >= 85") }
        do { _ = try Condition.parse("severity >= high") } catch { #expect(error.problem.contains("not a number")) }
        do { _ = try Condition.parse("criticality == D") } catch { #expect(error.problem.contains("A, B or C")) }
    }
}
