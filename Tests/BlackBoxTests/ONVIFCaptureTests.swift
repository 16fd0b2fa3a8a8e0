import AsyncHTTPClient
import Emulators
import Evidence
import Foundation
import NIOCore
import MillwrightTesting
import Testing

/// ONVIF cameras end to end: the ONVIF emulator on loopback (in this process) pointing at the
/// GStreamer RTSP fixture, `millwright serve` with `onvif:` cameras. One camera streams, one
/// has only snapshots, one is given the wrong password, and one streams over RTP/UDP.
@Suite struct ONVIFCaptureFlowTests {
    static let password = "onvif-pw 1"

    static func onvifCamera(stream: String?, snapshot: Data?) async throws -> (LocalHTTPServer, ONVIFEmulator.Camera) {
        let cam = ONVIFEmulator.Camera(ONVIFEmulator.Options(user: "admin", password: password, streamURI: stream, snapshot: snapshot))
        return (try await LocalHTTPServer.start(ONVIFEmulator.router(camera: cam)), cam)
    }

    /// The evidence note of the work order for one detection sent without a frame (`defect`
    /// differs per camera: CAM-12 and CAM-31 watch the same asset, and one defect would be one incident).
    static func evidenceNote(_ api: API, detectionId: String, camera: String, defect: String) async throws -> String {
        let posted = try await api.post("/v1/detections", json: detection(detectionId, camera: camera, defect: defect), key: "ingest-key")
        #expect(posted.status == 202)
        let incident = try #require((posted.object["results"] as? [[String: Any]])?.first?["incident_id"] as? String)
        var note = ""
        try await API.eventually("\(camera)'s work order delivered with evidence") {
            let i = try await api.get("/v1/incidents/\(incident)").object
            note = i["evidence_note"] as? String ?? ""
            return ((i["work_order"] as? [String: Any])?["phase"] as? String) == "delivered" && !note.isEmpty
        }
        return note
    }

