import Foundation

/// Outbox delivery of one work order, as a value. The dispatcher is a thin shell that
/// persists this state, performs the action it asks for, and feeds back the outcome.
///
///     pending ─claim─► sending ─created─► delivered
///        ▲                │ retryable failure ─► waiting ─due─► (claim again)
///        │                │ unknown outcome (timeout, reset) ─► waiting(verify) ─claim─► verifying
///        │                │ permanent failure / attempts exhausted ─► deadLetter ─redrive─► pending
///        └── verifying: found ─► delivered · not found ─► sending
///                       · cannot prove absence ─► needsReview ─redrive─► pending (asks again)
public struct DeliveryState: Sendable, Equatable, Codable {
    public enum Phase: String, Sendable, Codable, CaseIterable {
        case pending, sending, verifying, waiting, delivered, deadLetter = "dead_letter", shadow
        /// Crashed the gateway `maxCrashes` times in a row while in flight: moved aside so the
        /// rest of the outbox flows; an admin re-drives it after the cause is fixed.
        case quarantined
        /// The CMMS could not be shown not to have it (its lookup ran out of pages, or matched
        /// ambiguously): creating again could duplicate it. A person checks the CMMS, then
        /// re-drives it, which asks the CMMS again before anything is created.
        case needsReview = "needs_review"
    }

    /// In-flight crashes before an item is quarantined instead of tried again.
    public static let maxCrashes = 3

    public private(set) var phase: Phase
    public private(set) var attempts: Int
    public private(set) var nextAttemptAt: Date?
    /// An earlier create may have reached the CMMS: look it up before creating again.
    public private(set) var mustVerify: Bool
    public private(set) var cmmsId: String?
    public private(set) var lastError: String?
    /// Restarts that found this item in flight since its last recorded outcome: each one is a
    /// process that died while working on it (crash, kill, power loss).
    public private(set) var crashes: Int

    public init(phase: Phase = .pending, attempts: Int = 0, nextAttemptAt: Date? = nil, mustVerify: Bool = false,
                cmmsId: String? = nil, lastError: String? = nil, crashes: Int = 0) {
        self.phase = phase; self.attempts = attempts; self.nextAttemptAt = nextAttemptAt
        self.mustVerify = mustVerify; self.cmmsId = cmmsId; self.lastError = lastError; self.crashes = crashes
    }

    public enum Outcome: Sendable, Equatable {
        case created(cmmsId: String)
        /// The request may or may not have been applied (timeout, connection reset, any 5xx —
        /// a 503 too: proxies answer it after the backend committed); `retryAfter` from the server.
        case unknown(error: String, retryAfter: Duration? = nil)
        /// Safe to retry: 5xx, 429, lock conflicts; `retryAfter` from the server when given.
        case retryable(error: String, retryAfter: Duration?)
        /// The CMMS rejected the content; retrying cannot help.
        case permanent(error: String)
        case lookupFound(cmmsId: String)
        case lookupNotFound
        /// The lookup answered but cannot prove absence: the window or page budget ran out, or
        /// more than one record matched our reference.
        case lookupInconclusive(reason: String)

        /// The name of the outcome in the attempts table, the audit trail, metrics and logs.
        public var label: String {
            switch self {
            case .created: "created"
            case .lookupFound: "found_existing"
            case .lookupNotFound: "not_found"
            case .lookupInconclusive: "inconclusive_lookup"
            case .unknown: "unknown_outcome"
            case .retryable: "retryable_error"
            case .permanent: "permanent_error"
            }
        }

        /// The CMMS id, or the error, that goes with the label.
        public var detail: String? {
            switch self {
            case .created(let id), .lookupFound(let id): id
            case .lookupNotFound: nil
            case .unknown(let e, _), .retryable(let e, _), .permanent(let e), .lookupInconclusive(let e): e
            }
        }
    }

    public enum Action: Sendable, Equatable {
        case create
        case lookup
        case none
    }

    public var isDue: Bool { phase == .pending || phase == .waiting }

