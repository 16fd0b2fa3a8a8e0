import Foundation
import MillwrightCore

/// MaintainX as a planning source: `inventory: { cmms: <name> }` reads the storeroom from
/// `GET /parts`, `routing: { load_from: <name> }` counts open work orders per technician from
/// `GET /workorders`. Both follow `nextCursor` until it is null, 200 records a page (the OpenAPI's maximum).
///
/// Stock, per part (field names from `maintainx-openapi.json`, `GET /parts` 200):
/// - SKU: `maintainx.part_key` — `name` (default), `barcode`, or `field:<custom field label>`
///   (e.g. `field:Part Number`, read with `expand=extra_fields`). The default is `name` because it is
///   the one identifier every MaintainX part has: `barcode` is optional (null on many parts) and often a
///   scanned code rather than the number the plant's rules use. Parts without a value are skipped;
///   parts sharing a value are added together, as one storeroom line.
/// - on hand: `inStockQuantity`, else the deprecated `availableQuantity`. Despite its name the spec
///   describes that one as "total quantity currently in stock" too, so neither is net of reservations.
/// - reserved: the committed stock, `committedQuantities.reserved + kitted + staged` — all three are
///   still on the shelf but set aside for a work order (MaintainX's own definition of committed stock);
///   without `committedQuantities`, the deprecated `reservedQuantity`. So free = on hand − reserved.
/// - location: the part's `area`, else the first location's `area`, else `location <locationId>`.
///
/// Open work: work orders in OPEN, IN_PROGRESS or ON_HOLD (`statuses=…`), filtered on the mapped users
/// (`assignees=<id>`) and read with `expand=assignees`, counted once per assigned user. Users come from
/// the `users` map the connector already uses for assignment (`T-114=4711, T-120=lee@plant.example`):
/// e-mail entries are turned into user ids once per reading with `GET /users?email=…`; `team:` entries
/// and users outside the map are not counted. Work orders with a future start date are left out, as
/// the list does by default (`show_upcoming`): they are not yet anyone's load. Every mapped technician
/// MaintainX knows gets a count, 0 included.
///
/// Rate limits: the reads share the connector's `X-Rate-Limit-*` gate with work-order delivery. A pause
/// (gate closed, or `429` + `Retry-After`) is waited out on the spot, up to `planningPatience` per reading,
/// so a long list is not restarted from its first page; beyond that the reading fails and the gateway keeps the last one.
extension MaintainXConnector: CMMSPlanningSource {
    public enum PartKey: Sendable, Equatable {
        case name, barcode
        case customField(String)

        /// Reads `part_key`; nil for anything but name, barcode or `field:<label>`.
        public init?(parsing text: String) {
            let raw = text.trimmingCharacters(in: .whitespaces)
            switch raw {
            case "name", "": self = .name
            case "barcode": self = .barcode
            default:
                guard raw.hasPrefix("field:") else { return nil }
                let label = raw.dropFirst(6).trimmingCharacters(in: .whitespaces)
                guard !label.isEmpty else { return nil }
                self = .customField(label)
            }
        }
    }

    public static let openStatuses = ["OPEN", "IN_PROGRESS", "ON_HOLD"]
    /// Longest total wait for rate-limit windows during one reading.
    static let planningPatience: Duration = .seconds(90)
    /// A list longer than this many pages is taken for a server that never ends it.
    static let maxPages = 1000

    public func inventory() async throws -> [InventoryItem] {
        let key = options.partKey
        var query = ["limit=200"]
        if case .customField = key { query.append("expand=extra_fields") }
        return Self.stock(from: try await list("/parts", query, items: "parts"), key: key)
    }

    /// The storeroom lines for MaintainX parts (see the type's documentation for the rules).
    public static func stock(from parts: [JSONValue], key: PartKey) -> [InventoryItem] {
        var bySKU: [String: InventoryItem] = [:]
        var order: [String] = []
        for part in parts {
            let raw: String? = switch key {
            case .name: part["name"]?.stringValue
            case .barcode: part["barcode"]?.stringValue
            case .customField(let label): part["extraFields"]?[label]?.stringOrNumber
            }
            guard let sku = raw?.trimmingCharacters(in: .whitespaces), !sku.isEmpty else { continue }
            let onHand = count(part["inStockQuantity"]) ?? count(part["availableQuantity"]) ?? 0
            let reserved: Int
            if let c = part["committedQuantities"]?.objectValue {
                reserved = ["reserved", "kitted", "staged"].reduce(0) { $0 + (count(c[$1]) ?? 0) }
            } else {
                reserved = count(part["reservedQuantity"]) ?? 0
            }
            if var seen = bySKU[sku] {
                seen.onHand += onHand
                seen.reserved += reserved
                seen.location = seen.location ?? location(part)
                bySKU[sku] = seen
            } else {
                bySKU[sku] = InventoryItem(sku: sku, onHand: onHand, reserved: reserved, location: location(part))
                order.append(sku)
            }
        }
        return order.map { bySKU[$0]! }
    }

    /// MaintainX lets stock go negative (a count below zero); Millwright's stock starts at 0.
    static func count(_ v: JSONValue?) -> Int? {
        guard let d = v?.doubleValue, d.isFinite else { return nil }
        return max(0, Int(min(d, 1e12)))
    }

