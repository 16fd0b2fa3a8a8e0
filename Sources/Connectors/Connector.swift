import AsyncHTTPClient
import Foundation
import MillwrightCore

/// What the dispatcher needs from a CMMS. Each system lives in its own file.
///
/// Outcomes are classified here, where the system's conventions are known: a create whose
/// response was lost is `.unknown` (the dispatcher looks it up by our reference before
/// trying again); a validation error is `.permanent` (dead letter at once).
public protocol CMMSConnector: Sendable {
    var name: String { get }
    var kind: String { get }
    func create(_ workOrder: WorkOrderDraft) async -> DeliveryState.Outcome
    /// Does the CMMS already have a work order with our reference? `.lookupFound`,
    /// `.lookupNotFound` only when the answer proves absence. Otherwise nothing is created blind:
    /// a failed request is `LookupProof.unproven` (retried), and an answer that cannot prove
    /// absence (pages or window exhausted, a match without an id, paging not honoured) is
    /// `LookupProof.inconclusive`, which parks the work order for review.
    func lookup(reference: String) async -> DeliveryState.Outcome
    /// The same, told when the first create of this work order was claimed: a connector that has
    /// to page through the system's list reads back to that moment (minus `LookupProof.clockSkew`)
    /// instead of a configured window. Connectors that filter on our reference ignore it.
    func lookup(reference: String, createdSince: Date?) async -> DeliveryState.Outcome
    /// The work order's status in the CMMS; `nil` when the system cannot be asked.
    func status(cmmsId: String) async throws -> CMMSStatus?
    /// Adds a note (e.g. "3 more detections") to an existing work order, where supported.
    func addNote(cmmsId: String, text: String) async -> Bool
    /// Authenticates and checks permissions without creating anything.
    func checkConnection() async -> [ConnectionCheck]
    /// Asks the CMMS whether each asset, location and user the configuration names exists, with the
    /// system's own read calls (`ReferenceCheck.swift`); one answer per reference, in order.
    func checkReferences(_ references: [MappedReference]) async -> [ReferenceCheck]
    /// Uploads the annotated evidence image to the work order.
    func attach(cmmsId: String, filename: String, jpeg: Data) async -> Bool
    /// The largest attachment this system takes; the renderer fits the image under it.
    var attachmentLimitBytes: Int { get }
    /// Once a work order is closed: its closure code, the technician's notes and the completion
    /// photo, within `ReadbackLimits`. `reference` tells Millwright's own evidence upload apart.
    func readBack(cmmsId: String, reference: String) async -> CMMSReadbackResult
}

extension CMMSConnector {
    public func lookup(reference: String, createdSince: Date?) async -> DeliveryState.Outcome { await lookup(reference: reference) }
    public func attach(cmmsId: String, filename: String, jpeg: Data) async -> Bool { false }
    public var attachmentLimitBytes: Int { 1_000_000 }
    public func readBack(cmmsId: String, reference: String) async -> CMMSReadbackResult {
        .unsupported("the \(kind) connector reads no closure code, notes or photo back from the CMMS")
    }
    public func checkReferences(_ references: [MappedReference]) async -> [ReferenceCheck] {
        ReferenceChecks.notCheckable(references, "\(kind) has no read call for assets or users in Millwright")
    }
}

public struct ConnectionCheck: Sendable, Equatable {
    public var step: String
    public var ok: Bool
    public var detail: String
    /// What to try when it failed.
    public var fix: String?
    public init(step: String, ok: Bool, detail: String, fix: String? = nil) {
        self.step = step; self.ok = ok; self.detail = detail; self.fix = fix
    }
}

public enum ConnectorError: Error, CustomStringConvertible {
    case unsupportedKind(String)
    case misconfigured(String)
    public var description: String {
        switch self {
        case .unsupportedKind(let k): "CMMS kind '\(k)' has no connector in this build"
        case .misconfigured(let m): m
        }
    }
}

/// What a lookup answers when it could not read enough of the CMMS to say "not there".
public enum LookupProof {
    /// How far the CMMS's clock may run behind ours: paging stops this much before the claim.
    public static let clockSkew: TimeInterval = 15 * 60
    /// The prefix every unproven answer carries, so the gateway and an operator can tell it from
    /// an ordinary failure.
    public static let prefix = "lookup could not prove absence: "

    /// The lookup request failed (an HTTP error, no answer, a rate limit): the item stays in
    /// verification and is looked up again, never created blind.
    public static func unproven(_ why: String, retryAfter: Duration? = nil) -> DeliveryState.Outcome {
        .retryable(error: prefix + why, retryAfter: retryAfter)
    }

    /// The CMMS answered, but its answer cannot show the work order is absent, and asking again
    /// would not change that: the work order waits for a person (`needs_review`).
    public static func inconclusive(_ why: String) -> DeliveryState.Outcome {
        .lookupInconclusive(reason: prefix + why)
    }

    /// The oldest creation time a paging lookup must read back to.
    public static func horizon(createdSince: Date?, window: Duration, now: Date = Date()) -> Date {
        (createdSince ?? now.addingTimeInterval(-window.seconds)).addingTimeInterval(-clockSkew)
    }

    /// True when `text` carries "Millwright reference <reference>" as a whole token (so MW-AB does
    /// not match MW-ABC).
    public static func descriptionNames(_ text: String, reference: String) -> Bool {
        let needle = "Millwright reference " + reference
        var rest = text[...]
        while let r = rest.range(of: needle) {
            let after = rest[r.upperBound...].first
            if after.map({ !($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) ?? true { return true }
            rest = rest[r.upperBound...]
        }
        return false
    }
}
