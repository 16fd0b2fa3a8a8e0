import Config
import Connectors
import MillwrightCore
import Testing

/// `node_id` and `dispatch.lease`: what several nodes on one PostgreSQL store need.
@Suite struct ClusterConfigTests {
    func parse(_ yaml: String) throws(ConfigError) -> Settings {
        try ConfigLoader.parse(yaml: yaml, file: "plant.yaml", cmmsKinds: CMMSRegistry.all)
    }

    @Test func nodeIdAndLeaseAreRead() throws {
        let s = try parse("node_id: line2-gw-a\ndispatch: { lease: 30s }\n")
        #expect(s.nodeId == "line2-gw-a")
        #expect(s.dispatch.lease == .seconds(30))
        let d = try parse("site: { name: p }\n")
        #expect(d.nodeId == nil, "the host name and pid are chosen at start")
        #expect(d.dispatch.lease == .seconds(120))
    }

    @Test func badValuesNameTheLineAndTheFix() {
        #expect {
            try parse("node_id: \"gw a/1\"\n")
        } throws: { "\($0)".hasPrefix("plant.yaml:1: node_id:") && "\($0)".contains("letters, digits") }
        #expect {
            try parse("dispatch:\n  lease: 1s\n")
        } throws: { "\($0)".hasPrefix("plant.yaml:2: dispatch.lease:") && "\($0)".contains("2s to 1h") }
    }
}
