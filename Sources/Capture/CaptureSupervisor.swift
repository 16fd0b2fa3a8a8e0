import Foundation

/// The life of one camera's decoder process, as a value: the async shell (`CameraCapture`)
/// feeds it what happened and does what it answers. No I/O, no clock of its own.
///
/// starting ──first frame──▶ streaming ──no frame for `stallAfter`──▶ stalled
///    │  no frame for `startTimeout` ─────────────────────────────────▶ stalled
///  any state ──process exited (or failed to start)──▶ backingOff ──delay passed──▶ starting
///
/// A stalled process is killed; its exit then leads to backing off. The delay doubles with
/// each start that produced no frame, from `initialBackoff` up to `maxBackoff`, and is back at
/// `initialBackoff` once a start delivers frames.
public struct CaptureSupervisor: Sendable, Equatable {
    public enum State: Sendable, Equatable {
        case starting(since: Date)
        case streaming(since: Date, lastFrame: Date)
        case stalled(since: Date)
        case backingOff(until: Date)
    }

    public enum Input: Sendable, Equatable {
        case frame(at: Date)
        case exited(status: Int32, at: Date)
        /// The decoder could not be started, or a snapshot poll ended; `why` is for the status.
        case failed(why: String, at: Date)
        /// Time passed (the shell wakes at `nextDeadline`).
        case tick(at: Date)
    }

    public enum Action: Sendable, Equatable {
        case spawn
        case kill(reason: String)
    }

    public struct Timing: Sendable, Equatable {
        public var stallAfter: TimeInterval
        public var startTimeout: TimeInterval
        public var initialBackoff: TimeInterval = 1
        public var maxBackoff: TimeInterval = 30
        public init(stallAfter: TimeInterval, startTimeout: TimeInterval, initialBackoff: TimeInterval = 1, maxBackoff: TimeInterval = 30) {
            self.stallAfter = stallAfter; self.startTimeout = startTimeout; self.initialBackoff = initialBackoff; self.maxBackoff = maxBackoff
        }
        /// For a camera sending one frame per `every` seconds: a stall is five frames missed
        /// (at least 5 s); a start may take 15 s (RTSP setup and the first key frame).
        public static func forInterval(_ every: TimeInterval) -> Timing {
            Timing(stallAfter: max(5, every * 5), startTimeout: max(15, every * 5))
        }
    }

    public let timing: Timing
    public private(set) var state: State
    /// Starts in a row that delivered no frame.
    public private(set) var failedStarts = 0
    /// Processes started so far (the first one included).
    public private(set) var starts = 1
    /// Since when the camera has delivered no frames (nil while streaming).
    public private(set) var offlineSince: Date?
    /// Why the last process ended or was ended, for the evidence card and `/readyz`.
    public private(set) var lastProblem: String?
    /// The current process has delivered a frame.
    private var deliveredFrames = false

    /// The supervisor of a process the shell is starting now.
    public init(timing: Timing, now: Date) {
        self.timing = timing
        state = .starting(since: now)
        offlineSince = now
    }

    public var online: Bool { if case .streaming = state { true } else { false } }

    /// When the shell must tick next, whatever else happens.
    public var nextDeadline: Date? {
        switch state {
        case .starting(let since): since.addingTimeInterval(timing.startTimeout)
        case .streaming(_, let last): last.addingTimeInterval(timing.stallAfter)
        case .stalled: nil // waits for the exit of the killed process
        case .backingOff(let until): until
        }
    }

    /// The delay before the next start after `failedStarts` fruitless ones.
    public var backoff: TimeInterval {
        restartDelay(failedStarts: failedStarts, initial: timing.initialBackoff, max: timing.maxBackoff)
    }

    public mutating func handle(_ input: Input) -> [Action] {
        switch (state, input) {
        case (.starting, .frame(let at)):
            state = .streaming(since: at, lastFrame: at)
            failedStarts = 0
            deliveredFrames = true
            offlineSince = nil
            lastProblem = nil
            return []
        case (.streaming(let since, _), .frame(let at)):
            state = .streaming(since: since, lastFrame: at)
            return []
        case (.stalled, .frame), (.backingOff, .frame):
            return [] // the last bytes of a process that is being ended
        case (.starting(let since), .tick(let at)) where at.timeIntervalSince(since) >= timing.startTimeout:
            return stall(at, "no frame within \(Self.seconds(timing.startTimeout)) of starting")
        case (.streaming(_, let last), .tick(let at)) where at.timeIntervalSince(last) >= timing.stallAfter:
            return stall(at, "no frame for \(Self.seconds(timing.stallAfter))")
        case (.backingOff(let until), .tick(let at)) where at >= until:
            state = .starting(since: at)
            starts += 1
            deliveredFrames = false
            return [.spawn]
        case (_, .tick):
            return []
        case (.backingOff, .exited), (.backingOff, .failed):
            return []
        case (_, .exited(let status, let at)):
            return ended(at, "decoder exited with status \(status)")
        case (_, .failed(let why, let at)):
            return ended(at, why)
        }
    }

    /// The decoder ended: back off. A stalled one keeps the stall as its problem.
    private mutating func ended(_ at: Date, _ why: String) -> [Action] {
        if case .streaming = state { offlineSince = at }
        if case .stalled = state {} else { lastProblem = why }
        let delay = backoff
        if !deliveredFrames { failedStarts += 1 }
        state = .backingOff(until: at.addingTimeInterval(delay))
        return []
    }

    private mutating func stall(_ at: Date, _ why: String) -> [Action] {
        if case .streaming = state { offlineSince = at }
        state = .stalled(since: at)
        lastProblem = why
        return [.kill(reason: why)]
    }

    static func seconds(_ t: TimeInterval) -> String { t == t.rounded() ? "\(Int64(t)) s" : String(format: "%.1f s", t) }
}

/// Both supervisors' backoff: `initial` doubled for each start in a row that came to nothing,
/// at most `max`.
func restartDelay(failedStarts: Int, initial: TimeInterval, max: TimeInterval) -> TimeInterval {
    min(max, initial * pow(2, Double(min(failedStarts, 30))))
}
