import Config
import Connectors
import MillwrightCore
import Testing

/// `site.enterprise`, the camera `line`, `mqtt.publish.topic_template` and `mqtt.sparkplug`.
@Suite struct UNSConfigTests {
    func parse(_ yaml: String) throws(ConfigError) -> Settings {
        try ConfigLoader.parse(yaml: yaml, file: "plant.yaml", cmmsKinds: CMMSRegistry.all, environment: [:])
    }

    func plant(template: String, enterprise: String? = "acme", line: String? = "C2") -> String {
        """
        site: { name: plant-1\(enterprise.map { ", enterprise: \($0)" } ?? "") }
        assets:
          cameras:
            - { camera: CAM-1, asset: "10004711"\(line.map { ", line: \($0)" } ?? "") }
            - { camera: CAM-2, asset: "10004720", area: hall-3, line: C3 }
        mqtt:
          broker: mqtt://127.0.0.1:1883
          publish:
            topic_template: "\(template)"
        """
    }

    let isa95 = "{enterprise}/{site}/{area}/{line}/{asset}/vision/{camera}"

    @Test func theTemplateAndItsValuesAreRead() throws {
        let s = try parse(plant(template: isa95))
        #expect(s.site.enterprise == "acme")
        #expect(s.assets.cameras.map(\.productionLine) == ["C2", "C3"])
        let mqtt = try #require(s.mqtt)
        #expect(mqtt.topicTemplate == (try UNSTopicTemplate(parsing: isa95)))
        #expect(mqtt.topicTemplateLine == 9)
        #expect(mqtt.publishPrefix == "millwright")
        // area from the register for CAM-1, from the camera itself for CAM-2.
        let register = AssetRegister(records: [AssetRecord(assetId: "10004711", area: "line-2", line: 2)])
        try ConfigLoader.checkTopicTemplate(s, register: register, file: "plant.yaml")
    }

    @Test func anUnknownPlaceholderIsRefusedAtItsLine() {
        #expect {
            try parse(plant(template: "{enterprise}/{plant}/{camera}"))
        } throws: { error in
            let e = error as? ConfigError
            return e?.line == 9 && e?.key == "mqtt.publish.topic_template" && e?.message.contains("unknown placeholder {plant}") == true
        }
    }

    @Test func aCameraWithoutItsLineIsNamedAtStart() throws {
        let s = try parse(plant(template: isa95, line: nil))
        let register = AssetRegister(records: [AssetRecord(assetId: "10004711", area: "line-2", line: 2)])
        #expect {
            try ConfigLoader.checkTopicTemplate(s, register: register, file: "plant.yaml")
        } throws: { error in
            let e = error as? ConfigError
            return e?.description == "plant.yaml:4: assets.cameras[0].line: camera CAM-1 has no line for {line} in mqtt.publish.topic_template"
        }
    }

    @Test func anAreaNeitherTheCameraNorTheRegisterHasIsNamedAtStart() throws {
        let s = try parse(plant(template: isa95))
        #expect {
            try ConfigLoader.checkTopicTemplate(s, register: nil, file: "plant.yaml")
        } throws: { error in
            let e = error as? ConfigError
            return e?.line == 4 && e?.key == "assets.cameras[0].area" && e?.message.contains("area (or the register's area column)") == true
        }
    }

    @Test func aMissingEnterpriseIsNamed() throws {
        let s = try parse(plant(template: isa95, enterprise: nil))
        #expect {
            try ConfigLoader.checkTopicTemplate(s, register: nil, file: "plant.yaml")
        } throws: { error in
            let e = error as? ConfigError
            return e?.line == 9 && e?.key == "site.enterprise"
        }
    }

    @Test func withoutATemplateNothingIsChecked() throws {
        let s = try parse("""
        mqtt:
          broker: mqtt://127.0.0.1:1883
          publish: { prefix: millwright }
        """)
        #expect(s.mqtt?.topicTemplate == nil)
        try ConfigLoader.checkTopicTemplate(s, register: nil, file: "plant.yaml")
    }

    @Test func sparkplugIsRead() throws {
        let s = try parse("""
        mqtt:
          broker: mqtt://127.0.0.1:1883
          sparkplug: { group_id: plant-1, edge_node_id: millwright, primary_host_id: scada, allow_commands: true }
        """)
        let sp = try #require(s.mqtt?.sparkplug)
        #expect(sp.groupId == "plant-1" && sp.edgeNodeId == "millwright" && sp.primaryHostId == "scada" && sp.allowCommands)
    }

    @Test(arguments: ["line/2", "a+b", "#", "with space"]) func sparkplugIdsMustBeTopicLevels(_ id: String) {
        #expect {
            try parse("""
            mqtt:
              broker: mqtt://127.0.0.1:1883
              sparkplug: { group_id: "\(id)", edge_node_id: millwright }
            """)
        } throws: { error in
            (error as? ConfigError)?.key == "mqtt.sparkplug.group_id"
        }
    }

    @Test func sparkplugNeedsItsIds() {
        #expect(throws: ConfigError.self) {
            try parse("""
            mqtt:
              broker: mqtt://127.0.0.1:1883
              sparkplug: { group_id: plant-1 }
            """)
        }
    }
}
