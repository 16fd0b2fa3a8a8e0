import Foundation

public struct AssetRecord: Sendable, Equatable {
    public var assetId: String
    public var name: String?
    public var location: String?
    public var functionalLocation: String?
    public var criticality: Criticality?
    public var area: String?
    /// Selects the repair procedure (`conveyor-pulley`, `weld-seam`): column `asset_class` or `class`.
    public var assetClass: String?
    /// 1-based line in the CSV file.
    public var line: Int

    public init(assetId: String, name: String? = nil, location: String? = nil, functionalLocation: String? = nil,
                criticality: Criticality? = nil, area: String? = nil, line: Int) {
        self.assetId = assetId; self.name = name; self.location = location; self.functionalLocation = functionalLocation
        self.criticality = criticality; self.area = area; self.line = line
    }
}

/// The CMMS asset register export (PRODUCT §5): header row, `asset_id` required; other
/// columns are ignored so a raw export works.
public struct AssetRegister: Sendable {
    public var records: [String: AssetRecord] = [:]
    /// Ids that appear more than once, with every line they are on.
    public var duplicates: [String: [Int]] = [:]

    public init(records: [AssetRecord]) {
        for r in records {
            if let first = self.records[r.assetId] {
                duplicates[r.assetId, default: [first.line]].append(r.line)
            } else {
                self.records[r.assetId] = r
            }
        }
    }

    public static func parse(csv text: String, file: String) throws(FieldProblem) -> AssetRegister {
        let rows = CSV.parse(text)
        guard let header = rows.first else { throw FieldProblem(field: file, "is empty; expected a header row with asset_id") }
        let names = header.fields.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard let idCol = names.firstIndex(of: "asset_id") else {
            throw FieldProblem(field: file, "line \(header.line): no asset_id column (found: \(names.joined(separator: ", ")))")
        }
        func col(_ n: String) -> Int? { names.firstIndex(of: n) }
        let nameCol = col("name"), locCol = col("location"), flCol = col("functional_location")
        let critCol = col("criticality"), areaCol = col("area"), classCol = col("asset_class") ?? col("class")
        var records: [AssetRecord] = []
        for row in rows.dropFirst() {
            func value(_ i: Int?) -> String? {
                guard let i, i < row.fields.count else { return nil }
                let v = row.fields[i].trimmingCharacters(in: .whitespaces)
                return v.isEmpty ? nil : v
            }
            guard let id = value(idCol) else {
                if row.fields.allSatisfy({ $0.trimmingCharacters(in: .whitespaces).isEmpty }) { continue }
                throw FieldProblem(field: file, "line \(row.line): asset_id is empty")
            }
            records.append(AssetRecord(assetId: id, name: value(nameCol), location: value(locCol),
                                       functionalLocation: value(flCol),
                                       criticality: value(critCol).flatMap { Criticality(rawValue: $0.uppercased()) },
                                       area: value(areaCol), line: row.line))
            records[records.count - 1].assetClass = value(classCol)
        }
        return AssetRegister(records: records)
    }
}

/// RFC 4180 CSV with quoted fields, embedded commas, quotes and newlines; keeps line numbers.
/// A byte-order mark before the first field is skipped.
public enum CSV {
    public struct Row: Sendable { public var fields: [String]; public var line: Int }

    /// Bounds for a file a client sent: a field's bytes and the number of rows.
    public struct Limits: Sendable {
        public var maxFieldBytes: Int
        public var maxRows: Int
        public init(maxFieldBytes: Int, maxRows: Int) { self.maxFieldBytes = maxFieldBytes; self.maxRows = maxRows }
    }

    /// Where a bounded parse stopped, and why.
    public struct Problem: Error, Sendable, Equatable {
        public enum Kind: Sendable, Equatable { case fieldTooLong, tooManyRows, unclosedQuote }
        public var kind: Kind
        public var line: Int
        public var detail: String
    }

    /// Reads everything; an unclosed quote runs to the end of the text.
    public static func parse(_ text: String) -> [Row] {
        (try? rows(text, limits: nil)) ?? []
    }

    /// Stops at the first field or row past `limits`, and refuses an unclosed quote.
    public static func parse(_ text: String, limits: Limits) throws(Problem) -> [Row] {
        try rows(text, limits: limits)
    }

