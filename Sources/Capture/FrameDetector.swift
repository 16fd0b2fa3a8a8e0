import Detector
import Evidence
import Foundation
import Logging
import MillwrightCore

/// What the detector found in one captured frame, for the gateway to ingest.
public struct DetectorReport: Sendable {
    public var camera: String
    public var defectClass: String
    /// The frame the findings are in: the detection's evidence.
    public var frame: FrameRing.Frame
    public var frameWidth: Int, frameHeight: Int
    public var findings: [ReferenceDetector.Finding]
}

/// A camera's detector as `/readyz` and MQTT tell it.
public struct DetectorStatus: Sendable, Equatable {
    public var phase: ReferenceDetector.Phase
    /// Frames compared or learnt since the gateway started.
    public var analysed: Int
    /// Frames skipped because the detector was still busy with an earlier one.
    public var dropped: Int
    /// Frames the detector could not decode.
    public var unreadable: Int

    public var isReady: Bool { phase == .ready }

    /// `learning 3/20` or `ready`.
    public var text: String {
        switch phase {
        case .learning(let seen, let of): "learning \(seen)/\(of)"
        case .ready: "ready"
        }
    }
}

/// One camera's reference detector on a worker of its own. The thread reading the decoder
/// hands it every frame and never waits: the mailbox holds one frame, a newer frame replaces
/// a waiting one (counted as dropped), so the detector always looks at the newest frame and
/// holds at most one frame beside the one it is analysing.
final class FrameDetector: @unchecked Sendable {
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
        status = DetectorStatus(phase: detector.phase, analysed: 0, dropped: 0, unreadable: 0)
        (frames, mailbox) = AsyncStream<FrameRing.Frame>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    var current: DetectorStatus { lock.withLock { status } }

    /// From the capture thread: never blocks.
    func offer(_ frame: FrameRing.Frame) {
        if case .dropped = mailbox.yield(frame) { lock.withLock { status.dropped += 1 } }
    }

    /// The next frame starts a new reference.
    func relearn() {
        lock.withLock {
            relearnAsked = true
            status.phase = .learning(seen: 0, of: settings.learnFrames)
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
            if !relearnAsked { status.phase = detector.phase }
            status.analysed += 1
        }
        if !wasReady && detector.phase == .ready {
            logger.info("detector reference learnt", metadata: ["camera": "\(camera)", "frames": "\(settings.learnFrames)"])
        }
        return DetectorReport(camera: camera, defectClass: settings.defectClass, frame: frame, frameWidth: luma.frameWidth,
                              frameHeight: luma.frameHeight, findings: Array(findings.prefix(Self.maxFindingsPerFrame)))
    }
}
