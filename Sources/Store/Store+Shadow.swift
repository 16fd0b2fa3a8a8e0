import Foundation
import MillwrightCore

/// What an import of the manual inspection log did.
public struct ManualLogImport: Sendable, Equatable, Encodable {
    public var rows: Int
    public var imported: Int
    /// Rows already stored by an earlier import (same time, asset, defect and finder).
    public var duplicates: Int
    public init(rows: Int, imported: Int, duplicates: Int) { self.rows = rows; self.imported = imported; self.duplicates = duplicates }
}

/// What the shadow report reads, bounded; Core lines it up (`ShadowReport`).
public struct ShadowFacts: Sendable {
    public var findings: [ManualFinding]
    public var incidents: [ShadowIncident]
    public var tallies: [DetectionTally]
    public var truncated: Bool
}

public enum ShadowMode: String, Sendable, CaseIterable {
    /// Incidents decided in shadow mode: what would have been created.
    case shadow
    /// Incidents that went to the CMMS, for the same comparison after go-live.
    case live
}

/// The plant's manual inspection log, and the reads behind the shadow report.
public protocol ShadowStore: Sendable {
    func importManualLog(_ findings: [ManualFinding], fileSHA256: String, by: String, now: Date) async throws -> ManualLogImport
    func shadowFacts(since: Date, until: Date, maxLead: TimeInterval, maxLag: TimeInterval, mode: ShadowMode, limit: Int) async throws -> ShadowFacts
}

extension Store: ShadowStore {
    /// One transaction with its audit record: a file is imported whole or not at all, and
    /// importing it again adds nothing.
    public func importManualLog(_ findings: [ManualFinding], fileSHA256: String, by: String, now: Date = Date()) async throws -> ManualLogImport {
        try await auditedWrite { db in
            var imported = 0
            for f in findings {
                imported += try db.run("""
                    INSERT INTO manual_findings (found_at, date_only, asset, defect_class, found_by, notes, source_line, file_sha256, imported_at, imported_by)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (found_at, asset, defect_class, found_by) DO NOTHING
                    """, [f.foundAt.dbValue, f.dateOnly ? 1 : 0, f.asset, f.defectClass, f.foundBy, f.notes, f.line, fileSHA256, now.dbValue, by])
            }
            let result = ManualLogImport(rows: findings.count, imported: imported, duplicates: findings.count - imported)
            try db.audit(kind: "shadow.manual_log", subject: "manual-log:\(fileSHA256)", data: [
                "rows": .number(Double(result.rows)), "imported": .number(Double(result.imported)),
                "duplicates": .number(Double(result.duplicates)), "by": .string(by),
            ], at: now)
            return result
        }
    }

    public func shadowFacts(since: Date, until: Date, maxLead: TimeInterval, maxLag: TimeInterval, mode: ShadowMode, limit: Int) async throws -> ShadowFacts {
        let from = since.addingTimeInterval(-maxLead), to = until.addingTimeInterval(maxLag)
        return try await read { db in
            let findingRows = try db.rows("""
                SELECT found_at, date_only, asset, defect_class, found_by, notes, source_line FROM manual_findings
                WHERE found_at >= ? AND found_at <= ? ORDER BY found_at, id LIMIT ?
                """, [since.dbValue, until.dbValue, limit + 1])
            let findings = findingRows.prefix(limit).map { r in
                ManualFinding(foundAt: Date(db: r["found_at"]), dateOnly: (r["date_only"] as Int) != 0, asset: r["asset"], defectClass: r["defect_class"],
                              foundBy: r["found_by"], notes: r["notes"], line: r["source_line"])
            }
            let incidentRows = try db.rows("""
                SELECT id, asset, defect_class, camera_id, first_seen, shadow FROM incidents
                WHERE first_seen >= ? AND first_seen <= ? AND shadow = ? ORDER BY first_seen, id LIMIT ?
                """, [from.dbValue, to.dbValue, mode == .shadow ? 1 : 0, limit + 1])
            // The latest verdict wins, as in quality analytics.
            var verdicts: [String: Verdict] = [:]
            for r in try db.rows("""
                SELECT f.incident_id, f.verdict FROM feedback f JOIN incidents i ON i.id = f.incident_id
                WHERE i.first_seen >= ? AND i.first_seen <= ? AND i.shadow = ? ORDER BY f.id
                """, [from.dbValue, to.dbValue, mode == .shadow ? 1 : 0]) {
                if let v = Verdict(rawValue: r["verdict"]) { verdicts[r["incident_id"]] = v }
            }
            let incidents = incidentRows.prefix(limit).map { r -> ShadowIncident in
                let id: String = r["id"]
                return ShadowIncident(id: id, asset: r["asset"], defectClass: r["defect_class"], camera: r["camera_id"],
                                      firstSeen: Date(db: r["first_seen"]), shadow: (r["shadow"] as Int) != 0, verdict: verdicts[id])
            }
            // Grouped, so bounded by the register and the classes, not by the detections.
            var tallies: [String: DetectionTally] = [:]
            for r in try db.rows("""
                SELECT asset, defect_class, status, COUNT(*) AS n FROM detections
                WHERE ts >= ? AND ts <= ? AND asset IS NOT NULL GROUP BY asset, defect_class, status
                """, [from.dbValue, to.dbValue]) {
                let asset: String = r["asset"], defectClass: String = r["defect_class"]
                let key = asset + "\u{0}" + defectClass
                tallies[key, default: DetectionTally(asset: asset, defectClass: defectClass, byStatus: [:])].byStatus[r["status"]] = r["n"] as Int
            }
            return ShadowFacts(findings: Array(findings), incidents: Array(incidents),
                               tallies: tallies.values.sorted { ($0.asset, $0.defectClass) < ($1.asset, $1.defectClass) },
                               truncated: findingRows.count > limit || incidentRows.count > limit)
        }
    }
}
