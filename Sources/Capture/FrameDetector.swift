import Detector
import Evidence
import Foundation
import Logging
import MillwrightCore

/// What a camera's detector found in one captured frame, for the gateway to ingest.
public struct DetectorReport: Sendable {
    public struct Finding: Sendable, Equatable {
        public var defectClass: String
        public var confidence: Double
        /// The box in frame pixels.
        public var x: Int, y: Int, width: Int, height: Int
        /// The reference detector's region size and strongest z-score; none from a worker.
        public var measurements: [String: Double] = [:]
    }

    public var camera: String
    /// The frame the findings are in: the detection's evidence.
    public var frame: FrameRing.Frame
    public var frameWidth: Int, frameHeight: Int
    /// The detections' `model: {name, version}`.
    public var modelName: String, modelVersion: String
    /// Goes into the detection ids (`CAM-12-ref-…`, `CAM-12-cmd-…`), keeping the two kinds' ids apart.
    public var idTag: String
    public var findings: [Finding]
}

/// A camera's detector as `/readyz` and MQTT tell it.
public struct DetectorStatus: Sendable, Equatable {
    public enum Phase: Sendable, Equatable {
        /// The reference detector learning its reference.
        case learning(seen: Int, of: Int)
        case ready
        /// A worker that has not said it is ready yet, or is being started again (`text` says why).
        case starting(String)
    }

    public var phase: Phase
    /// Frames compared or learnt (a worker: answered) since the gateway started.
    public var analysed: Int
    /// Frames skipped because the detector was still busy with an earlier one.
    public var dropped: Int
    /// Frames the detector could not decode.
    public var unreadable: Int
    /// Frames a worker answered with an error, or did not answer (it was killed first).
    public var failed = 0

    public var isReady: Bool { phase == .ready }

    /// `learning 3/20`, `ready`, `starting` or `restarting: why (starts: N)`.
    public var text: String {
        switch phase {
        case .learning(let seen, let of): "learning \(seen)/\(of)"
        case .ready: "ready"
        case .starting(let text): text
        }
    }
}

/// What capture needs of a camera's detector: frames offered without waiting, a loop handing
/// reports to the gateway, a status.
protocol CameraDetector: Sendable {
    var current: DetectorStatus { get }
    /// From the capture thread: never blocks.
    func offer(_ frame: FrameRing.Frame)
    /// Analyses frames until cancelled.
    func run(sink: @escaping @Sendable (DetectorReport) async -> Void) async
    /// Learn again from the next frames; false for a detector that learns nothing.
    func relearn() -> Bool
}

/// One camera's reference detector on a worker of its own. The thread reading the decoder
/// hands it every frame and never waits: the mailbox holds one frame, a newer frame replaces
/// a waiting one (counted as dropped), so the detector always looks at the newest frame and
/// holds at most one frame beside the one it is analysing.
final class FrameDetector: CameraDetector, @unchecked Sendable {
    /// The model name and version its detections carry.
    static let modelName = "millwright-reference"
    /// Findings reported per frame, the most confident first: a frame that differs everywhere
    /// (a lens covered, the camera knocked) is one story, not hundreds of detections.
    static let maxFindingsPerFrame = 16

    let camera: String
    let settings: DetectorSettings
    let logger: Logger
    private let lock = NSLock()
    /// Only the worker (`run`, through `analyse`) touches it, one frame at a time: no lock.
    private var detector: ReferenceDetector
    private var status: DetectorStatus
    private var relearnAsked = false
    private let frames: AsyncStream<FrameRing.Frame>
    private let mailbox: AsyncStream<FrameRing.Frame>.Continuation

    init(camera: String, settings: DetectorSettings, logger: Logger) {
        self.camera = camera
        self.settings = settings
        self.logger = logger
        detector = ReferenceDetector(.init(learnFrames: settings.learnFrames, sigma: settings.sigma, minAreaPx: settings.minAreaPx,
                                           masks: settings.masks.map { $0.map { ReferenceDetector.Point(x: $0.x, y: $0.y) } }))
        status = DetectorStatus(phase: Self.phase(detector.phase), analysed: 0, dropped: 0, unreadable: 0)
        (frames, mailbox) = AsyncStream<FrameRing.Frame>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    var current: DetectorStatus { lock.withLock { status } }

    /// From the capture thread: never blocks.
    func offer(_ frame: FrameRing.Frame) {
        if case .dropped = mailbox.yield(frame) { lock.withLock { status.dropped += 1 } }
    }

    /// The next frame starts a new reference.
    @discardableResult func relearn() -> Bool {
        lock.withLock {
            relearnAsked = true
            status.phase = .learning(seen: 0, of: settings.learnFrames)
        }
        return true
    }

    static func phase(_ p: ReferenceDetector.Phase) -> DetectorStatus.Phase {
        switch p {
        case .learning(let seen, let of): .learning(seen: seen, of: of)
        case .ready: .ready
        }
    }

    /// Analyses frames until cancelled, handing each frame with findings to `sink` (and waiting
    /// for it: frames that arrive meanwhile are dropped, newest kept).
    func run(sink: @escaping @Sendable (DetectorReport) async -> Void) async {
        await withTaskCancellationHandler {
            for await frame in frames {
                if let report = analyse(frame), !report.findings.isEmpty { await sink(report) }
            }
        } onCancel: { [mailbox] in
            mailbox.finish()
        }
    }

    func analyse(_ frame: FrameRing.Frame) -> DetectorReport? {
        let luma: LumaPlane
        do { luma = try JPEG.decodeLuma(frame.jpeg, coveringWidth: ReferenceDetector.workingWidth) } catch {
            lock.withLock { status.unreadable += 1 }
            logger.warning("detector cannot decode a frame", metadata: ["camera": "\(camera)", "error": "\(error)"])
            return nil
        }
        guard let grey = GreyImage(width: luma.width, height: luma.height, pixels: luma.pixels) else { return nil }
        if lock.withLock({ () -> Bool in defer { relearnAsked = false }; return relearnAsked }) {
            detector.relearn()
            logger.info("detector relearning its reference", metadata: ["camera": "\(camera)", "frames": "\(settings.learnFrames)"])
        }
        let wasReady = detector.phase == .ready
        let findings = detector.analyse(grey, frameWidth: luma.frameWidth, frameHeight: luma.frameHeight)
        lock.withLock {
            // A relearn asked for during this frame shows as learning until the next frame applies it.
            if !relearnAsked { status.phase = Self.phase(detector.phase) }
            status.analysed += 1
        }
        if !wasReady && detector.phase == .ready {
            logger.info("detector reference learnt", metadata: ["camera": "\(camera)", "frames": "\(settings.learnFrames)"])
        }
        return DetectorReport(camera: camera, frame: frame, frameWidth: luma.frameWidth, frameHeight: luma.frameHeight,
                              modelName: Self.modelName, modelVersion: "1", idTag: "ref",
                              findings: findings.prefix(Self.maxFindingsPerFrame).map {
                                  .init(defectClass: settings.defectClass, confidence: $0.confidence, x: $0.x, y: $0.y, width: $0.width, height: $0.height,
                                        measurements: ["area_px": Double($0.areaPx), "peak_z": ($0.peakZ * 100).rounded() / 100])
                              })
    }
}
