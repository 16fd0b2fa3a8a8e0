import Foundation
import Testing
#if canImport(Glibc)
import Glibc
import MillwrightTesting
#endif

/// Millwright against a real mosquitto broker: detections in over MQTT, acknowledged only
/// after commit (so kill -9 loses nothing), decisions out on the floor topics.
@Suite struct MQTTIngestTests {
    /// A broker on a free loopback port (or `port`), with persistence unless told otherwise.
    final class Broker: @unchecked Sendable {
        let process = Process()
        let port: Int
        init(dir: String, port: Int? = nil, persistence: Bool = true) throws {
            self.port = try port ?? freeLoopbackPort()
            try FileManager.default.createDirectory(atPath: dir + "/mosq", withIntermediateDirectories: true)
            try "listener \(self.port) 127.0.0.1\nallow_anonymous true\npersistence \(persistence)\npersistence_location \(dir)/mosq/\n"
                .write(toFile: dir + "/mosquitto.conf", atomically: true, encoding: .utf8)
            let bin = (findExecutable("mosquitto") ?? "mosquitto")
            guard FileManager.default.isExecutableFile(atPath: bin) else {
                throw HarnessError.timeout("mosquitto is not installed (apt-get install mosquitto mosquitto-clients)", "")
            }
            process.executableURL = URL(fileURLWithPath: bin)
            process.arguments = ["-c", dir + "/mosquitto.conf"]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
        }
        func stop() { if process.isRunning { kill(process.processIdentifier, SIGKILL) }; process.waitUntilExit() }
        deinit { stop() }

        /// Waits until the broker accepts TCP connections.
        func ready() async throws {
            try await API.eventually("mosquitto listening on \(port)", timeout: 60) {
                let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                defer { close(fd) }
                var addr = sockaddr_in()
                addr.sin_family = sa_family_t(AF_INET)
                addr.sin_addr.s_addr = inet_addr("127.0.0.1")
                addr.sin_port = UInt16(port).bigEndian
                let r = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
                return r == 0
            }
        }
    }

