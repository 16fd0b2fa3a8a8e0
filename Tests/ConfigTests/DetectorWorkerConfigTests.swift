import Config
import Connectors
import MillwrightCore
import Testing

/// `detector: { kind: command }`: the plant's own model in a worker process; its settings, and
/// each mistake at its line and key.
@Suite struct DetectorWorkerConfigTests {
    func parse(_ detector: String, environment: [String: String] = [:]) throws(ConfigError) -> Settings {
        try ConfigLoader.parse(yaml: """
        evidence: { fetch_allow: ["10.20.0.0/16"] }
        capture:
          cameras:
          - camera: CAM-1
            rtsp: { url: "rtsp://10.20.1.5/x" }
            detector: \(detector)
        """, file: "plant.yaml", cmmsKinds: CMMSRegistry.all, environment: environment)
    }

    @Test func settingsAreRead() throws {
        let s = try parse("""
            { kind: command, run: "python3 '/opt/models/line 3/detect.py' --input 640", labels: [crack, corrosion], threshold: 0.6, timeout: 2s, start_timeout: 90s, env: { OMP_NUM_THREADS: "1", MODEL_DIR: "${MDIR}" }, model_name: line3-yolo, model_version: "2026.11" }
            """, environment: ["MDIR": "/opt/models"])
        let cam = try #require(s.capture.cameras.first)
        #expect(cam.detector == nil, "a worker replaces the reference detector")
        let w = try #require(cam.worker)
        #expect(w.program == .command(["python3", "/opt/models/line 3/detect.py", "--input", "640"]))
        #expect(w.labels == ["crack", "corrosion"] && w.threshold == 0.6)
        #expect(w.timeout == .seconds(2) && w.startTimeout == .seconds(90))
        #expect(w.env == ["OMP_NUM_THREADS": "1", "MODEL_DIR": "/opt/models"])
        #expect(w.modelName == "line3-yolo" && w.modelVersion == "2026.11")
    }

    @Test func defaults() throws {
        let w = try #require(try parse("{ kind: command, run: ./detect }").capture.cameras.first?.worker)
        #expect(w.program == .command(["./detect"]) && w.labels.isEmpty && w.threshold == 0.5)
        #expect(w.timeout == .seconds(5) && w.startTimeout == .seconds(60) && w.env.isEmpty && w.modelName == nil)
    }

    @Test(arguments: [
        ("{ kind: command }", "capture.cameras[0].detector", "needs 'run'"),
        ("{ kind: command, run: \"\" }", "capture.cameras[0].detector.run", "names no program"),
        ("{ kind: command, run: \"python3 'detect.py\" }", "capture.cameras[0].detector.run", "quote that is not closed"),
        ("{ kind: command, run: \"a\\nb\" }", "capture.cameras[0].detector.run", "line break"),
        ("{ kind: command, run: x, learn_frames: 3 }", "capture.cameras[0].detector.learn_frames", "unknown"),
        ("{ kind: command, run: x, labels: [crack, \"\"] }", "capture.cameras[0].detector.labels[1]", "must be 1 to 100 characters"),
        ("{ kind: command, run: x, labels: crack }", "capture.cameras[0].detector.labels", "must be a list"),
        ("{ kind: command, run: x, threshold: 1.5 }", "capture.cameras[0].detector.threshold", "must be between 0.0 and 1.0"),
        ("{ kind: command, run: x, timeout: 10ms }", "capture.cameras[0].detector.timeout", "must be between 100ms and 300s"),
        ("{ kind: command, run: x, start_timeout: 1h }", "capture.cameras[0].detector.start_timeout", "must be between 1s and 600s"),
        ("{ kind: command, run: x, env: { 1BAD: y } }", "capture.cameras[0].detector.env.1BAD", "is not an environment variable name"),
        ("{ kind: command, run: x, env: [A] }", "capture.cameras[0].detector.env", "must be a mapping"),
        ("{ kind: command, run: x, model_name: \"\" }", "capture.cameras[0].detector.model_name", "must be 1 to 100 characters"),
        ("{ kind: yolo }", "capture.cameras[0].detector.kind", "is not a detector kind; use reference, onnx or command"),
        ("{ kind: onnx }", "capture.cameras[0].detector", "needs 'model'"),
        ("{ kind: onnx, model: \"\" }", "capture.cameras[0].detector.model", "must be a path of 1 to 4096 bytes"),
        ("{ kind: onnx, model: m.onnx, input: 16 }", "capture.cameras[0].detector.input", "must be between 32 and 4096"),
        ("{ kind: onnx, model: m.onnx, python: \"a\\tb\" }", "capture.cameras[0].detector.python", "without control characters"),
        ("{ kind: onnx, model: m.onnx, run: x }", "capture.cameras[0].detector.run", "unknown key"),
        ("{ kind: command, run: x, model: m.onnx }", "capture.cameras[0].detector.model", "unknown key"),
    ])
    func mistakesNameTheirLineAndKey(_ detector: String, _ key: String, _ message: String) throws {
        let e: ConfigError
        do { _ = try parse(detector); Issue.record("accepted: \(detector)"); return } catch { e = error }
        #expect(e.file == "plant.yaml")
        #expect(e.key == key, "\(e)")
        #expect(e.line == 6, "\(e)")
        #expect("\(e)".contains(message), "\(e)")
    }

