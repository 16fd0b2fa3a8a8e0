import Foundation

/// The life of one camera's detector worker process, as a value: the async shell
/// (`CommandDetector`) tells it what happened and does what it answers. No I/O, no clock.
///
/// starting ──ready line──▶ idle ──frame sent──▶ busy ──answer──▶ idle
///    │ not ready within `startTimeout`    │ no answer within `answerTimeout` ──▶ killing
///  starting/idle/busy ──garbage on stdout──▶ killing ──exited──▶ backingOff ──delay passed──▶ starting
///  any live state ──exited (or failed to start)──▶ backingOff
///
/// The delay doubles with each run in a row that answered no frame, from `initialBackoff` up
/// to `maxBackoff`, and is back at `initialBackoff` once a run answers one.
public struct WorkerSupervisor: Sendable, Equatable {
    public enum State: Sendable, Equatable {
        case starting(since: Date)
        case idle
        case busy(id: Int, since: Date)
        /// The worker was killed for `why`; waiting for it to exit.
        case killing(why: String)
        case backingOff(until: Date)
    }

    public enum Input: Sendable, Equatable {
        case ready(at: Date)
        /// An answer, detections or an error, to frame `id`.
        case answered(id: Int, at: Date)
        case garbage(why: String, at: Date)
        case exited(status: Int32, at: Date)
        case failedToStart(why: String, at: Date)
        case tick(at: Date)
    }

    public enum Action: Sendable, Equatable {
        case spawn
        case kill(reason: String)
    }

    public struct Timing: Sendable, Equatable {
        public var startTimeout: TimeInterval
        public var answerTimeout: TimeInterval
        public var initialBackoff: TimeInterval = 1
        public var maxBackoff: TimeInterval = 30
        public init(startTimeout: TimeInterval, answerTimeout: TimeInterval, initialBackoff: TimeInterval = 1, maxBackoff: TimeInterval = 30) {
            self.startTimeout = startTimeout; self.answerTimeout = answerTimeout; self.initialBackoff = initialBackoff; self.maxBackoff = maxBackoff
        }
    }

    public let timing: Timing
    public private(set) var state: State
    /// Workers started so far (the first one included).
    public private(set) var starts = 1
    /// Runs in a row that answered no frame.
    public private(set) var failedStarts = 0
    /// Why the last worker ended or was ended.
    public private(set) var lastProblem: String?
    private var answeredThisRun = false
    private var nextID = 1

    /// The supervisor of a worker the shell is starting now.
    public init(timing: Timing, now: Date) {
        self.timing = timing
        state = .starting(since: now)
    }

    /// The worker has said it is ready and is not being ended.
    public var isReady: Bool {
        switch state { case .idle, .busy: true; default: false }
    }

    public var canSend: Bool { state == .idle }

    /// The frame in flight, if any: its answer is awaited.
    public var awaiting: Int? { if case .busy(let id, _) = state { id } else { nil } }

    /// When the shell must tick next, whatever else happens.
    public var nextDeadline: Date? {
        switch state {
        case .starting(let since): since.addingTimeInterval(timing.startTimeout)
        case .busy(_, let since): since.addingTimeInterval(timing.answerTimeout)
        case .backingOff(let until): until
        case .idle, .killing: nil
        }
    }

    /// The delay before the next start after `failedStarts` fruitless runs.
    public var backoff: TimeInterval {
        restartDelay(failedStarts: failedStarts, initial: timing.initialBackoff, max: timing.maxBackoff)
    }

    /// `starting`, `ready`, or `restarting: why (starts: N)`, for `/readyz` and MQTT.
    public var text: String {
        switch state {
        case .idle, .busy: return "ready"
        case .starting where lastProblem == nil: return "starting"
        case .starting, .killing, .backingOff: return "restarting: \(lastProblem ?? "ended") (starts: \(starts))"
        }
    }

    /// Takes the next frame id and waits for its answer; nil unless idle.
    public mutating func send(at now: Date) -> Int? {
        guard state == .idle else { return nil }
        let id = nextID
        nextID += 1
        state = .busy(id: id, since: now)
        return id
    }

    public mutating func handle(_ input: Input) -> [Action] {
        switch (state, input) {
        case (.starting, .ready):
            state = .idle
            return []
        case (.busy(let id, _), .answered(let got, _)) where got == id:
            state = .idle
            answeredThisRun = true
            failedStarts = 0
            return []
        case (.starting, .answered(let got, _)), (.idle, .answered(let got, _)), (.busy, .answered(let got, _)):
            return kill("answered frame \(got), which it was not asked for")
        case (.idle, .ready), (.busy, .ready):
            return kill("said ready a second time")
        case (.starting, .garbage(let why, _)), (.idle, .garbage(let why, _)), (.busy, .garbage(let why, _)):
            return kill("wrote garbage: \(why)")
        case (.killing, .ready), (.killing, .answered), (.killing, .garbage), (.backingOff, .ready), (.backingOff, .answered), (.backingOff, .garbage):
            return [] // the last lines of a worker that is being ended
        case (.starting(let since), .tick(let at)) where at.timeIntervalSince(since) >= timing.startTimeout:
            return kill("not ready within \(CaptureSupervisor.seconds(timing.startTimeout)) of starting")
        case (.busy(let id, let since), .tick(let at)) where at.timeIntervalSince(since) >= timing.answerTimeout:
            return kill("no answer to frame \(id) within \(CaptureSupervisor.seconds(timing.answerTimeout))")
        case (.backingOff(let until), .tick(let at)) where at >= until:
            state = .starting(since: at)
            starts += 1
            answeredThisRun = false
            return [.spawn]
        case (_, .tick):
            return []
        case (.backingOff, .exited), (.backingOff, .failedToStart):
            return []
        case (.killing, .exited(_, let at)), (.killing, .failedToStart(_, let at)):
            return ended(at, nil)
        case (_, .exited(let status, let at)):
            return ended(at, "worker exited with status \(status)")
        case (_, .failedToStart(let why, let at)):
            return ended(at, why)
        }
    }

    private mutating func kill(_ why: String) -> [Action] {
        state = .killing(why: why)
        lastProblem = why
        return [.kill(reason: why)]
    }

    /// The worker ended: back off. One that was killed keeps the reason it was killed for.
    private mutating func ended(_ at: Date, _ why: String?) -> [Action] {
        if let why { lastProblem = why }
        let delay = backoff
        if !answeredThisRun { failedStarts += 1 }
        state = .backingOff(until: at.addingTimeInterval(delay))
        return []
    }
}
