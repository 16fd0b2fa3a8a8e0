import Foundation

/// A part a procedure needs.
public struct PartNeed: Sendable, Equatable, Hashable, Codable {
    public var sku: String
    public var qty: Int
    public init(sku: String, qty: Int) { self.sku = sku; self.qty = qty }
}

/// One repair procedure from the library (a Markdown file).
public struct Procedure: Sendable, Equatable {
    /// Where it came from (file name), for messages and deterministic tie-breaks.
    public var source: String
    public var title: String
    /// nil = applies to any defect (the library default).
    public var defectClass: String?
    /// nil = applies to any asset class.
    public var assetClass: String?
    public var estimatedMinutes: Int?
    public var safety: [String]
    public var steps: [String]
    public var parts: [PartNeed]
}

public struct ProcedureParseError: Error, Equatable, CustomStringConvertible {
    public var source: String
    public var line: Int
    public var message: String
    public var description: String { "\(source):\(line): \(message)" }
}

/// Procedure Markdown:
///
///     ---
///     defect: crack            # or "*" / omitted for the default procedure
///     asset_class: conveyor-pulley
///     title: Pulley shell crack
///     duration: 1h30m          # 90m, 1.5h, 90
///     parts: PUL-500-HD x1, BRG-6205 x2
///     ---
///     # Pulley shell crack     (title if not in front matter)
///     ## Safety
///     - Lock out / tag out the conveyor drive.
///     ## Steps
///     1. Inspect the shell.
///        Continuation lines belong to the step.
///     ## Parts
///     - PUL-500-HD x1
///
/// Headings are matched case-insensitively; `Safety notes`, `Procedure`, `Required parts` work too.
/// Front-matter keys may also be given as `**Defect:** crack` lines before the first section.
public enum ProcedureParser {
    public static func parse(_ text: String, source: String) throws(ProcedureParseError) -> Procedure {
        func fail(_ line: Int, _ m: String) -> ProcedureParseError { ProcedureParseError(source: source, line: line, message: m) }
        var lines = text.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.first?.hasPrefix("\u{FEFF}") == true { lines[0].removeFirst() }
        var meta: [String: (Int, String)] = [:]
        var i = 0
        if lines.first?.trimmingCharacters(in: .whitespaces) == "---" {
            i = 1
            var closed = false
            while i < lines.count {
                let l = lines[i]; i += 1
                if l.trimmingCharacters(in: .whitespaces) == "---" { closed = true; break }
                let bare = stripComment(l).trimmingCharacters(in: .whitespaces)
                if bare.isEmpty { continue }
                guard let c = bare.firstIndex(of: ":") else { throw fail(i, "front matter line is not \"key: value\"") }
                let key = normalizeKey(String(bare[..<c]))
                meta[key] = (i, unquote(bare[bare.index(after: c)...].trimmingCharacters(in: .whitespaces)))
            }
            if !closed { throw fail(1, "front matter opened with --- but never closed") }
        }

        enum Section { case none, safety, steps, parts, other }
        var section = Section.none
        var titleHeading: String?
        var safety: [String] = [], steps: [String] = [], parts: [PartNeed] = []
        var partsLineSeen = false
        var last: Section = .none   // the list an indented continuation line extends
        while i < lines.count {
            let raw = lines[i]; i += 1
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            if line.hasPrefix("#") {
                let level = line.prefix { $0 == "#" }.count
                let h = line.dropFirst(level).trimmingCharacters(in: .whitespaces)
                if level == 1 && titleHeading == nil { titleHeading = h; section = .none; continue }
                let k = h.lowercased()
                if k.hasPrefix("safety") || k.contains("lock") { section = .safety }
                else if k.hasPrefix("step") || k == "procedure" || k.hasPrefix("instructions") { section = .steps }
                else if k.contains("part") || k.contains("material") { section = .parts }
                else { section = .other }
                last = .none
                continue
            }
            if section == .none, let m = boldMeta(line) { meta[m.0] = (i, m.1); continue }
            let item = listItem(line)
            let isContinuation = item == nil && raw.first?.isWhitespace == true
            switch section {
            case .safety:
                if let item { safety.append(item); last = .safety }
                else if isContinuation, last == .safety, !safety.isEmpty { safety[safety.count - 1] += " " + line }
                else { safety.append(line); last = .safety }
            case .steps:
                if let item { steps.append(item); last = .steps }
                else if isContinuation, last == .steps, !steps.isEmpty { steps[steps.count - 1] += " " + line }
                else { steps.append(line); last = .steps }
            case .parts:
                guard let p = try parsePart(item ?? line, line: i, fail: fail) else { continue }
                parts.append(p); partsLineSeen = true
            case .none, .other:
                continue
            }
        }

        if let pv = meta["parts"], !partsLineSeen {
            let (line, v) = pv
            for piece in v.split(separator: ",") {
                if let p = try parsePart(String(piece), line: line, fail: fail) { parts.append(p) }
            }
        }
        var minutes: Int?
        if let dv = meta["duration"] {
            let (line, v) = dv
            guard let m = parseMinutes(v) else { throw fail(line, "duration \"\(v)\" is not like 90m, 1h30m or 1.5h") }
            minutes = m
        }
        guard let title = meta["title"]?.1 ?? titleHeading, !title.isEmpty else { throw fail(1, "no title (front matter title: or a # heading)") }
        if steps.isEmpty { throw fail(lines.count, "no steps (a ## Steps section with a list)") }
        func wildcard(_ k: String) -> String? {
            guard let v = meta[k]?.1, !v.isEmpty, v != "*", v.lowercased() != "any", v.lowercased() != "default" else { return nil }
            return v
        }
        return Procedure(source: source, title: title, defectClass: wildcard("defect"), assetClass: wildcard("asset_class"),
                         estimatedMinutes: minutes, safety: safety, steps: steps, parts: parts)
    }

