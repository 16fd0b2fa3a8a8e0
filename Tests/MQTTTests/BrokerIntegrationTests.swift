import Foundation
import NIOCore
import Testing
@testable import MQTT
import MillwrightTesting

/// Integration tests against a real mosquitto 2.x broker started per test on a free loopback port.
/// Needs the `mosquitto` and `mosquitto-clients` packages.
@Suite(.serialized, .timeLimit(.minutes(2))) struct BrokerIntegrationTests {
    @Test(arguments: [MQTTProtocolVersion.v5, .v311])
    func mosquittoPubToClient(version: MQTTProtocolVersion) async throws {
        try await withBroker { broker in
            let client = MQTTClient(configuration: broker.clientConfiguration("sub-\(version.rawValue)", version: version))
            let inbox = Collector<Delivery>()
            consume(client, into: inbox)
            dbg("connecting")
            try await client.connect()
            dbg("connected")
            let suback = try await client.subscribe([Subscription("interop/+/in", qos: .exactlyOnce)])
            #expect(suback.reasonCodes == [.grantedQoS2])
            dbg("subscribed")
            let v = version == .v5 ? "mqttv5" : "mqttv311"
            _ = try await broker.runTool("mosquitto_pub", ["-V", v, "-q", "1", "-t", "interop/a/in", "-m", "hello-q1"])
            _ = try await broker.runTool("mosquitto_pub", ["-V", v, "-q", "2", "-t", "interop/b/in", "-m", "hello-q2"])
            _ = try await broker.runTool("mosquitto_pub", ["-V", v, "-q", "0", "-t", "interop/c/in", "-m", "hello-q0"])
            try await inbox.waitUntil("three messages") { $0.count == 3 }
            let items = await inbox.items
            #expect(items.map(\.payload) == ["hello-q1", "hello-q2", "hello-q0"])
            #expect(items.map(\.topic) == ["interop/a/in", "interop/b/in", "interop/c/in"])
            #expect(items.map(\.qos) == [.atLeastOnce, .exactlyOnce, .atMostOnce])
            await client.disconnect()
        }
    }

    @Test(arguments: [MQTTProtocolVersion.v5, .v311])
    func clientToMosquittoSub(version: MQTTProtocolVersion) async throws {
        try await withBroker { broker in
            let v = version == .v5 ? "mqttv5" : "mqttv311"
            // Create a persistent mosquitto_sub session, so messages published while it is away queue up.
            let session = version == .v5 ? ["-x", "300"] : []
            _ = try await broker.runTool("mosquitto_sub", ["-V", v, "-i", "cli-sub", "-c", "-q", "2", "-t", "interop/out/#", "-E"] + session)
            let client = MQTTClient(configuration: broker.clientConfiguration("pub-\(version.rawValue)", version: version))
            try await client.connect()
            var props = MQTTProperties()
            props.contentType = "text/plain"
            try await client.publish(topic: "interop/out/1", payload: "first", qos: .atLeastOnce, properties: props)
            try await client.publish(topic: "interop/out/2", payload: "second", qos: .exactlyOnce)
            let out = try await broker.runTool("mosquitto_sub", ["-V", v, "-i", "cli-sub", "-c", "-q", "2", "-t", "interop/out/#",
                                                                 "-C", "2", "-W", "10", "-F", "%t %p"] + session)
            #expect(out.split(separator: "\n") == ["interop/out/1 first", "interop/out/2 second"])
            await client.disconnect()
        }
    }

    @Test(arguments: [QoS.atLeastOnce, .exactlyOnce])
    func deliveryAcrossForcedReconnects(qos: QoS) async throws {
        try await withBroker { broker in
            let n = 60
            let sub = MQTTClient(configuration: broker.clientConfiguration("eo-sub", sessionExpiry: 300))
            let pub = MQTTClient(configuration: broker.clientConfiguration("eo-pub", sessionExpiry: 300))
            let inbox = Collector<Delivery>()
            let subEvents = Collector<MQTTClientEvent>()
            let pubEvents = Collector<MQTTClientEvent>()
            recordEvents(sub, into: subEvents)
            recordEvents(pub, into: pubEvents)
            // The subscriber's connection is killed once, after it has handled half the messages.
            consume(sub, into: inbox, after: { count in
                if count == n / 2 { await sub.dropConnectionForTesting() }
            })
            try await sub.connect()
            try await sub.subscribe([Subscription("eo/t", qos: qos)])
            try await pub.connect()

            // Publish concurrently so several flows are in flight when the publisher's connection dies.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<n {
                    group.addTask { try await pub.publish(topic: "eo/t", payload: "m\(i)", qos: qos) }
                    if i == n / 3 {
                        try await group.next()
                        await pub.dropConnectionForTesting()
                    }
                }
                try await group.waitForAll()
            }
            // Deliveries whose acknowledgement went stale with the killed connection are redelivered:
            // wait until every message has one acknowledgement that took effect.
            try await inbox.waitUntil("an effective acknowledgement for all \(n) messages") { items in
                Set(items.filter { $0.acknowledged == true }.map(\.payload)).count == n
            }
            try await subEvents.waitUntil("subscriber reconnect") { connectedCount($0) >= 2 }
            try await pubEvents.waitUntil("publisher reconnect") { connectedCount($0) >= 2 }
            // A final marker flushes out any late redelivery (same publisher and topic: ordered).
            try await pub.publish(topic: "eo/t", payload: "end", qos: qos)
            try await inbox.waitUntil("end marker") { $0.contains { $0.payload == "end" } }
            let items = await inbox.items.filter { $0.payload != "end" }
            // No loss.
            #expect(Set(items.map(\.payload)) == Set((0..<n).map { "m\($0)" }))
            if qos == .exactlyOnce {
                // Exactly once for every delivery the application acknowledged: a message is
                // delivered again only if its earlier acknowledgement could not take effect.
                let accepted = items.filter { $0.acknowledged == true }.map(\.payload)
                #expect(accepted.count == n, "accepted acknowledgements: \(accepted.count), deliveries: \(items.count)")
                #expect(Set(accepted).count == n)
            }
            await pub.disconnect()
            await sub.disconnect()
        }
    }

    @Test func brokerRestartLosesNoQoS1Messages() async throws {
        try await withBroker(persistence: true) { broker in
            let n = 40
            // Clean Start = 0 from the first connection: mosquitto 2.0 does not persist across a restart a
            // session that was created with Clean Start = 1, whatever its expiry interval.
            let sub = MQTTClient(configuration: broker.clientConfiguration("restart-sub", cleanStart: false, sessionExpiry: 3600))
            let pub = MQTTClient(configuration: broker.clientConfiguration("restart-pub", cleanStart: false, sessionExpiry: 3600))
            let inbox = Collector<Delivery>()
            let subEvents = Collector<MQTTClientEvent>()
            recordEvents(sub, into: subEvents)
            consume(sub, into: inbox)
            try await sub.connect()
            try await sub.subscribe([Subscription("restart/t", qos: .atLeastOnce)])
            try await pub.connect()
            for i in 0..<n / 2 { try await pub.publish(topic: "restart/t", payload: "m\(i)", qos: .atLeastOnce) }
            // Restart while the rest of the stream is being published.
            let rest = Task {
                for i in n / 2..<n { try await pub.publish(topic: "restart/t", payload: "m\(i)", qos: .atLeastOnce) }
            }
            try await broker.restart()
            try await rest.value
            dbg("publisher done")
            do {
                try await inbox.waitUntil("all \(n) messages after broker restart", timeout: 10) { Set($0.map(\.payload)).count == n }
            } catch {
                let got = Set(await inbox.items.map(\.payload))
                dbg("missing: \(Set((0..<n).map { "m\($0)" }).subtracting(got)); deliveries: \(await inbox.items.map { "\($0.payload)\($0.isDuplicate ? "D" : "")\($0.acknowledged == true ? "" : "!")" })")
                throw error
            }
            // The subscriber's session (subscription and queued messages) survived the restart.
            try await subEvents.waitUntil("subscriber resumed its session") { events in
                events.contains { if case .connected(let info) = $0 { info.sessionPresent } else { false } }
            }
            #expect(Set(await inbox.items.map(\.payload)) == Set((0..<n).map { "m\($0)" }))
            await pub.disconnect()
            await sub.disconnect()
        }
    }

    @Test func sharedSubscriptionSplitsMessages() async throws {
        try await withBroker { broker in
            let n = 30
            let a = MQTTClient(configuration: broker.clientConfiguration("share-a"))
            let b = MQTTClient(configuration: broker.clientConfiguration("share-b"))
            let inbox = Collector<Delivery>()
            consume(a, into: inbox, tag: "a")
            consume(b, into: inbox, tag: "b")
            try await a.connect()
            try await b.connect()
            try await a.subscribe([Subscription("$share/workers/jobs/#", qos: .atLeastOnce)])
            try await b.subscribe([Subscription("$share/workers/jobs/#", qos: .atLeastOnce)])
            let pub = MQTTClient(configuration: broker.clientConfiguration("share-pub"))
            try await pub.connect()
            for i in 0..<n { try await pub.publish(topic: "jobs/line2", payload: "j\(i)", qos: .atLeastOnce) }
            try await inbox.waitUntil("\(n) shared deliveries") { $0.count >= n }
            let items = await inbox.items
            let pa = items.filter { $0.tag == "a" }.map(\.payload)
            let pb = items.filter { $0.tag == "b" }.map(\.payload)
            #expect(pa.count + pb.count == n)
            #expect(!pa.isEmpty && !pb.isEmpty)
            #expect(Set(pa).isDisjoint(with: pb))
            #expect(Set(pa + pb) == Set((0..<n).map { "j\($0)" }))
            await pub.disconnect()
            await a.disconnect()
            await b.disconnect()
        }
    }

    @Test func unacknowledgedMessageIsRedeliveredAfterReconnect() async throws {
        try await withBroker { broker in
            let sub = MQTTClient(configuration: broker.clientConfiguration("slow-sub", sessionExpiry: 300))
            let inbox = Collector<Delivery>()
            let events = Collector<MQTTClientEvent>()
            recordEvents(sub, into: events)
            // The application never acknowledges "m1" on its first delivery (e.g. its commit failed).
            consume(sub, into: inbox, ack: { m in !(m.payloadString == "m1" && !m.isDuplicate) })
            try await sub.connect()
            try await sub.subscribe([Subscription("slow/t", qos: .atLeastOnce)])
            let pub = MQTTClient(configuration: broker.clientConfiguration("slow-pub"))
            try await pub.connect()
            try await pub.publish(topic: "slow/t", payload: "m1", qos: .atLeastOnce)
            try await inbox.waitUntil("first delivery") { $0.count == 1 }

            await sub.dropConnectionForTesting()
            try await events.waitUntil("reconnect") { connectedCount($0) == 2 }
            try await inbox.waitUntil("redelivery of m1") { $0.count == 2 }
            let redelivered = await inbox.items[1]
            #expect(redelivered.payload == "m1")
            #expect(redelivered.isDuplicate)
            #expect(redelivered.acknowledged == true)

            // Now acknowledged: another reconnect must not bring it back.
            await sub.dropConnectionForTesting()
            try await events.waitUntil("second reconnect") { connectedCount($0) == 3 }
            try await pub.publish(topic: "slow/t", payload: "m2", qos: .atLeastOnce)
            try await inbox.waitUntil("m2") { $0.count == 3 }
            #expect(await inbox.items.map(\.payload) == ["m1", "m1", "m2"])
            await pub.disconnect()
            await sub.disconnect()
        }
    }

    /// A batch consumer: what is queued comes in one take, up to its limit, and one
    /// acknowledgement of the batch settles every message in it, so a reconnect brings none back.
    @Test func batchesAreTakenTogetherAndOneAcknowledgementSettlesThemAll() async throws {
        try await withBroker { broker in
            var config = broker.clientConfiguration("batch-sub", sessionExpiry: 300)
            // Room for all of them unacknowledged: mosquitto 2.0.11 has been seen to send one past
            // a full receive maximum (0x93, a reconnect), with either way of acknowledging.
            config.session.receiveMaximum = 1000
            let sub = MQTTClient(configuration: config)
            let events = Collector<MQTTClientEvent>()
            recordEvents(sub, into: events)
            try await sub.connect()
            try await sub.subscribe([Subscription("batch/t", qos: .atLeastOnce)])
            let pub = MQTTClient(configuration: broker.clientConfiguration("batch-pub"))
            try await pub.connect()
            let n = 200
            for i in 0..<n { try await pub.publish(topic: "batch/t", payload: "b\(i)", qos: .atLeastOnce) }
            // Once 50 wait in the client's queue, a take gets 50.
            let deadline = ContinuousClock.now + .seconds(20)
            while await sub.inboundDepth.messages < 50 {
                guard ContinuousClock.now < deadline else { Issue.record("the queue never held 50"); return }
                await Task.yield()
            }
            var received: [String] = []
            var sizes: [Int] = []
            for await batch in sub.messageBatches(messages: 50, bytes: 1 << 20) {
                sizes.append(batch.count)
                received += batch.map(\.payloadString)
                await sub.acknowledge(batch)
                if received.count >= n { break }
            }
            #expect(sizes.first == 50)
            #expect(sizes.allSatisfy { $0 <= 50 })
            #expect(received == (0..<n).map { "b\($0)" })

            await sub.dropConnectionForTesting()
            try await events.waitUntil("reconnect") { connectedCount($0) == 2 }
            try await pub.publish(topic: "batch/t", payload: "last", qos: .atLeastOnce)
            var after: [String] = []
            for await batch in sub.messageBatches(messages: 50, bytes: 1 << 20) {
                after += batch.map(\.payloadString)
                await sub.acknowledge(batch)
                if after.contains("last") { break }
            }
            #expect(after == ["last"], "acknowledged in batches: nothing redelivered")
            await pub.disconnect()
            await sub.disconnect()
        }
    }

    @Test func connectToClosedPortFails() async throws {
        let port = try freeLoopbackPort()
        let nobody = MQTTClient(configuration: MQTTClientConfiguration(host: "127.0.0.1", port: port, session: .init(clientID: "x")))
        await #expect(throws: (any Error).self) { try await nobody.connect() }
        await nobody.disconnect()
    }

    @Test(arguments: [MQTTProtocolVersion.v5, .v311])
    func connectRefusedByBroker(version: MQTTProtocolVersion) async throws {
        try await withBroker(allowAnonymous: false) { broker in
            let client = MQTTClient(configuration: broker.clientConfiguration("refused", version: version))
            let expected: ReasonCode = version == .v5 ? .notAuthorized : ReasonCode.V311.notAuthorized
            await #expect(throws: MQTTError.connectionRefused(expected, reasonString: nil)) { try await client.connect() }
            await client.disconnect()
        }
    }

    @Test func keepAlivePingsKeepConnectionOpen() async throws {
        try await withBroker { broker in
            let client = MQTTClient(configuration: broker.clientConfiguration("ka", keepAlive: 1))
            let events = Collector<MQTTClientEvent>()
            recordEvents(client, into: events)
            try await client.connect()
            // Across three keep-alive periods the connection must survive (PINGREQ/PINGRESP), then still work.
            try await Task.sleep(for: .milliseconds(3500))  // elapsed time is the subject of this test
            #expect(connectedCount(await events.items) == 1)
            #expect(await client.state == .connected)
            try await client.publish(topic: "ka/t", payload: "alive", qos: .atLeastOnce)
            await client.disconnect()
        }
    }

    @Test func tlsWithClientCertificate() async throws {
        try await withBroker(tls: true) { broker in
            let files = broker.tlsFiles
            let tls = MQTTTLSConfiguration(caFile: files.ca, certificateFile: files.certificate, privateKeyFile: files.key, serverName: "localhost")
            let client = MQTTClient(configuration: broker.clientConfiguration("tls-client", tls: tls))
            let inbox = Collector<Delivery>()
            consume(client, into: inbox)
            try await client.connect()
            try await client.subscribe([Subscription("tls/#", qos: .exactlyOnce)])
            try await client.publish(topic: "tls/echo", payload: "over tls", qos: .exactlyOnce)
            try await inbox.waitUntil("echo over TLS") { $0.count == 1 }
            #expect(await inbox.items.first?.payload == "over tls")
            await client.disconnect()
        }
    }

    @Test func tlsRejectsUntrustedServerAndMissingClientCertificate() async throws {
        try await withBroker(tls: true) { broker in
            let files = broker.tlsFiles
            // No CA file: the test CA is not in the system trust store.
            let untrusted = MQTTClient(configuration: broker.clientConfiguration("tls-x", tls: MQTTTLSConfiguration(
                certificateFile: files.certificate, privateKeyFile: files.key, serverName: "localhost")))
            await #expect(throws: (any Error).self) { try await untrusted.connect() }
            await untrusted.disconnect()
            // The broker requires a client certificate.
            let anonymous = MQTTClient(configuration: broker.clientConfiguration("tls-y", tls: MQTTTLSConfiguration(caFile: files.ca, serverName: "localhost")))
            await #expect(throws: (any Error).self) { try await anonymous.connect() }
            await anonymous.disconnect()
        }
    }

    @Test func usernameAndPassword() async throws {
        try await withBroker(allowAnonymous: false, users: ["gateway": "s3cret"]) { broker in
            let good = MQTTClient(configuration: broker.clientConfiguration("auth-ok", username: "gateway", password: "s3cret"))
            try await good.connect()
            try await good.publish(topic: "auth/t", payload: "ok", qos: .atLeastOnce)
            await good.disconnect()
            let bad = MQTTClient(configuration: broker.clientConfiguration("auth-bad", username: "gateway", password: "wrong"))
            do {
                try await bad.connect()
                Issue.record("connect with a wrong password succeeded")
            } catch let MQTTError.connectionRefused(code, _) {
                #expect(code == .badUserNameOrPassword || code == .notAuthorized)
            }
            await bad.disconnect()
        }
    }

    @Test func willMessageWithPropertiesOnConnectionLoss() async throws {
        try await withBroker { broker in
            let watcher = MQTTClient(configuration: broker.clientConfiguration("will-watcher"))
            let inbox = Collector<Delivery>()
            let props = Collector<MQTTProperties>()
            Task {
                for await m in watcher.messages {
                    await m.acknowledge()
                    await props.append(m.properties)
                    await inbox.append(Delivery(topic: m.topic, payload: m.payloadString, qos: m.qos, isDuplicate: m.isDuplicate, acknowledged: true))
                }
            }
            try await watcher.connect()
            try await watcher.subscribe([Subscription("status/#", qos: .atLeastOnce)])
            var willProps = MQTTProperties()
            willProps.contentType = "text/plain"
            willProps.userProperties = [UserProperty("site", "plant-1")]
            let will = WillMessage(topic: "status/gw", payload: ByteBuffer(string: "offline"), qos: .atLeastOnce, properties: willProps)
            let gw = MQTTClient(configuration: broker.clientConfiguration("will-gw", will: will))
            try await gw.connect()
            await gw.dropConnectionForTesting()  // not a clean DISCONNECT: the broker publishes the will
            try await inbox.waitUntil("will message") { $0.contains { $0.topic == "status/gw" } }
            let item = try #require(await inbox.items.first { $0.topic == "status/gw" })
            #expect(item.payload == "offline")
            let p = try #require(await props.items.first)
            #expect(p.contentType == "text/plain")
            #expect(p.userProperties == [UserProperty("site", "plant-1")])
            await gw.disconnect()
            await watcher.disconnect()
        }
    }
}