    static func location(_ part: JSONValue) -> String? {
        func text(_ v: JSONValue?) -> String? {
            guard let s = v?.stringValue?.trimmingCharacters(in: .whitespaces), !s.isEmpty else { return nil }
            return s
        }
        let locations = part["locations"]?.arrayValue ?? []
        if let a = text(part["area"]) ?? locations.lazy.compactMap({ text($0["area"]) }).first { return a }
        return (locations.first?["locationId"] ?? part["locationId"])?.stringOrNumber.map { "location \($0)" }
    }

    public func openWorkByTechnician() async throws -> [String: Int] {
        var byUser: [String: Set<String>] = [:]   // MaintainX user id → our technicians
        var byEmail: [String: Set<String>] = [:]  // lower-cased e-mail → our technicians, until resolved
        for (ours, target) in settings.users {
            let t = target.trimmingCharacters(in: .whitespaces)
            if let id = Self.intId(t) { byUser[String(id), default: []].insert(ours) }
            else if t.contains("@") { byEmail[t.lowercased(), default: []].insert(ours) }
            // `team:<id>` is a queue, not a person's load.
        }
        guard !byUser.isEmpty || !byEmail.isEmpty else {
            throw ConnectorError.misconfigured("cmms \(name): counting technicians' open work needs maintainx.users, e.g. \"T-114=4711, T-120=lee@plant.example\" (our technician id = MaintainX user id or e-mail)")
        }
        if !byEmail.isEmpty {
            let emails = byEmail.keys.sorted().map { "email=" + Self.encode($0) }
            for user in try await list("/users", ["limit=200"] + emails, items: "users") {
                guard let id = user["id"]?.stringOrNumber, let email = user["email"]?.stringValue?.lowercased(), let ours = byEmail[email] else { continue }
                byUser[id, default: []].formUnion(ours)
            }
        }
        var counts: [String: Int] = [:]
        for techs in byUser.values { for t in techs { counts[t] = 0 } }
        guard !byUser.isEmpty else { return counts }
        let query = ["limit=200", "expand=assignees"] + Self.openStatuses.map { "statuses=\($0)" } + byUser.keys.sorted().map { "assignees=\($0)" }
        for wo in try await list("/workorders", query, items: "workOrders") {
            var techs: Set<String> = []
            for a in wo["assignees"]?.arrayValue ?? [] where a["type"]?.stringValue == "USER" {
                techs.formUnion(a["id"]?.stringOrNumber.flatMap { byUser[$0] } ?? [])
            }
            for t in techs { counts[t, default: 0] += 1 }
        }
        return counts
    }

    static func encode(_ s: String) -> String { s.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? s }

    /// Every record of a MaintainX list, following `nextCursor` page by page.
    func list(_ path: String, _ query: [String], items key: String) async throws -> [JSONValue] {
        let request = "GET " + (URL(string: base)?.path ?? "") + path
        var out: [JSONValue] = []
        var cursor: String?
        var cursors: Set<String> = []
        var waited: Duration = .zero
        var pages = 0
        while true {
            let url = path + "?" + (query + (cursor.map { ["cursor=" + Self.encode($0)] } ?? [])).joined(separator: "&")
            let outcome: Result<HTTPTransport.Response, RateLimited>
            do { outcome = try await send(.GET, url) } catch {
                throw MaintainXReadError(request: request, problem: HTTPTransport.describe(error) + " (check base_url \(settings.baseURL) and the network path)")
            }
            let r: HTTPTransport.Response
            switch outcome {
            case .failure(let limited):
                waited += limited.delay
                guard waited <= Self.planningPatience else {
                    throw MaintainXReadError(request: request, problem: "rate limit reached after \(pages) page(s); the next window opens in \(Int(limited.delay.seconds.rounded(.up)))s, more than this reading waits (\(Int(Self.planningPatience.seconds))s in all); the next reading starts again")
                }
                try await Task.sleep(for: limited.delay)
                continue
            case .success(let ok): r = ok
            }
            guard r.status == 200 else { throw MaintainXReadError(request: request, problem: "HTTP \(r.status) \(Self.describe(r))\(hint(r.status, path: path))") }
            guard let page = r.json?[key]?.arrayValue else {
                throw MaintainXReadError(request: request, problem: "the answer has no \(key) list (is base_url MaintainX's API root, https://api.getmaintainx.com/v1?): \(r.text.prefix(200))")
            }
            out += page
            pages += 1
            guard let next = r.json?["nextCursor"]?.stringValue, !next.isEmpty else { return out }
            guard cursors.insert(next).inserted, pages < Self.maxPages else {
                throw MaintainXReadError(request: request, problem: "the list does not end (nextCursor repeats or over \(Self.maxPages) pages); read \(out.count) records")
            }
            cursor = next
        }
    }

    func hint(_ status: Int, path: String) -> String {
        switch status {
        case 401: " — the API key was refused; create one in MaintainX (Settings → Integrations → API Keys) and put it in the cmms entry's auth"
        case 403: " — the API key's user may not read \(path.dropFirst()); give it a role that can"
        case 400 where (options.organizationId ?? "").isEmpty: " — if the key is for several organizations, set maintainx.organization_id"
        case 404: " — check base_url (https://api.getmaintainx.com/v1)"
        default: ""
        }
    }
}

/// A planning read that failed: which request, and what to do about it.
public struct MaintainXReadError: Error, CustomStringConvertible {
    public var request: String
    public var problem: String
    public var description: String { "MaintainX \(request): \(problem)" }
}
