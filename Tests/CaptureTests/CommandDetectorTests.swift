@testable import Capture
import Evidence
import Foundation
import Logging
import MillwrightCore
import MillwrightTesting
import Testing

/// `detector: { kind: command }` with real worker processes: tiny Python workers that answer,
/// crash, hang, write garbage or an endless line, and the reference ONNX Runtime worker with a
/// model the test builds itself. The gateway's side must survive each, log it, show it in the
/// status and start the worker again.
@Suite struct CommandDetectorTests {
    /// A Python worker: `ready` once, then `body` for each frame line (`req` is the request).
    static func worker(_ body: String, ready: String = #"{"ready": true, "model": {"name": "fake", "version": "3"}}"#) throws -> [String] {
        let script = """
        import json, os, sys
        print(json.dumps(\(ready.debugDescription) and json.loads(\(ready.debugDescription))), flush=True)
        for line in sys.stdin:
            req = json.loads(line)
        \(body.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
        """
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("mw-worker-\(UUID().uuidString.prefix(8)).py").path
        try script.write(toFile: path, atomically: true, encoding: .utf8)
        return ["python3", path]
    }

    static let answerOneCrack = #"print(json.dumps({"id": req["id"], "detections": [{"class": 0, "confidence": 0.9, "box": [100, 50, 40, 30]}]}), flush=True)"#

    static func frame(bright: Bool = false, width: Int = 640, height: Int = 480) throws -> FrameRing.Frame {
        var r = Raster(width: width, height: height, fill: RGB(10, 10, 10))
        if bright { r.fill(PixelRect(x: 240, y: 160, width: 160, height: 160), RGB(250, 250, 250)) }
        return FrameRing.Frame(at: Date(), jpeg: try JPEG.encode(r, quality: 90))
    }

    /// A detector running with its reports in a stream and its log kept.
    struct Running {
        let detector: CommandDetector
        let log: LogLines
        let reports: AsyncStream<DetectorReport>
        let task: Task<Void, Never>

        init(_ argv: [String], labels: [String] = ["crack"], timeout: Duration = .seconds(5), threshold: Double = 0.5, modelName: String? = nil) {
            self.init(program: .command(argv), labels: labels, timeout: timeout, threshold: threshold, modelName: modelName)
        }

        init(program: DetectorWorkerSettings.Program, labels: [String], timeout: Duration, threshold: Double = 0.5, modelName: String? = nil) {
            var s = DetectorWorkerSettings(run: "\(program)", program: program)
            s.labels = labels
            s.timeout = timeout
            s.threshold = threshold
            s.modelName = modelName
            let log = LogLines()
            let logger = Logger(label: "test") { _ in log }
            let d = CommandDetector(camera: "CAM-1", settings: s, logger: logger)
            let (reports, sink) = AsyncStream<DetectorReport>.makeStream(bufferingPolicy: .bufferingNewest(16))
            detector = d
            self.log = log
            self.reports = reports
            task = Task { await d.run { sink.yield($0) } }
        }

        /// Offers `frame` every 100 ms until `condition` holds (the detector takes the newest).
        func pump(_ frame: FrameRing.Frame, until what: String, timeout: Double = 90, _ condition: () -> Bool) async throws {
            let deadline = Date().addingTimeInterval(timeout)
            while !condition() {
                guard Date() < deadline else { throw TestFailure("timed out waiting for \(what); status \(detector.current.text); log:\n\(log.text)") }
                detector.offer(frame)
                try await Task.sleep(for: .milliseconds(100))
            }
        }

        func nextReport(_ frame: FrameRing.Frame, timeout: Double = 90) async throws -> DetectorReport {
            let feeder = Task { try await pump(frame, until: "a report", timeout: timeout) { false } }
            defer { feeder.cancel() }
            var it = reports.makeAsyncIterator()
            return try #require(await it.next())
        }

        /// Stops the detector (and so its worker), and removes a worker script `worker(_:)` wrote.
        func stop() {
            task.cancel()
            if case .command(let argv) = detector.settings.program, let script = argv.last, script.contains("/mw-worker-") {
                try? FileManager.default.removeItem(atPath: script)
            }
        }
    }

    @Test(.timeLimit(.minutes(3))) func answersBecomeReportsWithTheFrameTheModelAndTheLabels() async throws {
        let r = Running(try Self.worker(Self.answerOneCrack))
        defer { r.stop() }
        let frame = try Self.frame()
        let report = try await r.nextReport(frame)
        #expect(report.camera == "CAM-1" && report.frame.jpeg == frame.jpeg && report.frameWidth == 640 && report.frameHeight == 480)
        #expect(report.modelName == "fake" && report.modelVersion == "3" && report.idTag == "cmd")
        #expect(report.findings == [.init(defectClass: "crack", confidence: 0.9, x: 100, y: 50, width: 40, height: 30)])
        #expect(r.detector.current.isReady && r.detector.current.text == "ready")
        #expect(r.log.text.contains("detector worker ready"))
    }

