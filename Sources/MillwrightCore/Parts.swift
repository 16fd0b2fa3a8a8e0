import Foundation

/// One inventory row (`sku, on_hand, reserved, location`).
public struct InventoryItem: Sendable, Equatable, Codable {
    public var sku: String
    public var onHand: Int
    public var reserved: Int
    public var location: String?
    public init(sku: String, onHand: Int, reserved: Int = 0, location: String? = nil) {
        self.sku = sku; self.onHand = onHand; self.reserved = reserved; self.location = location
    }
    /// Free to reserve. Never negative even if the CMMS reports more reserved than on hand.
    public var available: Int { max(0, onHand - reserved) }
}

public struct InventoryCSVError: Error, Equatable, CustomStringConvertible {
    public var line: Int
    public var message: String
    public var description: String { "inventory line \(line): \(message)" }
}

public enum InventoryCSV {
    /// Header row required; columns `sku`, `on_hand` (required), `reserved` (default 0), `location`;
    /// other columns are ignored so a raw storeroom export works. Errors carry the 1-based line.
    public static func parse(_ text: String) throws(InventoryCSVError) -> [InventoryItem] {
        let rows = CSV.parse(text).filter { !($0.fields.count == 1 && $0.fields[0].trimmingCharacters(in: .whitespaces).isEmpty) }
        guard let header = rows.first else { throw InventoryCSVError(line: 1, message: "empty file (expected a header row sku,on_hand,reserved,location)") }
        let cols = header.fields.map { $0.trimmingCharacters(in: .whitespaces).lowercased().replacingOccurrences(of: " ", with: "_") }
        guard let skuCol = cols.firstIndex(of: "sku") else { throw InventoryCSVError(line: header.line, message: "missing column sku") }
        guard let onHandCol = cols.firstIndex(of: "on_hand") else { throw InventoryCSVError(line: header.line, message: "missing column on_hand") }
        let reservedCol = cols.firstIndex(of: "reserved"), locCol = cols.firstIndex(of: "location")
        var items: [InventoryItem] = []
        var seen: [String: Int] = [:]
        for row in rows.dropFirst() {
            func v(_ i: Int?) -> String {
                guard let i, i < row.fields.count else { return "" }
                return row.fields[i].trimmingCharacters(in: .whitespaces)
            }
            let sku = v(skuCol)
            guard !sku.isEmpty else { throw InventoryCSVError(line: row.line, message: "sku is empty") }
            if let first = seen[sku] { throw InventoryCSVError(line: row.line, message: "sku \(sku) already on line \(first)") }
            seen[sku] = row.line
            func count(_ name: String, _ col: Int?, default d: Int?) throws(InventoryCSVError) -> Int {
                let s = v(col)
                if s.isEmpty, let d { return d }
                // Exports often write "3.0"; a fractional unit count is an error.
                if let n = Int(s), n >= 0 { return n }
                if let x = Double(s), let n = Checked.exactInt(x, in: 0...1_000_000_000_000) { return n }
                throw InventoryCSVError(line: row.line, message: "\(name) \"\(s)\" for sku \(sku) is not a whole number ≥ 0")
            }
            let onHand = try count("on_hand", onHandCol, default: nil)
            let reserved = try count("reserved", reservedCol, default: 0)
            let loc = v(locCol)
            items.append(InventoryItem(sku: sku, onHand: onHand, reserved: reserved, location: loc.isEmpty ? nil : loc))
        }
        return items
    }
}

public struct PartAvailability: Sendable, Equatable {
    public enum Status: Sendable, Equatable {
        case available
        case short(missing: Int)
        case unknownSKU
    }
    public var need: PartNeed
    public var available: Int
    public var location: String?
    public var status: Status
    /// "PUL-500-HD x1: in stock (3 free, store B-12)" / "… SHORT 1 (0 free)" for the work order.
    public var text: String {
        let loc = location.map { ", \($0)" } ?? ""
        switch status {
        case .available: return "\(need.sku) x\(need.qty): in stock (\(available) free\(loc))"
        case .short(let m): return "\(need.sku) x\(need.qty): SHORT \(m) (\(available) free\(loc))"
        case .unknownSKU: return "\(need.sku) x\(need.qty): not in inventory"
        }
    }
}

