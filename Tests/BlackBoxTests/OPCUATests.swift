import Foundation
import MillwrightTesting
import Testing

/// `millwright serve` with OPC UA on, against python asyncua (an independent client) run as a
/// separate process: browse, ServerStatus, logins, and RejectPart raised by a critical
/// detection posted over REST, published to a subscription, and reset by an operator's Write.
@Suite struct OPCUATests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Peers/opcua_client.py").path

    /// Starts one phase of the client script.
    func start(_ url: String, _ phase: String) throws -> Spawned {
        try Spawned.external("/usr/bin/env", ["python3", Self.script, url, phase, "line", "line-pass"])
    }

    /// Waits for a phase to end; returns its output, which must end in "ok PHASE".
    func finish(_ python: Spawned, _ phase: String) async throws -> String {
        // The script has its own deadlines; this one only keeps a wedged interpreter from hanging the test.
        let deadline = Date().addingTimeInterval(90)
        while python.process.isRunning, Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        let status = python.terminate(grace: 1)
        let output = try await python.waitFor("ok \(phase)", timeout: 5)
        #expect(status == 0, "asyncua \(phase): \(python.text)")
        return output
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
}
