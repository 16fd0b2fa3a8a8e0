import Foundation
import Testing
import MillwrightTesting

@Suite struct CLITests {
    @Test func configErrorsExit2WithFileLineAndKey() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mw-cli-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try "server:\n  port: 8080\ndefects:\n  crack:\n    min_confidence: 1.7\n".write(toFile: dir + "/bad.yaml", atomically: true, encoding: .utf8)
        let r = try await Spawned.run(["serve", "--config", dir + "/bad.yaml"])
        #expect(r.status == 2)
        #expect(r.output.contains("bad.yaml:5: defects.crack.min_confidence: must be between 0.0 and 1.0"), "\(r.output)")
    }

    @Test func assetsValidateReportsLinesAndExits1() async throws {
        let plant = try Plant(cmmsURL: "http://127.0.0.1:9")
        let r = try await Spawned.run(["assets", "validate", "--config", plant.configPath], environment: Plant.keys)
        #expect(r.status == 1)
        #expect(r.output.contains("missing: \(plant.configPath):17: camera CAM-05 asset 99999999 is not in"), "\(r.output)")
        #expect(r.output.contains("1 problem(s) in 3 camera mapping(s)"), "\(r.output)")
    }

    /// Checking the mapping or replaying in shadow mode talks to no CMMS: no secrets needed.
    @Test func assetsValidateAndShadowReplayNeedNoSecrets() async throws {
        let plant = try Plant(cmmsURL: "http://127.0.0.1:9")
        let v = try await Spawned.run(["assets", "validate", "--config", plant.configPath])
        #expect(v.status == 1, "\(v.output)")
        #expect(v.output.contains("1 problem(s) in 3 camera mapping(s)"), "\(v.output)")
        let file = plant.dir + "/shift.jsonl"
        let line = try JSONSerialization.data(withJSONObject: detection("r-1"))
        try (String(decoding: line, as: UTF8.self) + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let r = try await Spawned.run(["replay", file, "--config", plant.configPath, "--shadow"])
        #expect(r.status == 0, "\(r.output)")
        #expect(r.output.contains("1 accepted"), "\(r.output)")
        // Serving does need them, and says which one is missing.
        let s = try await Spawned.run(["serve", "--config", plant.configPath])
        #expect(s.status == 2)
        #expect(s.output.contains("is not set"), "\(s.output)")
    }

    @Test func auditVerifyCatchesTampering() async throws {
        let emu = try Plant.emulator()
        let cmms = API(base: try await emu.listening())
        let plant = try Plant(cmmsURL: cmms.base)
        let server = try plant.serve()
        let api = API(base: try await server.listening())
        #expect(try await api.post("/v1/detections", json: (0..<5).map { detection("a\($0)", defect: "d\($0)") }, key: "ingest-key").status == 202)
        #expect(server.terminate() == 0)
        _ = emu.terminate()
        let ok = try await Spawned.run(["audit", "verify", "--db", plant.dbPath])
        #expect(ok.status == 0, "\(ok.output)")
        #expect(ok.output.contains("chain intact"))
        _ = try sqlite(plant.dbPath, "DROP TRIGGER audit_no_update; UPDATE audit SET subject = 'forged' WHERE seq = 3;")
        let bad = try await Spawned.run(["audit", "verify", "--db", plant.dbPath])
        #expect(bad.status == 1)
        #expect(bad.output.contains("BROKEN at record 3"), "\(bad.output)")
    }

    @Test func everyCommandTeaches() async throws {
        for cmd in [["--help"], ["demo", "--help"], ["serve", "--help"], ["emulate", "--help"], ["assets", "validate", "--help"], ["audit", "verify", "--help"], ["audit", "checkpoint", "--help"],
                    ["check-connection", "--help"], ["replay", "--help"], ["bench", "--help"]] {
            let r = try await Spawned.run(cmd)
            #expect(r.status == 0, "\(cmd)")
            #expect(r.output.contains("USAGE"), "\(cmd): \(r.output)")
        }
    }

    @Test(.timeLimit(.minutes(2))) func demoRunsTheWholeLoop() async throws {
        let r = try await Spawned.run(["demo"])
        #expect(r.status == 0, "\(r.output)")
        #expect(r.output.contains("work orders created"))
        #expect(r.output.contains(", 0 duplicate(s)"))
        #expect(r.output.contains("chain intact"))
    }
}
