import Foundation

/// What a work-order notification says, independent of the channel.
public struct WorkOrderNotification: Sendable, Equatable, Codable {
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

    /// An escalation says so first, so it stands out in a subject line or a chat preview.
    var headline: String {
        (stage > 0 ? "ESCALATION (stage \(stage)): not acknowledged - " : "") + "[\(priority.uppercased())] \(workOrderID): \(title)"
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


extension WorkOrderNotification {
    /// One line for a digest: enough to decide whether to open it now.
    var summaryLine: String {
        var s = headline + " - asset \(asset)"
        if let location { s += ", \(location)" }
        if let assignee { s += " - assigned to \(assignee)" }
        if let url = workOrderURL ?? evidenceURL { s += " - \(url)" }
        return s
    }

    var links: [WebhookCard.Link] {
        var l: [WebhookCard.Link] = []
        if let evidenceURL { l.append(.init(title: "Open evidence", url: evidenceURL)) }
        if let workOrderURL { l.append(.init(title: "Open work order", url: workOrderURL)) }
        return l
    }

    var genericObject: [String: Any] {
        var o: [String: Any] = [
            "event": stage > 0 ? "work_order.escalated" : "work_order.created",
            "work_order_id": workOrderID, "title": title, "priority": priority, "asset": asset,
            "defect_class": defectClass, "detected_at": WebhookBody.iso8601(detectedAt), "stage": stage, "text": plainText,
        ]
        o["location"] = location
        o["severity"] = severity
        o["assignee"] = assignee
        o["assignment_reason"] = assignmentReason
        o["evidence_url"] = evidenceURL
        o["work_order_url"] = workOrderURL
        return o
    }

    var card: WebhookCard {
        WebhookCard(headline: headline, priority: priority, facts: facts, lines: [],
                    image: evidenceURL.map { .init(url: $0, alt: "Annotated evidence: \(defectClass) on \(asset)") },
                    links: links, generic: genericObject)
    }
}

/// What every chat flavor shows, whatever the message is about (a work order, a digest, a pick
/// list): one renderer per flavor instead of one per message kind and flavor.
struct WebhookCard {
    struct Link { var title: String; var url: String }
    struct Image { var url: String; var alt: String }
    var headline: String
    /// Drives the accent colour.
    var priority: String
    var facts: [(String, String)]
    /// A list under the facts (digest entries, pick-list lines).
    var lines: [String]
    var image: Image?
    var links: [Link]
    /// The `generic` flavor's object (also the MQTT payload): the message's own fields.
    var generic: [String: Any]
}

/// JSON bodies for webhook channels. Keys are sorted so bodies are stable (signatures, tests).
public enum WebhookBody {
    public enum Flavor: String, Sendable, CaseIterable, Codable { case generic, slack, teams, teamsAdaptive = "teams-adaptive" }

    public static func body(_ n: WorkOrderNotification, flavor: Flavor) -> [UInt8] { render(n.card, flavor: flavor) }
    public static func body(_ d: NotificationDigest, flavor: Flavor) -> [UInt8] { render(d.card, flavor: flavor) }
    public static func body(_ p: PickList, flavor: Flavor) -> [UInt8] { render(p.card, flavor: flavor) }

    static func render(_ card: WebhookCard, flavor: Flavor) -> [UInt8] {
        let object: [String: Any]
        switch flavor {
        case .generic: object = card.generic
        case .slack: object = slack(card)
        case .teams: object = teamsMessageCard(card)
        case .teamsAdaptive: object = teamsAdaptiveCard(card)
        }
        // Only strings, numbers, arrays and dictionaries go in, so this cannot fail.
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return Array(data)
    }

    /// Slack incoming webhook: `text` is the notification fallback, `blocks` the rich layout.
    static func slack(_ c: WebhookCard) -> [String: Any] {
        func esc(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
        }
        var blocks: [[String: Any]] = [
            ["type": "header", "text": ["type": "plain_text", "text": String(c.headline.prefix(150)), "emoji": true]],
        ]
        if !c.facts.isEmpty {
            // Slack allows at most 10 fields per section.
            blocks.append(["type": "section", "fields": c.facts.prefix(10).map { ["type": "mrkdwn", "text": "*\(esc($0.0))*\n\(esc($0.1))"] }])
        }
        if !c.lines.isEmpty {
            // A section's text is limited to 3000 characters.
            let list = c.lines.map { "• " + esc($0) }.joined(separator: "\n")
            blocks.append(["type": "section", "text": ["type": "mrkdwn", "text": list.count > 3000 ? String(list.prefix(2999)) + "…" : list]])
        }
        if let image = c.image {
            blocks.append(["type": "image", "image_url": image.url, "alt_text": image.alt])
        }
        if !c.links.isEmpty {
            blocks.append(["type": "actions", "elements": c.links.map { ["type": "button", "text": ["type": "plain_text", "text": $0.title], "url": $0.url] }])
        }
        var text = esc(c.headline)
        if let image = c.image { text += " <\(image.url)|evidence>" }
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
    static func teamsMessageCard(_ c: WebhookCard) -> [String: Any] {
        var section: [String: Any] = [
            "activityTitle": c.headline,
            "facts": c.facts.map { ["name": $0.0, "value": $0.1] },
            "markdown": false,
        ]
        if !c.lines.isEmpty { section["text"] = c.lines.joined(separator: "\n\n") }
        if let image = c.image { section["images"] = [["image": image.url, "title": image.alt]] }
        var card: [String: Any] = [
            "@type": "MessageCard", "@context": "https://schema.org/extensions",
            "summary": c.headline, "themeColor": themeColor(c.priority), "title": c.headline, "sections": [section],
        ]
        if !c.links.isEmpty {
            card["potentialAction"] = c.links.map { ["@type": "OpenUri", "name": $0.title, "targets": [["os": "default", "uri": $0.url]]] }
        }
        return card
    }

    /// Adaptive Card wrapped as a message (Teams Workflows / Power Automate webhooks).
    static func teamsAdaptiveCard(_ c: WebhookCard) -> [String: Any] {
        var body: [[String: Any]] = [
            ["type": "TextBlock", "text": c.headline, "weight": "Bolder", "size": "Medium", "wrap": true,
             "color": c.priority.lowercased() == "critical" ? "Attention" : "Default"],
        ]
        if !c.facts.isEmpty { body.append(["type": "FactSet", "facts": c.facts.map { ["title": $0.0, "value": $0.1] }]) }
        if !c.lines.isEmpty { body.append(["type": "TextBlock", "text": c.lines.map { "- " + $0 }.joined(separator: "\n"), "wrap": true]) }
        if let image = c.image { body.append(["type": "Image", "url": image.url, "altText": image.alt, "size": "Large"]) }
        var content: [String: Any] = [
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard", "version": "1.4", "body": body,
        ]
        if !c.links.isEmpty { content["actions"] = c.links.map { ["type": "Action.OpenUrl", "title": $0.title, "url": $0.url] } }
        return ["type": "message", "attachments": [["contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": NSNull(), "content": content]]]
    }

    static func iso8601(_ d: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: d)
    }
}
