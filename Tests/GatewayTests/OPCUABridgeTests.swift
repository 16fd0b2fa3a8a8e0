import Foundation
@testable import Gateway
import Logging
import MillwrightCore
import OPCUA
import Store
import Testing

/// The glue between the floor events and the OPC UA server: RejectPart raised at `reject_at`,
/// not below, reset by `reject_pulse`; every detection a result.
@Suite struct OPCUABridgeTests {
    static let nodeSets = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources/OPCUA/Spec")
    let t = Date(timeIntervalSince1970: 1_800_000_000)

    /// A gateway whose crack detections open incidents of `priority`, and a bridge on it.
    func setUp(priority: Priority, pulse: Duration? = nil) throws -> (Gateway, OPCUABridge) {
        var s = Settings()
        s.cmms = [CMMSSettings(name: "sb", kind: "sandbox", baseURL: "http://127.0.0.1:1")]
        s.assets.cameras = [CameraMapping(camera: "CAM-0", asset: "A0", cmms: "sb")]
        s.priority = [PriorityRule(condition: .always, priority: priority)]
        var o = OPCUASettings()
        o.rejectAt = .high
        o.rejectPulse = pulse
        s.opcua = o
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mw-opcua-\(UUID().uuidString)").path
        let gateway = Gateway(settings: s, store: try Store(path: dir + "/db.sqlite"), register: nil, connectors: [], logger: Logger(label: "test"))
        return (gateway, try OPCUABridge(gateway: gateway, settings: o, nodeSets: Self.nodeSets, onListening: { _ in }))
    }

    func detect(_ gateway: Gateway, _ bridge: OPCUABridge, id: String) async throws {
        let d = Detection(detectionId: id, cameraId: "CAM-0", timestamp: t, defectClass: "crack", confidence: 0.9)
        let outcome = try #require(try await gateway.store.ingest([d], rules: gateway.rules, now: t).first)
        #expect(outcome.status == .confirmed)
        await bridge.apply(.detection(outcome, d))
    }

    @Test func rejectPartRisesAtRejectAtAndNotBelow() async throws {
        let (lowGateway, low) = try setUp(priority: .medium)
        #expect(low.server.withCore { $0.rejectPart(camera: "CAM-0") } == false)
        try await detect(lowGateway, low, id: "d-low")
        #expect(low.server.withCore { $0.rejectPart(camera: "CAM-0") } == false)
        #expect(low.server.withCore { $0.results(camera: "CAM-0").count } == 1)

        let (gateway, bridge) = try setUp(priority: .high)
        try await detect(gateway, bridge, id: "d-high")
        #expect(bridge.server.withCore { $0.rejectPart(camera: "CAM-0") } == true)
    }

    @Test func rejectPulseResetsIt() async throws {
        let (gateway, bridge) = try setUp(priority: .critical, pulse: .milliseconds(200))
        try await detect(gateway, bridge, id: "d-1")
        #expect(bridge.server.withCore { $0.rejectPart(camera: "CAM-0") } == true)
        // Generous: the whole suite runs in parallel on a loaded machine.
        let deadline = ContinuousClock.now + .seconds(60)
        while bridge.server.withCore({ $0.rejectPart(camera: "CAM-0") }) == true, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(bridge.server.withCore { $0.rejectPart(camera: "CAM-0") } == false)
    }
}
