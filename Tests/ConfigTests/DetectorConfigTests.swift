import Config
import Connectors
import MillwrightCore
import Testing

/// `detector:` on a capture camera: the reference detector's settings, each mistake at its line and key.
@Suite struct DetectorConfigTests {
    func parse(_ detector: String) throws(ConfigError) -> Settings {
        try ConfigLoader.parse(yaml: """
        evidence: { fetch_allow: ["10.20.0.0/16"] }
        capture:
          cameras:
          - camera: CAM-1
            rtsp: { url: "rtsp://10.20.1.5/x" }
            detector: \(detector)
        """, file: "plant.yaml", cmmsKinds: CMMSRegistry.all, environment: [:])
    }

    @Test func settingsAreRead() throws {
        let s = try parse("{ kind: reference, learn_frames: 30, sigma: 3.5, min_area_px: 120, defect_class: missing_part, masks: [[0, 0, 100, 0, 100, 50.5], [10, 10, 20, 10, 20, 20, 10, 20]] }")
        let d = try #require(s.capture.cameras.first?.detector)
        #expect(d.learnFrames == 30 && d.sigma == 3.5 && d.minAreaPx == 120 && d.defectClass == "missing_part")
        #expect(d.masks.count == 2)
        #expect(d.masks[0] == [.init(x: 0, y: 0), .init(x: 100, y: 0), .init(x: 100, y: 50.5)])
        #expect(d.masks[1].count == 4)
    }

    @Test func defaultsAreTheIssues() throws {
        let d = try #require(try parse("{ kind: reference }").capture.cameras.first?.detector)
        #expect(d == DetectorSettings(learnFrames: 20, sigma: 4, minAreaPx: 80, defectClass: "anomaly", masks: []))
    }

    @Test func aCameraWithoutOneHasNone() throws {
        let s = try ConfigLoader.parse(yaml: """
        evidence: { fetch_allow: ["10.20.0.0/16"] }
        capture: { cameras: [ { camera: CAM-1, rtsp: { url: "rtsp://10.20.1.5/x" } } ] }
        """, file: "plant.yaml", cmmsKinds: CMMSRegistry.all, environment: [:])
        #expect(s.capture.cameras.first?.detector == nil)
    }

    @Test(arguments: [
        ("{ learn_frames: 20 }", "capture.cameras[0].detector", "needs 'kind'"),
        ("{ kind: yolo }", "capture.cameras[0].detector.kind", "is not a detector kind; use reference"),
        ("{ kind: reference, learn_frames: 1 }", "capture.cameras[0].detector.learn_frames", "must be between 2 and 1000"),
        ("{ kind: reference, sigma: 0 }", "capture.cameras[0].detector.sigma", "must be between 1.0 and 50.0"),
        ("{ kind: reference, sigma: .nan }", "capture.cameras[0].detector.sigma", "must be a number"),
        ("{ kind: reference, min_area_px: -5 }", "capture.cameras[0].detector.min_area_px", "must be between 1 and"),
        ("{ kind: reference, defect_class: \"\" }", "capture.cameras[0].detector.defect_class", "must be 1 to 100 characters"),
        ("{ kind: reference, masks: [[0, 0, 10, 10]] }", "capture.cameras[0].detector.masks[0]", "3 to 256 points"),
        ("{ kind: reference, masks: [[0, 0, 10, 10, 20]] }", "capture.cameras[0].detector.masks[0]", "an even count"),
        ("{ kind: reference, masks: [[0, 0, 10, -1, 20, 5]] }", "capture.cameras[0].detector.masks[0][3]", "must be between 0.0 and 100000.0"),
        ("{ kind: reference, masks: [[0, 0, 10, x, 20, 5]] }", "capture.cameras[0].detector.masks[0][3]", "must be a number"),
        ("{ kind: reference, masks: [0, 0, 10, 0, 20, 5] }", "capture.cameras[0].detector.masks[0]", "must be a list"),
        ("{ kind: reference, threshold: 3 }", "capture.cameras[0].detector.threshold", "threshold"),
    ])
    func mistakesNameTheirLineAndKey(_ detector: String, _ key: String, _ message: String) throws {
        let e: ConfigError
        do { _ = try parse(detector); Issue.record("accepted: \(detector)"); return } catch { e = error }
        #expect(e.file == "plant.yaml")
        #expect(e.key == key, "\(e)")
        #expect(e.line == 6, "\(e)")
        #expect("\(e)".contains(message), "\(e)")
    }

    @Test func aMaskHasABoundedNumberOfPoints() throws {
        let many = (0..<(2 * DetectorSettings.maxMaskPoints + 2)).map { "\($0 % 50)" }.joined(separator: ", ")
        #expect(throws: ConfigError.self) { try parse("{ kind: reference, masks: [[\(many)]] }") }
        let masks = Array(repeating: "[0, 0, 10, 0, 10, 10]", count: DetectorSettings.maxMasks + 1).joined(separator: ", ")
        #expect(throws: ConfigError.self) { try parse("{ kind: reference, masks: [\(masks)] }") }
    }
}