    @Test(.timeLimit(.minutes(4))) func onvifCamerasStreamSnapAndRefuseAWrongPassword() async throws {
        #expect(FileManager.default.isExecutableFile(atPath: "/usr/bin/ffmpeg"), "Debian's ffmpeg is needed (scripts/install-deps.sh)")
        let (rtsp, rtspURL) = try await CaptureFlowTests.rtspServer()
        defer { rtsp.kill9() }
        let (streaming, streamingCam) = try await Self.onvifCamera(stream: rtspURL, snapshot: nil)
        defer { streaming.stop() }
        let snapshotJPEG = try JPEG.encode(SyntheticFrame.generate(width: 200, height: 150, seed: 3))
        let (udpStreaming, udpCam) = try await Self.onvifCamera(stream: rtspURL, snapshot: nil)
        defer { udpStreaming.stop() }
        let (snapshotting, snapshotCam) = try await Self.onvifCamera(stream: nil, snapshot: snapshotJPEG)
        defer { snapshotting.stop() }

        let emu = try Plant.emulator()
        let cmms = API(base: try await emu.listening())
        let media = "/onvif/media_service"
        let plant = try Plant(cmmsURL: cmms.base, extraCameras: """
                - { camera: CAM-31, asset: "10004720", cmms: sandbox }
                - { camera: CAM-32, asset: "10004711", cmms: sandbox }
            """, extra: """
            capture:
              cameras:
                - { camera: CAM-07, onvif: { url: "\(streaming.baseURL)\(media)", user: admin, password_env: CAM_PW }, every: 500ms }
                - { camera: CAM-12, onvif: { url: "\(snapshotting.baseURL)\(media)", user: admin, password_env: CAM_PW }, every: 500ms }
                - { camera: CAM-31, onvif: { url: "\(streaming.baseURL)\(media)", user: admin, password_env: WRONG_PW }, every: 500ms }
                - { camera: CAM-32, onvif: { url: "\(udpStreaming.baseURL)\(media)", user: admin, password_env: CAM_PW }, every: 500ms, transport: udp }
            """, fetchAllow: ["127.0.0.1"])
        let server = try plant.serve(environment: ["CAM_PW": Self.password, "WRONG_PW": "not-the-password"])
        let api = API(base: try await server.listening())
        defer { _ = server.terminate(); _ = emu.terminate() }

        var ready: [String: Any] = [:]
        try await API.eventually("CAM-07, CAM-12 and CAM-32 streaming, CAM-31 refused, on /readyz", timeout: 60) {
            ready = try await api.get("/readyz").object
            return ready["capture:CAM-07"] as? String == "streaming" && ready["capture:CAM-12"] as? String == "streaming"
                && ready["capture:CAM-32"] as? String == "streaming"
                && (ready["capture:CAM-31"] as? String ?? "").contains("not authorized")
        }
        // The wrong password: the capture state says so, naming the call and the address; no frames.
        let refused = ready["capture:CAM-31"] as? String ?? ""
        #expect(refused.hasPrefix("offline since "), "\(refused)")
        #expect(refused.contains("ONVIF GetProfiles at \(streaming.baseURL)\(media): not authorized; check user and password_env"), "\(refused)")
        #expect(server.text.contains("ONVIF lookup failed"))
        #expect(!server.text.contains("not-the-password") && !server.text.contains(Self.password))
        #expect(streamingCam.refusals.contains("wrong user or password"))
        #expect(streamingCam.protocols.first == "RTSP") // transport tcp (the default): RTP over RTSP
        #expect(udpCam.protocols.first == "UDP")
        #expect(snapshotCam.calls.starts(with: ["GetProfiles", "GetSnapshotUri"]) && snapshotCam.snapshotsServed > 0)

        // /metrics per camera: frames, and the restarts of the camera that is refused.
        func series(_ text: String, _ name: String, _ camera: String) -> Double? {
            let prefix = #"\#(name){camera="\#(camera)"} "#
            return text.split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap { Double($0.dropFirst(prefix.count)) }
        }
        var metrics = ""
        try await API.eventually("capture series in /metrics", timeout: 60) {
            metrics = String(decoding: try await api.get("/metrics", key: "viewer-key").body, as: UTF8.self)
            return series(metrics, "millwright_capture_frames_total", "CAM-07") ?? 0 > 0
                && series(metrics, "millwright_capture_frames_total", "CAM-12") ?? 0 > 0
                && series(metrics, "millwright_capture_online", "CAM-07") == 1
                && series(metrics, "millwright_capture_restarts_total", "CAM-31") ?? 0 >= 1
        }
        #expect(series(metrics, "millwright_capture_frames_total", "CAM-31") ?? 0 == 0)
        #expect(series(metrics, "millwright_capture_online", "CAM-31") == 0)

        // A detection without a frame gets the stream's frame (the fixture's 320×240) …
        let streamed = try await Self.evidenceNote(api, detectionId: "onvif-1", camera: "CAM-07", defect: "scratch")
        #expect(streamed.hasPrefix("annotated frame 320×"), "\(streamed)")
        // … or the snapshot (200×150) from the camera that has no stream …
        let snapped = try await Self.evidenceNote(api, detectionId: "onvif-2", camera: "CAM-12", defect: "dent")
        #expect(snapped.hasPrefix("annotated frame 200×"), "\(snapped)")
        // … or the frame that came over RTP/UDP …
        let udp = try await Self.evidenceNote(api, detectionId: "onvif-4", camera: "CAM-32", defect: "stain")
        #expect(udp.hasPrefix("annotated frame 320×"), "\(udp)")
        // … and the camera with the wrong password gives none: its card says why.
        let none = try await Self.evidenceNote(api, detectionId: "onvif-3", camera: "CAM-31", defect: "stain")
        #expect(none.contains("camera CAM-31 offline since") && none.contains("not authorized"), "\(none)")
        #expect(server.terminate() == 0)
    }

    /// `millwright emulate onvif`: the same emulator from the command line; an unsigned call is
    /// refused with the NotAuthorized fault, and a missing password is a clear error.
    @Test(.timeLimit(.minutes(2))) func theEmulatorRunsFromTheCommandLine() async throws {
        let missing = try await Spawned.run(["emulate", "onvif", "--port", "0", "--stream-uri", "rtsp://127.0.0.1:8554/cam"], environment: ["ONVIF_PASSWORD": ""])
        #expect(missing.status == 2 && missing.output.contains("set ONVIF_PASSWORD"), "\(missing.output)")
        let emu = try Spawned(["emulate", "onvif", "--port", "0", "--stream-uri", "rtsp://127.0.0.1:8554/cam"], name: "onvif",
                              environment: ["ONVIF_PASSWORD": Self.password])
        defer { _ = emu.terminate() }
        let base = try await emu.listening()
        var request = HTTPClientRequest(url: base + "/onvif/media_service")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/soap+xml; charset=utf-8")
        request.body = .bytes(ByteBuffer(string: """
            <?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:trt="http://www.onvif.org/ver10/media/wsdl">\
            <s:Body><trt:GetProfiles/></s:Body></s:Envelope>
            """))
        let response = try await API.http.execute(request, timeout: .seconds(30))
        let body = String(buffer: try await response.body.collect(upTo: 1 << 20))
        #expect(response.status.code == 400)
        #expect(body.contains("<env:Value>ter:NotAuthorized</env:Value>"), "\(body)")
    }
}
