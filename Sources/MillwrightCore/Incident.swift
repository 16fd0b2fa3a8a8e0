import Foundation

/// Incident lifecycle as a value: explicit states, explicit transitions, no I/O.
///
///     open ──workOrderCreated──► dispatched ──cmms in progress──► inProgress
///       │                            │                               │
///       └──────────── closed(completed | falsePositive | cancelled) ◄┘
public enum IncidentState: String, Sendable, Codable, CaseIterable {
    case open, dispatched, inProgress = "in_progress", closed
    public var isOpen: Bool { self != .closed }
}

public enum Resolution: String, Sendable, Codable, CaseIterable {
    case completed, falsePositive = "false_positive", cancelled
}

/// Work-order status as the CMMS reports it, normalised.
public enum CMMSStatus: String, Sendable, Codable, CaseIterable {
    case open, inProgress = "in_progress", completed, cancelled, falsePositive = "false_positive"
}

public struct IncidentLifecycle: Sendable, Equatable {
    public private(set) var state: IncidentState
    public private(set) var resolution: Resolution?

    public enum Event: Sendable, Equatable {
        case workOrderCreated
        case cmmsStatus(CMMSStatus)
        case feedback(falsePositive: Bool)
        case cancel
    }

    public enum Transition: Sendable, Equatable {
        case unchanged
        case moved(from: IncidentState, to: IncidentState)
    }

    public init(state: IncidentState = .open, resolution: Resolution? = nil) {
        self.state = state; self.resolution = resolution
    }

    @discardableResult
    public mutating func apply(_ event: Event) -> Transition {
        let before = state
        switch (state, event) {
        case (.closed, _):
            return .unchanged
        case (.open, .workOrderCreated):
            state = .dispatched
        case (_, .workOrderCreated):
            return .unchanged
        case (_, .cmmsStatus(.open)):
            return .unchanged
        case (.open, .cmmsStatus(.inProgress)), (.dispatched, .cmmsStatus(.inProgress)):
            state = .inProgress
        case (.inProgress, .cmmsStatus(.inProgress)):
            return .unchanged
        case (_, .cmmsStatus(.completed)):
            close(.completed)
        case (_, .cmmsStatus(.cancelled)), (_, .cancel):
            close(.cancelled)
        case (_, .cmmsStatus(.falsePositive)), (_, .feedback(falsePositive: true)):
            close(.falsePositive)
        case (_, .feedback(falsePositive: false)):
            return .unchanged
        }
        return before == state ? .unchanged : .moved(from: before, to: state)
    }

    private mutating func close(_ r: Resolution) {
        state = .closed
        resolution = r
    }
}