    @Test func onnxRunsTheReferenceWorkerOnTheModel() throws {
        let w = try #require(try parse("{ kind: onnx, model: /opt/models/line3.onnx, labels: [crack, corrosion], input: 320, threshold: 0.4, python: /opt/venv/bin/python }").capture.cameras.first?.worker)
        #expect(w.program == .onnx(model: "/opt/models/line3.onnx", input: 320, python: "/opt/venv/bin/python"))
        #expect(w.labels == ["crack", "corrosion"] && w.threshold == 0.4)
        let d = try #require(try parse("{ kind: onnx, model: m.onnx }").capture.cameras.first?.worker)
        #expect(d.program == .onnx(model: "m.onnx", input: 640, python: "python3") && d.timeout == .seconds(5))
    }

    @Test func everyListAndStringIsBounded() throws {
        let labels = (0...DetectorWorkerSettings.maxLabels).map { "c\($0)" }.joined(separator: ", ")
        #expect(throws: ConfigError.self) { try parse("{ kind: command, run: x, labels: [\(labels)] }") }
        let env = (0...DetectorWorkerSettings.maxEnv).map { "V\($0): x" }.joined(separator: ", ")
        #expect(throws: ConfigError.self) { try parse("{ kind: command, run: x, env: { \(env) } }") }
        #expect(throws: ConfigError.self) { try parse("{ kind: command, run: \"\(String(repeating: "a", count: DetectorWorkerSettings.maxRunBytes + 1))\" }") }
        let words = (0...DetectorWorkerSettings.maxWords).map { _ in "a" }.joined(separator: " ")
        #expect(throws: ConfigError.self) { try parse("{ kind: command, run: \"\(words)\" }") }
        #expect(throws: ConfigError.self) { try parse("{ kind: command, run: x, env: { V: \"\(String(repeating: "v", count: DetectorWorkerSettings.maxEnvValueBytes + 1))\" } }") }
    }

    @Test func runIsSplitIntoWordsWithoutAShell() {
        #expect(DetectorWorkerSettings.words("  python3   detect.py\t--x \"a b\" 'c\"d' e''f ") == .success(["python3", "detect.py", "--x", "a b", "c\"d", "ef"]))
        #expect(DetectorWorkerSettings.words("a $HOME | b") == .success(["a", "$HOME", "|", "b"]))
        #expect(DetectorWorkerSettings.words("'' x") == .failure(.empty))
        #expect(DetectorWorkerSettings.words("   ") == .failure(.empty))
        #expect(DetectorWorkerSettings.words("a \"b") == .failure(.unclosedQuote))
        #expect(DetectorWorkerSettings.words("a\u{7}") == .failure(.controlCharacter))
    }
}