/// What to reserve for one incident: the decision before the store applies it.
public struct ReservationPlan: Sendable, Equatable {
    public var incident: String
    public var lines: [PartAvailability]
    /// Lines to reserve (whole quantity each) — the store applies each with the conditional UPDATE.
    public var toReserve: [PartNeed] { lines.filter { $0.status == .available }.map(\.need) }
    public var shortfalls: [PartAvailability] { lines.filter { $0.status != .available } }
}

public enum ReservationOutcome: Sendable, Equatable {
    case reserved(PartNeed)
    /// The conditional update matched no row: someone else took the stock first (or it never was there).
    case short(PartNeed, available: Int)
    case unknownSKU(PartNeed)
    /// Already reserved for this incident (a retry): nothing changed.
    case alreadyReserved(PartNeed)
}

public enum Parts {
    /// Merges duplicate SKUs (two steps needing the same bearing) so each SKU is one reservation.
    public static func consolidate(_ needs: [PartNeed]) -> [PartNeed] {
        var order: [String] = [], qty: [String: Int] = [:]
        for n in needs where n.qty > 0 {
            if qty[n.sku] == nil { order.append(n.sku) }
            qty[n.sku, default: 0] += n.qty
        }
        return order.map { PartNeed(sku: $0, qty: qty[$0]!) }
    }

    /// Availability per SKU from an inventory snapshot. Advisory only — the snapshot can be stale
    /// by the time the store reserves; the conditional UPDATE is what decides.
    public static func check(_ needs: [PartNeed], inventory: [InventoryItem]) -> [PartAvailability] {
        let bySKU = Dictionary(inventory.map { ($0.sku, $0) }, uniquingKeysWith: { a, _ in a })
        return consolidate(needs).map { n in
            guard let item = bySKU[n.sku] else { return PartAvailability(need: n, available: 0, location: nil, status: .unknownSKU) }
            let status: PartAvailability.Status = item.available >= n.qty ? .available : .short(missing: n.qty - item.available)
            return PartAvailability(need: n, available: item.available, location: item.location, status: status)
        }
    }

    public static func plan(incident: String, needs: [PartNeed], inventory: [InventoryItem]) -> ReservationPlan {
        ReservationPlan(incident: incident, lines: check(needs, inventory: inventory))
    }
}

/// The reservation rules as a value: the exact semantics the store implements in SQL, so they
/// can be tested under every interleaving without a database.
///
/// Per SKU, all or nothing: an incident either holds its whole quantity or is flagged short —
/// a partial reservation would hide a shortfall at the asset.
///
/// Store SQL (SQLite ≥ 3.35 and PostgreSQL; one statement per SKU, each atomic on its own, so
/// two incidents competing for the last unit cannot both succeed — the second UPDATE re-evaluates
/// its WHERE against the first one's committed row and matches nothing):
///
/// ```sql
/// CREATE TABLE inventory (sku TEXT PRIMARY KEY, on_hand INTEGER NOT NULL,
///     reserved INTEGER NOT NULL DEFAULT 0 CHECK (reserved >= 0), location TEXT);
/// CREATE TABLE part_reservation (incident_id TEXT NOT NULL, sku TEXT NOT NULL, qty INTEGER NOT NULL CHECK (qty > 0),
///     reserved_at TEXT NOT NULL, PRIMARY KEY (incident_id, sku));
///
/// -- reserve (in one transaction per incident+sku):
/// UPDATE inventory SET reserved = reserved + :qty
///  WHERE sku = :sku AND on_hand - reserved >= :qty
///    AND NOT EXISTS (SELECT 1 FROM part_reservation WHERE incident_id = :incident AND sku = :sku);
/// -- changes() = 1 → INSERT INTO part_reservation VALUES (:incident, :sku, :qty, :now);  → .reserved
/// -- changes() = 0 → SELECT on_hand - reserved FROM inventory WHERE sku = :sku          → .short / .unknownSKU
/// --                 (or .alreadyReserved if the part_reservation row exists: a retry)
///
/// -- release (false positive, cancel, close): idempotent, returns what went back to stock
/// DELETE FROM part_reservation WHERE incident_id = :incident RETURNING sku, qty;
/// UPDATE inventory SET reserved = MAX(reserved - :qty, 0) WHERE sku = :sku;   -- per returned row, same transaction
/// ```
///
/// The `reserved >= 0` CHECK and `MAX(…, 0)` keep a double release (or a CSV re-import that
/// reset `reserved`) from going negative. On PostgreSQL use `GREATEST`.
public struct InventoryLedger: Sendable, Equatable {
    public private(set) var items: [String: InventoryItem]
    /// incident → sku → qty
    public private(set) var reservations: [String: [String: Int]] = [:]

