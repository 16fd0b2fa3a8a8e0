import Foundation
import Metrics
import MillwrightCore
import MQTT

/// The broker connection as the operator sees it, as a value: each client event moves it on.
public struct MQTTConnectionStatus: Sendable, Equatable {
    public enum State: String, Sendable { case connecting, connected, disconnected }

    public var state: State = .connecting
    public let startedAt: Date
    /// When `state` last changed between connected and not connected (start-up at first).
    public var since: Date
    public var lastMessageAt: Date?
    /// Successful reconnects after the first connection.
    public var reconnects = 0
    /// Reconnects that found no session at the broker (its queued messages are gone).
    public var sessionsLost = 0
    public var lastDisconnectReason: String?
    private var everConnected = false

    public init(startedAt: Date) {
        self.startedAt = startedAt
        since = startedAt
    }

    public mutating func apply(_ event: MQTTClientEvent, at now: Date) {
        switch event {
        case .connected(let info):
            if everConnected { reconnects += 1 }
            if info.sessionLost { sessionsLost += 1 }
            everConnected = true
            state = .connected
            since = now
        case .connectionLost(let error):
            if state == .connected { since = now }
            state = .disconnected
            lastDisconnectReason = "\(error)"
        case .reconnecting:
            state = .connecting
        }
    }

    /// `/readyz` fields (flat strings, like the other checks).
    public var readyFields: [String: String] {
        let reason = state == .connected ? nil : lastDisconnectReason
        return ["mqtt": reason.map { "\(state.rawValue): \($0)" } ?? state.rawValue,
                "mqtt_since": Timestamps.format(since),
                "mqtt_last_message_at": lastMessageAt.map { Timestamps.format($0) } ?? "never",
                "mqtt_reconnects": "\(reconnects)", "mqtt_sessions_lost": "\(sessionsLost)"]
    }
}

/// Where the MQTT bridge posts its status and the API reads it; `nil` until a bridge runs.
public final class MQTTStatusBoard: Sendable {
    private let box = LockedStatus()

    public init() {}

    public var current: MQTTConnectionStatus? { box.get() }

    func start(at now: Date) {
        box.update { $0 = MQTTConnectionStatus(startedAt: now) }
        publishMetrics(now: now)
    }

    func apply(_ event: MQTTClientEvent, at now: Date) {
        var before: MQTTConnectionStatus?
        box.update { s in
            before = s
            s?.apply(event, at: now)
        }
        guard let before, let after = current else { return }
        if after.reconnects > before.reconnects { Counter(label: "millwright_mqtt_reconnects_total").increment() }
        if after.sessionsLost > before.sessionsLost { Counter(label: "millwright_mqtt_sessions_lost_total").increment() }
        publishMetrics(now: now)
    }

    func messageReceived(at now: Date) {
        box.update { $0?.lastMessageAt = now }
    }

    /// Refreshes the gauges; the server calls it before each `/metrics` scrape so the age of the
    /// last message is current.
    public func publishMetrics(now: Date = Date()) {
        guard let s = current else { return }
        Gauge(label: "millwright_mqtt_connected").record(s.state == .connected ? 1 : 0)
        // Never a message yet: the age counts from start-up.
        let age = now.timeIntervalSince(s.lastMessageAt ?? s.startedAt)
        Gauge(label: "millwright_mqtt_seconds_since_last_message").record(max(0, age))
    }
}

/// A lock around one optional status (the board is read from request handlers and written by
/// the bridge).
private final class LockedStatus: @unchecked Sendable {
    private let lock = NSLock()
    private var value: MQTTConnectionStatus?
    func get() -> MQTTConnectionStatus? { lock.withLock { value } }
    func update(_ body: (inout MQTTConnectionStatus?) -> Void) { lock.withLock { body(&value) } }
}
