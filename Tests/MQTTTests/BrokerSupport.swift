import Foundation
import NIOCore
import NIOPosix
@testable import MQTT
import MillwrightTesting

extension Mosquitto {
    func clientConfiguration(_ clientID: String, version: MQTTProtocolVersion = .v5, cleanStart: Bool = true,
                             sessionExpiry: UInt32 = 0, keepAlive: UInt16 = 30, tls: MQTTTLSConfiguration? = nil,
                             username: String? = nil, password: String? = nil, will: WillMessage? = nil) -> MQTTClientConfiguration {
        MQTTClientConfiguration(
            host: "127.0.0.1", port: port, tls: tls,
            session: MQTTSessionConfiguration(protocolVersion: version, clientID: clientID, cleanStart: cleanStart,
                                              sessionExpiryInterval: sessionExpiry, keepAlive: keepAlive,
                                              username: username, password: password.map { Array($0.utf8) }, will: will),
            reconnect: MQTTReconnectPolicy(initialDelay: .milliseconds(50), maximumDelay: .milliseconds(500), jitter: 0.5))
    }

}

/// Starts a broker, runs `body`, and always stops the broker and removes its directory.
func withBroker(persistence: Bool = false, allowAnonymous: Bool = true, tls: Bool = false, users: [String: String] = [:],
                _ body: (Mosquitto) async throws -> Void) async throws {
    let broker = try await Mosquitto.start(persistence: persistence, allowAnonymous: allowAnonymous, tls: tls, users: users)
    do {
        try await body(broker)
    } catch {
        await broker.cleanUp()
        throw error
    }
    await broker.cleanUp()
}

/// Accumulates items and lets a test await a condition on them (with a timeout).
actor Collector<Item: Sendable> {
    private(set) var items: [Item] = []
    private var waiters: [Int: (predicate: @Sendable ([Item]) -> Bool, continuation: CheckedContinuation<Bool, Never>)] = [:]
    private var nextWaiter = 0

    func append(_ item: Item) {
        items.append(item)
        for (id, w) in waiters where w.predicate(items) {
            waiters.removeValue(forKey: id)
            w.continuation.resume(returning: true)
        }
    }

    /// Waits until `predicate(items)` holds; throws after `timeout` seconds.
    func waitUntil(_ what: String, timeout: Double = 20, _ predicate: @escaping @Sendable ([Item]) -> Bool) async throws {
        if predicate(items) { return }
        let id = nextWaiter
        nextWaiter += 1
        let ok = await withCheckedContinuation { (c: CheckedContinuation<Bool, Never>) in
            waiters[id] = (predicate, c)
            Task {
                try? await Task.sleep(for: .milliseconds(Int(timeout * 1000)))
                self.expire(id)
            }
        }
        if !ok { throw TestFailure("timed out after \(timeout)s waiting for \(what); have \(items.count) items") }
    }

    private func expire(_ id: Int) {
        waiters.removeValue(forKey: id)?.continuation.resume(returning: false)
    }
}

/// What a test consumer saw for one delivery.
struct Delivery: Sendable {
    var topic: String
    var payload: String
    var qos: QoS
    var isDuplicate: Bool
    /// Result of `acknowledge()` (`nil` when the consumer did not acknowledge).
    var acknowledged: Bool?
    var tag: String = ""
}

/// Consumes `client.messages` into a collector; `ack` decides whether to acknowledge each
/// message, `after` runs after each delivery is recorded.
@discardableResult
func consume(_ client: MQTTClient, into collector: Collector<Delivery>, tag: String = "",
             ack: @escaping @Sendable (MQTTMessage) -> Bool = { _ in true },
             after: @escaping @Sendable (Int) async -> Void = { _ in }) -> Task<Void, Never> {
    Task {
        var n = 0
        for await m in client.messages {
            var acked: Bool?
            if ack(m) { acked = await m.acknowledge() }
            await collector.append(Delivery(topic: m.topic, payload: m.payloadString, qos: m.qos, isDuplicate: m.isDuplicate, acknowledged: acked, tag: tag))
            n += 1
            await after(n)
        }
    }
}

/// Records client events for awaiting reconnects.
@discardableResult
func recordEvents(_ client: MQTTClient, into collector: Collector<MQTTClientEvent>) -> Task<Void, Never> {
    Task {
        for await e in client.events { await collector.append(e) }
    }
}

func connectedCount(_ events: [MQTTClientEvent]) -> Int {
    events.filter { if case .connected = $0 { true } else { false } }.count
}

func dbg(_ s: String) {
    if ProcessInfo.processInfo.environment["MQTT_TEST_DEBUG"] != nil { FileHandle.standardError.write(Data("[dbg] \(s)\n".utf8)) }
}
