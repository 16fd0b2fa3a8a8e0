import Config
import Connectors
import MillwrightCore
import Testing

@Suite struct MQTTConfigTests {
    func parse(_ yaml: String) throws(ConfigError) -> Settings {
        try ConfigLoader.parse(yaml: yaml, file: "plant.yaml", cmmsKinds: CMMSRegistry.all, environment: [:])
    }

    @Test func assumedConfidenceAndAlertRecipients() throws {
        let s = try parse("""
        mqtt:
          broker: mqtt://127.0.0.1:1883
          alert: [supervisor, T-114]
          sources:
            - { topic: "deepstream/#", format: deepstream, assumed_confidence: 0.6 }
            - { topic: "frigate/events", format: frigate }
        """)
        let mqtt = try #require(s.mqtt)
        #expect(mqtt.sources.map(\.assumedConfidence) == [0.6, nil])
        #expect(mqtt.alert == ["supervisor", "T-114"])
    }

    @Test(arguments: ["1.2", "-0.1", "high"]) func assumedConfidenceOutsideZeroToOneIsAnError(_ value: String) {
        do {
            _ = try parse("""
            mqtt:
              broker: mqtt://127.0.0.1:1883
              sources:
                - topic: "deepstream/#"
                  format: deepstream
                  assumed_confidence: \(value)
            """)
            Issue.record("assumed_confidence \(value) was accepted")
        } catch {
            #expect(error.file == "plant.yaml")
            #expect(error.line == 6)
            #expect(error.key == "mqtt.sources[0].assumed_confidence")
            #expect(error.message.contains(value == "high" ? "must be a number" : "between 0.0 and 1.0"), "\(error.message)")
        }
    }
}
