import Foundation
import MillwrightCore

/// A tenant's master data for `millwright emulate KIND --tenant FILE` (or `--tenant-from-register
/// assets.csv`): with it an emulator refuses a work order that names an asset, functional location,
/// user, category or priority the tenant does not have, in that system's own error shape. A table left
/// out (or empty) is not checked; without a tenant nothing is, as before.
///
/// ```yaml
/// assets:                      # equipment / assets; a bare id or a map
///   - id: CV-100
///     number: 3301             # the numeric id in systems that number assets (MaintainX, Limble, Fiix)
///     name: Main conveyor
///     functional_location: PLANT-A-L1-CV
///   - PMP-7
/// functional_locations: [PLANT-A-L1-CV]
/// categories: [Mechanical, Electrical]
/// priorities: ["1", "2", "3", "4"]
/// users:                       # user ids, person codes or e-mails; `number` for numeric user ids
///   - id: ortiz@plant.example
///     number: 4711
/// statuses: [WAPPR, APPR, INPRG, COMP, CLOSE, CAN]   # replaces the emulator's status table where it has one
/// ```
public struct TenantData: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var id: String
        public var number: Int?
        public var name: String?
        public var functionalLocation: String?
        public var location: String?
        public init(id: String, number: Int? = nil, name: String? = nil, functionalLocation: String? = nil, location: String? = nil) {
            self.id = id; self.number = number; self.name = name; self.functionalLocation = functionalLocation; self.location = location
        }
    }

    public var assets: [Entry] = []
    public var functionalLocations: [String] = []
    public var categories: [String] = []
    public var priorities: [String] = []
    public var users: [Entry] = []
    public var statuses: [String] = []

    public init(assets: [Entry] = [], functionalLocations: [String] = [], categories: [String] = [], priorities: [String] = [],
                users: [Entry] = [], statuses: [String] = []) {
        self.assets = assets; self.functionalLocations = functionalLocations; self.categories = categories
        self.priorities = priorities; self.users = users; self.statuses = statuses
    }

    // MARK: Checks (true when the table is absent: nothing to check against)

    public func knowsAsset(_ value: String) -> Bool {
        assets.isEmpty || assets.contains { $0.id.caseInsensitiveCompare(value) == .orderedSame || $0.number.map(String.init) == value }
    }
    public func knowsAsset(number: Double) -> Bool { assets.isEmpty || assets.contains { $0.number.map(Double.init) == number } }
    public func knowsFunctionalLocation(_ value: String) -> Bool {
        let all = functionalLocations + assets.compactMap(\.functionalLocation)
        return all.isEmpty || all.contains { $0.caseInsensitiveCompare(value) == .orderedSame }
    }
    public func knowsUser(_ value: String) -> Bool {
        users.isEmpty || users.contains { $0.id.caseInsensitiveCompare(value) == .orderedSame || $0.number.map(String.init) == value }
    }
    public func knowsUser(number: Double) -> Bool { users.isEmpty || users.contains { $0.number.map(Double.init) == number } }
    public func knowsCategory(_ value: String) -> Bool { categories.isEmpty || categories.contains { $0.caseInsensitiveCompare(value) == .orderedSame } }
    public func knowsPriority(_ value: String) -> Bool { priorities.isEmpty || priorities.contains(value) }

    // MARK: Loading

    public static func load(path: String) throws -> TenantData {
        try parse(yaml: String(contentsOfFile: path, encoding: .utf8), file: path)
    }

    public static func parse(yaml: String, file: String) throws -> TenantData {
        let root = try MiniYAML.parse(yaml, file: file)
        guard let top = root.objectValue else { throw FieldProblem(field: file, "a tenant file is a mapping (assets:, users:, …)") }
        let known: Set<String> = ["assets", "functional_locations", "categories", "priorities", "users", "statuses"]
        if let bad = top.keys.sorted().first(where: { !known.contains($0) }) {
            throw FieldProblem(field: "\(file): \(bad)", "unknown key; expected one of \(known.sorted().joined(separator: ", "))")
        }
        func strings(_ key: String) throws -> [String] {
            guard let v = top[key], !v.isNull else { return [] }
            guard let a = v.arrayValue else { throw FieldProblem(field: "\(file): \(key)", "must be a list") }
            return try a.map { x in
                guard let s = x.stringOrNumber else { throw FieldProblem(field: "\(file): \(key)", "items must be plain values") }
                return s
            }
        }
        func entries(_ key: String) throws -> [Entry] {
            guard let v = top[key], !v.isNull else { return [] }
            guard let a = v.arrayValue else { throw FieldProblem(field: "\(file): \(key)", "must be a list") }
            return try a.enumerated().map { i, x in
                if let s = x.stringOrNumber { return Entry(id: s) }
                guard let o = x.objectValue, let id = o["id"]?.stringOrNumber, !id.isEmpty else {
                    throw FieldProblem(field: "\(file): \(key)[\(i)]", "needs an id")
                }
                let fields: Set<String> = ["id", "number", "name", "functional_location", "location"]
                if let bad = o.keys.sorted().first(where: { !fields.contains($0) }) {
                    throw FieldProblem(field: "\(file): \(key)[\(i)].\(bad)", "unknown key; expected \(fields.sorted().joined(separator: ", "))")
                }
                var number: Int?
                if let n = o["number"]?.stringOrNumber {
                    guard let v = Int(n) else { throw FieldProblem(field: "\(file): \(key)[\(i)].number", "must be a whole number") }
                    number = v
                }
                return Entry(id: id, number: number, name: o["name"]?.stringOrNumber, functionalLocation: o["functional_location"]?.stringOrNumber,
                             location: o["location"]?.stringOrNumber)
            }
        }
        return TenantData(assets: try entries("assets"), functionalLocations: try strings("functional_locations"), categories: try strings("categories"),
                          priorities: try strings("priorities"), users: try entries("users"), statuses: try strings("statuses"))
    }

    /// A tenant from the plant's asset register (`AssetRegister`, PRODUCT §5): its assets and their
    /// functional locations; the other tables stay unchecked.
    public static func from(register: AssetRegister) -> TenantData {
        let records = register.records.values.sorted { $0.assetId < $1.assetId }
        let assets = records.map { Entry(id: $0.assetId, name: $0.name, functionalLocation: $0.functionalLocation, location: $0.location) }
        return TenantData(assets: assets, functionalLocations: Array(Set(records.compactMap(\.functionalLocation))).sorted())
    }
}

