/// Topic name / topic filter rules (MQTT 5 §4.7, §4.8.2), as pure functions.
public enum MQTTTopic {
    /// A topic name must not contain wildcards. (Empty is only legal with a topic alias, which
    /// the codec checks separately.)
    public static func isValidTopicName(_ name: String) -> Bool {
        !name.utf8.contains(where: { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "#") })
    }

    /// `true` for `$share/<group>/<filter>`.
    public static func isSharedSubscription(_ filter: String) -> Bool {
        filter.hasPrefix("$share/")
    }

    /// Splits `$share/<group>/<filter>` into group and filter; `nil` when not a (valid) shared subscription.
    public static func parseSharedSubscription(_ filter: String) -> (group: String, filter: String)? {
        guard isSharedSubscription(filter) else { return nil }
        let rest = filter.dropFirst("$share/".count)
        guard let slash = rest.firstIndex(of: "/") else { return nil }
        let group = String(rest[..<slash])
        let inner = String(rest[rest.index(after: slash)...])
        guard !group.isEmpty, !group.contains("+"), !group.contains("#"), !inner.isEmpty else { return nil }
        return (group, inner)
    }

    /// Validates a topic filter: non-empty; `#` only alone in the last level; `+` alone in its
    /// level; shared subscriptions need a non-empty group without wildcards and a valid filter.
    public static func isValidFilter(_ filter: String) -> Bool {
        if isSharedSubscription(filter) {
            guard let (_, inner) = parseSharedSubscription(filter) else { return false }
            return isValidPlainFilter(inner)
        }
        return isValidPlainFilter(filter)
    }

    private static func isValidPlainFilter(_ filter: String) -> Bool {
        guard !filter.isEmpty else { return false }
        let levels = filter.split(separator: "/", omittingEmptySubsequences: false)
        for (i, level) in levels.enumerated() {
            if level.contains("#") {
                guard level == "#", i == levels.count - 1 else { return false }
            }
            if level.contains("+") {
                guard level == "+" else { return false }
            }
        }
        return true
    }

    /// Whether `topic` (a topic name) matches `filter`. A shared subscription filter matches
    /// like its inner filter. Topics beginning with `$` are not matched by a filter whose first
    /// level is a wildcard [MQTT-4.7.2-1].
    public static func matches(filter: String, topic: String) -> Bool {
        MQTTTopicFilter(filter)?.matches(topic) ?? false
    }
}

/// A topic filter parsed once, for matching every incoming message against it without
/// splitting or copying the topic (a gateway matches each message against its sources).
public struct MQTTTopicFilter: Sendable, Equatable {
    enum Level: Sendable, Equatable {
        case exact(String)
        case single
        case multi
    }

    let levels: [Level]

    /// `nil` when the filter is not valid (`MQTTTopic.isValidFilter`). A shared subscription
    /// matches like its inner filter.
    public init?(_ filter: String) {
        guard MQTTTopic.isValidFilter(filter) else { return nil }
        let plain = MQTTTopic.parseSharedSubscription(filter)?.filter ?? filter
        levels = plain.split(separator: "/", omittingEmptySubsequences: false).map { level in
            switch level {
            case "+": .single
            case "#": .multi
            default: .exact(String(level))
            }
        }
    }

    public func matches(_ topic: String) -> Bool {
        guard !topic.isEmpty, MQTTTopic.isValidTopicName(topic) else { return false }
        let bytes = topic.utf8
        // [MQTT-4.7.2-1]: a topic beginning with `$` is not matched by a leading wildcard.
        if bytes.first == UInt8(ascii: "$"), let first = levels.first, first == .single || first == .multi { return false }
        var start = bytes.startIndex
        var consumed = false
        for level in levels {
            if level == .multi { return true }  // also matches the parent level ("a/#" matches "a")
            guard !consumed else { return false }
            let end = bytes[start...].firstIndex(of: UInt8(ascii: "/")) ?? bytes.endIndex
            if case .exact(let name) = level, !bytes[start..<end].elementsEqual(name.utf8) { return false }
            if end == bytes.endIndex { consumed = true } else { start = bytes.index(after: end) }
        }
        return consumed
    }
}
