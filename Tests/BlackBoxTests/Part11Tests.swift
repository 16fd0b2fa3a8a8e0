import Foundation
import MillwrightTesting
import Testing

/// 21 CFR Part 11 end to end: users made with the CLI, a login, a regulated verdict that
/// needs a signature with a re-entered password, the lockout, and an export an inspector
/// can re-verify.
@Suite struct Part11Tests {
    static let auditKey = ["MW_AUDIT_KEY": "a-test-audit-key-of-32-bytes-long!"]

    func addUser(_ plant: Plant, _ name: String, role: String, fullName: String, password: String) async throws -> (status: Int32, output: String) {
        try await Spawned.run(["users", "add", name, "--role", role, "--full-name", fullName, "--config", plant.configPath],
                              environment: Plant.keys.merging(Self.auditKey) { $1 }.merging(["MW_NEW_PASSWORD": password]) { $1 })
    }

    func problemType(_ r: API.Reply) -> String { (r.object["type"] as? String)?.components(separatedBy: "/").last ?? "" }

    @Test(.timeLimit(.minutes(3))) func aVerdictNeedsASignatureAndTheExportReverifies() async throws {
        let emu = try Plant.emulator()
        let cmms = API(base: try await emu.listening())
        defer { _ = emu.terminate() }
        let plant = try Plant(cmmsURL: cmms.base, extra: "compliance: { part11: true }\naudit: { key_env: MW_AUDIT_KEY }", environment: Self.auditKey)

        let weak = try await addUser(plant, "jdoe", role: "operator", fullName: "Jane Doe", password: "password")
        #expect(weak.status == 2)
        #expect(weak.output.contains("at least 12 characters"), "\(weak.output)")
        #expect(try await addUser(plant, "jdoe", role: "operator", fullName: "Jane Doe", password: "Correct-Horse-42").status == 0)
        #expect(try await addUser(plant, "mallory", role: "operator", fullName: "Mal Lory", password: "Battery-Staple-7").status == 0)
        #expect(try await addUser(plant, "vic", role: "viewer", fullName: "Vic Viewer", password: "Viewer-Only-2026").status == 0)

        let server = try plant.serve()
        let api = API(base: try await server.listening())
        #expect(try await api.post("/v1/detections", json: [detection("p11-1")], key: "ingest-key").status == 202)
        var incident = ""
        try await API.eventually("an incident with its work order in the CMMS") {
            let first = (try await api.get("/v1/incidents").object["items"] as? [[String: Any]])?.first
            incident = first?["id"] as? String ?? ""
            return (first?["work_order"] as? [String: Any])?["cmms_id"] as? String != nil
        }

        // An operator key alone may no longer decide.
        let unsigned = try await api.post("/v1/incidents/\(incident)/feedback", json: ["verdict": "false_positive"], key: "operator-key")
        #expect(unsigned.status == 403)
        #expect(problemType(unsigned) == "signature-required")

        let login = try await api.post("/v1/login", json: ["user": "jdoe", "password": "Correct-Horse-42"], key: nil)
        #expect(login.status == 200, "\(String(decoding: login.body, as: UTF8.self))")
        let token = try #require(login.object["token"] as? String)
        #expect(login.object["full_name"] as? String == "Jane Doe")

        // Inside the session the password is asked again, and checked.
        let wrong = try await api.post("/v1/incidents/\(incident)/feedback", json: [
            "verdict": "false_positive", "signature": ["user": "jdoe", "password": "not-it", "meaning": "reviewed"],
        ], key: token)
        #expect(wrong.status == 401)
        #expect(problemType(wrong) == "signature-rejected")
        let notMine = try await api.post("/v1/incidents/\(incident)/feedback", json: [
            "verdict": "false_positive", "signature": ["user": "mallory", "password": "Battery-Staple-7", "meaning": "reviewed"],
        ], key: token)
        #expect(problemType(notMine) == "signer-mismatch")
        // An operator's key with a viewer's signature: the signer may not decide (§11.10(g)).
        let viewerSigned = try await api.post("/v1/incidents/\(incident)/feedback", json: [
            "verdict": "false_positive", "signature": ["user": "vic", "password": "Viewer-Only-2026", "meaning": "reviewed"],
        ], key: "operator-key")
        #expect(problemType(viewerSigned) == "signer-not-authorized")
        let signed = try await api.post("/v1/incidents/\(incident)/feedback", json: [
            "verdict": "false_positive", "by": "someone else", "signature": ["user": "jdoe", "password": "Correct-Horse-42", "meaning": "reviewed"],
        ], key: token)
        #expect(signed.status == 200, "\(String(decoding: signed.body, as: UTF8.self))")
        let signatures = try #require(signed.object["signatures"] as? [[String: Any]])
        #expect(signatures.count == 1)
        #expect(signatures.first?["full_name"] as? String == "Jane Doe")
        #expect(signatures.first?["meaning"] as? String == "reviewed")
        #expect((signatures.first?["printed"] as? String)?.hasPrefix("Jane Doe (jdoe), reviewed, ") == true)
        // The CMMS gets the verdict with the signature's manifestation.
        let cmmsId = try #require(((signed.object["work_order"] as? [String: Any])?["cmms_id"] as? String))
        try await API.eventually("the signed verdict noted in the CMMS") {
            let notes = (try await cmms.get("/api/work-orders/\(cmmsId)", key: "sandbox-token").object["notes"] as? [String]) ?? []
            return notes.contains { $0.hasPrefix("Millwright verdict: false positive. Signed: Jane Doe (jdoe), reviewed, ") }
        }
        // The verdict is the signer's, whatever `by` said.
        let verdicts = try await api.get("/v1/audit?kind=feedback&subject=\(incident)").object["items"] as? [[String: Any]]
        #expect((verdicts?.first?["data"] as? [String: Any])?["by"] as? String == "jdoe")

        // Three wrong passwords lock the account, even against the right one afterwards.
        for _ in 0..<3 {
            #expect(try await api.post("/v1/login", json: ["user": "mallory", "password": "guess-guess-1A"], key: nil).status == 401)
        }
        let locked = try await api.post("/v1/login", json: ["user": "mallory", "password": "Battery-Staple-7"], key: nil)
        #expect(locked.status == 403)
        #expect(problemType(locked) == "account-inactive")
        #expect(try await api.metricSum("millwright_security_events_total") == 5)
        let lockRecords = try await api.get("/v1/audit?kind=security.user_locked").object["items"] as? [[String: Any]]
        #expect(lockRecords?.map { $0["subject"] as? String } == ["user:mallory"])
        // …and raises a security event for the contacts (none configured here: logged and audited).
        let alerts = try await api.get("/v1/audit?kind=security.alert").object["items"] as? [[String: Any]]
        #expect(alerts?.map { $0["subject"] as? String } == ["user:mallory"])
        #expect(try await api.get("/v1/audit", key: "operator-key").status == 403)
        // Pages follow each other along the chain, oldest first.
        let first = try await api.get("/v1/audit?limit=2")
        let cursor = try #require(first.object["next_cursor"] as? String)
        let second = try await api.get("/v1/audit?limit=2&cursor=\(cursor)")
        let seqs = ((first.object["items"] as? [[String: Any]] ?? []) + (second.object["items"] as? [[String: Any]] ?? [])).compactMap { $0["seq"] as? Int }
        #expect(seqs == [1, 2, 3, 4])

        #expect(try await api.call(.POST, "/v1/logout", key: token).status == 204)
        #expect(problemType(try await api.get("/v1/incidents", key: token)) == "session-expired")
        #expect(server.terminate() == 0)

        let env = Plant.keys.merging(Self.auditKey) { $1 }
        let verify = try await Spawned.run(["audit", "verify", "--config", plant.configPath], environment: env)
        #expect(verify.status == 0, "\(verify.output)")
        let export = plant.dir + "/trail.jsonl"
        let written = try await Spawned.run(["audit", "export", "--config", plant.configPath, "--output", export], environment: env)
        #expect(written.status == 0, "\(written.output)")
        #expect(try String(contentsOfFile: export, encoding: .utf8).contains("\"kind\":\"signature\""))
        let reverified = try await Spawned.run(["audit", "verify-export", export, "--config", plant.configPath], environment: env)
        #expect(reverified.status == 0, "\(reverified.output)")
        #expect(reverified.output.contains("HMAC matches"), "\(reverified.output)")

        // One changed byte, or a signature moved to another record, and the export fails.
        let original = try String(contentsOfFile: export, encoding: .utf8)
        try original.replacingOccurrences(of: "\"meaning\":\"reviewed\"", with: "\"meaning\":\"approved\"").write(toFile: export, atomically: true, encoding: .utf8)
        let tampered = try await Spawned.run(["audit", "verify-export", export, "--config", plant.configPath], environment: env)
        #expect(tampered.status == 1)
        #expect(tampered.output.contains("BROKEN"), "\(tampered.output)")

        // In the database too: a signature moved onto another subject breaks the trail.
        _ = try sqlite(plant.dbPath, "DROP TRIGGER audit_no_update; UPDATE audit SET subject = 'another-incident' WHERE kind = 'signature';")
        let moved = try await Spawned.run(["audit", "verify", "--config", plant.configPath], environment: env)
        #expect(moved.status == 1)
        #expect(moved.output.contains("BROKEN at record"), "\(moved.output)")
    }

