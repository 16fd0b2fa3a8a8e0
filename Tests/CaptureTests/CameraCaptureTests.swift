@testable import Capture
import Foundation
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

    /// An ffmpeg that ignores SIGTERM (or never receives it: a child started from one of our
    /// threads inherits a mask that blocks it) is killed once the grace has passed.
    @Test(.timeLimit(.minutes(2))) func stoppingEndsAnFfmpegThatIgnoresSIGTERM() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mw-ffmpeg-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let pidFile = dir.appendingPathComponent("pid").path, fake = dir.appendingPathComponent("ffmpeg").path
        // `exec` keeps the pid, and an ignored signal stays ignored across it.
        try "#!/bin/sh\ntrap '' TERM\necho $$ > \(pidFile)\nexec sleep 300\n".write(toFile: fake, atomically: true, encoding: .utf8)
        chmod(fake, 0o755)
        let capture = CameraCapture(config: CaptureCamera(camera: "CAM-1", url: "rtsp://127.0.0.1:9/none"), bufferBytes: 1 << 20,
                                    ffmpeg: fake, logger: Logger(label: "test"))
        let running = Task { await capture.run() }
        func written() -> Int32? { (try? String(contentsOfFile: pidFile, encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) } }
        let deadline = Date().addingTimeInterval(30)
        while written() == nil, Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        let ffmpeg = try #require(written(), "the fake ffmpeg never started")
        running.cancel()
        await running.value
        #expect(try await CommandDetectorTests.ends(ffmpeg), "the stopped ffmpeg \(ffmpeg) was still running")
    }
}
