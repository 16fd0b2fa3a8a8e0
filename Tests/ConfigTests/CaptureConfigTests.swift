import Config
import Connectors
import MillwrightCore
import Testing

@Suite struct CaptureConfigTests {
    func parse(_ yaml: String, env: [String: String] = ["CAM_PW": "s3cret-pw"]) throws(ConfigError) -> Settings {
        try ConfigLoader.parse(yaml: yaml, file: "plant.yaml", cmmsKinds: CMMSRegistry.all, environment: env)
    }

    func error(_ yaml: String, env: [String: String] = ["CAM_PW": "s3cret-pw"]) -> ConfigError? {
        do { _ = try parse(yaml, env: env); return nil } catch { return error }
    }

    @Test func camerasAreRead() throws {
        let s = try parse("""
        evidence: { fetch_allow: ["10.20.0.0/16"] }
        capture:
          max_skew: 1500ms
          buffer_bytes: 8388608
          cameras:
            - { camera: CAM-1, rtsp: { url: "rtsp://10.20.1.5:8554/line2", user: viewer, password_env: CAM_PW }, every: 500ms, transport: udp }
            - { camera: CAM-2, rtsp: { url: "rtsp://10.20.1.6/stream" } }
        """)
        #expect(s.capture.maxSkew == .milliseconds(1500))
        #expect(s.capture.bufferBytes == 8 << 20)
        #expect(s.capture.cameras == [
            CaptureCamera(camera: "CAM-1", url: "rtsp://10.20.1.5:8554/line2", user: "viewer", password: "s3cret-pw", every: .milliseconds(500), transport: .udp),
            CaptureCamera(camera: "CAM-2", url: "rtsp://10.20.1.6/stream"),
        ])
        #expect(s.environmentValues.contains("s3cret-pw"))
    }

    @Test func defaultsAreTwoSecondsAndThirtyTwoMebibytes() throws {
        let s = try parse("capture: { cameras: [] }")
        #expect(s.capture.maxSkew == .seconds(2) && s.capture.bufferBytes == 32 << 20 && s.capture.cameras.isEmpty)
    }

    /// Each mistake is reported at its line and key.
    @Test(arguments: [
        ("rtsp: { url: \"http://10.20.1.5/x\" }", "capture.cameras[0].rtsp.url", "is not an rtsp:// URL"),
        ("rtsp: { url: \"rtsp://viewer:pw@10.20.1.5/x\" }", "capture.cameras[0].rtsp.url", "has credentials in it"),
        ("rtsp: { url: \"rtsp://192.168.1.9/x\" }", "capture.cameras[0].rtsp.url", "is not in evidence.fetch_allow"),
        ("rtsp: { url: \"rtsp://nvr.plant.local/x\" }", "capture.cameras[0].rtsp.url", "must be listed in evidence.fetch_allow"),
        ("rtsp: { url: \"rtsp://10.20.1.5/x\" }\n    transport: http", "capture.cameras[0].transport", "use tcp or udp"),
        ("rtsp: { url: \"rtsp://10.20.1.5/x\" }\n    every: 10ms", "capture.cameras[0].every", "must be between 100ms and 3600s"),
        ("onvif: { url: \"http://10.20.1.5/onvif\" }", "capture.cameras[0].onvif", "ONVIF cameras are not supported yet"),
        ("rtsp: { url: \"rtsp://10.20.1.5/x\", password_env: CAM_PW }", "capture.cameras[0].rtsp", "password_env needs a user"),
    ])
    func mistakesNameTheirLine(_ camera: String, _ key: String, _ message: String) throws {
        let e = try #require(error("""
        evidence: { fetch_allow: ["10.20.0.0/16"] }
        capture:
          cameras:
          - camera: CAM-1
            \(camera)
        """))
        #expect(e.file == "plant.yaml")
        #expect(e.key == key)
        #expect(e.line == (key.hasSuffix(".every") || key.hasSuffix(".transport") ? 6 : 5), "\(e)")
        #expect(e.message.contains(message), "\(e.message)")
    }

    /// An unset password variable is an error that names the variable; a password that is set
    /// is never in a message.
    @Test func passwordsComeFromTheEnvironmentAndAreNeverShown() throws {
        let yaml = """
        evidence: { fetch_allow: ["10.20.0.0/16"] }
        capture:
          cameras:
            - { camera: CAM-1, rtsp: { url: "rtsp://10.20.1.5/x", user: v, password_env: CAM_PW } }
            - { camera: CAM-1, rtsp: { url: "rtsp://10.20.1.5/s3cret-pw" } }
        """
        let unset = try #require(error(yaml, env: [:]))
        #expect(unset.message.contains("CAM_PW is not set"))
        let dup = try #require(error(yaml))
        #expect(dup.message.contains("captured twice"))
        #expect(!dup.description.contains("s3cret-pw"))
    }
}
