import Foundation
import MillwrightTesting
import Testing

/// Several gateway nodes on one PostgreSQL schema behind one MQTT shared subscription
/// (`mqtt.shared_group`): the broker gives each message to one node, every detection is
/// stored exactly once, and a node killed with SIGKILL mid-stream loses nothing and doubles
/// nothing (what it took and had not acknowledged comes again, and the detection id absorbs it).
@Suite(.sharedPostgres) struct MQTTClusterTests {
    static let topic = "vision/CAM-07/detections"
    /// Eight defect kinds: eight incident keys that all three nodes race to open.
    static let kinds = 8

    /// One node's plant folder: the shared database and broker, its own MQTT client id.
    static func node(_ n: Int, db: PlantDatabase, cmmsURL: String, broker: Mosquitto) throws -> Plant {
        try db.plant(cmmsURL: cmmsURL, extra: """
        mqtt:
          broker: mqtt://127.0.0.1:\(broker.port)
          client_id: mw-node-\(n)
          shared_group: mw
          sources:
            - { topic: "vision/+/detections", format: native, camera_from_topic: 1 }

        """)
    }

    /// One native detection per line, QoS 1 (mosquitto_pub -l).
    static func publish(_ broker: Mosquitto, _ ids: Range<Int>) throws {
        let lines = ids.map { i -> String in
            let d: [String: Any] = ["detection_id": "cl-\(i)", "camera_id": "CAM-07", "timestamp": ISO8601DateFormatter.withMillis.string(from: Date()),
                                    "defect_class": "kind-\(i % kinds)", "confidence": 0.95]
            return String(decoding: try! JSONSerialization.data(withJSONObject: d), as: UTF8.self)
        }
        // mosquitto_pub exits once the broker has acknowledged each message.
        try MQTTIngestTests.publish(port: broker.port, topic: topic, lines: lines)
    }

    @Test(.timeLimit(.minutes(6))) func threeNodesOnASharedSubscriptionStoreEachDetectionOnceAcrossAKill9() async throws {
        let broker = try await Mosquitto.start()
        do { try await threeNodes(broker) } catch {
            await broker.cleanUp()
            throw error
        }
        await broker.cleanUp()
    }

    func threeNodes(_ broker: Mosquitto) async throws {
        let emu = try Plant.emulator()
        let cmms = API(base: try await emu.listening())
        let db = try PlantStorage.postgres.database()
        let plants = try (0..<3).map { try Self.node($0, db: db, cmmsURL: cmms.base, broker: broker) }
        var nodes = try plants.enumerated().map { try $1.serve(name: "node-\($0)") }
        defer {
            for n in nodes { n.kill9() }
            _ = emu.terminate()
        }
        var apis: [API] = []
        for n in nodes { apis.append(API(base: try await n.listening())) }
        // Each node connected (its subscription follows at once; a message published before it
        // goes to the nodes already subscribed, so this only bounds how even the shares are).
        for (i, api) in apis.enumerated() {
            try await API.eventually("node \(i) connected to the broker") {
                let text = String(decoding: try await api.get("/metrics", key: "viewer-key").body, as: UTF8.self)
                return text.contains("millwright_mqtt_connected 1")
            }
        }

        func stored() throws -> Set<String> { try db.rows(plants[0], "SELECT id FROM detections") }
        func expected(_ n: Int) -> Set<String> { Set((0..<n).map { "cl-\($0)" }) }
        func storedOnce(_ n: Int) throws {
            let rows = try db.count(plants[0], "SELECT COUNT(*) FROM detections")
            let ids = try stored()
            #expect(rows == n, "\(rows) detection rows for \(n) published messages")
            #expect(ids == expected(n), "missing \(expected(n).subtracting(ids).sorted().prefix(5)), unexpected \(ids.subtracting(expected(n)).sorted().prefix(5))")
        }

        // 600 messages: each stored once, and the broker shared them out.
        try Self.publish(broker, 0..<600)
        try await API.eventually("all 600 detections stored", timeout: 120) { try db.count(plants[0], "SELECT COUNT(*) FROM detections") >= 600 }
        try storedOnce(600)
        // Each node counts the messages it stored (new or not: millwright_ingest_commit_seconds)
        // and the detections that were new to the database (millwright_detections_total).
        var received: [Int] = [], new: [Int] = []
        for api in apis {
            received.append(try await api.metricSum("millwright_ingest_commit_seconds_count"))
            new.append(try await api.metricSum("millwright_detections_total"))
        }
        #expect(received.reduce(0, +) == 600, "the nodes stored \(received) messages, \(received.reduce(0, +)) in all for 600 published: the broker did not give each message to exactly one node of the group")
        #expect(received.filter { $0 > 0 }.count >= 2, "one node took every message (\(received)): the subscription was not shared")
        #expect(new.reduce(0, +) == 600, "the nodes' new-detection counters \(new) add up to \(new.reduce(0, +)), not 600")
        let incidents = try db.count(plants[0], "SELECT COUNT(*) FROM incidents")
        #expect(incidents == Self.kinds, "three nodes racing on \(Self.kinds) keys opened \(incidents) incidents")

        // 300 more: the first 100 are being stored when node 1 is killed with SIGKILL; the
        // other 200 are published while it is down. The broker keeps what it had given node 1
        // (unacknowledged, or queued for its persistent session: mosquitto 2.0 goes on giving
        // an offline member of the group its turn) until node 1 is back with its client id;
        // what node 1 had committed but not acknowledged comes again and is a duplicate.
        try Self.publish(broker, 600..<700)
        try await API.eventually("the stream under way again", timeout: 60) { try db.count(plants[0], "SELECT COUNT(*) FROM detections") >= 620 }
        nodes[1].kill9()
        let atKill = try db.count(plants[0], "SELECT COUNT(*) FROM detections")
        try Self.publish(broker, 700..<900)
        try await API.eventually("the surviving nodes keep storing while node 1 is down", timeout: 60) {
            try db.count(plants[0], "SELECT COUNT(*) FROM detections") >= atKill + 60
        }
        nodes[1] = try plants[1].serve(name: "node-1-restarted")
        apis[1] = API(base: try await nodes[1].listening())
        try await API.eventually("all 900 detections stored", timeout: 120) { try db.count(plants[0], "SELECT COUNT(*) FROM detections") >= 900 }
        try storedOnce(900)
        let incidentsAfter = try db.count(plants[0], "SELECT COUNT(*) FROM incidents")
        #expect(incidentsAfter == Self.kinds, "\(incidentsAfter) incidents for \(Self.kinds) keys after the kill")

        // One work order per incident reached the CMMS, none twice, whichever node sent it.
        try await API.eventually("\(Self.kinds) work orders at the CMMS", timeout: 120) { try await emulatorReferences(cmms).count >= Self.kinds }
        let refs = try await emulatorReferences(cmms)
        #expect(refs.count == Self.kinds && Set(refs).count == Self.kinds, "the CMMS holds \(refs.count) work orders (\(Set(refs).count) distinct) for \(Self.kinds) incidents")
        for (i, n) in nodes.enumerated() { #expect(n.terminate() == 0, "node \(i) did not stop cleanly:\n\(n.text.suffix(2000))") }
    }
}
