@testable import Capture
import Logging
import MillwrightCore
import Testing

/// What the shell hands ffmpeg, and what it lets into the log.
@Suite struct CameraCaptureTests {
    let camera = CaptureCamera(camera: "CAM-1", url: "rtsp://10.20.1.5:8554/line2", user: "viewer", password: "p@ss w/rd",
                               every: .milliseconds(500), transport: .udp)

    @Test func ffmpegIsAskedForJPEGFramesAtTheConfiguredRate() {
        let args = CameraCapture.arguments(camera)
        #expect(args.starts(with: ["-hide_banner", "-nostdin", "-loglevel", "warning", "-rtsp_transport", "udp"]))
        #expect(Array(args.suffix(10)) == ["-an", "-vf", "fps=fps=1000/500", "-f", "image2pipe", "-c:v", "mjpeg", "-q:v", "4", "pipe:1"])
        let url = args[args.firstIndex(of: "-i")! + 1]
        #expect(url == "rtsp://viewer:p%40ss%20w%2Frd@10.20.1.5:8554/line2")
        #expect(CameraCapture.arguments(CaptureCamera(camera: "C", url: "rtsp://10.0.0.1/s")).contains("rtsp://10.0.0.1/s"))
    }

    /// ffmpeg names its input URL in errors: the password is masked as written and as encoded.
    @Test func thePasswordNeverReachesTheLog() {
        let c = CameraCapture(config: camera, bufferBytes: 1 << 20, ffmpeg: "/usr/bin/ffmpeg", logger: Logger(label: "test"))
        let line = c.redact("[rtsp @ 0x1] method DESCRIBE failed: 401 Unauthorized rtsp://viewer:p%40ss%20w%2Frd@10.20.1.5:8554/line2 (p@ss w/rd)")
        #expect(!line.contains("p@ss w/rd") && !line.contains("p%40ss%20w%2Frd"), "\(line)")
        #expect(line.contains("rtsp://viewer:•••@10.20.1.5"))
    }
}