    @Test func theUsersCommandsManageAccounts() async throws {
        let plant = try Plant(cmmsURL: "http://127.0.0.1:9")
        #expect(try await addUser(plant, "qa1", role: "admin", fullName: "Quality Lead", password: "Quality-Lead-2026").status == 0)
        let dup = try await addUser(plant, "qa1", role: "admin", fullName: "Quality Lead", password: "Quality-Lead-2026")
        #expect(dup.status == 1)
        #expect(dup.output.contains("already exists"), "\(dup.output)")
        let badRole = try await addUser(plant, "qa2", role: "ingest", fullName: "Machine", password: "Quality-Lead-2026")
        #expect(badRole.status == 2)
        #expect(badRole.output.contains("--role must be one of viewer, operator, admin"), "\(badRole.output)")
        let env = Plant.keys.merging(Self.auditKey) { $1 }
        #expect(try await Spawned.run(["users", "disable", "qa1", "--config", plant.configPath], environment: env).status == 0)
        let list = try await Spawned.run(["users", "list", "--config", plant.configPath], environment: env)
        #expect(list.output.contains("qa1") && list.output.contains("Quality Lead") && list.output.contains("disabled"), "\(list.output)")
        let reset = try await Spawned.run(["users", "reset-password", "qa1", "--config", plant.configPath],
                                          environment: env.merging(["MW_NEW_PASSWORD": "Another-Secret-99"]) { $1 })
        #expect(reset.status == 0, "\(reset.output)")
    }
}

