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