    @Test(.timeLimit(.minutes(3))) func aConfiguredModelNameWinsAndAnErrorAnswerIsCountedNotRestarted() async throws {
        let r = Running(try Self.worker("""
            if req["id"] == 1:
                print(json.dumps({"id": req["id"], "error": "cannot read this one"}), flush=True)
            else:
            \(Self.answerOneCrack)
            """.replacingOccurrences(of: "else:\n", with: "else:\n    ")), modelName: "line3-yolo")
        defer { r.stop() }
        let report = try await r.nextReport(try Self.frame())
        #expect(report.modelName == "line3-yolo")
        #expect(r.detector.current.failed == 1)
        #expect(r.log.text.contains("cannot read this one"))
        #expect(!r.log.text.contains("detector worker killed") && r.log.lines("detector worker started").count == 1)
    }

    @Test(.timeLimit(.minutes(3))) func aWorkerThatCrashesIsLoggedAndStartedAgain() async throws {
        // It crashes on its first frame; started again, it answers.
        let marker = FileManager.default.temporaryDirectory.appendingPathComponent("mw-crashed-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: marker) }
        let r = Running(try Self.worker("""
            if not os.path.exists(\(marker.debugDescription)):
                open(\(marker.debugDescription), "w").close()
                print("model blew up", file=sys.stderr, flush=True)
                sys.exit(3)
            \(Self.answerOneCrack)
            """))
        defer { r.stop() }
        let frame = try Self.frame()
        try await r.pump(frame, until: "the crash in the status") { r.detector.current.text.contains("worker exited with status 3") }
        #expect(!r.detector.current.isReady)
        let report = try await r.nextReport(frame)
        #expect(report.findings.count == 1)
        #expect(r.detector.current.isReady && r.detector.current.failed == 1, "the frame it crashed on is counted")
        #expect(r.log.lines("detector worker started").count == 2)
        #expect(r.log.lines("detector worker exited").contains { $0.contains("status=3") }, "\(r.log.text)")
        #expect(r.log.lines("model blew up").contains { $0.contains("camera=CAM-1") }, "the worker's stderr, with the camera: \(r.log.text)")
    }

    @Test(.timeLimit(.minutes(3))) func aHungWorkerIsKilledAtTheAnswerTimeout() async throws {
        let r = Running(try Self.worker("pass"), timeout: .milliseconds(500))
        defer { r.stop() }
        try await r.pump(try Self.frame(), until: "a second start") { r.log.lines("detector worker started").count >= 2 }
        #expect(r.log.lines("detector worker killed").contains { $0.contains("no answer to frame 1 within 0.5 s") }, "\(r.log.text)")
        #expect(r.detector.current.failed >= 1)
    }

    /// A killed worker takes what it started with it: the whole process group is signalled.
    @Test(.timeLimit(.minutes(3))) func killingAWorkerEndsWhatItStarted() async throws {
        let pidFile = FileManager.default.temporaryDirectory.appendingPathComponent("mw-worker-child-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: pidFile) }
        let r = Running(try Self.worker("""
            import subprocess
            child = subprocess.Popen(["sleep", "300"])
            if not os.path.exists(\(pidFile.debugDescription)):  # the first worker's child; a restarted one may start another
                open(\(pidFile.debugDescription), "w").write(str(child.pid))
            sys.stdin.readline()
            """), timeout: .milliseconds(500))
        defer { r.stop() }
        try await r.pump(try Self.frame(), until: "the hung worker killed") { !r.log.lines("detector worker killed").isEmpty }
        let child = try #require(Int32(try String(contentsOfFile: pidFile, encoding: .utf8)))
        #expect(try await Self.ends(child), "the worker's child \(child) outlived it")
    }

    /// Gone, or a zombie waiting for whoever adopted it to reap it: not running either way.
    static func running(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        return !stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
    }

    /// Whether `pid` stops running within 30 s; killed if it does not, so no test leaves it behind.
    static func ends(_ pid: Int32) async throws -> Bool {
        let deadline = Date().addingTimeInterval(30)
        while running(pid), Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        guard running(pid) else { return true }
        kill(pid, SIGKILL)
        return false
    }

    /// A worker that ignores SIGTERM (or never receives it: a child started from one of our
    /// threads inherits a mask that blocks it) is killed once the grace has passed.
    @Test(.timeLimit(.minutes(3))) func stoppingEndsAWorkerThatIgnoresSIGTERM() async throws {
        let pidFile = FileManager.default.temporaryDirectory.appendingPathComponent("mw-worker-pid-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: pidFile) }
        let r = Running(try Self.worker("""
            import signal, time
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            open(\(pidFile.debugDescription), "w").write(str(os.getpid()))
            \(Self.answerOneCrack)
            time.sleep(300)
            """), timeout: .seconds(60))
        func written() -> Int32? { (try? String(contentsOfFile: pidFile, encoding: .utf8)).flatMap { Int32($0) } }
        try await r.pump(try Self.frame(), until: "the worker's pid") { written() != nil }
        let worker = try #require(written())
        r.stop()
        #expect(try await Self.ends(worker), "the stopped worker \(worker) was still running")
    }

    @Test(.timeLimit(.minutes(3))) func garbageOnStdoutHasTheWorkerKilledAndTheStatusSaysSo() async throws {
        let r = Running(try Self.worker(#"print("Loading weights... done", flush=True)"#))
        defer { r.stop() }
        try await r.pump(try Self.frame(), until: "garbage in the status") { r.detector.current.text.contains("wrote garbage: not JSON") }
        #expect(r.detector.current.text.hasPrefix("restarting: "), "\(r.detector.current.text)")
        try await r.pump(try Self.frame(), until: "a second start") { r.log.lines("detector worker started").count >= 2 }
    }

    @Test(.timeLimit(.minutes(3))) func aFloodOfLinesBeforeAnExitDoesNotHideTheExit() async throws {
        // Far more lines than the event queue holds, then the exit: the worker must still be
        // known to have ended, and be started again.
        let r = Running(try Self.worker("""
            sys.stdout.write("junk\\n" * 20000)
            sys.stdout.flush()
            sys.exit(0)
            """))
        defer { r.stop() }
        try await r.pump(try Self.frame(), until: "a second start") { r.log.lines("detector worker started").count >= 2 }
        #expect(r.log.lines("detector worker exited").count >= 1)
    }

    @Test(.timeLimit(.minutes(3))) func anEndlessLineIsCutOffAndTheWorkerKilled() async throws {
        let r = Running(try Self.worker("""
            while True:
                sys.stdout.write("A" * 65536)
            """))
        defer { r.stop() }
        try await r.pump(try Self.frame(), until: "the endless line in the status") {
            r.detector.current.text.contains("a line over \(WorkerProtocol.maxLineBytes) bytes")
        }
        #expect(r.log.lines("detector worker killed").count >= 1)
    }

    @Test(.timeLimit(.minutes(3))) func aProgramThatDoesNotExistBacksOff() async throws {
        let r = Running(["millwright-no-such-worker-\(UUID().uuidString.prefix(6))"])
        defer { r.stop() }
        try await r.pump(try Self.frame(), until: "the exit in the status") { r.detector.current.text.contains("worker exited with status 127") }
        #expect(r.log.text.contains("No such file"), "env's message on stderr: \(r.log.text)")
    }

    @Test(.timeLimit(.minutes(3))) func theReferenceWorkerWithoutItsModelSaysSo() async throws {
        let r = Running(program: .onnx(model: "/nonexistent/line3.onnx", input: 640, python: "python3"), labels: [], timeout: .seconds(5))
        defer { r.stop() }
        try await r.pump(try Self.frame(), until: "the exit in the status") { r.detector.current.text.contains("worker exited with status 2") }
        #expect(r.log.lines("model file /nonexistent/line3.onnx not found").contains { $0.contains("camera=CAM-1") }, "\(r.log.text)")
    }

    @Test func aBusyWorkerKeepsOnlyTheNewestFrame() throws {
        let d = CommandDetector(camera: "CAM-1", settings: DetectorWorkerSettings(run: "x", program: .command(["x"])), logger: Logger(label: "test"))
        let f = try Self.frame()
        for _ in 0..<5 { d.offer(f) }
        #expect(d.current.dropped == 4 && d.current.analysed == 0)
        #expect(d.current.text == "starting" && !d.relearn())
    }

    @Test func theBundledWorkerIsTheRepositorysAndItsArgumentsCarryTheModel() throws {
        var s = DetectorWorkerSettings(run: "x", program: .onnx(model: "/m/line3.onnx", input: 320, python: "/opt/venv/bin/python"))
        s.threshold = 0.4
        let argv = try CommandDetector.arguments(s).get()
        #expect(argv.count == 8 && argv[0] == "/opt/venv/bin/python" && Array(argv[2...]) == ["--model", "/m/line3.onnx", "--input", "320", "--threshold", "0.4"])
        let bundled = try Data(contentsOf: URL(fileURLWithPath: argv[1]))
        #expect(bundled == (try Data(contentsOf: PackagePaths.root.appendingPathComponent("workers/onnx_detect.py"))), "\(argv[1])")
    }

    @Test func theWorkerGetsPathHomeAndItsOwnEnvironmentOnly() {
        var s = DetectorWorkerSettings(run: "x", program: .command(["x"]))
        s.env = ["OMP_NUM_THREADS": "1"]
        let env = CommandDetector.environment(s, gateway: ["PATH": "/opt/bin:/usr/bin", "HOME": "/home/mw", "CAM12_PASSWORD": "secret", "MW_KEY_ADMIN": "k"])
        #expect(env == ["PATH": "/opt/bin:/usr/bin", "HOME": "/home/mw", "LC_ALL": "C.UTF-8", "OMP_NUM_THREADS": "1"])
    }

    // MARK: the reference worker, workers/onnx_detect.py, with ONNX Runtime

    static let onnxRuntime = python3Imports(["onnxruntime", "onnx", "numpy", "PIL"])

    /// Builds the test's model (`Tests/Fixtures/onnx/bright_square_model.py`, with the onnx package).
    static func buildModel() throws -> String {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("mw-bright-square-\(UUID().uuidString.prefix(8)).onnx").path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", PackagePaths.fixtures.appendingPathComponent("onnx/bright_square_model.py").path, out]
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw TestFailure("building the ONNX model failed (status \(p.terminationStatus))") }
        return out
    }

    /// Run as `kind: command` from the source tree, and as `kind: onnx`: the copy `swift build`
    /// put next to the binary (`ReferenceWorkers`).
    @Test(.enabled(if: onnxRuntime, "needs python3 with onnxruntime, onnx, numpy and Pillow (scripts/install-deps.sh)"), .timeLimit(.minutes(4)),
          arguments: [false, true])
    func theReferenceWorkerFindsTheBrightSquareWithONNXRuntime(bundled: Bool) async throws {
        let model = try Self.buildModel()
        defer { try? FileManager.default.removeItem(atPath: model) }
        let script = PackagePaths.root.appendingPathComponent("workers/onnx_detect.py").path
        let program: DetectorWorkerSettings.Program = bundled ? .onnx(model: model, input: 64, python: "python3")
                                                              : .command(["python3", script, "--model", model, "--input", "64"])
        let r = Running(program: program, labels: ["crack", "dent"], timeout: .seconds(30))
        defer { r.stop() }
        // A dark frame: answered, nothing found.
        try await r.pump(try Self.frame(), until: "a dark frame analysed") { r.detector.current.analysed >= 2 }
        #expect(r.detector.current.failed == 0, "\(r.log.text)")
        // The bright square (240–400 × 160–320 of 640×480): letterboxed to 64×48 on a 64×64
        // input, it covers 2×2 of the model's 8-pixel cells; each scores near 1 as class 0, each
        // cell's wider duplicate box is suppressed by NMS, and the boxes come back in frame pixels.
        let report = try await r.nextReport(try Self.frame(bright: true))
        #expect(report.modelName == "mw-bright-square-" + model.split(separator: "-").last!.dropLast(5) && report.modelVersion == "1")
        #expect(report.findings.count == 4, "four cells, no duplicates: \(report.findings)")
        for f in report.findings {
            #expect(f.defectClass == "crack" && f.confidence > 0.99, "\(f)")
            #expect(f.x >= 236 && f.x + f.width <= 404 && f.y >= 156 && f.y + f.height <= 324, "inside the square: \(f)")
            #expect(abs(f.width - 80) <= 2 && abs(f.height - 80) <= 2, "one cell, 80 frame pixels: \(f)")
        }
        let minX = report.findings.map(\.x).min()!, maxX = report.findings.map { $0.x + $0.width }.max()!
        let minY = report.findings.map(\.y).min()!, maxY = report.findings.map { $0.y + $0.height }.max()!
        #expect(abs(minX - 240) <= 2 && abs(maxX - 400) <= 2 && abs(minY - 160) <= 2 && abs(maxY - 320) <= 2, "together they are the square")
    }
}

/// A log handler keeping every entry as one line of text (message and metadata).
final class LogLines: LogHandler, @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [String] = []
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let meta = (event.metadata ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        lock.withLock { entries.append("\(event.level) \(event.message) \(meta)") }
    }

    var text: String { lock.withLock { entries.joined(separator: "\n") } }
    func lines(_ containing: String) -> [String] { lock.withLock { entries.filter { $0.contains(containing) } } }
}
