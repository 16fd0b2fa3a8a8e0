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

    /// An ONVIF camera: `url` is its Media service, the credentials sign its SOAP calls.
    @Test func onvifCamerasAreRead() throws {
        let s = try parse("""
        evidence: { fetch_allow: ["10.20.0.0/16"] }
        capture:
          cameras:
            - { camera: CAM-3, onvif: { url: "http://10.20.1.7/onvif/media_service", user: admin, password_env: CAM_PW }, every: 2s, transport: udp }
        """)
        var expected = CaptureCamera(camera: "CAM-3", url: "http://10.20.1.7/onvif/media_service", user: "admin", password: "s3cret-pw",
                                     every: .seconds(2), transport: .udp)
        expected.source = .onvif
        #expect(s.capture.cameras == [expected])
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
        ("onvif: { url: \"rtsp://10.20.1.5/onvif\" }", "capture.cameras[0].onvif.url", "is not an http:// or https:// URL"),
        ("onvif: { url: \"http://admin:pw@10.20.1.5/onvif\" }", "capture.cameras[0].onvif.url", "has credentials in it"),
        ("onvif: { url: \"http://192.168.1.9/onvif/media_service\" }", "capture.cameras[0].onvif.url", "is not in evidence.fetch_allow"),
        ("onvif: { url: \"https://cam7.plant.local/onvif/media_service\" }", "capture.cameras[0].onvif.url", "must be listed in evidence.fetch_allow"),
        ("onvif: { url: \"http://10.20.1.5/onvif\", password_env: CAM_PW }", "capture.cameras[0].onvif", "password_env needs a user"),
        ("onvif: { url: \"http://10.20.1.5/onvif\" }\n    rtsp: { url: \"rtsp://10.20.1.5/x\" }", "capture.cameras[0]", "give rtsp or onvif, not both"),
        ("every: 1s", "capture.cameras[0]", "needs rtsp: { url, user, password_env } or onvif:"),
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
        #expect(e.line == (key.hasSuffix(".every") || key.hasSuffix(".transport") ? 6 : key == "capture.cameras[0]" ? 4 : 5), "\(e)")
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
