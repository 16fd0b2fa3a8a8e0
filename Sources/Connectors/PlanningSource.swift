import Foundation
import MillwrightCore

/// What a CMMS can tell the planner besides work orders, where its API exposes it: the
/// storeroom's stock and how much open work each technician already carries there.
public protocol CMMSPlanningSource: Sendable {
    /// Stock per part, keyed by the part number Millwright's rules and procedures use.
    func inventory() async throws -> [InventoryItem]
    /// Open work orders per technician, by Millwright technician id (through the connector's
    /// `users` map) — all of them, not only the ones Millwright created.
    func openWorkByTechnician() async throws -> [String: Int]
}