    /// Publishes each line as one QoS 1 message (mosquitto_pub -l).
    static func publish(port: Int, topic: String, lines: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: findExecutable("mosquitto_pub") ?? "mosquitto_pub")
        p.arguments = ["-h", "127.0.0.1", "-p", "\(port)", "-q", "1", "-t", topic, "-l"]
        let stdin = Pipe()
        p.standardInput = stdin
        try p.run()
        stdin.fileHandleForWriting.write(Data((lines.joined(separator: "\n") + "\n").utf8))
        try stdin.fileHandleForWriting.close()
        p.waitUntilExit()
    }

    /// A sandbox CMMS, a plant configured for it, and a broker ready in the plant's folder.
    static func plantWithBroker() async throws -> (Spawned, Plant, Broker) {
        let emu = try Plant.emulator()
        let plant = try Plant(cmmsURL: API(base: try await emu.listening()).base)
        let broker = try Broker(dir: plant.dir)
        try await broker.ready()
        return (emu, plant, broker)
    }

    /// Appends an `mqtt:` block for `broker` to the plant's configuration.
    static func configureMQTT(_ plant: Plant, port: Int, clientId: String, source: String) throws {
        let config = try String(contentsOfFile: plant.configPath, encoding: .utf8) + """

        mqtt:
          broker: mqtt://127.0.0.1:\(port)
          client_id: \(clientId)
          sources:
            - \(source)

        """
        try config.write(toFile: plant.configPath, atomically: true, encoding: .utf8)
    }

    func storedIds(_ plant: Plant) throws -> Set<String> {
        guard FileManager.default.fileExists(atPath: plant.dbPath) else { return [] }
        return try sqlite(plant.dbPath, "SELECT id FROM detections")
    }

    @Test(.timeLimit(.minutes(3))) func detectionsOverMQTTSurviveKill9AndReachTheFloor() async throws {
        let (emu, plant, broker) = try await Self.plantWithBroker()
        defer { broker.stop(); _ = emu.terminate() }
        try """

        mqtt:
          broker: mqtt://127.0.0.1:\(broker.port)
          client_id: millwright-test
          sources:
            - { topic: "vision/+/detections", format: native, camera_from_topic: 1 }
          labels: { Crack: crack }
          publish: { prefix: millwright, site: plant-1 }

        """.write(toFile: plant.configPath + ".mqtt", atomically: true, encoding: .utf8)
        let config = try String(contentsOfFile: plant.configPath, encoding: .utf8) + (try String(contentsOfFile: plant.configPath + ".mqtt", encoding: .utf8))
        try config.write(toFile: plant.configPath, atomically: true, encoding: .utf8)

        // Floor listener: everything Millwright publishes.
        let floor = try Spawned.external((findExecutable("mosquitto_sub") ?? "mosquitto_sub"), ["-h", "127.0.0.1", "-p", "\(broker.port)", "-t", "millwright/#", "-v", "-q", "1"])
        var server = try plant.serve()
        _ = try await server.listening()
        _ = try await floor.waitFor("millwright/plant-1/gateway/status {\"status\":\"online\"}", timeout: 30)

        func line(_ i: Int) -> String {
            let d: [String: Any] = ["detection_id": "mq-\(i)", "camera_id": "CAM-07", "timestamp": ISO8601DateFormatter.withMillis.string(from: Date()),
                                    "defect_class": "Crack", "confidence": 0.95, "zone": "head-pulley"]
            return String(decoding: try! JSONSerialization.data(withJSONObject: d), as: UTF8.self)
        }
        try Self.publish(port: broker.port, topic: "vision/CAM-07/detections", lines: (0..<150).map(line))
        try await API.eventually("some detections stored") { try storedIds(plant).count >= 20 }
        server.kill9()
        // While the gateway is down the broker keeps the rest for its persistent session.
        try Self.publish(port: broker.port, topic: "vision/CAM-07/detections", lines: (150..<300).map(line))
        server = try plant.serve()
        let api = API(base: try await server.listening())
        try await API.eventually("all 300 detections stored", timeout: 60) { try storedIds(plant).count == 300 }
        #expect(try storedIds(plant) == Set((0..<300).map { "mq-\($0)" }))

        // The label map applied, the camera came from the topic, one incident for the key.
        let incidents = (try await api.get("/v1/incidents").object["items"] as? [[String: Any]]) ?? []
        #expect(incidents.count == 1)
        #expect(incidents.first?["defect_class"] as? String == "crack")
        _ = try await floor.waitFor("millwright/plant-1/CAM-07/detections", timeout: 10)
        _ = try await floor.waitFor("millwright/plant-1/CAM-07/incidents", timeout: 10)
        _ = try await floor.waitFor("millwright/plant-1/CAM-07/work-orders", timeout: 30)
        _ = try await floor.waitFor("millwright/plant-1/CAM-07/status", timeout: 10)
        #expect(server.terminate() == 0)
        _ = try await floor.waitFor("\"reason\":\"shutdown\"", timeout: 10)
        floor.kill9()
    }

    /// A message that kills ingest, published among others: after three deaths it is
    /// acknowledged and refused, and the others, in progress with it the first time, are all
    /// stored. Without running a crash's suspects alone they would die with it three times and
    /// be quarantined with it.
    @Test(.timeLimit(.minutes(4))) func aPoisonMessageIsQuarantinedAloneAndTheMessagesAroundItAreStored() async throws {
        let (emu, plant, broker) = try await Self.plantWithBroker()
        defer { broker.stop(); _ = emu.terminate() }
        try Self.configureMQTT(plant, port: broker.port, clientId: "millwright-poison",
                               source: #"{ topic: "vision/+/detections", format: native, camera_from_topic: 1 }"#)
        let env = Plant.keys.merging(["MILLWRIGHT_TEST_CRASH": "ingest", "MILLWRIGHT_TEST_CRASH_MATCH": "poison-payload"]) { _, b in b }
        func serve() throws -> Spawned { try Spawned(["serve", "--config", plant.configPath], name: "serve", environment: env) }
        // A first run makes the broker keep a session for the gateway; the messages then wait
        // there, and the next run receives them in one burst.
        var server = try serve()
        let first = API(base: try await server.listening())
        try await API.eventually("connected to the broker") {
            String(decoding: try await first.get("/metrics", key: "viewer-key").body, as: UTF8.self).contains("millwright_mqtt_connected 1")
        }
        #expect(server.terminate() == 0)
        func line(_ id: String) -> String {
            let d: [String: Any] = ["detection_id": id, "camera_id": "CAM-07", "timestamp": ISO8601DateFormatter.withMillis.string(from: Date()),
                                    "defect_class": "crack", "confidence": 0.95]
            return String(decoding: try! JSONSerialization.data(withJSONObject: d, options: .sortedKeys), as: UTF8.self)
        }
        let innocent = (0..<40).map { "around-\($0)" }
        try Self.publish(port: broker.port, topic: "vision/CAM-07/detections", lines: innocent.prefix(20).map(line) + [line("poison-payload")] + innocent.dropFirst(20).map(line))
        for death in 1...3 {
            server = try serve()
            server.process.waitUntilExit()
            #expect(server.process.terminationReason == .uncaughtSignal, "run \(death) should have died on the poison")
        }
        server = try serve()
        _ = try await server.listening()
        try await API.eventually("the 40 messages around the poison stored", timeout: 60) { try storedIds(plant).count >= 40 }
        #expect(try storedIds(plant) == Set(innocent))
        let quarantined = try sqlite(plant.dbPath, "SELECT subject FROM audit WHERE kind = 'ingest.quarantined'")
        #expect(quarantined.count == 1, "\(quarantined)")
        #expect(server.terminate() == 0)
    }

    /// The outcome of a work order decided while nothing reached the floor (here: no MQTT
    /// configured yet, in production: a crash before the PUBACK) is announced later.
    @Test(.timeLimit(.minutes(2))) func incidentsAndWorkOrderOutcomesTheFloorMissedAreAnnouncedOnRestart() async throws {
        let (emu, plant, broker) = try await Self.plantWithBroker()
        defer { broker.stop(); _ = emu.terminate() }
        var server = try plant.serve()
        var api = API(base: try await server.listening())
        let posted = try await api.post("/v1/detections", json: detection("missed-1", camera: "CAM-12", defect: "corrosion"), key: "ingest-key")
        let incident = try #require((posted.object["results"] as? [[String: Any]])?.first?["incident_id"] as? String)
        try await API.eventually("work order delivered") {
            ((try await api.get("/v1/incidents/\(incident)").object["work_order"] as? [String: Any])?["phase"] as? String) == "delivered"
        }
        #expect(server.terminate() == 0)

        let config = try String(contentsOfFile: plant.configPath, encoding: .utf8) + """

        mqtt:
          broker: mqtt://127.0.0.1:\(broker.port)
          client_id: millwright-missed
          publish: { prefix: millwright, site: plant-1 }

        """
        try config.write(toFile: plant.configPath, atomically: true, encoding: .utf8)
        let floor = try Spawned.external((findExecutable("mosquitto_sub") ?? "mosquitto_sub"), ["-h", "127.0.0.1", "-p", "\(broker.port)", "-t", "millwright/#", "-v", "-q", "1"])
        defer { floor.kill9() }
        server = try plant.serve()
        api = API(base: try await server.listening())
        defer { _ = server.terminate() }
        let heard = try await floor.waitFor("\"phase\":\"delivered\"", timeout: 30)
        #expect(heard.contains("millwright/plant-1/CAM-12/work-orders"))
        #expect(heard.contains(incident))
        let incidentNews = try await floor.waitFor("millwright/plant-1/CAM-12/incidents", timeout: 10)
        #expect(incidentNews.contains("\"incident_id\":\"\(incident)\""))
    }

    @Test(.timeLimit(.minutes(2))) func aSnapshotPublishedOnItsOwnBecomesTheEvidenceFrame() async throws {
        let (emu, plant, broker) = try await Self.plantWithBroker()
        defer { broker.stop(); _ = emu.terminate() }
        try Self.configureMQTT(plant, port: broker.port, clientId: "millwright-snap",
                               source: #"{ topic: "frigate/+/+/snapshot", format: snapshot, camera_from_topic: 1 }"#)
        let server = try plant.serve()
        let api = API(base: try await server.listening())
        defer { _ = server.terminate() }

        let jpegPath = plant.dir + "/snap.jpg"
        try EvidenceFlowTests.pillowJPEG().write(to: URL(fileURLWithPath: jpegPath))
        try await API.eventually("snapshot stored") {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: (findExecutable("mosquitto_pub") ?? "mosquitto_pub"))
            p.arguments = ["-h", "127.0.0.1", "-p", "\(broker.port)", "-q", "1", "-t", "frigate/CAM-12/corrosion/snapshot", "-f", jpegPath]
            try p.run()
            p.waitUntilExit()
            return try sqlite(plant.dbPath, "SELECT COUNT(*) FROM camera_snapshots") != ["0"]
        }
        var d = detection("snap-1", camera: "CAM-12", defect: "corrosion")
        d["bbox"] = ["x": 290, "y": 190, "width": 60, "height": 20]
        d["image"] = ["width": 640, "height": 360]
        let posted = try await api.post("/v1/detections", json: d, key: "ingest-key")
        let incident = try #require((posted.object["results"] as? [[String: Any]])?.first?["incident_id"] as? String)
        try await API.eventually("evidence rendered from the snapshot") {
            (try await api.get("/v1/incidents/\(incident)").object["evidence_note"] as? String)?.hasPrefix("annotated frame") == true
        }
    }
}
