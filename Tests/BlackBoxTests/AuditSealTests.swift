import Foundation
import Testing
import MillwrightTesting

/// The sealed audit trail end to end: a trail started without a key and sealed later, serve
/// and `audit checkpoint` writing checkpoints, then the three rewrites someone with the
/// database file (but not the key or the checkpoint file) could try, each on a copy.
@Suite struct AuditSealTests {
    static let keyEnv = ["MW_AUDIT_KEY": "bb-audit-key-0123456789abcdef"]

    /// Edits record `seq` (subject → "forged") and recomputes the plain SHA-256 chain from
    /// there to the end, as any script with the file could.
    static let rewrite = #"""
    import datetime, hashlib, json, math, sqlite3, sys
    db, start = sys.argv[1], int(sys.argv[2])
    c = sqlite3.connect(db)
    c.executescript("DROP TRIGGER IF EXISTS audit_no_update;")
    def iso(t):  # the stored seconds' fraction, truncated to milliseconds
        s = math.floor(t)
        return datetime.datetime.fromtimestamp(s, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + ".%03dZ" % int((t - s) * 1000)
    prev = c.execute("SELECT hash FROM audit WHERE seq = ?", (start - 1,)).fetchone()
    prev = prev[0] if prev else "0" * 64
    for seq, at, kind, subject, data in c.execute("SELECT seq, at, kind, subject, data FROM audit WHERE seq >= ? ORDER BY seq", (start,)).fetchall():
        if seq == start: subject = "forged"
        rec = {"at": iso(at), "data": json.loads(data), "kind": kind, "seq": seq, "subject": subject}
        h = hashlib.sha256((prev + "\n" + json.dumps(rec, sort_keys=True, separators=(",", ":"), ensure_ascii=False)).encode()).hexdigest()
        c.execute("UPDATE audit SET subject = ?, prev_hash = ?, hash = ? WHERE seq = ?", (subject, prev, h, seq))
        prev = h
    c.commit()
    """#

    func python(_ args: [String]) throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        p.arguments = ["-c", Self.rewrite] + args
        try p.run()
        p.waitUntilExit()
        return p.terminationStatus
    }

    func verify(_ db: String, checkpoints: String) async throws -> (status: Int32, output: String) {
        try await Spawned.run(["audit", "verify", "--db", db, "--key-env", "MW_AUDIT_KEY", "--checkpoints", checkpoints],
                              environment: Self.keyEnv)
    }

    func head(_ db: String) throws -> Int {
        Int(try sqlite(db, "SELECT MAX(seq) FROM audit;").first ?? "") ?? 0
    }

    @Test(.timeLimit(.minutes(4))) func sealedTrailCatchesTheThreeRewrites() async throws {
        let emu = try Plant.emulator()
        defer { _ = emu.terminate() }
        let plant = try Plant(cmmsURL: try await emu.listening())

        // A trail that started without a key…
        let plain = try plant.serve()
        var api = API(base: try await plain.listening())
        #expect(try await api.post("/v1/detections", json: (0..<3).map { detection("p\($0)", defect: "p\($0)") }, key: "ingest-key").status == 202)
        #expect(plain.terminate() == 0)
        let plainRecords = try head(plant.dbPath)
        #expect(plainRecords > 3)

        // …and then got one.
        let keyed = plant.dir + "/keyed.yaml"
        let checkpoints = plant.dir + "/data/audit.checkpoints"
        try (String(contentsOfFile: plant.configPath, encoding: .utf8) + "audit: { key_env: MW_AUDIT_KEY, checkpoint_every: 1h }\n")
            .write(toFile: keyed, atomically: true, encoding: .utf8)
        let server = try Spawned(["serve", "--config", keyed], name: "serve", environment: Plant.keys.merging(Self.keyEnv) { $1 })
        api = API(base: try await server.listening())
        for batch in 0..<4 {
            #expect(try await api.post("/v1/detections", json: (0..<10).map { detection("k\(batch)-\($0)", defect: "k\(batch)-\($0)") }, key: "ingest-key").status == 202)
        }
        #expect(server.terminate() == 0)
        let cp = try await Spawned.run(["audit", "checkpoint", "--config", keyed], environment: Plant.keys.merging(Self.keyEnv) { $1 })
        #expect(cp.status == 0, "\(cp.output)")
        let n = try head(plant.dbPath)
        #expect(cp.output.contains("checkpoint: record \(n) (\(n) record(s))"), "\(cp.output)")
        #expect(n > plainRecords + 101)
        // Serve wrote one at start and one at shutdown; the command, one more.
        let lines = try String(contentsOfFile: checkpoints, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 3, "\(lines)")
        #expect(lines.last?.contains("\"seq\":\(n)") == true)

        // Sealed now: the old, keyless configuration may not extend it.
        let refused = try await Spawned.run(["serve", "--config", plant.configPath], environment: Plant.keys)
        #expect(refused.status == 2)
        #expect(refused.output.contains("the audit trail is sealed with a key from record \(plainRecords + 1) on"), "\(refused.output)")

        let ok = try await Spawned.run(["audit", "verify", "--config", keyed], environment: Plant.keys.merging(Self.keyEnv) { $1 })
        #expect(ok.status == 0, "\(ok.output)")
        #expect(ok.output.contains("ok: \(n) audit record(s) verified, chain intact"), "\(ok.output)")
        #expect(ok.output.contains("sealed: HMAC-SHA256 from record \(plainRecords + 1)"), "\(ok.output)")
        #expect(ok.output.contains("checkpoints: 3 match"), "\(ok.output)")

        // Copies beside the original, so each finds the same evidence folder.
        func copy(_ name: String) throws -> String {
            let path = plant.dir + "/data/\(name).sqlite"
            _ = try sqlite(plant.dbPath, ".backup '\(path)'")
            return path
        }

        let untouched = try copy("untouched")
        let same = try await verify(untouched, checkpoints: checkpoints)
        #expect(same.status == 0, "\(same.output)")

        // A checkpoint line altered (here: claiming fewer records) is reported itself.
        let forgedFile = plant.dir + "/data/forged.checkpoints"
        try lines.enumerated().map { i, l in i == 1 ? l.replacingOccurrences(of: "\"records\":\(n)", with: "\"records\":\(n - 1)") : String(l) }
            .joined(separator: "\n").write(toFile: forgedFile, atomically: true, encoding: .utf8)
        let f = try await verify(untouched, checkpoints: forgedFile)
        #expect(f.status == 1)
        #expect(f.output.contains("BROKEN checkpoint \(forgedFile):2: checkpoint seq \(n)"), "\(f.output)")
        #expect(f.output.contains("HMAC does not match"), "\(f.output)")

        let truncated = try copy("truncated")
        _ = try sqlite(truncated, "DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE seq > \(n - 100);")
        let t = try await verify(truncated, checkpoints: checkpoints)
        #expect(t.status == 1)
        #expect(t.output.contains("BROKEN at record \(n - 99): missing"), "\(t.output)")

        let emptied = try copy("emptied")
        _ = try sqlite(emptied, "DROP TRIGGER audit_no_delete; DELETE FROM audit;")
        let e = try await verify(emptied, checkpoints: checkpoints)
        #expect(e.status == 1)
        #expect(e.output.contains("BROKEN at record 1: missing"), "\(e.output)")

        let edited = try copy("edited")
        #expect(try python([edited, "\(n - 10)"]) == 0)
        let d = try await verify(edited, checkpoints: checkpoints)
        #expect(d.status == 1)
        #expect(d.output.contains("BROKEN at record \(n - 10): content does not match its HMAC"), "\(d.output)")

        // The same script rewriting from before the key gets every plain record right, and
        // still fails at the first sealed one: the recomputation is faithful, the key is missing.
        let early = try copy("early")
        #expect(try python([early, "2"]) == 0)
        let x = try await verify(early, checkpoints: checkpoints)
        #expect(x.status == 1)
        #expect(x.output.contains("BROKEN at record \(plainRecords + 1): content does not match its HMAC"), "\(x.output)")
    }

    @Test(.timeLimit(.minutes(2))) func serveCheckpointsOnItsTimer() async throws {
        let emu = try Plant.emulator()
        defer { _ = emu.terminate() }
        let plant = try Plant(cmmsURL: try await emu.listening(),
                              extra: "audit: { key_env: MW_AUDIT_KEY, checkpoints: ./shipped/audit.log, checkpoint_every: 1s }")
        let server = try Spawned(["serve", "--config", plant.configPath], name: "serve", environment: Plant.keys.merging(Self.keyEnv) { $1 })
        let api = API(base: try await server.listening())
        #expect(try await api.post("/v1/detections", json: [detection("t1")], key: "ingest-key").status == 202)
        // The start checkpoint covers only the seal record; a later one, while serve runs, is the timer's.
        let file = plant.dir + "/shipped/audit.log"
        try await API.eventually("a timed checkpoint after the detection") {
            let lines = (try? String(contentsOfFile: file, encoding: .utf8))?.split(separator: "\n") ?? []
            return lines.count >= 2 && !(lines.last?.contains("\"seq\":1,") ?? true)
        }
        #expect(server.terminate() == 0)
        let ok = try await Spawned.run(["audit", "verify", "--config", plant.configPath], environment: Plant.keys.merging(Self.keyEnv) { $1 })
        #expect(ok.status == 0, "\(ok.output)")
        #expect(ok.output.contains("sealed: HMAC-SHA256 from record 1\n"), "\(ok.output)")
    }

    @Test func serveStopsAtStartWhenTheCheckpointFileCannotBeWritten() async throws {
        let plant = try Plant(cmmsURL: "http://127.0.0.1:9", extra: "audit: { key_env: MW_AUDIT_KEY, checkpoints: ./assets.csv/audit.checkpoints }")
        let r = try await Spawned.run(["serve", "--config", plant.configPath], environment: Plant.keys.merging(Self.keyEnv) { $1 })
        #expect(r.status == 2, "\(r.output)")
        #expect(r.output.contains("audit error: audit checkpoints \(plant.dir)/assets.csv/audit.checkpoints: cannot create its folder"), "\(r.output)")
        #expect(!r.output.contains(Self.keyEnv["MW_AUDIT_KEY"]!))
    }

    @Test func withoutAKeyVerifySaysWhatItCannotCatch() async throws {
        let plant = try Plant(cmmsURL: "http://127.0.0.1:9")
        try FileManager.default.createDirectory(atPath: plant.dir + "/data", withIntermediateDirectories: true)
        _ = try sqlite(plant.dbPath, "CREATE TABLE placeholder (x);")
        let r = try await Spawned.run(["audit", "verify", "--config", plant.configPath], environment: Plant.keys)
        #expect(r.status == 0, "\(r.output)")
        #expect(r.output.contains("tamper-evident only against accidental edits, not against someone who can rewrite the database"), "\(r.output)")
    }
}
