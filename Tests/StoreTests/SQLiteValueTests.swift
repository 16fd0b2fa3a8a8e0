import Foundation
import MillwrightCore
import Store
import Testing

/// What goes into SQLite comes back byte for byte: text is bound and read by its length, so a
/// NUL inside a value neither cuts it nor stops a lookup by it.
struct SQLiteValueTests {
    func backend() throws -> SQLiteBackend {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mw-values-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return try SQLiteBackend(path: dir + "/store.db", auditSeal: AuditSeal(key: nil))
    }

    @Test func textWithANulRoundTripsAndIsFoundByItself() async throws {
        let db = try backend()
        let values: [SQLValue] = [.text("WO\u{0}-17"), .text(""), .text("crack \u{1F6A8}"), .blob(Data([0, 1, 0, 255])), .blob(Data()),
                                  .integer(-42), .real(0.5), .null]
        try await db.write { s in
            try s.run("CREATE TABLE value_probe (n INTEGER PRIMARY KEY, v)", [])
            for (n, v) in values.enumerated() { try s.run("INSERT INTO value_probe (n, v) VALUES (?, ?)", SQLArguments([.integer(Int64(n)), v])) }
        }
        let stored = try await db.read { s in try s.rows("SELECT v FROM value_probe ORDER BY n", []).map { $0.value("v") } }
        #expect(stored == values)
        let found = try await db.read { s in
            try s.rows("SELECT n, length(CAST(v AS BLOB)) AS bytes FROM value_probe WHERE v = ?", SQLArguments([.text("WO\u{0}-17")]))
        }
        #expect(found.map { $0.value("n") } == [.integer(0)])
        #expect(found.map { $0.value("bytes") } == [.integer(6)])
        // The prefix before the NUL is another value, not the same one.
        let prefix = try await db.read { s in try s.rows("SELECT n FROM value_probe WHERE v = ?", SQLArguments([.text("WO")])) }
        #expect(prefix.isEmpty)
    }
}
