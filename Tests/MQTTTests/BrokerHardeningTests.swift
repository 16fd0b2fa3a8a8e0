import NIOCore
import Testing
@testable import MQTT
import MillwrightTesting

/// Bounded memory and session loss against a real mosquitto.
@Suite(.timeLimit(.minutes(2))) struct BrokerHardeningTests {
    /// Smaller than the gateway's 8 MiB default so the oversized publish stays cheap: encoding
    /// 40 MB twice on a debug build held an event loop long enough to stall other suites.
    static let limit = 1024 * 1024

    /// A subscriber that accepts packets up to `limit`, as the gateway does up to
    /// `server.max_body_bytes`.
    func limitedSubscriber(_ broker: Mosquitto, _ id: String, version: MQTTProtocolVersion) -> MQTTClient {
        var config = broker.clientConfiguration(id, version: version, cleanStart: false, sessionExpiry: 3600)
        config.session.maximumPacketSize = UInt32(Self.limit)
        return MQTTClient(configuration: config)
    }

    @Test func anOversizedPublishIsNotBufferedAndOtherMessagesFlow() async throws {
        try await withBroker { broker in
            let pub = MQTTClient(configuration: broker.clientConfiguration("big-pub", version: .v5))
            try await pub.connect()
            // MQTT 5: the broker learns our Maximum Packet Size and never sends the big one.
            // MQTT 3.1.1: it does; we refuse it from the fixed header, drop the connection and
            // come back (QoS 0, so the broker does not send it again).
            for (version, qos) in [(MQTTProtocolVersion.v5, QoS.atLeastOnce), (.v311, .atMostOnce)] {
                let sub = limitedSubscriber(broker, "big-sub-\(version)", version: version)
                let inbox = Collector<Delivery>()
                let events = Collector<MQTTClientEvent>()
                recordEvents(sub, into: events)
                consume(sub, into: inbox)
                try await sub.connect()
                try await sub.subscribe([Subscription("big/\(version)/#", qos: .atLeastOnce)])
                try await pub.publish(topic: "big/\(version)/frame", payload: ByteBuffer(repeating: 0x42, count: 5 * Self.limit), qos: qos)
                if version == .v311 {
                    try await events.waitUntil("the 3.1.1 client refusing the packet") { events in
                        events.contains { if case .connectionLost(.protocolViolation(.packetTooLarge, _)) = $0 { true } else { false } }
                    }
                    try await events.waitUntil("the reconnect") { connectedCount($0) >= 2 }
                }
                try await pub.publish(topic: "big/\(version)/small", payload: "after", qos: .atLeastOnce)
                try await inbox.waitUntil("the small message after the big one (\(version))") { $0.contains { $0.payload == "after" } }
                #expect(await inbox.items.allSatisfy { $0.payload.utf8.count <= Self.limit })
                #expect(await inbox.items.map(\.topic) == ["big/\(version)/small"])
                await sub.disconnect()
            }
            await pub.disconnect()
        }
    }

    @Test func slowConsumerStopsReadingInsteadOfBuffering() async throws {
        try await withBroker { broker in
            var config = broker.clientConfiguration("slow-sub")
            config.inbound = MQTTInboundLimits(messages: 20, bytes: 512 * 1024)
            let sub = MQTTClient(configuration: config)
            try await sub.connect()
            try await sub.subscribe([Subscription("flood/#", qos: .atMostOnce)])
            let pub = MQTTClient(configuration: broker.clientConfiguration("flood-pub"))
            try await pub.connect()
            // 300 × 32 KB ≈ 9.6 MB, nineteen times the byte bound: enough to show the gate, and
            // half the traffic of a first version that ran past the time limit on a busy CI machine.
            let n = 300
            let body = ByteBuffer(repeating: 0x61, count: 32 * 1024)
            for i in 0..<n {
                var b = body
                b.setString(String(i), at: 0)
                try await pub.publish(topic: "flood/t", payload: b, qos: .atMostOnce)
            }
            // QoS 1 on the same connection: the broker has taken everything before it.
            try await pub.publish(topic: "flood/t", payload: "end", qos: .atLeastOnce)
            // Consume slowly, looking at the queue each time: it never holds more than the
            // limit plus what one socket read had already brought in.
            var seen = 0
            var deepest = 0
            var heaviest = 0
            for await m in sub.messages {
                let depth = await sub.inboundDepth
                deepest = max(deepest, depth.messages)
                heaviest = max(heaviest, depth.bytes)
                if m.payloadString == "end" { break }
                #expect(m.payloadString.hasPrefix("\(seen)a"))
                seen += 1
            }
            #expect(seen == n)
            // One read event may take up to 4 socket reads of 64 KB before the gate holds the next.
            #expect(deepest <= 20 + 10)
            #expect(heaviest <= 512 * 1024 + 320 * 1024)
            await pub.disconnect()
            await sub.disconnect()
        }
    }

    @Test func brokerWithoutPersistenceRestartedReportsSessionLost() async throws {
        try await withBroker(persistence: false) { broker in
            let client = MQTTClient(configuration: broker.clientConfiguration("lost-sub", cleanStart: false, sessionExpiry: 3600))
            let events = Collector<MQTTClientEvent>()
            recordEvents(client, into: events)
            let first = try await client.connect()
            #expect(!first.sessionLost)
            try await client.subscribe([Subscription("lost/#", qos: .atLeastOnce)])
            try await broker.restart()
            try await events.waitUntil("a reconnect") { connectedCount($0) >= 2 }
            let infos = await events.items.compactMap { if case .connected(let i) = $0 { i } else { nil } }
            #expect(infos.last?.sessionLost == true)
            #expect(infos.last?.sessionPresent == false)
            // The subscription is restored: messages flow again.
            let inbox = Collector<Delivery>()
            consume(client, into: inbox)
            let pub = MQTTClient(configuration: broker.clientConfiguration("lost-pub"))
            try await pub.connect()
            try await publishUntilReceived(pub, inbox, topic: "lost/x")
            await pub.disconnect()
            await client.disconnect()
        }
    }
}

/// Publishes until the subscriber has one (its re-subscription may still be in flight).
func publishUntilReceived(_ pub: MQTTClient, _ inbox: Collector<Delivery>, topic: String) async throws {
    for i in 0..<100 {
            try await pub.publish(topic: topic, payload: "p\(i)", qos: .atLeastOnce)
            if await !inbox.items.isEmpty { return }
            try? await inbox.waitUntil("a message on \(topic)", timeout: 0.2) { !$0.isEmpty }
            if await !inbox.items.isEmpty { return }
        }
        throw TestFailure("no message arrived on \(topic)")
}
