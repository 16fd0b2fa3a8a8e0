import Foundation
import MillwrightTesting
import Testing

/// Frames from an RTSP camera, end to end: a GStreamer RTSP server on loopback (Debian's
/// packages, started by the test), `millwright serve` decoding it with Debian's ffmpeg, a
/// detection sent without a frame getting the captured one, and the camera's loss told on
/// `/readyz` and MQTT.
@Suite struct CaptureFlowTests {
    /// The test's RTSP server, run with Debian's python3 (python3-gi is a Debian package).
    static func rtspServer() async throws -> (Spawned, String) {
        let script = PackagePaths.root.appendingPathComponent("Tests/Fixtures/rtsp/rtsp_server.py").path
        let server = try Spawned.external("/usr/bin/python3", [script, String(try freeLoopbackPort())])
        let line = try await server.waitFor("ready rtsp://", timeout: 30)
        let url = try #require(line.split(separator: " ").last.map(String.init))
        return (server, url)
    }

    static func readyz(_ api: API) async throws -> [String: Any] { try await api.get("/readyz").object }

    @Test(.timeLimit(.minutes(3))) func aDetectionWithoutAFrameGetsTheCapturedOneAndALostCameraIsReported() async throws {
        #expect(FileManager.default.isExecutableFile(atPath: "/usr/bin/ffmpeg"), "Debian's ffmpeg is needed (scripts/install-deps.sh)")
        let (rtsp, url) = try await Self.rtspServer()
        defer { rtsp.kill9() }
        let brokerDir = FileManager.default.temporaryDirectory.appendingPathComponent("mw-capture-mqtt-\(UUID().uuidString.prefix(8))").path
        let broker = try MQTTIngestTests.Broker(dir: brokerDir, persistence: false)
        defer { broker.stop() }
        try await broker.ready()
        let emu = try Plant.emulator()
        let cmms = API(base: try await emu.listening())
        let plant = try Plant(cmmsURL: cmms.base, extra: """
            mqtt:
              broker: mqtt://127.0.0.1:\(broker.port)
              client_id: millwright-capture-test
              publish: { prefix: millwright, site: plant-1 }
            capture:
              max_skew: 2s
              cameras:
                - { camera: CAM-12, rtsp: { url: "\(url)" }, every: 500ms, transport: tcp }
            """, fetchAllow: ["127.0.0.1"])
        // The floor: the camera's retained capture leaf.
        let floor = try Spawned.external(findExecutable("mosquitto_sub") ?? "mosquitto_sub",
                                         ["-h", "127.0.0.1", "-p", "\(broker.port)", "-t", "millwright/plant-1/CAM-12/capture", "-v", "-q", "1"])
        let server = try plant.serve()
        let api = API(base: try await server.listening())
        defer { _ = server.terminate(); _ = emu.terminate(); _ = floor.terminate() }

        try await API.eventually("CAM-12 streaming on /readyz") {
            (try await Self.readyz(api)["capture:CAM-12"] as? String) == "streaming"
        }
        _ = try await floor.waitFor(#""state":"streaming""#, timeout: 30)
        // A vision system's detection with no frame: the evidence is the captured 320×240 frame (drawn 320 wide)
        // (the vision system claims 1920×1080; only the RTSP stream is 320×240).
        let posted = try await api.post("/v1/detections", json: detection("cap-1", camera: "CAM-12", defect: "scratch"), key: "ingest-key")
        #expect(posted.status == 202)
        let incident = try #require((posted.object["results"] as? [[String: Any]])?.first?["incident_id"] as? String)
        var note = ""
        try await API.eventually("work order delivered with evidence") {
            let i = try await api.get("/v1/incidents/\(incident)").object
            note = i["evidence_note"] as? String ?? ""
            return ((i["work_order"] as? [String: Any])?["phase"] as? String) == "delivered" && !note.isEmpty
        }
        #expect(note.hasPrefix("annotated frame 320×"), "\(note)")

        // The camera goes away: the decoder is restarted with backoff, and /readyz says offline.
        rtsp.kill9()
        var offline = ""
        try await API.eventually("CAM-12 offline on /readyz", timeout: 60) {
            offline = try await Self.readyz(api)["capture:CAM-12"] as? String ?? ""
            return offline.hasPrefix("offline since ")
        }
        try await API.eventually("reconnect attempts in the log", timeout: 60) {
            server.text.components(separatedBy: "camera decoder exited").count - 1 >= 2
        }
        _ = try await floor.waitFor(#""state":"offline""#, timeout: 30)
        // The restarts are counted in /metrics, the camera is no longer online there.
        try await API.eventually("CAM-12 restarts and offline in /metrics") {
            let lines = String(decoding: try await api.get("/metrics", key: "viewer-key").body, as: UTF8.self).split(separator: "\n")
            let restarts = lines.first { $0.hasPrefix(#"millwright_capture_restarts_total{camera="CAM-12"} "#) }?.split(separator: " ").last.flatMap { Double($0) }
            return (restarts ?? 0) >= 1 && lines.contains { $0 == #"millwright_capture_online{camera="CAM-12"} 0"# || $0 == #"millwright_capture_online{camera="CAM-12"} 0.0"# }
        }
        // /readyz reports the camera without making the gateway unready.
        #expect(try await api.get("/readyz").status == 200)

        // A detection with no frame near it now: the card says why, and the work order still goes out.
        let later = detection("cap-2", camera: "CAM-12", defect: "dent", at: Date().addingTimeInterval(60))
        let second = try await api.post("/v1/detections", json: later, key: "ingest-key")
        let incident2 = try #require((second.object["results"] as? [[String: Any]])?.first?["incident_id"] as? String)
        try await API.eventually("second work order delivered with an evidence card") {
            let i = try await api.get("/v1/incidents/\(incident2)").object
            note = i["evidence_note"] as? String ?? ""
            return ((i["work_order"] as? [String: Any])?["phase"] as? String) == "delivered" && !note.isEmpty
        }
        #expect(note.contains("no captured frame within 2 s of the detection; camera CAM-12 offline since"), "\(note)")
        // A graceful stop ends the decoders too.
        #expect(server.terminate() == 0)
    }
}
