import Evidence
import Foundation
import Logging
import MillwrightCore
import Workers

/// One camera's `detector: { kind: command }` or `{ kind: onnx }`: the plant's own model in a worker process,
/// spoken to in JSON lines (`WorkerProtocol`) and kept alive by a `WorkerSupervisor`. This is the
/// async shell: it starts the process, writes frames to its stdin, reads its stdout (lines
/// bounded by `WorkerLines`) and stderr (into the log), and does what the supervisor says.
///
/// Like the reference detector it never slows capture: `offer` puts the frame in a mailbox of
/// one, a newer frame replacing a waiting one (counted as dropped), and a frame goes to the
/// worker only when it has answered the previous one.
final class CommandDetector: CameraDetector, @unchecked Sendable {
    static let idTag = "cmd"
    /// The model name when neither the configuration nor the worker names one.
    static let defaultModelName = "command-worker"

    let camera: String
    let settings: DetectorWorkerSettings
    let logger: Logger

    private enum Event: Sendable {
        case line(run: Int, Data)
        case tooLong(run: Int)
        /// A frame was offered, a worker exited (`exits`), or time passed: look at the mailbox,
        /// the exits and the deadlines.
        case wake
    }

    private let lock = NSLock()
    private var waiting: FrameRing.Frame?
    private var status = DetectorStatus(phase: .starting("starting"), analysed: 0, dropped: 0, unreadable: 0)
    private var events: AsyncStream<Event>.Continuation?
    /// Workers that have exited (run number, status), not yet told to the supervisor. Kept
    /// here, not in `events`, where a flood of lines could push them out. One per run at most.
    private var exits: [(run: Int, status: Int32)] = []

    // Only the loop in `run` touches these.
    private var supervisor: WorkerSupervisor
    private var process: Process?
    private var stdin: FileHandle?
    /// Each worker started gets the next number; events from an earlier one are ignored.
    private var runNumber = 0
    /// The frame in flight, and the worker's own model name and version.
    private var inFlight: (id: Int, frame: FrameRing.Frame, width: Int, height: Int)?
    private var workerModel: (name: String?, version: String?) = (nil, nil)

    init(camera: String, settings: DetectorWorkerSettings, logger: Logger, now: Date = Date()) {
        self.camera = camera
        self.settings = settings
        self.logger = logger
        supervisor = WorkerSupervisor(timing: .init(startTimeout: settings.startTimeout.seconds, answerTimeout: settings.timeout.seconds), now: now)
    }

    var current: DetectorStatus { lock.withLock { status } }

    func offer(_ frame: FrameRing.Frame) {
        let continuation = lock.withLock { () -> AsyncStream<Event>.Continuation? in
            if waiting != nil { status.dropped += 1 }
            waiting = frame
            return events
        }
        continuation?.yield(.wake)
    }

    /// A worker's model has no reference to learn.
    func relearn() -> Bool { false }

