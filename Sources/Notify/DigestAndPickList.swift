import Foundation
import MillwrightCore

/// Everything held for one recipient (daily digest or rate limit), sent as one message.
public struct NotificationDigest: Sendable, Equatable {
    public var items: [WorkOrderNotification]
    public init(items: [WorkOrderNotification]) { self.items = items }

    public var subject: String { "Millwright digest: \(items.count) work order\(items.count == 1 ? "" : "s")" }

    /// The full text of each work order, so nobody has to open the CMMS to triage.
    public var plainText: String {
        ([subject] + items.map(\.plainText)).joined(separator: "\n\n")
    }

    /// The highest priority in the digest sets its colour.
    var priority: String {
        items.map(\.priority).max { (Priority(rawValue: $0.lowercased()) ?? .low) < (Priority(rawValue: $1.lowercased()) ?? .low) } ?? "low"
    }

    var card: WebhookCard {
        WebhookCard(headline: subject, priority: priority, facts: [], lines: items.map(\.summaryLine), image: nil, links: [],
                    generic: ["event": "digest", "count": items.count, "work_orders": items.map(\.genericObject), "text": plainText])
    }
}

/// What the storeroom pre-stages for a work order, so the technician picks up instead of searching.
public struct PickList: Sendable, Equatable, Codable {
    public var workOrderID: String
    /// Our reference (the idempotency key the CMMS also carries).
    public var reference: String
    public var asset: String
    public var assetName: String?
    public var location: String?
    /// Who collects the parts.
    public var assignee: String?
    public var workOrderURL: String?
    /// SKU, quantity, bin location and stock status per part.
    public var lines: [PartLine]

    public init(workOrderID: String, reference: String, asset: String, assetName: String? = nil, location: String? = nil,
                assignee: String? = nil, workOrderURL: String? = nil, lines: [PartLine]) {
        self.workOrderID = workOrderID; self.reference = reference; self.asset = asset; self.assetName = assetName
        self.location = location; self.assignee = assignee; self.workOrderURL = workOrderURL; self.lines = lines
    }

    var shortCount: Int { lines.filter { $0.status != .reserved }.count }

    /// Shortfalls are in the subject: they need a purchase or a substitute before anyone walks out.
    public var subject: String {
        var s = "Pick list \(workOrderID): \(lines.count) line\(lines.count == 1 ? "" : "s") for asset \(assetName ?? asset)"
        if shortCount > 0 { s += " - \(shortCount) SHORT or not in inventory" }
        return s
    }

    var facts: [(String, String)] {
        var f: [(String, String)] = [("Work order", workOrderID), ("Reference", reference), ("Asset", assetName.map { "\($0) (\(asset))" } ?? asset)]
        if let location { f.append(("Location", location)) }
        if let assignee { f.append(("For", assignee)) }
        return f
    }

    public var plainText: String {
        var out = [subject] + facts.map { "\($0.0): \($0.1)" } + ["", "Parts:"] + lines.map { "- " + $0.text }
        if let workOrderURL { out += ["", "Work order: \(workOrderURL)"] }
        return out.joined(separator: "\n")
    }

    var card: WebhookCard {
        var o: [String: Any] = [
            "event": "pick_list", "work_order_id": workOrderID, "reference": reference, "asset": asset, "text": plainText,
            "lines": lines.map { l -> [String: Any] in
                var line: [String: Any] = ["sku": l.sku, "qty": l.qty, "status": l.status.rawValue, "free": l.free]
                line["location"] = l.location
                return line
            },
        ]
        o["asset_name"] = assetName
        o["location"] = location
        o["assignee"] = assignee
        o["work_order_url"] = workOrderURL
        return WebhookCard(headline: subject, priority: shortCount > 0 ? "high" : "low", facts: facts, lines: lines.map(\.text), image: nil,
                           links: workOrderURL.map { [.init(title: "Open work order", url: $0)] } ?? [], generic: o)
    }
}
