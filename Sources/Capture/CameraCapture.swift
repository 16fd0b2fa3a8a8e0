import Evidence
import Foundation
import Logging
import Metrics
import MillwrightCore

/// The status of one capture camera, as `/readyz` and the evidence card tell it.
public struct CaptureStatus: Sendable, Equatable {
    public var camera: String
    public var online: Bool
    /// The first decoder is starting and nothing has gone wrong yet.
    public var firstStart: Bool
    public var offlineSince: Date?
    public var lastProblem: String?
    public var starts: Int
    public var lastFrameAt: Date?
}

/// One camera: its ring of frames and its supervisor, shared between the thread that reads the
/// decoder's output and the loop that supervises it.
final class CameraState: @unchecked Sendable {
    private let lock = NSLock()
    private var ring: FrameRing
    private var supervisor: CaptureSupervisor
    let camera: String

    init(camera: String, bufferBytes: Int, supervisor: CaptureSupervisor) {
        self.camera = camera
        ring = FrameRing(maxBytes: bufferBytes)
        self.supervisor = supervisor
    }

    func handle(_ input: CaptureSupervisor.Input) -> [CaptureSupervisor.Action] { lock.withLock { supervisor.handle(input) } }
    func keep(_ frame: FrameRing.Frame) { lock.withLock { _ = ring.append(frame) } }
    var nextDeadline: Date? { lock.withLock { supervisor.nextDeadline } }
    func nearest(to t: Date, within s: TimeInterval) -> FrameRing.Frame? { lock.withLock { ring.nearest(to: t, within: s) } }

    var status: CaptureStatus {
        lock.withLock {
            CaptureStatus(camera: camera, online: supervisor.online, firstStart: supervisor.starts == 1 && supervisor.lastProblem == nil && !supervisor.online,
                          offlineSince: supervisor.offlineSince, lastProblem: supervisor.lastProblem,
                          starts: supervisor.starts, lastFrameAt: ring.newest)
        }
    }
}

/// The async shell around one camera's `CaptureSupervisor`: starts Debian's `ffmpeg` to decode
/// the RTSP stream into JPEG frames on its stdout, splits them (`JPEGSplitter`), keeps them in
/// the camera's ring, keeps the process's stderr in the log (bounded), and does what the
/// supervisor says: start again after backing off, kill a stalled process.
final class CameraCapture: @unchecked Sendable {
    let config: CaptureCamera
    let state: CameraState
    let ffmpeg: String
    let logger: Logger
    /// The camera's `detector:` (the reference detector or a worker), fed every frame kept; nil without one.
    let detector: (any CameraDetector)?
    /// Largest frame accepted from the decoder.
    static let maxFrameBytes = 8 << 20

    private let lock = NSLock()
    private var process: Process?
    /// An ONVIF camera's lookup, then its snapshot polling when it has no stream.
    private var worker: Task<Void, Never>?
    private var stopping = false
    private var inputs: AsyncStream<CaptureSupervisor.Input>.Continuation?

    /// What an ONVIF camera's stream and snapshot URIs must obey (`evidence.fetch_allow`).
    let policy: FetchPolicy
    let metrics: CaptureMetrics

    init(config: CaptureCamera, bufferBytes: Int, policy: FetchPolicy = FetchPolicy(), ffmpeg: String, logger: Logger, now: Date = Date()) {
        self.config = config
        self.policy = policy
        metrics = CaptureMetrics(camera: config.camera)
        self.ffmpeg = ffmpeg
        self.logger = logger
        if let w = config.worker {
            detector = CommandDetector(camera: config.camera, settings: w, logger: logger)
        } else {
            detector = config.detector.map { FrameDetector(camera: config.camera, settings: $0, logger: logger) }
        }
        state = CameraState(camera: config.camera, bufferBytes: bufferBytes,
                            supervisor: CaptureSupervisor(timing: .forInterval(config.every.seconds), now: now))
    }

    /// The ffmpeg arguments: RTSP in (`url`, or the camera's own for an `rtsp:` camera), `every`
    /// frames out as JPEG on stdout. The URL carries the credentials (ffmpeg's RTSP client takes
    /// them no other way).
    static func arguments(_ c: CaptureCamera, url: String? = nil) -> [String] {
        let ms = max(1, c.every.components.seconds * 1000 + c.every.components.attoseconds / 1_000_000_000_000_000)
        return ["-hide_banner", "-nostdin", "-loglevel", "warning",
                "-rtsp_transport", c.transport.rawValue, "-timeout", "5000000",
                "-i", urlWithCredentials(c, url: url ?? c.url),
                "-an", "-vf", "fps=fps=1000/\(ms)", "-f", "image2pipe", "-c:v", "mjpeg", "-q:v", "4", "pipe:1"]
    }

