import Foundation
import Testing
#if canImport(Glibc)
import Glibc
import MillwrightTesting
#endif

/// The broker connection as an operator sees it: `/readyz`, `/metrics`, the log and the audit
/// trail across a broker restart that loses the gateway's session.
@Suite struct MQTTConnectionTests {
    /// `name value` lines of the Prometheus text format.
    func metric(_ api: API, _ name: String) async throws -> Double? {
        let text = String(decoding: try await api.get("/metrics").body, as: UTF8.self)
        for line in text.split(separator: "\n") where line.hasPrefix(name + " ") || line.hasPrefix(name + "{") {
            return line.split(separator: " ").last.flatMap { Double($0) }
        }
        return nil
    }

    func ready(_ api: API) async throws -> (status: Int, fields: [String: Any]) {
        let r = try await api.get("/readyz")
        return (r.status, r.object)
    }

    @Test(.timeLimit(.minutes(3))) func brokerRestartWithoutPersistenceIsCountedLoggedAndAudited() async throws {
        let emu = try Plant.emulator()
        defer { _ = emu.terminate() }
        let plant = try Plant(cmmsURL: API(base: try await emu.listening()).base)
        var broker = try MQTTIngestTests.Broker(dir: plant.dir, persistence: false)
        defer { broker.stop() }
        try await broker.ready()
        try MQTTIngestTests.configureMQTT(plant, port: broker.port, clientId: "millwright-conn",
                                          source: #"{ topic: "vision/+/detections", format: native, camera_from_topic: 1 }"#)
        let server = try plant.serve()
        defer { _ = server.terminate() }
        let api = API(base: try await server.listening())

        try await API.eventually("connected gauge 1") { try await metric(api, "millwright_mqtt_connected") == 1 }
        let before = try await ready(api)
        #expect(before.status == 200)
        #expect(before.fields["mqtt"] as? String == "connected")
        #expect(before.fields["mqtt_reconnects"] as? String == "0")
        #expect(before.fields["mqtt_last_message_at"] as? String == "never")

        // The broker dies and comes back on the same port with nothing of our session.
        broker.stop()
        try await API.eventually("connected gauge 0") { try await metric(api, "millwright_mqtt_connected") == 0 }
        let down = try await ready(api)
        #expect(down.status == 503)
        #expect((down.fields["mqtt"] as? String)?.hasPrefix("connected") == false)
        broker = try MQTTIngestTests.Broker(dir: plant.dir, port: broker.port, persistence: false)
        try await broker.ready()

        try await API.eventually("reconnected", timeout: 40) { try await metric(api, "millwright_mqtt_connected") == 1 }
        try await API.eventually("reconnect and session loss counted") {
            let reconnects = try await metric(api, "millwright_mqtt_reconnects_total")
            let lost = try await metric(api, "millwright_mqtt_sessions_lost_total")
            return reconnects == 1 && lost == 1
        }
        let after = try await ready(api)
        #expect(after.status == 200)
        #expect(after.fields["mqtt_reconnects"] as? String == "1")
        #expect(after.fields["mqtt_sessions_lost"] as? String == "1")
        #expect(server.text.contains("messages may have been lost at the broker"))
        try await API.eventually("the session loss in the audit trail") {
            try sqlite(plant.dbPath, "SELECT kind FROM audit WHERE kind = 'mqtt.session_lost'") == ["mqtt.session_lost"]
        }

        // The subscription was restored: detections flow again and count as messages.
        try await API.eventually("a detection over MQTT after the restart") {
            try MQTTIngestTests.publish(port: broker.port, topic: "vision/CAM-07/detections", lines: [
                String(decoding: try JSONSerialization.data(withJSONObject: detection("after-restart")), as: UTF8.self),
            ])
            return try sqlite(plant.dbPath, "SELECT id FROM detections WHERE id = 'after-restart'") == ["after-restart"]
        }
        #expect(try await ready(api).fields["mqtt_last_message_at"] as? String != "never")
        #expect(try await metric(api, "millwright_mqtt_seconds_since_last_message").map { $0 < 60 } == true)
    }
}