    private static func rows(_ text: String, limits: Limits?) throws(Problem) -> [Row] {
        var rows: [Row] = []
        var field = "", fields: [String] = []
        var fieldBytes = 0
        var inQuotes = false, line = 1, rowLine = 1
        var chars = Array(text.replacingOccurrences(of: "\r\n", with: "\n")).makeIterator()
        var pending: Character? = nil
        func next() -> Character? { if let p = pending { pending = nil; return p }; return chars.next() }
        func append(_ c: Character) throws(Problem) {
            if let limits {
                fieldBytes += c.utf8.count
                guard fieldBytes <= limits.maxFieldBytes else {
                    throw Problem(kind: .fieldTooLong, line: rowLine, detail: "a field is longer than \(limits.maxFieldBytes) bytes (an unclosed quote?)")
                }
            }
            field.append(c)
        }
        func endField() { fields.append(field); field = ""; fieldBytes = 0 }
        func endRow() throws(Problem) {
            endField()
            rows.append(Row(fields: fields, line: rowLine))
            fields = []
            if let limits, rows.count > limits.maxRows {
                throw Problem(kind: .tooManyRows, line: rowLine, detail: "more than \(limits.maxRows) rows; split the file into several")
            }
        }
        while let c = next() {
            if inQuotes {
                if c == "\"" {
                    if let n = next() { if n == "\"" { try append("\"") } else { inQuotes = false; pending = n } }
                    else { inQuotes = false }
                } else {
                    if c == "\n" { line += 1 }
                    try append(c)
                }
            } else if c == "\"" && field.isEmpty {
                inQuotes = true
            } else if c == "," {
                endField()
            } else if c == "\n" {
                try endRow()
                line += 1; rowLine = line
            } else {
                try append(c)
            }
        }
        if inQuotes, limits != nil { throw Problem(kind: .unclosedQuote, line: rowLine, detail: "a quoted field is not closed") }
        if !field.isEmpty || !fields.isEmpty { try endRow() }
        if let first = rows.first?.fields.first, first.hasPrefix("\u{FEFF}") {
            rows[0].fields[0] = String(first.dropFirst())
        }
        return rows
    }
}

/// `millwright assets validate`: every problem that would orphan a work order.
public struct AssetValidationIssue: Sendable, Equatable {
    public enum Kind: String, Sendable { case missing, duplicate, mismatched, unmapped, duplicateCamera = "duplicate_camera" }
    public var kind: Kind
    public var message: String
}

public enum AssetValidation {
    public static func check(cameras: [CameraMapping], register: AssetRegister?, registerFile: String,
                             configFile: String, knownCMMS: [String], seenCameras: [String] = []) -> [AssetValidationIssue] {
        var issues: [AssetValidationIssue] = []
        var seen: [String: Int?] = [:]
        for cam in cameras {
            let at = cam.line.map { "\(configFile):\($0)" } ?? configFile
            if let previous = seen[cam.camera] {
                issues.append(.init(kind: .duplicateCamera, message: "\(at): camera \(cam.camera) is mapped twice (first at line \(previous.map(String.init) ?? "?"))"))
            }
            seen[cam.camera] = cam.line
            if let cmms = cam.cmms, !knownCMMS.contains(cmms) {
                issues.append(.init(kind: .mismatched, message: "\(at): camera \(cam.camera) names cmms '\(cmms)', which is not configured (have: \(knownCMMS.joined(separator: ", ")))"))
            }
            guard let register else { continue }
            for (zone, asset) in [("", cam.asset)] + cam.zones.sorted(by: { $0.key < $1.key }).map({ ($0.key, $0.value) }) {
                let what = zone.isEmpty ? "asset" : "zone \(zone) asset"
                guard let rec = register.records[asset] else {
                    issues.append(.init(kind: .missing, message: "\(at): camera \(cam.camera) \(what) \(asset) is not in \(registerFile)"))
                    continue
                }
                if let dupLines = register.duplicates[asset] {
                    issues.append(.init(kind: .duplicate, message: "\(registerFile): asset \(asset) appears on lines \(dupLines.map(String.init).joined(separator: ", "))"))
                }
                if zone.isEmpty, let crit = rec.criticality, crit != cam.criticality {
                    issues.append(.init(kind: .mismatched, message: "\(at): camera \(cam.camera) says criticality \(cam.criticality.rawValue) but \(registerFile):\(rec.line) says \(crit.rawValue) for asset \(asset)"))
                }
            }
        }
        for camera in Set(seenCameras).subtracting(seen.keys).sorted() {
            issues.append(.init(kind: .unmapped, message: "camera \(camera) sent detections but has no mapping in \(configFile)"))
        }
        return issues
    }
}
