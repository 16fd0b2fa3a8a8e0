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

    public init(camera: String, url: String, user: String? = nil, password: String? = nil, every: Duration = .seconds(1), transport: Transport = .tcp) {
        self.camera = camera; self.url = url; self.user = user; self.password = password; self.every = every; self.transport = transport
    }
}
