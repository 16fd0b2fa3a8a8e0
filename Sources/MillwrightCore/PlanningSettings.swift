import Foundation

/// Who can do the work, when, and with what (PRODUCT §5 `shifts`, `technicians`, `inventory`,
/// plus `routing`, `procedures`, `notifications`, `escalation`).
public struct PlanningSettings: Sendable {
    public var shifts: [Shift] = []
    public var holidays: Set<LocalDate> = []
    /// Inline `technicians:` entries; a roster CSV (`technicians: ./roster.csv`) is read at start.
    public var technicians: [Technician] = []
    public var rosterPath: String?
    public var routing = RoutingPolicy()
    public var distances = DistanceTable()
    /// Folder of procedure Markdown files (defect × asset class).
    public var proceduresDirectory: String?
    /// Room the procedure may take in the work-order text (CMMS long texts vary; this fits all).
    public var procedureTextLimit = 3000
    public var inventoryPath: String?
    /// Read stock from this CMMS (its inventory API) instead of, or on top of, a CSV.
    public var inventoryCMMS: String?
    /// Add the open work this CMMS reports per technician to the routing load.
    public var loadFromCMMS: String?
    /// How often stock and load are read from the CMMS.
    public var cmmsRefresh: Duration = .seconds(600)
    public var notifications = NotificationSettings()
    public var escalation = EscalationPolicy([:])
    public init() {}

    /// Routing is on when there is anyone (or anything) to route to.
    public var routesWork: Bool { !technicians.isEmpty || rosterPath != nil }
    public var tracksInventory: Bool { inventoryPath != nil || inventoryCMMS != nil }
}

/// A named notification target: a technician (by id), `supervisor`, `storeroom`, …
public struct RecipientSettings: Sendable, Equatable {
    public var name: String
    public var email: String?
    public var webhook: String?
    /// generic | slack | teams | teams-adaptive
    public var webhookFormat = "generic"
    public var webhookSecret: String?
    public var mqttTopic: String?
    public init(name: String) { self.name = name }
}

public struct SMTPSettings: Sendable, Equatable {
    public enum Security: String, Sendable { case starttls, tls, none }
    public var host: String
    public var port: Int
    public var security: Security = .starttls
    public var from: String
    public var user: String?
    public var password: String?
    /// PEM file of the CA that signed the SMTP server's certificate (self-signed plant relays).
    public var caFile: String?
    public init(host: String, port: Int, from: String) { self.host = host; self.port = port; self.from = from }
}

public struct NotificationSettings: Sendable {
    public var recipients: [String: RecipientSettings] = [:]
    public var smtp: SMTPSettings?
    public var throttle = NotificationThrottle.Policy()
    /// Who receives pick lists for parts to pre-stage (the storeroom).
    public var pickList: [String] = []
    /// Sent on every dispatched work order besides the assignee (e.g. the planner's channel).
    public var always: [String] = []
    public init() {}
}

/// The recipient name that stands for "whoever the work order is assigned to".
public let assignedTechnicianRecipient = "technician"

extension PlanningSettings {
    /// Names in `notify` lists that lead nowhere yet (no recipient entry, no technician): the
    /// gateway starts, says so, and reports each such notification as unrouted.
    public func unknownRecipients(priorityRules: [PriorityRule], technicians: [Technician]) -> [String] {
        let known = Set(notifications.recipients.keys).union(technicians.map(\.id)).union([assignedTechnicianRecipient])
        let fallback = technicians.isEmpty ? [] : [routing.fallbackQueue]
        let used = priorityRules.flatMap(\.notify) + escalation.chains.values.flatMap { $0.flatMap(\.recipients) } + notifications.pickList
            + notifications.always + fallback
        var out: [String] = []
        for n in used where !known.contains(n) && !out.contains(n) { out.append(n) }
        return out
    }
}