    /// Takes the item for one attempt; says whether to look up first or create.
    public mutating func claim(now: Date) -> Action {
        guard isDue, (nextAttemptAt ?? .distantPast) <= now else { return .none }
        if mustVerify { phase = .verifying; return .lookup }
        phase = .sending
        attempts += 1
        return .create
    }

    public mutating func record(_ outcome: Outcome, now: Date, policy: DispatchPolicy, jitter: Double) {
        // A create that came back (whatever it answered) got past the steps that may have killed
        // earlier attempts; a lookup did not take them, so it clears nothing unless it found the
        // work order.
        if phase == .sending { crashes = 0 }
        if case .lookupFound = outcome { crashes = 0 }
        switch outcome {
        case .created(let id), .lookupFound(let id):
            phase = .delivered; cmmsId = id; mustVerify = false; nextAttemptAt = nil
        case .lookupNotFound:
            // Nothing reached the CMMS: the next claim creates.
            mustVerify = false; phase = .waiting; nextAttemptAt = now
        case .unknown(let error, let retryAfter):
            mustVerify = true
            retry(error: error, retryAfter: retryAfter, now: now, policy: policy, jitter: jitter)
        case .retryable(let error, let retryAfter):
            if phase == .verifying { mustVerify = true }
            retry(error: error, retryAfter: retryAfter, now: now, policy: policy, jitter: jitter)
        case .permanent(let error):
            phase = .deadLetter; lastError = error; nextAttemptAt = nil
        case .lookupInconclusive(let reason):
            // Never created blind: it waits for a person, and still must be verified.
            mustVerify = true; phase = .needsReview; nextAttemptAt = nil
            lastError = "needs review: the CMMS could not be shown not to have it already (\(reason)); check the CMMS, then re-drive"
        }
    }

    /// An admin sends a dead-lettered, quarantined or needs-review work order again; it keeps
    /// its reference, so the CMMS is asked first whether it already has it.
    public mutating func redrive(now: Date) -> Bool {
        guard phase == .deadLetter || phase == .quarantined || phase == .needsReview else { return false }
        phase = .pending; attempts = 0; nextAttemptAt = now; mustVerify = true; crashes = 0
        return true
    }

    /// After a crash, an item caught mid-request may or may not have reached the CMMS. The
    /// third crash in a row during `step` quarantines it: the item, not the gateway, is the
    /// likely cause, and trying it a fourth time would stop every delivery behind it again.
    public mutating func recoverAfterRestart(now: Date, step: String = "delivery") {
        guard phase == .sending || phase == .verifying else { return }
        mustVerify = true
        crashes += 1
        if crashes >= Self.maxCrashes {
            phase = .quarantined; nextAttemptAt = nil
            lastError = "quarantined: the gateway stopped \(crashes) times in a row during \(step) of this work order; re-drive it once the cause is fixed"
            return
        }
        phase = .waiting; nextAttemptAt = now
    }

    private mutating func retry(error: String, retryAfter: Duration?, now: Date, policy: DispatchPolicy, jitter: Double) {
        lastError = error
        if attempts >= policy.maxAttempts {
            phase = .deadLetter; nextAttemptAt = nil
            lastError = "gave up after \(attempts) attempts: \(error)"
            return
        }
        phase = .waiting
        let delay = max(retryAfter?.seconds ?? 0, Backoff.delay(attempt: attempts, policy: policy, jitter: jitter))
        nextAttemptAt = now.addingTimeInterval(delay)
    }
}

public enum Backoff {
    /// Exponential backoff with "equal jitter": half fixed, half random (`jitter` in 0…1).
    public static func delay(attempt: Int, policy: DispatchPolicy, jitter: Double) -> TimeInterval {
        let exp = policy.baseBackoff.seconds * pow(2, Double(max(0, attempt - 1)))
        let capped = min(policy.maxBackoff.seconds, exp)
        return capped / 2 + capped / 2 * min(1, max(0, jitter))
    }
}
