import Foundation
import MillwrightCore

extension Store {
    /// Records an operational warning (e.g. the MQTT broker lost our session) in the audit trail.
    public func recordAlert(kind: String, subject: String, data: [String: JSONValue], now: Date = Date()) async throws {
        try await auditedWrite { db in try db.audit(kind: kind, subject: subject, data: data, at: now) }
    }
}
