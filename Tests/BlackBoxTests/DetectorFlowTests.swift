import Foundation
import MillwrightTesting
import Testing

/// The reference detector end to end: frames of the demo's conveyor view (`millwright demo
/// --export-frames`) streamed by the GStreamer RTSP server on loopback, a dark crack appearing
/// 12 s into the stream, `millwright serve` capturing it with Debian's ffmpeg and its detector
/// raising exactly one incident and one work order, with the stream's frame as evidence.
@Suite struct DetectorFlowTests {
    @Test(.timeLimit(.minutes(4))) func aCrackAppearingInAFixedViewRaisesOneIncidentWithTheStreamsFrame() async throws {
        #expect(FileManager.default.isExecutableFile(atPath: "/usr/bin/ffmpeg"), "Debian's ffmpeg is needed (scripts/install-deps.sh)")
        let frames = FileManager.default.temporaryDirectory.appendingPathComponent("mw-detector-frames-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: frames) }
        let export = try await Spawned.run(["demo", "--export-frames", frames])
        #expect(export.status == 0, "\(export.output)")
        let script = PackagePaths.root.appendingPathComponent("Tests/Fixtures/rtsp/rtsp_server.py").path
        let rtsp = try Spawned.external("/usr/bin/python3", [script, String(try freeLoopbackPort()), "--frames", frames, "--defect-after", "12"])
        defer { rtsp.kill9() }
        let url = try #require(try await rtsp.waitFor("ready rtsp://", timeout: 30).split(separator: " ").last.map(String.init))

        let emu = try Plant.emulator()
        let cmms = API(base: try await emu.listening())
        // Cracks need two detections within 10 s to confirm (the harness's rule with confirm: 2);
        // the mask covers the band where cartons pass.
        let plant = try Plant(cmmsURL: cmms.base, confirm: 2, extra: """
            capture:
              cameras:
                - camera: CAM-12
                  rtsp: { url: "\(url)" }
                  every: 500ms
                  detector: { kind: reference, learn_frames: 8, sigma: 4, min_area_px: 80, defect_class: crack, masks: [[0, 15, 640, 15, 640, 72, 0, 72]] }
            """, fetchAllow: ["127.0.0.1"])
        let server = try plant.serve()
        let api = API(base: try await server.listening())
        defer { _ = server.terminate(); _ = emu.terminate() }

        // The detector learns the view from the first frames, long before the crack.
        try await API.eventually("CAM-12's detector ready on /readyz", timeout: 90) {
            (try await api.get("/readyz").object["capture:CAM-12:detector"] as? String) == "ready"
        }
        // On a loaded machine the reference may be learnt only after the crack appeared: the
        // check holds for what was found before the server sent it.
        let early = try await Self.detections(api)
        if !rtsp.text.contains("defect from frame") { #expect(early.isEmpty, "nothing differs from the reference before the crack: \(early)") }
        _ = try await rtsp.waitFor("defect from frame", timeout: 90)

        var incident: [String: Any] = [:]
        try await API.eventually("an incident with a delivered work order and its evidence", timeout: 90) {
            guard let id = try await Self.detections(api).compactMap({ $0["incident_id"] as? String }).first else { return false }
            incident = try await api.get("/v1/incidents/\(id)").object
            return ((incident["work_order"] as? [String: Any])?["phase"] as? String) == "delivered" && incident["evidence_note"] != nil
        }
        // The crack stays: the detector keeps reporting it, and the reports join the one incident.
        try await API.eventually("more detections of the same crack", timeout: 60) { try await Self.detections(api).count >= 6 }
        let found = try await Self.detections(api)
        #expect(Set(found.compactMap { $0["incident_id"] as? String }).count == 1, "\(found)")
        #expect(try await emulatorReferences(cmms).count == 1)
        let incidents = ((try await api.get("/v1/incidents?limit=100").object["items"] as? [[String: Any]]) ?? [])
        #expect(incidents.count == 1, "\(incidents)")

        // Native detections of the configured class from millwright-reference, boxed on the crack
        // (exported at x 192–320, y 198–214 of the 640×360 frame), each carrying the stream's frame.
        for item in found {
            let d = try #require(item["detection"] as? [String: Any], "\(item)")
            #expect(d["defect_class"] as? String == "crack")
            #expect((d["model"] as? [String: Any])?["name"] as? String == "millwright-reference", "\(d)")
            #expect(d["frame_sha256"] as? String != nil, "\(d)")
            let b = try #require(d["bbox"] as? [String: Double])
            #expect(b["x"]! < 320 && b["x"]! + b["width"]! > 192 && b["y"]! < 216 && b["y"]! + b["height"]! > 196, "\(b)")
            #expect(b["width"]! < 200 && b["height"]! < 60, "the box is the crack's, not the frame's: \(b)")
        }
        // The detector's counts on /metrics.
        #expect(try await api.metricSum("millwright_detector_frames_analysed") >= 8)
        #expect(try await api.metricSum("millwright_detector_ready") == 1)
        let note = incident["evidence_note"] as? String ?? ""
        #expect(note.hasPrefix("annotated frame 640×"), "\(note)") // the frame and the caption strip under it

        // Relearning: admin only, 404 for a camera that is not captured.
        #expect(try await api.post("/v1/capture/CAM-12/relearn", json: [String: Any](), key: "viewer-key").status == 403)
        let unknown = try await api.post("/v1/capture/CAM-99/relearn", json: [String: Any]())
        #expect(unknown.status == 404)
        #expect(unknown.headers.contains { $0.0.lowercased() == "content-type" && $0.1.hasPrefix("application/problem+json") })
        let relearn = try await api.post("/v1/capture/CAM-12/relearn", json: [String: Any]())
        #expect(relearn.status == 202)
        #expect((relearn.object["detector"] as? String)?.hasPrefix("learning") == true, "\(relearn.object)")
        try await API.eventually("CAM-12's detector ready again, the crack now part of the reference", timeout: 90) {
            (try await api.get("/readyz").object["capture:CAM-12:detector"] as? String) == "ready"
        }
        #expect(server.terminate() == 0)
    }

    static func detections(_ api: API) async throws -> [[String: Any]] {
        (try await api.get("/v1/detections?camera=CAM-12&limit=1000").object["items"] as? [[String: Any]]) ?? []
    }
}