    /// `url` with the camera's credentials, unless it has its own (an ONVIF camera may hand out
    /// a stream URI with them in it).
    static func urlWithCredentials(_ c: CaptureCamera, url: String) -> String {
        guard let user = c.user, var parts = URLComponents(string: url), parts.user == nil else { return url }
        parts.user = user
        parts.password = c.password
        return parts.string ?? url
    }

    /// `line` with the password (as written and percent-encoded) replaced.
    func redact(_ line: String) -> String {
        guard let p = config.password, !p.isEmpty else { return line }
        var out = line.replacingOccurrences(of: p, with: "•••")
        if let enc = p.addingPercentEncoding(withAllowedCharacters: .urlPasswordAllowed), enc != p { out = out.replacingOccurrences(of: enc, with: "•••") }
        return out
    }

    /// Supervises until cancelled; then ends the process.
    func run() async {
        let (stream, continuation) = AsyncStream<CaptureSupervisor.Input>.makeStream(bufferingPolicy: .bufferingNewest(64))
        lock.withLock { inputs = continuation }
        // Ticks let the supervisor notice a silence: at its next deadline, and at least once a second.
        let ticker = Task { [state] in
            while !Task.isCancelled {
                let wait = state.nextDeadline.map { min(max($0.timeIntervalSinceNow, 0.05), 1) } ?? 1
                try? await Task.sleep(for: .milliseconds(Int64(wait * 1000)))
                continuation.yield(.tick(at: Date()))
            }
        }
        spawn()
        await withTaskCancellationHandler {
            for await input in stream {
                let actions = state.handle(input)
                metrics.online.record(state.status.online ? 1 : 0)
                for action in actions {
                    switch action {
                    case .spawn:
                        metrics.restarts.increment()
                        spawn()
                    case .kill(let reason):
                        metrics.stalls.increment()
                        logger.warning("camera stalled; ending the decoder", metadata: ["camera": "\(config.camera)", "why": "\(reason)"])
                        killDecoder()
                    }
                }
            }
        } onCancel: {
            lock.withLock { stopping = true }
            continuation.finish()
        }
        ticker.cancel()
        // The ffmpeg process gets SIGTERM, then SIGKILL if it is still there (`ChildProcess.stop`).
        let decoder = lock.withLock { () -> Process? in
            worker?.cancel()
            return process
        }
        if let decoder, decoder.isRunning { ChildProcess.stop(decoder, group: false) }
    }

    /// Ends a stalled decoder at once: the ffmpeg process, or an ONVIF camera's lookup or
    /// snapshot polling. The supervisor starts the next one.
    private func killDecoder() {
        lock.withLock {
            worker?.cancel()
            if let p = process, p.isRunning { kill(p.processIdentifier, SIGKILL) }
        }
    }

    private func spawn() {
        if lock.withLock({ stopping }) { return }
        switch config.source {
        case .rtsp: startDecoder(url: config.url)
        case .onvif:
            // The lookup is repeated at every start: a camera may hand out a new URI after a reboot.
            let task = Task { [self] in await lookUpAndStart() }
            lock.withLock { worker = task }
        }
    }

    /// An ONVIF camera's start: the lookup, then ffmpeg on the stream or the snapshot polling.
    private func lookUpAndStart() async {
        let source: ONVIFSource
        do {
            source = try await ONVIFClient(camera: config).resolve()
        } catch {
            logger.error("ONVIF lookup failed", metadata: ["camera": "\(config.camera)", "error": "\(redact(error.description))"])
            failed(error.description)
            return
        }
        let (kind, uri) = switch source { case .stream(let u): ("stream", u); case .snapshot(let u): ("snapshot", u) }
        // The camera's answer is trusted no further than the configured URL.
        if let why = policy.captureRefusal(url: uri) {
            logger.error("ONVIF camera named a URI the fetch policy refuses", metadata: ["camera": "\(config.camera)", "uri": "\(redact(uri))", "why": "\(why)"])
            failed("ONVIF \(kind) URI \(uri) refused: \(why)")
            return
        }
        logger.info("ONVIF camera resolved", metadata: ["camera": "\(config.camera)", kind: "\(redact(uri))"])
        switch source {
        case .stream(let uri):
            if Task.isCancelled { failed("ONVIF lookup cancelled") } else { startDecoder(url: uri) }
        case .snapshot(let uri):
            await pollSnapshots(ONVIFClient(camera: config), uri)
        }
    }

