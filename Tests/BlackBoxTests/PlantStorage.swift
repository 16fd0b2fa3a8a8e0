import Foundation
import MillwrightTesting
import Testing

/// Where a black-box plant keeps its data: a SQLite file in the plant's folder, or a fresh
/// schema of the suite's shared PostgreSQL server (`@Suite(.sharedPostgres)`). A test taking
/// `PlantStorage.allCases` as arguments runs once on each, with the same assertions.
enum PlantStorage: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite, postgres

    var testDescription: String { rawValue }

    /// The storage section and environment for a new plant; for PostgreSQL a schema no other
    /// test uses (the gateway creates it on connect). Several plants may share one database.
    func database() throws -> PlantDatabase {
        switch self {
        case .sqlite:
            return PlantDatabase(storage: self, section: "{ sqlite: ./data/millwright.sqlite }", environment: [:], postgres: nil)
        case .postgres:
            let server = try SharedPostgres.current()
            let schema = server.settings().schema
            return PlantDatabase(storage: self, section: "{ postgres: { url_env: MW_PG_URL, schema: \(schema), pool: 8 } }",
                                 environment: ["MW_PG_URL": server.url], postgres: (server, schema))
        }
    }
}

/// One plant's database, and storage-neutral reads of it for assertions.
struct PlantDatabase: @unchecked Sendable {
    let storage: PlantStorage
    /// The `storage:` section of the plant's config.
    let section: String
    /// What every `serve` needs in its environment (the PostgreSQL URL).
    let environment: [String: String]
    let postgres: (server: PostgresServer, schema: String)?

    /// A plant (see `Plant.init`) on this database, its work-order claims leased for `lease`.
    ///
    /// On a shared database a node restarted after kill -9 is a new node (host and pid), so
    /// the work orders its previous process had in flight wait for their lease to run out
    /// before any node looks them up: with the default two minutes the PostgreSQL kill -9
    /// test took 128 s instead of 35 s. SQLite takes every claim back at start.
    func plant(cmmsURL: String, extra: String = "", lease: String = "10s") throws -> Plant {
        let plant = try Plant(cmmsURL: cmmsURL, extra: extra, storage: section, environment: environment)
        let config = try String(contentsOfFile: plant.configPath, encoding: .utf8)
        let dispatch = "dispatch: { max_attempts:"
        guard config.contains(dispatch) else { throw TestFailure("no '\(dispatch)' in \(plant.configPath) to add the lease to") }
        try config.replacingOccurrences(of: dispatch, with: "dispatch: { lease: \(lease), max_attempts:")
            .write(toFile: plant.configPath, atomically: true, encoding: .utf8)
        return plant
    }

    /// The first column of each row `sql` returns, as with `sqlite(plant.dbPath, sql)`. The
    /// SQL must be valid on both SQLite and PostgreSQL.
    func rows(_ plant: Plant, _ sql: String) throws -> Set<String> {
        guard let (server, schema) = postgres else { return try sqlite(plant.dbPath, sql) }
        return try psql(server, "SET search_path TO \(schema); \(sql)")
    }

    /// A single number (`SELECT COUNT(*) …`).
    func count(_ plant: Plant, _ sql: String) throws -> Int {
        let r = try rows(plant, sql)
        guard r.count == 1, let n = r.first.flatMap({ Int($0) }) else { throw TestFailure("\(storage): '\(sql)' returned \(r), not one number") }
        return n
    }
}

/// Runs `sql` with the server's own psql (unaligned, tuples only, quiet) and returns the
/// output lines; a failing statement throws with psql's message.
func psql(_ server: PostgresServer, _ sql: String) throws -> Set<String> {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: server.binDirectory + "/psql")
    p.arguments = ["-h", "127.0.0.1", "-p", String(server.port), "-U", server.user, "-d", server.database,
                   "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql]
    var env = ProcessInfo.processInfo.environment
    env["PGCONNECT_TIMEOUT"] = "10"
    p.environment = env
    let out = Pipe()
    p.standardOutput = out
    // psql's messages go to a file: only stdout is a pipe that must be drained while it runs.
    let errPath = FileManager.default.temporaryDirectory.appendingPathComponent("psql-\(UUID().uuidString.prefix(8)).err").path
    _ = FileManager.default.createFile(atPath: errPath, contents: nil)
    defer { try? FileManager.default.removeItem(atPath: errPath) }
    p.standardError = FileHandle(forWritingAtPath: errPath)
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    let stderr = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
    guard p.terminationStatus == 0 else { throw TestFailure("psql failed (\(p.terminationStatus)) on '\(sql)': \(stderr)") }
    return Set(String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init))
}