    static func normalizeKey(_ k: String) -> String {
        let s = k.trimmingCharacters(in: .whitespaces).lowercased().replacingOccurrences(of: " ", with: "_").replacingOccurrences(of: "-", with: "_")
        switch s {
        case "defect_class", "defect": return "defect"
        case "asset_class", "asset", "assetclass": return "asset_class"
        case "estimated_duration", "duration", "estimate", "time": return "duration"
        default: return s
        }
    }

    static func stripComment(_ l: String) -> String {
        // "#" starts a comment only after whitespace, so "#1" in a title survives.
        if let r = l.range(of: " #") { return String(l[..<r.lowerBound]) }
        return l.hasPrefix("#") ? "" : l
    }

    static func unquote(_ v: String) -> String {
        if v.count >= 2, let f = v.first, f == "\"" || f == "'", v.last == f { return String(v.dropFirst().dropLast()) }
        return v
    }

    /// `**Defect:** crack` or `Defect: crack` before the first section.
    static func boldMeta(_ line: String) -> (String, String)? {
        let l = line.replacingOccurrences(of: "**", with: "")
        guard let c = l.firstIndex(of: ":") else { return nil }
        let key = normalizeKey(String(l[..<c]))
        guard ["defect", "asset_class", "duration", "title", "parts"].contains(key) else { return nil }
        return (key, l[l.index(after: c)...].trimmingCharacters(in: .whitespaces))
    }

    /// `- x`, `* x`, `1. x`, `1) x` → `x`.
    static func listItem(_ line: String) -> String? {
        if line.hasPrefix("- ") || line.hasPrefix("* ") || line.hasPrefix("+ ") {
            return line.dropFirst(2).trimmingCharacters(in: .whitespaces)
        }
        let digits = line.prefix { $0.isASCII && $0.isNumber }
        if !digits.isEmpty {
            let rest = line.dropFirst(digits.count)
            if rest.hasPrefix(". ") || rest.hasPrefix(") ") { return rest.dropFirst(2).trimmingCharacters(in: .whitespaces) }
        }
        return nil
    }

    /// `PUL-500-HD x1`, `PUL-500-HD: 1`, `2 x BRG-6205`, `PUL-500-HD` (qty 1), `| PUL-500-HD | 1 |`.
    static func parsePart(_ text: String, line: Int, fail: (Int, String) -> ProcedureParseError) throws(ProcedureParseError) -> PartNeed? {
        var t = text.trimmingCharacters(in: .whitespaces)
        if t.hasPrefix("|") {
            let cells = t.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            if cells.allSatisfy({ $0.allSatisfy { "-: ".contains($0) } }) { return nil }   // table rule
            if cells.first?.lowercased() == "sku" { return nil }                             // table header
            t = cells.prefix(2).joined(separator: " x")
        }
        t = t.replacingOccurrences(of: "`", with: "")
        if t.isEmpty { return nil }
        let tokens = t.replacingOccurrences(of: ":", with: " ").split(whereSeparator: { $0 == " " || $0 == "×" }).map(String.init)
        func qty(_ s: String) -> Int? {
            let d = s.lowercased().hasPrefix("x") ? String(s.dropFirst()) : s.lowercased().hasSuffix("x") ? String(s.dropLast()) : s
            return Int(d)
        }
        let cleaned = tokens.filter { $0.lowercased() != "x" && $0.lowercased() != "qty" }
        switch cleaned.count {
        case 1: return PartNeed(sku: cleaned[0], qty: 1)
        case 2:
            if let q = qty(cleaned[1]), q > 0 { return PartNeed(sku: cleaned[0], qty: q) }
            if let q = qty(cleaned[0]), q > 0 { return PartNeed(sku: cleaned[1], qty: q) }
            throw fail(line, "part \"\(text)\": quantity must be a positive whole number")
        default:
            // "PUL-500-HD x1 (pulley, heavy duty)": take SKU and quantity, ignore the description.
            if let q = qty(cleaned[1]), q > 0 { return PartNeed(sku: cleaned[0], qty: q) }
            throw fail(line, "part \"\(text)\" is not \"SKU xQTY\"")
        }
    }