    /// The run ended without a decoder; `why` (the password redacted: a camera may put it in a
    /// URI) becomes the camera's status.
    private func failed(_ why: String) { lock.withLock { inputs }?.yield(.failed(why: redact(why), at: Date())) }

    /// A checked frame, from the decoder or a snapshot: kept in the ring, counted, offered to the
    /// detector, and told to the supervisor (the watchdog).
    private func accept(_ jpeg: Data) {
        let now = Date()
        let frame = FrameRing.Frame(at: now, jpeg: jpeg)
        state.keep(frame)
        metrics.frames.increment()
        detector?.offer(frame)
        lock.withLock { inputs }?.yield(.frame(at: now))
    }

    /// Fetches the snapshot once per `every` until a fetch fails or the supervisor ends it; each
    /// JPEG is checked and kept like a decoded frame.
    private func pollSnapshots(_ client: ONVIFClient, _ uri: String) async {
        let every = config.every.seconds
        while !Task.isCancelled {
            let started = Date()
            do {
                let jpeg = try await client.snapshot(uri, maxBytes: Self.maxFrameBytes)
                do { _ = try FrameCheck.inspect(jpeg) } catch {
                    failed("ONVIF snapshot at \(uri) is not a readable JPEG (\(error))")
                    return
                }
                accept(jpeg)
            } catch {
                logger.warning("ONVIF snapshot failed", metadata: ["camera": "\(config.camera)", "error": "\(redact(error.description))"])
                failed(error.description)
                return
            }
            let wait = every - Date().timeIntervalSince(started)
            if wait > 0 { try? await Task.sleep(for: .milliseconds(Int64((wait * 1000).rounded()))) }
        }
        failed("snapshot polling ended")
    }

    private func startDecoder(url: String) {
        if lock.withLock({ stopping }) { return }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: ffmpeg)
        p.arguments = Self.arguments(config, url: url)
        p.environment = ["PATH": "/usr/bin:/bin", "LC_ALL": "C"]
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        let started = Date()
        p.terminationHandler = { [weak self] proc in
            guard let self else { return }
            let status = proc.terminationStatus
            self.logger.warning("camera decoder exited", metadata: ["camera": "\(self.config.camera)", "status": "\(status)",
                                                                    "ran": "\(Int64(Date().timeIntervalSince(started)))s"])
            self.lock.withLock { self.inputs }?.yield(.exited(status: status, at: Date()))
        }
        do {
            try p.run()
        } catch {
            logger.error("cannot start ffmpeg for a capture camera", metadata: ["camera": "\(config.camera)", "ffmpeg": "\(ffmpeg)", "error": "\(error)"])
            lock.withLock { inputs }?.yield(.exited(status: -1, at: Date()))
            return
        }
        lock.withLock { process = p }
        readFrames(out.fileHandleForReading)
        // The password redacted: ffmpeg repeats its input URL in its messages.
        StderrLog.follow(err.fileHandleForReading, program: "ffmpeg", camera: config.camera, logger: logger) { [self] in redact($0) }
    }

    /// Reads frames on a thread of its own (blocking reads of the pipe) until end of file.
    private func readFrames(_ handle: FileHandle) {
        let thread = Thread { [self] in
            var splitter = JPEGSplitter(maxFrameBytes: Self.maxFrameBytes)
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                for event in splitter.feed(chunk) {
                    switch event {
                    case .frame(let jpeg):
                        do { _ = try FrameCheck.inspect(jpeg) } catch {
                            logger.warning("decoder sent an unreadable frame", metadata: ["camera": "\(config.camera)", "error": "\(error)"])
                            continue
                        }
                        accept(jpeg)
                    case .dropped(let why):
                        logger.warning("decoder output dropped", metadata: ["camera": "\(config.camera)", "why": "\(why)"])
                    }
                }
            }
            try? handle.close()
        }
        thread.stackSize = 256 << 10
        thread.start()
    }
}

/// A camera's series in `/metrics`: frames kept, decoder restarts, stalls, and whether it is
/// streaming now.
struct CaptureMetrics: Sendable {
    let frames: Counter
    let restarts: Counter
    let stalls: Counter
    let online: Gauge

    init(camera: String) {
        let label = [("camera", camera)]
        frames = Counter(label: "millwright_capture_frames_total", dimensions: label)
        restarts = Counter(label: "millwright_capture_restarts_total", dimensions: label)
        stalls = Counter(label: "millwright_capture_stalls_total", dimensions: label)
        online = Gauge(label: "millwright_capture_online", dimensions: label)
    }
}
