import Foundation

/// A one-off message about the gateway itself (not a work order), e.g. "the broker may have
/// lost messages". Sent at once on every channel of each recipient; never throttled or digested.
public struct OperatorAlert: Sendable, Equatable {
    /// Short machine-readable kind (`mqtt.session_lost`), also the MQTT payload's `event`.
    public var kind: String
    public var subject: String
    public var text: String
    public var facts: [Fact]

    public struct Fact: Sendable, Equatable {
        public var name: String
        public var value: String
        public init(_ name: String, _ value: String) { self.name = name; self.value = value }
    }

    public init(kind: String, subject: String, text: String, facts: [Fact] = []) {
        self.kind = kind; self.subject = subject; self.text = text; self.facts = facts
    }

    public var plainText: String {
        ([subject, "", text] + (facts.isEmpty ? [] : [""] + facts.map { "\($0.name): \($0.value)" })).joined(separator: "\n")
    }

    var card: WebhookCard {
        var o: [String: Any] = ["event": kind, "subject": subject, "text": text]
        for f in facts { o[f.name] = f.value }
        return WebhookCard(headline: subject, priority: "high", facts: facts.map { ($0.name, $0.value) }, lines: [text], image: nil,
                           links: [], generic: o)
    }
}
