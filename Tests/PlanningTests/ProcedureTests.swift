import Foundation
import Testing
@testable import MillwrightCore

@Suite struct ProcedureTests {
    static let pulleyCrack = """
    ---
    defect: crack
    asset_class: conveyor-pulley
    title: Pulley shell crack
    duration: 1h30m
    ---
    # ignored because front matter has a title

    ## Safety
    - Lock out / tag out the conveyor drive at MCC-2 and verify zero energy.
    - Wear cut-resistant gloves.

    ## Steps
    1. Inspect the pulley shell for cracks.
    2. Measure crack length with a feeler gauge;
       a crack over 5 mm means replacement.
    3. Replace the pulley if required.
    4. Remove lock-out and test run for 5 minutes.

    ## Parts
    - PUL-500-HD x1
    - BRG-6205: 2
    """

    static let crackAny = """
    ---
    defect: crack
    duration: 45
    parts: WELD-ROD-3 x4, GRIND-DISC
    ---
    # Generic crack repair
    ## Steps
    - Grind out the crack.
    - Weld and dress.
    """

    static let fallback = """
    **Duration:** 30 min

    # General inspection
    ## Procedure
    1. Inspect and report.
    """

    static var library: ProcedureLibrary {
        let (lib, errors) = ProcedureLibrary.parse([
            (name: "pulley-crack.md", text: pulleyCrack), (name: "crack.md", text: crackAny), (name: "default.md", text: fallback),
        ])
        #expect(errors.isEmpty)
        return lib
    }

    @Test func parsesFrontMatterSectionsAndParts() throws {
        let p = try ProcedureParser.parse(Self.pulleyCrack, source: "pulley-crack.md")
        #expect(p.title == "Pulley shell crack")
        #expect(p.defectClass == "crack")
        #expect(p.assetClass == "conveyor-pulley")
        #expect(p.estimatedMinutes == 90)
        #expect(p.safety.first == "Lock out / tag out the conveyor drive at MCC-2 and verify zero energy.")
        #expect(p.steps.count == 4)
        #expect(p.steps[1] == "Measure crack length with a feeler gauge; a crack over 5 mm means replacement.")
        #expect(p.parts == [PartNeed(sku: "PUL-500-HD", qty: 1), PartNeed(sku: "BRG-6205", qty: 2)])

        let c = try ProcedureParser.parse(Self.crackAny, source: "crack.md")
        #expect(c.title == "Generic crack repair")
        #expect(c.assetClass == nil)
        #expect(c.estimatedMinutes == 45)
        #expect(c.parts == [PartNeed(sku: "WELD-ROD-3", qty: 4), PartNeed(sku: "GRIND-DISC", qty: 1)])

        let d = try ProcedureParser.parse(Self.fallback, source: "default.md")
        #expect(d.defectClass == nil && d.assetClass == nil)
        #expect(d.estimatedMinutes == 30)
    }

    @Test func mostSpecificMatchWins() {
        let lib = Self.library
        #expect(lib.select(defect: "crack", assetClass: "conveyor-pulley")?.source == "pulley-crack.md")
        #expect(lib.select(defect: "Crack", assetClass: "gearbox")?.source == "crack.md")
        #expect(lib.select(defect: "crack", assetClass: nil)?.source == "crack.md")
        #expect(lib.select(defect: "corrosion", assetClass: "conveyor-pulley")?.source == "default.md")
        #expect(ProcedureLibrary([]).select(defect: "crack", assetClass: nil) == nil)
        // Same specificity: source name decides, whatever the order files were read in.
        var twin = try! ProcedureParser.parse(Self.crackAny, source: "a-crack.md")
        twin.title = "twin"
        #expect(ProcedureLibrary(lib.procedures + [twin]).select(defect: "crack", assetClass: nil)?.title == "twin")
        #expect(ProcedureLibrary([twin] + lib.procedures).select(defect: "crack", assetClass: nil)?.title == "twin")
    }

    @Test func parseErrorsCarryLines() {
        #expect(throws: ProcedureParseError(source: "x.md", line: 3, message: "duration \"soon\" is not like 90m, 1h30m or 1.5h")) {
            try ProcedureParser.parse("---\ntitle: X\nduration: soon\n---\n## Steps\n1. a\n", source: "x.md")
        }
        #expect(throws: ProcedureParseError(source: "x.md", line: 5, message: "part \"PUL x-2\": quantity must be a positive whole number")) {
            try ProcedureParser.parse("# X\n## Steps\n1. a\n## Parts\n- PUL x-2\n", source: "x.md")
        }
        #expect(throws: ProcedureParseError.self) { try ProcedureParser.parse("# X\nno steps\n", source: "x.md") }
        let (lib, errors) = ProcedureLibrary.parse([(name: "bad.md", text: "---\ntitle: x\n"), (name: "ok.md", text: Self.fallback)])
        #expect(lib.procedures.count == 1)
        #expect(errors.map(\.source) == ["bad.md"])
    }

    @Test func rendersEverythingWhenItFits() throws {
        let p = try ProcedureParser.parse(Self.pulleyCrack, source: "p.md")
        let text = p.render(limit: 10_000)
        #expect(text == """
        Procedure: Pulley shell crack
        Estimated duration: 1 h 30 min
        SAFETY:
        ! Lock out / tag out the conveyor drive at MCC-2 and verify zero energy.
        ! Wear cut-resistant gloves.
        Parts: PUL-500-HD x1, BRG-6205 x2
        Steps:
        1. Inspect the pulley shell for cracks.
        2. Measure crack length with a feeler gauge; a crack over 5 mm means replacement.
        3. Replace the pulley if required.
        4. Remove lock-out and test run for 5 minutes.
        """)
    }

    @Test func truncatesWholeStepsAndSaysHowManyAreLeft() throws {
        let p = try ProcedureParser.parse(Self.pulleyCrack, source: "p.md")
        let full = p.render(limit: 10_000)
        // Every limit from tiny to full: never over the limit, safety first, no partial step.
        for limit in 0...(full.count + 5) {
            let t = p.render(limit: limit)
            #expect(t.count <= limit, "limit \(limit)")
            let stepLines = t.split(separator: "\n").filter { $0.first?.isNumber == true }
            for l in stepLines { #expect(p.steps.contains(String(l.drop { $0 != " " }.dropFirst())), "limit \(limit): partial step \(l)") }
            if t.contains("Steps:") && stepLines.count < 4 && !t.hasSuffix("…") {
                #expect(t.hasSuffix("… \(4 - stepLines.count) more step\(4 - stepLines.count == 1 ? "" : "s") in the procedure library"), "limit \(limit)")
            }
        }
        let header = full.components(separatedBy: "\n1. ")[0]
        let two = header + "\n1. " + p.steps[0] + "\n2. " + p.steps[1] + "\n… 2 more steps in the procedure library"
        #expect(p.render(limit: two.count) == two)
        #expect(p.render(limit: full.count) == full)
        #expect(p.render(limit: full.count - 1).hasSuffix("… 1 more step in the procedure library"))
        // A limit below the header cuts at a word boundary.
        let tiny = p.render(limit: 40)
        #expect(tiny.hasSuffix("…"))
        #expect(full.hasPrefix(String(tiny.dropLast())))
        #expect(tiny.dropLast().last?.isWhitespace == false)
        #expect(full[full.index(full.startIndex, offsetBy: tiny.count - 1)].isWhitespace)
    }
}
