import Foundation
import MillwrightTesting
import Testing

/// The board in a real browser: a headless Chromium driven by Tests/Browser/board.py
/// (selenium, as a separate process) against a real `millwright serve` holding a small shift.
/// Screenshots land in .build/browser-artifacts/.
@Suite struct BrowserTests {
    static let chromium = "/usr/bin/chromium", chromedriver = "/usr/bin/chromedriver"

    @Test(.timeLimit(.minutes(5))) func theBoardShowsEvidenceFollowsEventsAndTakesAVerdict() async throws {
        try Self.requireChromium()
        let emu = try Plant.emulator()
        let cmms = API(base: try await emu.listening())
        let plant = try Plant(cmmsURL: cmms.base)
        let server = try plant.serve()
        let api = API(base: try await server.listening())
        defer { _ = emu.terminate(); _ = server.terminate() }

        // A short shift: three incidents with camera frames, and orphans from two cameras.
        let frame = try EvidenceFlowTests.pillowJPEG().base64EncodedString()
        var incidents: [String] = []
        for (i, (camera, defect, zone)) in [("CAM-07", "crack", "head-pulley"), ("CAM-12", "corrosion", nil), ("CAM-07", "crack", nil)].enumerated() {
            var d = detection("shift-\(i)", camera: camera, defect: defect, zone: zone)
            d["bbox"] = ["x": 290, "y": 190, "width": 60, "height": 20]
            d["image"] = ["width": 640, "height": 360, "data_base64": frame]
            let r = try await api.post("/v1/detections", json: d, key: "ingest-key")
            incidents.append(try #require((r.object["results"] as? [[String: Any]])?.first?["incident_id"] as? String))
        }
        for i in 0..<6 {
            _ = try await api.post("/v1/detections", json: detection("orphan-\(i)", camera: i % 2 == 0 ? "CAM-99" : "CAM-05"), key: "ingest-key")
        }
        try await API.eventually("evidence for every incident") {
            var all = true
            for id in incidents where (try await api.get("/v1/incidents/\(id)").object["evidence_sha256"] as? String) == nil { all = false }
            return all
        }

        let (status, output) = try await Self.run("board.py", ["--base", api.base, "--key", "admin-key", "--ingest-key", "ingest-key",
                                                                "--incidents", String(incidents.count)])
        #expect(status == 0, "board.py failed (screenshots in \(Self.shots)):\n\(output)")
        #expect(output.contains("arrived over SSE without a reload"), "\(output)")
        #expect(FileManager.default.fileExists(atPath: Self.shots + "/board.png"))
    }
}

extension BrowserTests {
    /// Screenshots of every browser test, kept as CI artifacts.
    static let shots = PackagePaths.root.appendingPathComponent(".build/browser-artifacts").path

    static func requireChromium() throws {
        for tool in [chromium, chromedriver] {
            try #require(FileManager.default.isExecutableFile(atPath: tool), "\(tool) is missing: run scripts/install-deps.sh (Debian chromium, chromium-driver)")
        }
    }

    /// Runs a script of Tests/Browser (selenium, as a separate process) with `--shots`, for at
    /// most three minutes; its exit status and everything it printed.
    static func run(_ script: String, _ arguments: [String]) async throws -> (Int32, String) {
        let path = PackagePaths.root.appendingPathComponent("Tests/Browser/" + script).path
        let browser = try Spawned.external("/usr/bin/env", ["python3", path] + arguments + ["--shots", shots])
        let deadline = Date().addingTimeInterval(180)
        while browser.process.isRunning, Date() < deadline { try await Task.sleep(for: .milliseconds(100)) }
        let status = browser.terminate(grace: 5)
        return (status, browser.text)
    }
}