    /// `90`, `90m`, `90 min`, `1h30m`, `1.5h`, `2 h`.
    static func parseMinutes(_ v: String) -> Int? {
        let s = v.lowercased().replacingOccurrences(of: " ", with: "").replacingOccurrences(of: "min", with: "m")
        if let n = Int(s) { return n }
        var total = 0.0, num = "", any = false
        for c in s {
            if c.isNumber || c == "." { num.append(c); continue }
            guard let n = Double(num) else { return nil }
            switch c { case "h": total += n * 60; case "m": total += n; default: return nil }
            num = ""; any = true
        }
        guard num.isEmpty, any, total.isFinite, total <= 525_600 else { return nil }
        return Checked.int(total, clampedTo: 0...525_600)
    }
}

/// The configured library: selection by the most specific match.
public struct ProcedureLibrary: Sendable {
    public var procedures: [Procedure]
    public init(_ procedures: [Procedure]) { self.procedures = procedures }

    /// Parses every (file name, text) pair; returns all errors rather than stopping at the first.
    public static func parse(_ files: [(name: String, text: String)]) -> (ProcedureLibrary, [ProcedureParseError]) {
        var ok: [Procedure] = [], errors: [ProcedureParseError] = []
        for f in files {
            do throws(ProcedureParseError) { ok.append(try ProcedureParser.parse(f.text, source: f.name)) } catch { errors.append(error) }
        }
        return (ProcedureLibrary(ok), errors)
    }

    /// defect × asset class > defect only > default (no defect, no asset class).
    /// An asset-class-only procedure is treated as a default for that asset class, between
    /// "defect only" and the plain default. Ties go to the source name, so it is deterministic.
    public func select(defect: String, assetClass: String?) -> Procedure? {
        func eq(_ a: String?, _ b: String?) -> Bool {
            guard let a, let b else { return false }
            return a.caseInsensitiveCompare(b) == .orderedSame
        }
        func rank(_ p: Procedure) -> Int? {
            switch (p.defectClass, p.assetClass) {
            case let (d?, a?): return eq(d, defect) && eq(a, assetClass) ? 4 : nil
            case let (d?, nil): return eq(d, defect) ? 3 : nil
            case let (nil, a?): return eq(a, assetClass) ? 2 : nil
            case (nil, nil): return 1
            }
        }
        return procedures.compactMap { p in rank(p).map { (p, $0) } }
            .min { ($1.1, $0.0.source) < ($0.1, $1.0.source) }?.0
    }
}

extension Procedure {
    /// Work-order text within `limit` characters (Swift `Character`s, what CMMS UIs count).
    /// Title, duration, safety notes and parts come first — safety is never dropped in favour of
    /// steps. Steps are added whole while they fit; the rest is announced as
    /// "… N more steps in the procedure library". If even the header does not fit, it is cut at
    /// a word boundary with "…".
    public func render(limit: Int) -> String {
        var head: [String] = ["Procedure: \(title)"]
        if let m = estimatedMinutes {
            head.append("Estimated duration: " + (m >= 60 ? "\(m / 60) h" + (m % 60 == 0 ? "" : " \(m % 60) min") : "\(m) min"))
        }
        if !safety.isEmpty {
            head.append("SAFETY:")
            head += safety.map { "! \($0)" }
        }
        if !parts.isEmpty { head.append("Parts: " + parts.map { "\($0.sku) x\($0.qty)" }.joined(separator: ", ")) }
        head.append("Steps:")
        var text = head.joined(separator: "\n")
        if text.count > limit { return Self.cutAtWord(text, limit: limit) }

        for (n, step) in steps.enumerated() {
            let line = "\n\(n + 1). \(step)"
            let remainingAfter = steps.count - n - 1
            // Reserve room for the tail unless this is the last step.
            let tail = remainingAfter > 0 ? Self.tail(remainingAfter) : ""
            if text.count + line.count + tail.count <= limit {
                text += line
                continue
            }
            let t = Self.tail(steps.count - n)
            if text.count + t.count <= limit { return text + t }
            // Not even the tail fits after the header: drop back to a shorter note.
            return Self.cutAtWord(text + t, limit: limit)
        }
        return text
    }

    static func tail(_ n: Int) -> String { "\n… \(n) more step\(n == 1 ? "" : "s") in the procedure library" }

    static func cutAtWord(_ s: String, limit: Int) -> String {
        guard s.count > limit else { return s }
        guard limit > 1 else { return limit == 1 ? "…" : "" }
        let prefix = s.prefix(limit - 1)
        // Cut at the last whitespace so no word is split.
        if let ws = prefix.lastIndex(where: { $0.isWhitespace }) {
            return String(prefix[..<ws]).trimmingCharacters(in: .whitespacesAndNewlines) + "…"
        }
        return String(prefix) + "…"
    }
}
