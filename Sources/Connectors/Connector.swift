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
    /// `.lookupNotFound`, or an error outcome when the lookup itself failed.
    func lookup(reference: String) async -> DeliveryState.Outcome
    /// The work order's status in the CMMS; `nil` when the system cannot be asked.
    func status(cmmsId: String) async throws -> CMMSStatus?
    /// Adds a note (e.g. "3 more detections") to an existing work order, where supported.
    func addNote(cmmsId: String, text: String) async -> Bool
    /// Authenticates and checks permissions without creating anything.
    func checkConnection() async -> [ConnectionCheck]
    /// Uploads the annotated evidence image to the work order.
    func attach(cmmsId: String, filename: String, jpeg: Data) async -> Bool
    /// The largest attachment this system takes; the renderer fits the image under it.
    var attachmentLimitBytes: Int { get }
}

extension CMMSConnector {
    public func attach(cmmsId: String, filename: String, jpeg: Data) async -> Bool { false }
    public var attachmentLimitBytes: Int { 1_000_000 }
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
