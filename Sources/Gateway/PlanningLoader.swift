import Foundation
import Logging
import MillwrightCore
import Store

/// Reads the files the planning config points at (roster CSV, procedure folder, inventory
/// CSV) once at start. Any error names the file and line; nothing half-loads.
public struct PlanningLoadError: Error, CustomStringConvertible {
    public var problems: [String]
    public var description: String { problems.joined(separator: "\n") }
}

extension Gateway {
    /// The planning context, or nil when none of roster, procedures or inventory is configured.
    public static func loadPlanning(_ settings: Settings, store: Store, now: Date = Date()) async throws -> PlanningContext? {
        let p = settings.planning
        guard p.routesWork || p.proceduresDirectory != nil || p.tracksInventory else { return nil }
        var problems: [String] = []
        func read(_ path: String, what: String) -> String? {
            do { return try String(contentsOfFile: path, encoding: .utf8) } catch {
                problems.append("\(what) \(path): cannot read (\(error.localizedDescription))")
                return nil
            }
        }
        var technicians = p.technicians
        if let path = p.rosterPath, let text = read(path, what: "roster") {
            do { technicians += try Roster.parseCSV(text).technicians } catch { problems.append("\(path):\(error.line): \(error.message)") }
        }
        let shiftNames = Set(p.shifts.map(\.name))
        for t in technicians { if let s = t.shift, !shiftNames.contains(s) { problems.append("technician \(t.id) works shift '\(s)', which is not under shifts:") } }
        if Set(technicians.map(\.id)).count != technicians.count { problems.append("technician ids repeat between technicians: and the roster file") }

        var library = ProcedureLibrary([])
        if let dir = p.proceduresDirectory {
            var files: [(name: String, text: String)] = []
            do {
                for name in try FileManager.default.contentsOfDirectory(atPath: dir).sorted() where name.hasSuffix(".md") {
                    if let text = read(dir + "/" + name, what: "procedure") { files.append((name, text)) }
                }
            } catch {
                problems.append("procedures \(dir): cannot list the folder (\(error.localizedDescription))")
            }
            let (lib, errors) = ProcedureLibrary.parse(files)
            problems += errors.map { "\(dir)/\($0.description)" }
            library = lib
        }
        if let path = p.inventoryPath, let text = read(path, what: "inventory") {
            do {
                try await store.importInventory(try InventoryCSV.parse(text), now: now)
            } catch let e as InventoryCSVError {
                problems.append("\(path):\(e.line): \(e.message)")
            }
        }
        guard problems.isEmpty else { throw PlanningLoadError(problems: problems) }
        for name in p.unknownRecipients(priorityRules: settings.priority, technicians: technicians) {
            Logger(label: "millwright").warning("'\(name)' is notified but has no channel: add it under notifications.recipients (email, webhook or mqtt)")
        }
        let tz = TimeZone(identifier: settings.site.timezone) ?? .gmt
        return PlanningContext(roster: Roster(technicians), calendar: ShiftCalendar(timeZone: tz, shifts: p.shifts, holidays: p.holidays),
                               policy: p.routing, distances: p.distances, procedures: library,
                               procedureTextLimit: p.procedureTextLimit, tracksInventory: p.tracksInventory)
    }
}