    func run(sink: @escaping @Sendable (DetectorReport) async -> Void) async {
        // The gateway writes to pipes whose reader (the worker) may die at any moment; that must
        // be an error from write(), not a SIGPIPE ending the gateway.
        signal(SIGPIPE, SIG_IGN)
        // Lines and wakes; a flood of lines from a misbehaving worker loses the oldest ones,
        // never blocks the reader, and the first bad line has the worker killed anyway.
        let (stream, continuation) = AsyncStream<Event>.makeStream(bufferingPolicy: .bufferingNewest(64))
        lock.withLock { events = continuation }
        let ticker = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(200))
                guard self != nil else { return }
                continuation.yield(.wake)
            }
        }
        spawn()
        await withTaskCancellationHandler {
            for await event in stream {
                await handle(event, sink: sink)
            }
        } onCancel: {
            continuation.finish()
        }
        ticker.cancel()
        // Its stdin is not closed here: a write may still be under way on its thread (the handle
        // is closed when the last reference, that thread's, goes).
        if let p = process, p.isRunning { Self.stop(p) }
    }

    /// SIGTERM to the worker's process group, then SIGKILL if it is still there: the group, so
    /// that the signal also reaches what the worker started (a model server, multiprocessing
    /// children) instead of leaving them running beside its replacement.
    static func stop(_ process: Process) { ChildProcess.stop(process, group: true) }

    private func handle(_ event: Event, sink: @Sendable (DetectorReport) async -> Void) async {
        let now = Date()
        var actions: [WorkerSupervisor.Action] = []
        for (run, code) in lock.withLock({ () -> [(run: Int, status: Int32)] in defer { exits.removeAll() }; return exits }) where run == runNumber {
            process = nil
            stdin = nil // closed once a write still under way has failed
            actions += supervisor.handle(.exited(status: code, at: now))
            var meta: Logger.Metadata = ["camera": "\(camera)", "status": "\(code)"]
            if case .backingOff(let until) = supervisor.state { meta["restart_in"] = "\(CaptureSupervisor.seconds(until.timeIntervalSince(now)))" }
            logger.warning("detector worker exited", metadata: meta)
        }
        switch event {
        case .line(let run, let line) where run == runNumber && process != nil:
            let message: WorkerProtocol.Message
            do { message = try WorkerProtocol.decode(line) } catch {
                actions = supervisor.handle(.garbage(why: error.description, at: now))
                break
            }
            switch message {
            case .ready(let name, let version):
                actions = supervisor.handle(.ready(at: now))
                if actions.isEmpty {
                    workerModel = (name, version)
                    logger.info("detector worker ready", metadata: ["camera": "\(camera)", "model": "\(name ?? "?") \(version ?? "")"])
                }
            case .answer(let id, let detections):
                let flight = inFlight
                actions = supervisor.handle(.answered(id: id, at: now))
                guard actions.isEmpty, let flight, flight.id == id else { break }
                inFlight = nil
                lock.withLock { status.analysed += 1 }
                if let report = report(detections, flight: flight) { await sink(report) }
            case .failed(let id, let why):
                actions = supervisor.handle(.answered(id: id, at: now))
                guard actions.isEmpty else { break }
                inFlight = nil
                lock.withLock { status.analysed += 1; status.failed += 1 }
                logger.warning("detector worker could not analyse a frame", metadata: ["camera": "\(camera)", "error": "\(why)"])
            }
        case .tooLong(let run) where run == runNumber && process != nil:
            actions = supervisor.handle(.garbage(why: "a line over \(WorkerProtocol.maxLineBytes) bytes", at: now))
        case .line, .tooLong:
            break // from a worker that has ended
        case .wake:
            actions += supervisor.handle(.tick(at: now))
        }
        for action in actions {
            switch action {
            case .spawn: spawn()
            case .kill(let reason):
                logger.warning("detector worker killed", metadata: ["camera": "\(camera)", "why": "\(reason)"])
                if let p = process, p.isRunning { ChildProcess.signal(p, SIGKILL, group: true) }
            }
        }
        // A frame whose worker was killed or exited gets no answer.
        if inFlight != nil && supervisor.awaiting == nil {
            inFlight = nil
            lock.withLock { status.failed += 1 }
        }
        sendWaiting(now)
        let phase: DetectorStatus.Phase = supervisor.isReady ? .ready : .starting(supervisor.text)
        lock.withLock { status.phase = phase }
    }

    /// The waiting frame to an idle worker.
    private func sendWaiting(_ now: Date) {
        guard supervisor.canSend, let handle = stdin else { return }
        guard let frame = lock.withLock({ () -> FrameRing.Frame? in defer { waiting = nil }; return waiting }) else { return }
        let info: FrameCheck.Info
        do { info = try FrameCheck.inspect(frame.jpeg) } catch {
            lock.withLock { status.unreadable += 1 }
            return
        }
        guard let id = supervisor.send(at: now) else { return }
        inFlight = (id, frame, info.width, info.height)
        let line = WorkerProtocol.request(id: id, camera: camera, width: info.width, height: info.height, jpeg: frame.jpeg)
        // On a thread of its own: a worker that stops reading fills the pipe and blocks the
        // write until the answer timeout has it killed, which ends the write with an error.
        let thread = Thread { try? handle.write(contentsOf: line) }
        thread.stackSize = 128 << 10
        thread.start()
    }

    /// The worker's answer as the gateway's findings; nil when none is kept.
    private func report(_ detections: [WorkerProtocol.Detection], flight: (id: Int, frame: FrameRing.Frame, width: Int, height: Int)) -> DetectorReport? {
        let (kept, refused) = WorkerProtocol.findings(detections, labels: settings.labels, threshold: settings.threshold,
                                                      frameWidth: flight.width, frameHeight: flight.height, limit: FrameDetector.maxFindingsPerFrame)
        for why in refused.prefix(3) { logger.warning("detector worker finding dropped", metadata: ["camera": "\(camera)", "why": "\(why)"]) }
        guard !kept.isEmpty else { return nil }
        return DetectorReport(camera: camera, frame: flight.frame, frameWidth: flight.width, frameHeight: flight.height,
                              modelName: settings.modelName ?? workerModel.name ?? Self.defaultModelName,
                              modelVersion: settings.modelVersion ?? workerModel.version ?? "1", idTag: Self.idTag, findings: kept)
    }

    /// The worker's environment: PATH and HOME (a program found on the PATH, a per-user Python),
    /// and the configured `env`; nothing else of the gateway's, which holds its secrets.
    static func environment(_ settings: DetectorWorkerSettings, gateway: [String: String] = ProcessInfo.processInfo.environment) -> [String: String] {
        var env = ["PATH": gateway["PATH"] ?? "/usr/local/bin:/usr/bin:/bin", "LC_ALL": "C.UTF-8"]
        if let home = gateway["HOME"] { env["HOME"] = home }
        return env.merging(settings.env) { $1 }
    }

    /// The program and its arguments: `run`'s words, or the bundled reference worker on the model.
    static func arguments(_ settings: DetectorWorkerSettings) -> Result<[String], ReferenceWorkers.NotFound> {
        switch settings.program {
        case .command(let argv): return .success(argv)
        case .onnx(let model, let input, let python):
            return ReferenceWorkers.locate(ReferenceWorkers.onnxDetect).map {
                // The worker keeps candidates down to the gateway's threshold, so that NMS weighs
                // the boxes the gateway will keep.
                [python, $0.path, "--model", model, "--input", "\(input)", "--threshold", "\(settings.threshold)"]
            }
        }
    }

    private func spawn() {
        runNumber += 1
        let run = runNumber
        workerModel = (nil, nil)
        let argv: [String]
        switch Self.arguments(settings) {
        case .success(let a): argv = a
        case .failure(let why):
            logger.error("cannot start the detector worker", metadata: ["camera": "\(camera)", "error": "\(why)"])
            _ = supervisor.handle(.failedToStart(why: why.description, at: Date()))
            return
        }
        let p = Process()
        // env finds the program on the PATH and then becomes it: the process killed is the worker.
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["--"] + argv
        p.environment = Self.environment(settings)
        let input = Pipe(), output = Pipe(), errors = Pipe()
        p.standardInput = input
        p.standardOutput = output
        p.standardError = errors
        let continuation = lock.withLock { events }
        p.terminationHandler = { [weak self] proc in
            self?.lock.withLock { self?.exits.append((run, proc.terminationStatus)) }
            continuation?.yield(.wake)
        }
        do {
            try p.run()
        } catch {
            logger.error("cannot start the detector worker", metadata: ["camera": "\(camera)", "run": "\(settings.run)", "error": "\(error)"])
            _ = supervisor.handle(.failedToStart(why: "cannot start \(argv[0]): \(error)", at: Date()))
            return
        }
        logger.info("detector worker started", metadata: ["camera": "\(camera)", "run": "\(settings.run)", "pid": "\(p.processIdentifier)"])
        process = p
        stdin = input.fileHandleForWriting
        readLines(output.fileHandleForReading, run: run, continuation: continuation)
        StderrLog.follow(errors.fileHandleForReading, program: "detector worker", camera: camera, logger: logger)
    }

    /// Reads the worker's stdout on a thread of its own (blocking reads) until end of file.
    private func readLines(_ handle: FileHandle, run: Int, continuation: AsyncStream<Event>.Continuation?) {
        let thread = Thread {
            var lines = WorkerLines()
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                for event in lines.feed(chunk) {
                    switch event {
                    case .line(let data): continuation?.yield(.line(run: run, data))
                    case .tooLong: continuation?.yield(.tooLong(run: run))
                    }
                }
            }
            try? handle.close()
        }
        thread.stackSize = 256 << 10
        thread.start()
    }
}