    public init(_ items: [InventoryItem]) {
        self.items = Dictionary(items.map { ($0.sku, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// The conditional UPDATE: succeeds only if the whole quantity is free at this instant.
    public mutating func reserve(incident: String, _ need: PartNeed) -> ReservationOutcome {
        if let q = reservations[incident]?[need.sku] { return .alreadyReserved(PartNeed(sku: need.sku, qty: q)) }
        guard var item = items[need.sku] else { return .unknownSKU(need) }
        guard need.qty > 0 else { return .reserved(need) }
        guard item.onHand - item.reserved >= need.qty else { return .short(need, available: item.available) }
        item.reserved += need.qty
        items[need.sku] = item
        reservations[incident, default: [:]][need.sku] = need.qty
        return .reserved(need)
    }

    public mutating func reserve(incident: String, _ needs: [PartNeed]) -> [ReservationOutcome] {
        Parts.consolidate(needs).map { reserve(incident: incident, $0) }
    }

    /// Returns everything the incident held to stock. Idempotent.
    @discardableResult
    public mutating func release(incident: String) -> [PartNeed] {
        guard let held = reservations.removeValue(forKey: incident) else { return [] }
        return held.keys.sorted().map { sku in
            let qty = held[sku]!
            if var item = items[sku] { item.reserved = max(0, item.reserved - qty); items[sku] = item }
            return PartNeed(sku: sku, qty: qty)
        }
    }

    /// Consumed at work-order completion: leaves stock (on hand) and the reservation.
    @discardableResult
    public mutating func consume(incident: String) -> [PartNeed] {
        guard let held = reservations.removeValue(forKey: incident) else { return [] }
        return held.keys.sorted().map { sku in
            let qty = held[sku]!
            if var item = items[sku] {
                item.reserved = max(0, item.reserved - qty)
                item.onHand = max(0, item.onHand - qty)
                items[sku] = item
            }
            return PartNeed(sku: sku, qty: qty)
        }
    }
}

/// One required part on a work order, as the storeroom decided it.
public struct PartLine: Sendable, Equatable, Codable {
    /// `available`: in stock but deliberately not reserved (shadow mode decides, never takes).
    public enum Status: String, Sendable, Codable { case reserved, available, short, unknown }
    public var sku: String
    public var qty: Int
    public var status: Status
    /// Free stock after this decision (what the next incident would see).
    public var free: Int
    public var location: String?
    public init(sku: String, qty: Int, status: Status, free: Int, location: String?) {
        self.sku = sku; self.qty = qty; self.status = status; self.free = free; self.location = location
    }

    /// "PUL-500-HD ×1 reserved (store B-12, 2 left)" / "PUL-500-HD ×1 SHORT — 0 free" for the work order text.
    public var text: String {
        switch status {
        case .reserved: return "\(sku) ×\(qty) reserved\(location.map { " at \($0)" } ?? "") (\(free) left)"
        case .available: return "\(sku) ×\(qty) in stock\(location.map { " at \($0)" } ?? "") (\(free) free)"
        case .short: return "\(sku) ×\(qty) SHORT — \(free) free\(location.map { " at \($0)" } ?? "")"
        case .unknown: return "\(sku) ×\(qty) not in inventory"
        }
    }
}