extension Part11Tests {
    /// Login and signing a false positive in a real browser (Tests/Browser/signing.py).
    @Test(.timeLimit(.minutes(5))) func aPlannerLogsInAndSignsAFalsePositiveInTheBrowser() async throws {
        for tool in [BrowserTests.chromium, BrowserTests.chromedriver] {
            try #require(FileManager.default.isExecutableFile(atPath: tool), "\(tool) is missing: run scripts/install-deps.sh (Debian chromium, chromium-driver)")
        }
        let emu = try Plant.emulator()
        let cmms = API(base: try await emu.listening())
        defer { _ = emu.terminate() }
        let plant = try Plant(cmmsURL: cmms.base, extra: "compliance: { part11: true }", environment: Self.auditKey)
        #expect(try await addUser(plant, "jdoe", role: "operator", fullName: "Jane Doe", password: "Correct-Horse-42").status == 0)
        #expect(try await addUser(plant, "qa1", role: "admin", fullName: "Quality Lead", password: "Quality-Lead-2026").status == 0)
        let server = try plant.serve()
        defer { _ = server.terminate() }
        let api = API(base: try await server.listening())
        let posted = try await api.post("/v1/detections", json: [detection("browser-sign-1")], key: "ingest-key")
        let incident = try #require((posted.object["results"] as? [[String: Any]])?.first?["incident_id"] as? String)

        let shots = PackagePaths.root.appendingPathComponent(".build/browser-artifacts").path
        let script = PackagePaths.root.appendingPathComponent("Tests/Browser/signing.py").path
        let browser = try Spawned.external("/usr/bin/env", ["python3", script, "--base", api.base, "--incident", incident,
                                                            "--operator", "jdoe:Correct-Horse-42", "--admin", "qa1:Quality-Lead-2026",
                                                            "--admin-key", "admin-key", "--shots", shots])
        let deadline = Date().addingTimeInterval(180)
        while browser.process.isRunning, Date() < deadline { try await Task.sleep(for: .milliseconds(100)) }
        let status = browser.terminate(grace: 5)
        #expect(status == 0, "signing.py failed (screenshots in \(shots)):\n\(browser.text)")
        #expect(browser.text.contains("the auditor's view lists the signature"), "\(browser.text)")
    }
}
