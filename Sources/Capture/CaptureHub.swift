import Foundation
import Logging
import MillwrightCore

/// The configured capture cameras: their frames for evidence, their status for `/readyz`.
public final class CaptureHub: Sendable {
    public let settings: CaptureSettings
    let cameras: [String: CameraCapture]

    /// `ffmpeg`: the decoder to run (Debian's /usr/bin/ffmpeg unless the tests say otherwise).
    public init(settings: CaptureSettings, ffmpeg: String = "/usr/bin/ffmpeg", logger: Logger) {
        self.settings = settings
        cameras = Dictionary(settings.cameras.map { ($0.camera, CameraCapture(config: $0, bufferBytes: settings.bufferBytes, policy: settings.fetchPolicy, ffmpeg: ffmpeg, logger: logger)) },
                             uniquingKeysWith: { a, _ in a })
    }

    /// Supervises every camera, and runs the cameras' detectors, until cancelled. `detections`
    /// receives each frame in which a detector found something.
    public func run(detections: @escaping @Sendable (DetectorReport) async -> Void) async {
        await withTaskGroup(of: Void.self) { group in
            for c in cameras.values {
                group.addTask { await c.run() }
                if let d = c.detector { group.addTask { await d.run(sink: detections) } }
            }
        }
    }

    /// The camera's detector, nil when the camera is not captured or has no `detector:`.
    public func detectorStatus(_ camera: String) -> DetectorStatus? { cameras[camera]?.detector?.current }

    /// `learnsNothing`: the camera's detector is a worker (`kind: command`), which has no reference.
    public enum Relearn: Sendable, Equatable { case started, notCaptured, noDetector, learnsNothing }

    /// Makes the camera's detector learn its reference again from the next frames.
    public func relearn(camera: String) -> Relearn {
        guard let c = cameras[camera] else { return .notCaptured }
        guard let d = c.detector else { return .noDetector }
        return d.relearn() ? .started : .learnsNothing
    }

    public func status(_ camera: String) -> CaptureStatus? { cameras[camera]?.state.status }
    public var statuses: [CaptureStatus] { cameras.keys.sorted().compactMap { status($0) } }

    public enum Lookup: Sendable, Equatable {
        case frame(FrameRing.Frame)
        /// No frame near enough; the sentence says why, for the evidence card.
        case missing(String)
        /// The camera is not captured.
        case notCaptured
    }

    /// The captured frame nearest `time` within `capture.max_skew`, or why there is none. Never
    /// waits: it looks at what the ring holds now.
    public func frame(camera: String, near time: Date) -> Lookup {
        guard let c = cameras[camera] else { return .notCaptured }
        let skew = settings.maxSkew.seconds
        if let f = c.state.nearest(to: time, within: skew) { return .frame(f) }
        return .missing(Self.noFrameReason(c.state.status, skew: skew))
    }

    static func noFrameReason(_ s: CaptureStatus, skew: TimeInterval) -> String {
        var text = "no captured frame within \(CaptureSupervisor.seconds(skew)) of the detection"
        if !s.online {
            text += "; camera \(s.camera) offline"
            if let since = s.offlineSince { text += " since \(Timestamps.format(since))" }
            if let why = s.lastProblem { text += " (\(why))" }
        } else if let newest = s.lastFrameAt {
            text += "; camera \(s.camera) is streaming, newest frame \(Timestamps.format(newest))"
        }
        return text
    }

    /// `/readyz` text for a camera: `streaming`, `starting` (the first decoder, no frame yet) or
    /// `offline since …: why`.
    public static func readyText(_ s: CaptureStatus) -> String {
        if s.online { return "streaming" }
        if s.firstStart { return "starting" }
        var text = "offline"
        if let since = s.offlineSince { text += " since \(Timestamps.format(since))" }
        if let why = s.lastProblem { text += ": \(why)" }
        return text + " (starts: \(s.starts))"
    }
}
