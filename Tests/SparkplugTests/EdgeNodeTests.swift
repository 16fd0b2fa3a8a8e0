import Foundation
import Sparkplug
import SwiftProtobuf
import Testing

@Suite struct EdgeNodeTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    func node(host: String? = nil, allowCommands: Bool = false, lastBdSeq: UInt8? = nil) -> EdgeNode {
        EdgeNode(configuration: .init(groupId: "plant-1", edgeNodeId: "millwright", primaryHostId: host, allowCommands: allowCommands,
                                      devices: ["CAM-1", "CAM-2"]),
                 lastBdSeq: lastBdSeq, node: NodeValues(status: "online", version: "1.2.3"))
    }

    func published(_ actions: [EdgeNode.Action]) -> [EdgeNode.Message] {
        actions.compactMap { if case .publish(let m) = $0 { m } else { nil } }
    }

    func types(_ actions: [EdgeNode.Action]) -> [String] {
        published(actions).map { $0.topic.split(separator: "/")[2...].joined(separator: "/") }
    }

    func metric(_ p: SparkplugPayload, _ name: String) -> SparkplugMetric? { p.metrics.first { $0.name == name } }

    /// A node connected and born without a primary host.
    func born() -> (EdgeNode, [EdgeNode.Action]) {
        var n = node()
        _ = n.connecting(now: t0)
        let actions = n.connected(now: t0)
        return (n, actions)
    }

    @Test func theWillIsAnNDeathWithTheConnectionsBdSeqAtQoS1() {
        var n = node(lastBdSeq: 41)
        let (bdSeq, will) = n.connecting(now: t0)
        #expect(bdSeq == 42)
        #expect(will.topic == "spBv1.0/plant-1/NDEATH/millwright")
        #expect(will.qos == 1)
        #expect(will.payload.metrics.count == 1)
        let m = will.payload.metrics[0]
        #expect(m.name == "bdSeq" && m.datatype == 4 && m.longValue == 42)
        #expect(!will.payload.hasSeq)
        // Each connection takes the next one, wrapping after 255.
        var w = node(lastBdSeq: 255)
        #expect(w.connecting(now: t0).bdSeq == 0)
        #expect(w.connecting(now: t0).bdSeq == 1)
        var fresh = node()
        #expect(fresh.connecting(now: t0).bdSeq == 0)
    }

    @Test func withoutAHostItSubscribesAndIsBornAtOnce() throws {
        let (n, actions) = born()
        #expect(actions.first == .subscribe(["spBv1.0/plant-1/NCMD/millwright", "spBv1.0/plant-1/DCMD/millwright/+"]))
        #expect(types(actions) == ["NBIRTH/millwright", "DBIRTH/millwright/CAM-1", "DBIRTH/millwright/CAM-2"])
        let msgs = published(actions)
        #expect(msgs.allSatisfy { $0.qos == 0 })
        #expect(msgs.map(\.payload.seq) == [0, 1, 2])
        #expect(n.phase == .born)
        let nbirth = msgs[0].payload
        #expect(metric(nbirth, "bdSeq")?.longValue == 0)
        #expect(metric(nbirth, "bdSeq")?.hasAlias == false)
        let rebirth = try #require(metric(nbirth, "Node Control/Rebirth"))
        #expect(rebirth.datatype == 11 && rebirth.booleanValue == false && rebirth.alias == 1)
        #expect(metric(nbirth, "Gateway/Version")?.stringValue == "1.2.3")
        #expect(metric(nbirth, "Gateway/Status")?.datatype == 12)
        #expect(metric(nbirth, "Counts/Detections")?.datatype == 8)
        // Every device metric with its type and an alias unique on the node.
        let dbirth = msgs[1].payload
        let expected: [(String, UInt32)] = [("Inspection/LastDefectClass", 12), ("Inspection/LastConfidence", 10), ("Inspection/RejectPart", 11),
                                            ("Inspection/LastDetectionTime", 13), ("Incidents/Open", 7), ("Incidents/Severity", 3),
                                            ("WorkOrders/Pending", 7), ("Camera/Online", 11)]
        #expect(dbirth.metrics.map(\.name) == expected.map(\.0))
        #expect(dbirth.metrics.map(\.datatype) == expected.map(\.1))
        #expect(metric(dbirth, "Inspection/LastDefectClass")?.isNull == true)
        #expect(metric(dbirth, "Camera/Online")?.booleanValue == false)
        let aliases = msgs.flatMap { $0.payload.metrics.filter(\.hasAlias).map(\.alias) }
        #expect(Set(aliases).count == aliases.count)
        // It encodes to bytes another implementation can read back.
        let decoded = try SparkplugPayload(serializedBytes: msgs[1].bytes)
        #expect(decoded == dbirth)
    }

    @Test func changesAreReportedByExceptionByAliasWithSeqWrapping() throws {
        var (n, _) = born()
        var v = DeviceValues()
        v.lastDefectClass = "crack"
        v.lastConfidence = 0.93
        v.rejectPart = true
        v.lastDetectionTime = 1_800_000_000_123
        v.online = true
        let data = published(n.deviceChanged("CAM-1", v, now: t0))
        #expect(data.count == 1)
        #expect(data[0].topic == "spBv1.0/plant-1/DDATA/millwright/CAM-1")
        #expect(data[0].payload.seq == 3)
        let ms = data[0].payload.metrics
        #expect(ms.allSatisfy { !$0.hasName && !$0.hasDatatype })
        #expect(ms.map(\.alias) == [101, 102, 103, 104, 108])
        #expect(ms[0].stringValue == "crack" && ms[1].doubleValue == 0.93 && ms[2].booleanValue && ms[3].longValue == 1_800_000_000_123)
        // Nothing changed: nothing sent.
        #expect(n.deviceChanged("CAM-1", v, now: t0).isEmpty)
        v.severity = -5
        let neg = published(n.deviceChanged("CAM-1", v, now: t0))
        #expect(neg[0].payload.metrics.map(\.alias) == [106])
        #expect(neg[0].payload.metrics[0].intValue == UInt32(bitPattern: -5))
        // seq runs 0…255 and wraps.
        var last: UInt64 = 0
        for i in 0..<300 {
            v.lastConfidence = Double(i) / 1000
            last = try #require(published(n.deviceChanged("CAM-2", v, now: t0)).last?.payload.seq)
        }
        #expect(last == (5 + 299) % 256)
        // Unknown devices are ignored.
        #expect(n.deviceChanged("CAM-X", v, now: t0).isEmpty)
    }

    @Test func aCameraGoingOfflineDiesAndIsBornAgainWhenBack() {
        var (n, _) = born()
        var v = DeviceValues()
        v.online = true
        _ = n.deviceChanged("CAM-1", v, now: t0)
        v.online = false
        let gone = n.deviceChanged("CAM-1", v, now: t0)
        #expect(types(gone) == ["DDATA/millwright/CAM-1", "DDEATH/millwright/CAM-1"])
        #expect(published(gone)[1].payload.metrics.isEmpty)
        #expect(!n.alive.contains("CAM-1"))
        // Values of a dead device wait; it is born with them when online again.
        v.openIncidents = 2
        #expect(n.deviceChanged("CAM-1", v, now: t0).isEmpty)
        v.online = true
        let back = published(n.deviceChanged("CAM-1", v, now: t0))
        #expect(back.map(\.topic) == ["spBv1.0/plant-1/DBIRTH/millwright/CAM-1"])
        #expect(back[0].payload.metrics.first { $0.name == "Incidents/Open" }?.intValue == 2)
    }

    @Test func nodeDataCarriesOnlyChangedNodeMetrics() {
        var (n, _) = born()
        var values = NodeValues(status: "online", version: "1.2.3")
        values.detections = 5
        let sent = published(n.nodeChanged(values, now: t0))
        #expect(sent.map(\.topic) == ["spBv1.0/plant-1/NDATA/millwright"])
        #expect(sent[0].payload.metrics.map(\.alias) == [NodeMetric.detections.definition.alias])
        #expect(sent[0].payload.metrics[0].longValue == 5)
        #expect(n.nodeChanged(values, now: t0).isEmpty)
    }

    func command(_ name: String?, alias: UInt64? = nil, _ value: Bool) -> [UInt8] {
        var m = SparkplugMetric()
        if let name { m.name = name }
        if let alias { m.alias = alias }
        m.datatype = 11
        m.booleanValue = value
        var p = SparkplugPayload()
        p.timestamp = 1
        p.metrics = [m]
        return try! p.serializedBytes()
    }

    @Test func rebirthRepeatsAllBirthsWithTheSameBdSeq() {
        var (n, _) = born()
        _ = n.deviceChanged("CAM-1", DeviceValues(), now: t0)
        let again = n.received(topic: "spBv1.0/plant-1/NCMD/millwright", payload: command("Node Control/Rebirth", true), now: t0)
        #expect(types(again) == ["NBIRTH/millwright", "DBIRTH/millwright/CAM-1", "DBIRTH/millwright/CAM-2"])
        #expect(published(again).map(\.payload.seq) == [0, 1, 2])
        #expect(published(again)[0].payload.metrics.first { $0.name == "bdSeq" }?.longValue == 0)
        // By alias too; false asks for nothing; another node's or group's command is not ours.
        #expect(types(n.received(topic: "spBv1.0/plant-1/NCMD/millwright", payload: command(nil, alias: 1, true), now: t0)).count == 3)
        #expect(n.received(topic: "spBv1.0/plant-1/NCMD/millwright", payload: command("Node Control/Rebirth", false), now: t0).isEmpty)
        #expect(n.received(topic: "spBv1.0/plant-1/NCMD/other", payload: command("Node Control/Rebirth", true), now: t0).isEmpty)
        #expect(n.received(topic: "spBv1.0/plant-2/NCMD/millwright", payload: command("Node Control/Rebirth", true), now: t0).isEmpty)
    }

    @Test func hostileCommandPayloadsAreRefusedNotDecodedWithoutBound() {
        var (n, _) = born()
        let garbage: [UInt8] = [0x0A, 0xFF, 0xFF, 0xFF, 0x0F]
        #expect(n.received(topic: "spBv1.0/plant-1/NCMD/millwright", payload: garbage, now: t0)
                == [.commandRefused(device: nil, reason: "not a Sparkplug B payload")])
        let huge = [UInt8](repeating: 0, count: EdgeNode.maxInboundBytes + 1)
        #expect(published(n.received(topic: "spBv1.0/plant-1/NCMD/millwright", payload: huge, now: t0)).isEmpty)
        var p = SparkplugPayload()
        p.metrics = Array(repeating: SparkplugMetric(), count: EdgeNode.maxCommandMetrics + 1)
        let many = n.received(topic: "spBv1.0/plant-1/NCMD/millwright", payload: try! p.serializedBytes(), now: t0)
        #expect(many.count == 1)
        if case .commandRefused = many.first {} else { Issue.record("not refused: \(many)") }
    }

    @Test func rejectResetsNeedAllowCommands() {
        var (off, _) = born()
        let refused = off.received(topic: "spBv1.0/plant-1/DCMD/millwright/CAM-1", payload: command("Inspection/RejectPart", false), now: t0)
        #expect(refused == [.commandRefused(device: "CAM-1", reason: "mqtt.sparkplug.allow_commands is off")])

        var n = node(allowCommands: true)
        _ = n.connecting(now: t0)
        _ = n.connected(now: t0)
        var v = DeviceValues()
        v.rejectPart = true
        v.online = true
        _ = n.deviceChanged("CAM-1", v, now: t0)
        let reset = n.received(topic: "spBv1.0/plant-1/DCMD/millwright/CAM-1", payload: command(nil, alias: 103, false), now: t0)
        #expect(reset.first == .rejectReset(device: "CAM-1"))
        #expect(types(reset) == ["DDATA/millwright/CAM-1"])
        #expect(published(reset)[0].payload.metrics.map(\.booleanValue) == [false])
        #expect(n.devices["CAM-1"]?.rejectPart == false)
        // Setting a reject, another metric, or an unknown device is refused.
        if case .commandRefused = n.received(topic: "spBv1.0/plant-1/DCMD/millwright/CAM-1", payload: command("Inspection/RejectPart", true), now: t0).first {} else {
            Issue.record("setting a reject was not refused")
        }
        #expect(n.received(topic: "spBv1.0/plant-1/DCMD/millwright/CAM-1", payload: command("Camera/Online", false), now: t0)
                == [.commandRefused(device: "CAM-1", reason: "only Inspection/RejectPart can be written")])
        #expect(n.received(topic: "spBv1.0/plant-1/DCMD/millwright/CAM-9", payload: command("Inspection/RejectPart", false), now: t0)
                == [.commandRefused(device: "CAM-9", reason: "no such device")])
    }

    func state(_ online: Bool, _ ts: UInt64) -> [UInt8] { Array(#"{"online": \#(online), "timestamp": \#(ts)}"#.utf8) }

    @Test func itWaitsForThePrimaryHostAndIsBornAgainAfterItComesBack() {
        var n = node(host: "scada")
        _ = n.connecting(now: t0)
        let first = n.connected(now: t0)
        #expect(first == [.subscribe(["spBv1.0/plant-1/NCMD/millwright", "spBv1.0/plant-1/DCMD/millwright/+", "spBv1.0/STATE/scada"])])
        #expect(n.phase == .waitingForHost)
        // Nothing is published while the host is away, not even data.
        var v = DeviceValues()
        v.online = true
        #expect(n.deviceChanged("CAM-1", v, now: t0).isEmpty)
        #expect(n.received(topic: "spBv1.0/STATE/scada", payload: state(false, 10), now: t0).isEmpty)
        let births = n.received(topic: "spBv1.0/STATE/scada", payload: state(true, 20), now: t0)
        #expect(types(births) == ["NBIRTH/millwright", "DBIRTH/millwright/CAM-1", "DBIRTH/millwright/CAM-2"])
        // The birth carries the value that changed while waiting.
        #expect(published(births)[1].payload.metrics.first { $0.name == "Camera/Online" }?.booleanValue == true)
        // An older STATE (a stale retained one) changes nothing.
        #expect(n.received(topic: "spBv1.0/STATE/scada", payload: state(false, 15), now: t0).isEmpty)
        // The host goes offline: NDEATH, then a new connection that waits for it again.
        let gone = n.received(topic: "spBv1.0/STATE/scada", payload: state(false, 30), now: t0)
        #expect(types(gone) == ["NDEATH/millwright"])
        #expect(published(gone)[0].payload.metrics.first?.longValue == 0)
        #expect(gone.last == .reconnect(reason: "primary host scada went offline"))
        let (bdSeq, _) = n.connecting(now: t0)
        #expect(bdSeq == 1)
        _ = n.connected(now: t0)
        let reborn = n.received(topic: "spBv1.0/STATE/scada", payload: state(true, 40), now: t0)
        #expect(published(reborn).first?.payload.metrics.first { $0.name == "bdSeq" }?.longValue == 1)
        #expect(n.received(topic: "spBv1.0/STATE/scada", payload: Array("not json".utf8), now: t0).count == 1)
    }

    @Test func aGracefulStopPublishesTheNDeath() {
        var (n, _) = born()
        let stop = n.stopping(now: t0)
        #expect(types(stop) == ["NDEATH/millwright"])
        #expect(published(stop)[0].qos == 1)
        #expect(n.stopping(now: t0).isEmpty)
    }
}
