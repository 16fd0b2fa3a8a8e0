import Foundation
import MillwrightTesting
import Testing

/// `millwright serve` with OPC UA on, against python asyncua (an independent client) run as a
/// separate process: browse, ServerStatus, logins, and RejectPart raised by a critical
/// detection posted over REST, published to a subscription, and reset by an operator's Write.
@Suite struct OPCUATests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Peers/opcua_client.py").path

    /// Starts one phase of the client script (the secured phases also get the server's pki_dir).
    func start(_ url: String, _ phase: String, pki: String? = nil) throws -> Spawned {
        try Spawned.external("/usr/bin/env", ["python3", Self.script, url, phase, "line", "line-pass"] + (pki.map { [$0] } ?? []))
    }

    /// Waits for a phase to end; returns its output, which must end in "ok PHASE".
    func finish(_ python: Spawned, _ phase: String, seconds: Double = 90) async throws -> String {
        // The script has its own deadlines; this one only keeps a wedged interpreter from hanging the test.
        let deadline = Date().addingTimeInterval(seconds)
        while python.process.isRunning, Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        let status = python.terminate(grace: 1)
        _ = try await python.waitFor("ok \(phase)", timeout: 5)
        #expect(status == 0, "asyncua \(phase): \(python.text)")
        return python.text
    }

    @Test(.timeLimit(.minutes(3))) func asyncuaBrowsesReadsAndResetsRejectPart() async throws {
        let emu = try Plant.emulator()
        defer { _ = emu.terminate() }
        let plant = try Plant(cmmsURL: API(base: try await emu.listening()).base, extra: """
        opcua:
          host: 127.0.0.1
          port: 0
          allow_anonymous: true
          users: [ { name: line, password_env: MW_OPCUA_LINE } ]
          reject_at: critical
        """)
        // Every incident critical, so the one detection below reaches reject_at.
        let config = try String(contentsOfFile: plant.configPath, encoding: .utf8)
        try config.replacingOccurrences(of: "- { priority: medium }", with: "- { priority: critical }")
            .write(toFile: plant.configPath, atomically: true, encoding: .utf8)
        let server = try plant.serve(environment: ["MW_OPCUA_LINE": "line-pass"])
        defer { _ = server.terminate() }
        let api = API(base: try await server.listening())
        let line = try await server.waitFor("opcua listening on opc.tcp://", timeout: 60)
        let url = String(line[try #require(line.range(of: "opc.tcp://")).lowerBound...]).trimmingCharacters(in: .whitespacesAndNewlines)

        _ = try await finish(try start(url, "before"), "before")
        // Subscribed to RejectPart before the detection arrives: the change must be published.
        let after = try start(url, "after")
        _ = try await after.waitFor("subscribed", timeout: 60)
        let posted = try await api.post("/v1/detections", json: detection("opcua-1"), key: "ingest-key")
        #expect(posted.status == 200 || posted.status == 201 || posted.status == 202, "\(posted.object)")
        _ = try await finish(after, "after")
        #expect(server.terminate() == 0)
    }

    /// A gateway offering None and both secured policies in both modes, its certificate made in `pki`.
    func securedServer() async throws -> (server: Spawned, url: String, pki: String, emulator: Spawned) {
        let emu = try Plant.emulator()
        let plant = try Plant(cmmsURL: API(base: try await emu.listening()).base, extra: "")
        let pki = plant.dir + "/pki"
        let config = try String(contentsOfFile: plant.configPath, encoding: .utf8)
        try (config + """

        opcua:
          host: 127.0.0.1
          port: 0
          pki_dir: \(pki)
          security: [none, basic256sha256, aes128sha256rsaoaep]
          modes: [sign, sign_and_encrypt]
          users: [ { name: line, password_env: MW_OPCUA_LINE } ]

        """).write(toFile: plant.configPath, atomically: true, encoding: .utf8)
        let server = try plant.serve(environment: ["MW_OPCUA_LINE": "line-pass"])
        let line = try await server.waitFor("opcua listening on opc.tcp://", timeout: 60)
        let url = String(line[try #require(line.range(of: "opc.tcp://")).lowerBound...]).trimmingCharacters(in: .whitespacesAndNewlines)
        return (server, url, pki, emu)
    }

    @Test(.timeLimit(.minutes(5))) func asyncuaConnectsWithEachSecuredPolicyAndModeAndAnUntrustedCertificateIsRejected() async throws {
        let (server, url, pki, emu) = try await securedServer()
        defer { _ = server.terminate(); _ = emu.terminate() }
        // The server made its certificate on first start.
        #expect(FileManager.default.fileExists(atPath: pki + "/own/cert.der"))
        #expect(FileManager.default.fileExists(atPath: pki + "/private/key.pem"))
        let secure = try await finish(try start(url, "secure", pki: pki), "secure", seconds: 240)
        for combination in ["Basic256Sha256 Sign", "Basic256Sha256 SignAndEncrypt", "Aes128_Sha256_RsaOaep Sign", "Aes128_Sha256_RsaOaep SignAndEncrypt"] {
            #expect(secure.contains("connected \(combination)"), "\(secure)")
        }
        _ = try await finish(try start(url, "untrusted", pki: pki), "untrusted")
        #expect(try FileManager.default.contentsOfDirectory(atPath: pki + "/rejected").count == 1)
        #expect(server.terminate() == 0)
    }

    /// Part 6 §6.7.4: the client renews its token (10 s, the server's minimum lifetime) while a
    /// subscription runs for 2 minutes.
    @Test(.timeLimit(.minutes(5))) func aSubscriptionOutlivesSeveralTokenRenewals() async throws {
        let (server, url, pki, emu) = try await securedServer()
        defer { _ = server.terminate(); _ = emu.terminate() }
        let output = try await finish(try start(url, "renew", pki: pki), "renew", seconds: 240)
        #expect(output.contains("tokens"), "\(output)")
        #expect(server.terminate() == 0)
    }

    /// A confirmed detection posted over REST is a ResultReadyEventType event on CAM-07's
    /// VisionSystem object and on Server, with its fields as the client's filters select them.
    @Test(.timeLimit(.minutes(4))) func asyncuaReceivesResultReadyEvents() async throws {
        let (server, url, pki, emu) = try await securedServer()
        defer { _ = server.terminate(); _ = emu.terminate() }
        let api = API(base: try await server.listening())
        let python = try start(url, "events", pki: pki)
        _ = try await python.waitFor("subscribed", timeout: 90)
        var posted = detection("opcua-ev-1")
        posted["production_order"] = "PO-4711"
        let response = try await api.post("/v1/detections", json: posted, key: "ingest-key")
        #expect(response.status == 200 || response.status == 201 || response.status == 202, "\(response.object)")
        _ = try await finish(python, "events")
        #expect(server.terminate() == 0)
    }
}