/// The small block-YAML subset tenant files use: mappings, sequences (of scalars or mappings), flow
/// lists `[a, b]`, single- or double-quoted or plain scalars, `#` comments. Scalars stay strings.
enum MiniYAML {
    struct Line { var indent: Int; var text: String; var number: Int }

    static func parse(_ text: String, file: String) throws -> JSONValue {
        var lines: [Line] = []
        for (i, raw) in text.components(separatedBy: "\n").enumerated() {
            let noTab = raw.replacingOccurrences(of: "\r", with: "")
            if noTab.hasPrefix("\t") { throw FieldProblem(field: "\(file):\(i + 1)", "indent with spaces, not tabs") }
            let stripped = stripComment(noTab)
            let trimmed = stripped.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed == "---" { continue }
            lines.append(Line(indent: stripped.prefix { $0 == " " }.count, text: trimmed, number: i + 1))
        }
        guard !lines.isEmpty else { return .object([:]) }
        var i = 0
        let v = try block(&lines, &i, indent: lines[0].indent, file: file)
        if i < lines.count { throw FieldProblem(field: "\(file):\(lines[i].number)", "unexpected indentation") }
        return v
    }

    static func stripComment(_ s: String) -> String {
        var quote: Character?
        var prev: Character = " "
        for (n, c) in s.enumerated() {
            if let q = quote { if c == q { quote = nil } }
            else if c == "'" || c == "\"" { quote = c }
            else if c == "#", prev == " " { return String(s.prefix(n)) }
            prev = c
        }
        return s
    }

    static func block(_ lines: inout [Line], _ i: inout Int, indent: Int, file: String) throws -> JSONValue {
        if lines[i].text == "-" || lines[i].text.hasPrefix("- ") {
            var items: [JSONValue] = []
            while i < lines.count, lines[i].indent == indent, lines[i].text == "-" || lines[i].text.hasPrefix("- ") {
                let rest = String(lines[i].text.dropFirst(1)).trimmingCharacters(in: .whitespaces)
                if rest.isEmpty {
                    i += 1
                    guard i < lines.count, lines[i].indent > indent else { items.append(.null); continue }
                    items.append(try block(&lines, &i, indent: lines[i].indent, file: file))
                } else if keyValue(rest) != nil {
                    // "- key: value": a mapping whose first line sits after the dash.
                    lines[i] = Line(indent: indent + 2, text: rest, number: lines[i].number)
                    items.append(try block(&lines, &i, indent: indent + 2, file: file))
                } else {
                    items.append(try scalar(rest, line: lines[i].number, file: file))
                    i += 1
                }
            }
            return .array(items)
        }
        var map: [String: JSONValue] = [:]
        while i < lines.count, lines[i].indent == indent {
            guard let (key, value) = keyValue(lines[i].text) else { throw FieldProblem(field: "\(file):\(lines[i].number)", "expected 'key: value'") }
            if map[key] != nil { throw FieldProblem(field: "\(file):\(lines[i].number)", "'\(key)' appears twice") }
            let n = lines[i].number
            i += 1
            if !value.isEmpty {
                map[key] = try scalar(value, line: n, file: file)
            } else if i < lines.count, lines[i].indent > indent || (lines[i].indent == indent && lines[i].text.hasPrefix("-")) {
                map[key] = try block(&lines, &i, indent: lines[i].indent, file: file)
            } else {
                map[key] = .null
            }
        }
        return .object(map)
    }

    static func keyValue(_ s: String) -> (String, String)? {
        if s.hasPrefix("\"") || s.hasPrefix("'") || s.hasPrefix("[") { return nil }
        guard let r = s.range(of: ": ") ?? (s.hasSuffix(":") ? s.range(of: ":", options: .backwards) : nil) else { return nil }
        let key = s[..<r.lowerBound].trimmingCharacters(in: .whitespaces)
        guard !key.isEmpty, !key.contains(" ") || key.allSatisfy({ $0 != ":" }) else { return nil }
        return (key, s[r.upperBound...].trimmingCharacters(in: .whitespaces))
    }

    static func scalar(_ s: String, line: Int, file: String) throws -> JSONValue {
        if s.hasPrefix("[") {
            guard s.hasSuffix("]") else { throw FieldProblem(field: "\(file):\(line)", "unclosed flow list") }
            let inner = s.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
            if inner.isEmpty { return .array([]) }
            var parts: [String] = [], cur = "", quote: Character?
            for c in inner {
                if let q = quote { cur.append(c); if c == q { quote = nil } }
                else if c == "'" || c == "\"" { quote = c; cur.append(c) }
                else if c == "," { parts.append(cur); cur = "" }
                else { cur.append(c) }
            }
            parts.append(cur)
            return .array(try parts.map { try scalar($0.trimmingCharacters(in: .whitespaces), line: line, file: file) })
        }
        if s.count >= 2, let f = s.first, (f == "\"" || f == "'"), s.last == f { return .string(String(s.dropFirst().dropLast())) }
        if s == "~" || s == "null" { return .null }
        return .string(s)
    }
}
