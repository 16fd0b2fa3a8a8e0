import Foundation
import MillwrightCore
import Testing

@Suite struct DeliveryStateTests {
    let now = Date(timeIntervalSince1970: 1_790_000_000)
    var policy: DispatchPolicy {
        var p = DispatchPolicy()
        p.maxAttempts = 3
        p.baseBackoff = .seconds(1)
        p.maxBackoff = .seconds(8)
        return p
    }

    @Test func happyPath() {
        var s = DeliveryState()
        #expect(s.claim(now: now) == .create)
        #expect(s.phase == .sending)
        s.record(.created(cmmsId: "4711"), now: now, policy: policy, jitter: 0.5)
        #expect(s.phase == .delivered)
        #expect(s.cmmsId == "4711")
        #expect(s.claim(now: now) == .none)
    }

    @Test func unknownOutcomeIsLookedUpBeforeAnyRetry() {
        var s = DeliveryState()
        _ = s.claim(now: now)
        s.record(.unknown(error: "timed out"), now: now, policy: policy, jitter: 0)
        #expect(s.phase == .waiting)
        #expect(s.mustVerify)
        #expect(s.claim(now: now) == .none) // backoff not yet over
        let later = now.addingTimeInterval(10)
        #expect(s.claim(now: later) == .lookup)
        s.record(.lookupFound(cmmsId: "9"), now: later, policy: policy, jitter: 0)
        #expect(s.phase == .delivered)
        #expect(s.cmmsId == "9")
        #expect(s.attempts == 1) // the lookup is not a create attempt
    }

    @Test func lookupNotFoundCreatesAgain() {
        var s = DeliveryState(phase: .waiting, attempts: 1, nextAttemptAt: now, mustVerify: true)
        #expect(s.claim(now: now) == .lookup)
        s.record(.lookupNotFound, now: now, policy: policy, jitter: 0)
        #expect(!s.mustVerify)
        #expect(s.claim(now: now) == .create)
        #expect(s.attempts == 2)
    }

    @Test func failedLookupKeepsTheNeedToVerify() {
        var s = DeliveryState(phase: .waiting, attempts: 1, nextAttemptAt: now, mustVerify: true)
        _ = s.claim(now: now)
        s.record(.retryable(error: "503", retryAfter: nil), now: now, policy: policy, jitter: 0)
        #expect(s.mustVerify)
    }

    @Test func retryAfterIsHonouredAndBackoffGrows() {
        var s = DeliveryState()
        _ = s.claim(now: now)
        s.record(.retryable(error: "429", retryAfter: .seconds(30)), now: now, policy: policy, jitter: 0)
        #expect(s.nextAttemptAt == now.addingTimeInterval(30))
        #expect(Backoff.delay(attempt: 1, policy: policy, jitter: 0) == 0.5)
        #expect(Backoff.delay(attempt: 3, policy: policy, jitter: 1) == 4)
        #expect(Backoff.delay(attempt: 10, policy: policy, jitter: 1) == 8) // capped
    }

    /// A 503 from a proxy can come after the backend committed: look up before creating again,
    /// at the time the server asked for.
    @Test func anUnknownOutcomeWithRetryAfterIsLookedUpThen() {
        var s = DeliveryState()
        _ = s.claim(now: now)
        s.record(.unknown(error: "HTTP 503", retryAfter: .seconds(20)), now: now, policy: policy, jitter: 0)
        #expect(s.mustVerify)
        #expect(s.nextAttemptAt == now.addingTimeInterval(20))
        #expect(s.claim(now: now.addingTimeInterval(20)) == .lookup)
    }

    @Test func permanentErrorsDeadLetterAtOnceAndRetriesRunOut() {
        var s = DeliveryState()
        _ = s.claim(now: now)
        s.record(.permanent(error: "HTTP 400: title too long"), now: now, policy: policy, jitter: 0)
        #expect(s.phase == .deadLetter)
        #expect(s.lastError == "HTTP 400: title too long")

        var r = DeliveryState()
        var t = now
        for _ in 0..<3 {
            #expect(r.claim(now: t) == .create)
            r.record(.retryable(error: "503", retryAfter: nil), now: t, policy: policy, jitter: 0)
            t = t.addingTimeInterval(100)
        }
        #expect(r.phase == .deadLetter)
        #expect(r.lastError?.contains("gave up after 3 attempts") == true)
        let redriven = r.redrive(now: t)
        #expect(redriven)
        #expect(r.claim(now: t) == .lookup) // a redriven order is looked up first
    }

    @Test func crashRecoveryVerifiesInFlightItems() {
        var s = DeliveryState()
        _ = s.claim(now: now)
        s.recoverAfterRestart(now: now)
        #expect(s.phase == .waiting)
        #expect(s.claim(now: now) == .lookup)
    }
}

/// A lookup that cannot prove absence never leads to a create: the item waits for a person.
@Suite struct NeedsReviewTests {
    let now = Date(timeIntervalSince1970: 1_790_000_000)

    @Test func anInconclusiveLookupParksTheItemUntilARedriveAsksAgain() {
        var s = DeliveryState()
        let first = s.claim(now: now)
        #expect(first == .create)
        s.record(.unknown(error: "timeout"), now: now, policy: DispatchPolicy(), jitter: 0)
        let verify = s.claim(now: now.addingTimeInterval(3600))
        #expect(verify == .lookup)
        s.record(.lookupInconclusive(reason: "500 work orders read, none older than the claim"), now: now, policy: DispatchPolicy(), jitter: 0)
        #expect(s.phase == .needsReview)
        #expect(s.lastError?.contains("none older than the claim") == true)
        let later = s.claim(now: now.addingTimeInterval(86_400 * 365))
        #expect(later == .none, "never claimed again by itself")
        let redriven = s.redrive(now: now)
        #expect(redriven)
        let after = s.claim(now: now)
        #expect(after == .lookup, "a re-drive asks the CMMS again before anything is created")
        #expect(DeliveryState.Outcome.lookupInconclusive(reason: "x").label == "inconclusive_lookup")
    }
}
