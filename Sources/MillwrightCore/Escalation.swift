import Foundation

/// One stage of an escalation chain: after `delay` (counted from the previous stage, or from the
/// start for the first), notify `recipients`.
public struct EscalationStage: Sendable, Equatable, Codable {
    public var recipients: [String]
    public var delay: TimeInterval
    public init(recipients: [String], delay: TimeInterval) { self.recipients = recipients; self.delay = delay }
}

/// Chains per priority, e.g. critical: [now: technician+supervisor, +15 min: maintenance manager,
/// +30 min: plant manager]. A priority without a chain is never escalated.
public struct EscalationPolicy: Sendable, Equatable {
    public var chains: [Priority: [EscalationStage]]
    public init(_ chains: [Priority: [EscalationStage]]) { self.chains = chains }
}

/// A notification the escalation decided is due.
public struct EscalationNotice: Sendable, Equatable, Codable {
    public var workOrder: String
    /// 0 = the initial notification, 1… = escalations.
    public var stage: Int
    public var recipients: [String]
    /// When it became due (not when the tick noticed it), for the audit trail.
    public var dueAt: Date
    public var isEscalation: Bool { stage > 0 }
}

/// The escalation of one work order as a value: feed it `tick`, `acknowledged`, `cmmsStatus`;
/// it returns what to send. No clock inside — the caller passes `now`, so tests run on an
/// injected clock and the store can persist it (Codable) and resume after a restart.
public struct Escalation: Sendable, Equatable, Codable {
    public enum State: Sendable, Equatable, Codable {
        case active
        case acknowledged(at: Date, by: String)
        /// Every stage was sent and nobody acknowledged.
        case exhausted
    }

    public let workOrder: String
    public let startedAt: Date
    public let stages: [EscalationStage]
    public private(set) var state: State
    /// Index of the next stage to send.
    public private(set) var nextStage: Int

    public init(workOrder: String, priority: Priority, policy: EscalationPolicy, startedAt: Date) {
        self.init(workOrder: workOrder, stages: policy.chains[priority] ?? [], startedAt: startedAt)
    }

    public init(workOrder: String, stages: [EscalationStage], startedAt: Date) {
        self.workOrder = workOrder; self.stages = stages; self.startedAt = startedAt
        self.nextStage = 0
        self.state = stages.isEmpty ? .exhausted : .active
    }

    /// When stage `i` is due: start + the sum of delays up to and including `i`.
    public func dueAt(stage i: Int) -> Date {
        startedAt.addingTimeInterval(stages.prefix(i + 1).reduce(0) { $0 + max(0, $1.delay) })
    }

    /// When the caller should tick next (nil when finished) — for scheduling one timer, not polling.
    public var nextDue: Date? {
        guard state == .active, nextStage < stages.count else { return nil }
        return dueAt(stage: nextStage)
    }

    /// Everything due by `now` that has not been sent. After downtime several stages can be due
    /// at once; all are returned in order so nobody in the chain is skipped silently.
    public mutating func tick(_ now: Date) -> [EscalationNotice] {
        guard state == .active else { return [] }
        var out: [EscalationNotice] = []
        while nextStage < stages.count, dueAt(stage: nextStage) <= now {
            out.append(EscalationNotice(workOrder: workOrder, stage: nextStage, recipients: stages[nextStage].recipients,
                                        dueAt: dueAt(stage: nextStage)))
            nextStage += 1
        }
        if nextStage >= stages.count { state = .exhausted }
        return out
    }

    /// Acknowledged via the API. Stops the chain; stages due before `at` but not yet ticked are
    /// not sent (the acknowledgement already answered them). Later acknowledgements are ignored.
    /// Returns true if this changed the state (for the audit trail).
    @discardableResult
    public mutating func acknowledged(at: Date, by: String) -> Bool {
        switch state {
        case .acknowledged: return false
        case .active, .exhausted:
            // Acknowledging after exhaustion still records who took it.
            state = .acknowledged(at: at, by: by)
            return true
        }
    }

    /// The CMMS reports the work order's status; moving to in progress counts as acknowledgement.
    @discardableResult
    public mutating func cmmsStatus(inProgress: Bool, at: Date) -> Bool {
        guard inProgress else { return false }
        return acknowledged(at: at, by: "cmms")
    }

    public var isAcknowledged: Bool { if case .acknowledged = state { return true } else { return false } }
}
