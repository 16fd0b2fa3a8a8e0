import Foundation

/// What a work-order notification says, independent of the channel.
public struct WorkOrderNotification: Sendable, Equatable {
    public var workOrderID: String
    public var title: String
    public var priority: String
    public var asset: String
    public var location: String?
    public var defectClass: String
    public var severity: Double?
    public var assignee: String?
    /// Why this technician (routing explanation).
    public var assignmentReason: String?
    public var evidenceURL: String?
    public var workOrderURL: String?
    public var detectedAt: Date
    /// Escalation stage (0 = first notification).
    public var stage: Int

    public init(workOrderID: String, title: String, priority: String, asset: String, location: String? = nil,
                defectClass: String, severity: Double? = nil, assignee: String? = nil, assignmentReason: String? = nil,
                evidenceURL: String? = nil, workOrderURL: String? = nil, detectedAt: Date, stage: Int = 0) {
        self.workOrderID = workOrderID; self.title = title; self.priority = priority; self.asset = asset
        self.location = location; self.defectClass = defectClass; self.severity = severity; self.assignee = assignee
        self.assignmentReason = assignmentReason; self.evidenceURL = evidenceURL; self.workOrderURL = workOrderURL
        self.detectedAt = detectedAt; self.stage = stage
    }

    var headline: String {
        (stage > 0 ? "ESCALATION \(stage): " : "") + "[\(priority.uppercased())] \(workOrderID): \(title)"
    }

    var facts: [(String, String)] {
        var f: [(String, String)] = [("Asset", asset)]
        if let location { f.append(("Location", location)) }
        f.append(("Defect", defectClass))
        if let severity { f.append(("Severity", String(Int(severity.rounded())))) }
        f.append(("Priority", priority))
        if let assignee { f.append(("Assigned to", assignee)) }
        if let assignmentReason { f.append(("Why", assignmentReason)) }
        f.append(("Detected", WebhookBody.iso8601(detectedAt)))
        return f
    }

    /// Plain text, for e-mail bodies and chat fallbacks.
    public var plainText: String {
        var lines = [headline] + facts.map { "\($0.0): \($0.1)" }
        if let evidenceURL { lines.append("Evidence: \(evidenceURL)") }
        if let workOrderURL { lines.append("Work order: \(workOrderURL)") }
        return lines.joined(separator: "\n")
    }
}

/// JSON bodies for webhook channels. Keys are sorted so bodies are stable (signatures, tests).
public enum WebhookBody {
    public enum Flavor: String, Sendable, CaseIterable { case generic, slack, teams, teamsAdaptive = "teams-adaptive" }

    public static func body(_ n: WorkOrderNotification, flavor: Flavor) -> [UInt8] {
        let object: [String: Any]
        switch flavor {
        case .generic: object = generic(n)
        case .slack: object = slack(n)
        case .teams: object = teamsMessageCard(n)
        case .teamsAdaptive: object = teamsAdaptiveCard(n)
        }
        // Only strings, numbers, arrays and dictionaries go in, so this cannot fail.
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return Array(data)
    }

    static func generic(_ n: WorkOrderNotification) -> [String: Any] {
        var o: [String: Any] = [
            "event": n.stage > 0 ? "work_order.escalated" : "work_order.created",
            "work_order_id": n.workOrderID, "title": n.title, "priority": n.priority, "asset": n.asset,
            "defect_class": n.defectClass, "detected_at": iso8601(n.detectedAt), "stage": n.stage, "text": n.plainText,
        ]
        o["location"] = n.location
        o["severity"] = n.severity
        o["assignee"] = n.assignee
        o["assignment_reason"] = n.assignmentReason
        o["evidence_url"] = n.evidenceURL
        o["work_order_url"] = n.workOrderURL
        return o
    }

    /// Slack incoming webhook: `text` is the notification fallback, `blocks` the rich layout.
    static func slack(_ n: WorkOrderNotification) -> [String: Any] {
        func esc(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
        }
        var blocks: [[String: Any]] = [
            ["type": "header", "text": ["type": "plain_text", "text": String(n.headline.prefix(150)), "emoji": true]],
            // Slack allows at most 10 fields per section.
            ["type": "section", "fields": n.facts.prefix(10).map { ["type": "mrkdwn", "text": "*\(esc($0.0))*\n\(esc($0.1))"] }],
        ]
        if let url = n.evidenceURL {
            blocks.append(["type": "image", "image_url": url, "alt_text": "Annotated evidence: \(n.defectClass) on \(n.asset)"])
        }
        var buttons: [[String: Any]] = []
        if let url = n.evidenceURL { buttons.append(["type": "button", "text": ["type": "plain_text", "text": "Evidence"], "url": url]) }
        if let url = n.workOrderURL { buttons.append(["type": "button", "text": ["type": "plain_text", "text": "Open work order"], "url": url]) }
        if !buttons.isEmpty { blocks.append(["type": "actions", "elements": buttons]) }
        var text = esc(n.headline)
        if let url = n.evidenceURL { text += " <\(url)|evidence>" }
        return ["text": text, "blocks": blocks]
    }

    static func themeColor(_ priority: String) -> String {
        switch priority.lowercased() {
        case "critical": return "D32F2F"
        case "high": return "F57C00"
        case "medium": return "FBC02D"
        default: return "607D8B"
        }
    }

    /// Office 365 connector MessageCard (legacy Teams incoming webhooks).
    static func teamsMessageCard(_ n: WorkOrderNotification) -> [String: Any] {
        var section: [String: Any] = [
            "activityTitle": n.headline,
            "facts": n.facts.map { ["name": $0.0, "value": $0.1] },
            "markdown": false,
        ]
        if let url = n.evidenceURL { section["images"] = [["image": url, "title": "Evidence"]] }
        var card: [String: Any] = [
            "@type": "MessageCard", "@context": "https://schema.org/extensions",
            "summary": n.headline, "themeColor": themeColor(n.priority), "title": n.headline, "sections": [section],
        ]
        var actions: [[String: Any]] = []
        if let url = n.evidenceURL { actions.append(["@type": "OpenUri", "name": "Open evidence", "targets": [["os": "default", "uri": url]]]) }
        if let url = n.workOrderURL { actions.append(["@type": "OpenUri", "name": "Open work order", "targets": [["os": "default", "uri": url]]]) }
        if !actions.isEmpty { card["potentialAction"] = actions }
        return card
    }

    /// Adaptive Card wrapped as a message (Teams Workflows / Power Automate webhooks).
    static func teamsAdaptiveCard(_ n: WorkOrderNotification) -> [String: Any] {
        var body: [[String: Any]] = [
            ["type": "TextBlock", "text": n.headline, "weight": "Bolder", "size": "Medium", "wrap": true,
             "color": n.priority.lowercased() == "critical" ? "Attention" : "Default"],
            ["type": "FactSet", "facts": n.facts.map { ["title": $0.0, "value": $0.1] }],
        ]
        if let url = n.evidenceURL { body.append(["type": "Image", "url": url, "altText": "Annotated evidence", "size": "Large"]) }
        var content: [String: Any] = [
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard", "version": "1.4", "body": body,
        ]
        var actions: [[String: Any]] = []
        if let url = n.evidenceURL { actions.append(["type": "Action.OpenUrl", "title": "Open evidence", "url": url]) }
        if let url = n.workOrderURL { actions.append(["type": "Action.OpenUrl", "title": "Open work order", "url": url]) }
        if !actions.isEmpty { content["actions"] = actions }
        return ["type": "message", "attachments": [["contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": NSNull(), "content": content]]]
    }

    static func iso8601(_ d: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: d)
    }
}
