import Foundation

/// `capture:`: cameras whose RTSP stream the gateway decodes itself, so that a detection sent
/// without a frame can still carry a picture (issue #16).
public struct CaptureSettings: Sendable, Equatable {
    /// How far a captured frame may be from a detection's timestamp and still be its evidence.
    public var maxSkew: Duration = .seconds(2)
    /// The per-camera ring of recent frames, bounded in bytes.
    public var bufferBytes = 32 << 20
    public var cameras: [CaptureCamera] = []
    /// `evidence.fetch_allow`, which the URIs an ONVIF camera hands out must obey like the
    /// configured URLs (the loader sets it).
    public var fetchPolicy = FetchPolicy()
    public init() {}
}

public struct CaptureCamera: Sendable, Equatable {
    public enum Transport: String, Sendable, CaseIterable { case tcp, udp }
    /// Where `url` points: the RTSP stream itself, or the camera's ONVIF Media service, which
    /// names the stream (or a snapshot URI) each time the decoder starts.
    public enum Source: String, Sendable { case rtsp, onvif }
    public var camera: String
    /// `rtsp://host[:port]/path`, or for `onvif` the Media service's `http(s)://` address;
    /// without credentials (those are `user` and `password`).
    public var url: String
    public var source: Source = .rtsp
    public var user: String?
    /// From `password_env`; never logged (the stderr the gateway keeps has it redacted).
    public var password: String?
    /// One frame per this interval.
    public var every: Duration = .seconds(1)
    public var transport: Transport = .tcp
    /// The built-in detector run on this camera's frames; nil: frames are evidence only.
    public var detector: DetectorSettings?
    /// `detector: { kind: command }`: the plant's own model in a worker process, instead of the
    /// built-in detector (the loader sets one of `detector` and `worker`, never both).
    public var worker: DetectorWorkerSettings?

    public init(camera: String, url: String, user: String? = nil, password: String? = nil, every: Duration = .seconds(1), transport: Transport = .tcp) {
        self.camera = camera; self.url = url; self.user = user; self.password = password; self.every = every; self.transport = transport
    }
}

/// `detector:` on a capture camera: the built-in reference detector for a fixed view (#16).
public struct DetectorSettings: Sendable, Equatable {
    /// A mask polygon's corner, in the camera's frame pixels.
    public struct Point: Sendable, Equatable {
        public var x: Double, y: Double
        public init(x: Double, y: Double) { self.x = x; self.y = y }
    }

    /// Good frames the reference is learnt from.
    public var learnFrames = 20
    /// How many standard deviations from the reference a pixel must be to count.
    public var sigma = 4.0
    /// The smallest flagged area reported, in frame pixels.
    public var minAreaPx = 80
    /// The class of the detections it raises.
    public var defectClass = "anomaly"
    /// Polygons (frame pixels) the detector ignores: moving parts, a clock, a window.
    public var masks: [[Point]] = []

    public static let learnFramesRange = 2...1000
    public static let sigmaRange = 1.0...50.0
    public static let minAreaRange = 1...10_000_000
    public static let maxMasks = 32
    public static let maxMaskPoints = 256

    public init(learnFrames: Int = 20, sigma: Double = 4, minAreaPx: Int = 80, defectClass: String = "anomaly", masks: [[Point]] = []) {
        self.learnFrames = learnFrames; self.sigma = sigma; self.minAreaPx = minAreaPx; self.defectClass = defectClass; self.masks = masks
    }
}

/// `detector: { kind: command, run, … }` or `{ kind: onnx, model, … }` on a capture camera: the
/// plant's own model, run by a worker process the gateway starts and supervises, speaking JSON
/// lines on stdin/stdout (#16).
public struct DetectorWorkerSettings: Sendable, Equatable {
    public enum Program: Sendable, Equatable {
        /// `kind: command`: `run` split into the program and its arguments (`words(_:)`); started without a shell.
        case command([String])
        /// `kind: onnx`: the reference worker shipped with the binary (workers/onnx_detect.py),
        /// run by `python` on `model` letterboxed to `input`×`input` pixels.
        case onnx(model: String, input: Int, python: String)
    }

    /// What the log says was started: `run` as written, or the model of `kind: onnx`.
    public var run: String
    public var program: Program
    /// The worker's class ids, in order: class 0 is `labels[0]`. A worker may also name classes itself.
    public var labels: [String] = []
    /// Detections below this confidence are dropped by the gateway.
    public var threshold = 0.5
    /// How long the worker has to answer a frame before it is killed and started again.
    public var timeout: Duration = .seconds(5)
    /// How long a started worker has to say it is ready (loading a model takes a while).
    public var startTimeout: Duration = .seconds(60)
    /// Added to the worker's environment (which otherwise holds only PATH and HOME).
    public var env: [String: String] = [:]
    /// The model name and version the detections carry; the worker's own (from its ready line) when nil.
    public var modelName: String?
    public var modelVersion: String?

    public static let maxRunBytes = 4096
    public static let maxWords = 64
    public static let maxLabels = 1000
    public static let maxLabelBytes = 100
    public static let maxEnv = 32
    public static let maxEnvValueBytes = 4096
    public static let thresholdRange = 0.0...1.0
    public static let timeoutRange = Duration.milliseconds(100)...Duration.seconds(300)
    public static let startTimeoutRange = Duration.seconds(1)...Duration.seconds(600)

    public static let inputRange = 32...4096
    public static let maxPathBytes = 4096

    public init(run: String, program: Program) { self.run = run; self.program = program }

    /// `run` split into words at spaces and tabs; a word may be quoted with '…' or "…" (no
    /// escapes inside), so a path with spaces can be given. No shell: no variables, globs or pipes.
    public static func words(_ run: String) -> Result<[String], WordsError> {
        var words: [String] = [], word = "", inWord = false, quote: Character?
        for ch in run {
            if let q = quote {
                if ch == q { quote = nil } else { word.append(ch) }
            } else if ch == "'" || ch == "\"" {
                quote = ch; inWord = true
            } else if ch == " " || ch == "\t" {
                if inWord { words.append(word); word = ""; inWord = false }
            } else if ch.isNewline || (ch.asciiValue.map { $0 < 0x20 || $0 == 0x7F } ?? false) {
                return .failure(.controlCharacter)
            } else {
                word.append(ch); inWord = true
            }
            if words.count > maxWords { return .failure(.tooManyWords) }
        }
        if quote != nil { return .failure(.unclosedQuote) }
        if inWord { words.append(word) }
        if words.first?.isEmpty ?? true { return .failure(.empty) }
        if words.count > maxWords { return .failure(.tooManyWords) }
        return .success(words)
    }

    public enum WordsError: Error, Sendable, Equatable, CustomStringConvertible {
        case empty, unclosedQuote, controlCharacter, tooManyWords
        public var description: String {
            switch self {
            case .empty: "names no program"
            case .unclosedQuote: "has a quote that is not closed"
            case .controlCharacter: "has a line break or control character"
            case .tooManyWords: "has more than \(DetectorWorkerSettings.maxWords) words"
            }
        }
    }
}
