import Connectors
import Foundation
import MillwrightCore

/// Reads stock and technicians' open work from the CMMS where its API exposes them
/// (`inventory: { cmms: … }`, `routing: { load_from: … }`), on a timer. A CMMS that cannot
/// be read keeps the last reading; routing and reservations never wait for it.
extension Gateway {
    public func runPlanningSources() async {
        let p = settings.planning
        let stock = p.inventoryCMMS.flatMap { connectors[$0] as? any CMMSPlanningSource }
        let load = p.loadFromCMMS.flatMap { connectors[$0] as? any CMMSPlanningSource }
        for (name, source) in [(p.inventoryCMMS, stock), (p.loadFromCMMS, load)] where name != nil && source == nil {
            logger.warning("cmms \(name!) cannot report stock or technicians' load through its API; configure a CSV instead")
        }
        guard stock != nil || load != nil else { return }
        while !Task.isCancelled {
            var ok = true
            if let stock {
                do { try await store.importInventory(try await stock.inventory(), source: "cmms \(p.inventoryCMMS!)") } catch {
                    ok = false
                    logger.warning("could not read stock from the CMMS; keeping the last reading", metadata: ["cmms": "\(p.inventoryCMMS!)", "error": "\(error)"])
                }
            }
            if let load {
                do { try await store.replaceExternalLoad(try await load.openWorkByTechnician()) } catch {
                    ok = false
                    logger.warning("could not read technicians' open work from the CMMS; keeping the last reading", metadata: ["cmms": "\(p.loadFromCMMS!)", "error": "\(error)"])
                }
            }
            try? await Task.sleep(for: ok ? p.cmmsRefresh : min(p.cmmsRefresh, .seconds(30)))
        }
    }
}
