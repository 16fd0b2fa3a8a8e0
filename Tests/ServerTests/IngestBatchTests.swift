import Foundation
@testable import Gateway
import Logging
import MillwrightCore
import Store
import Testing

/// `Gateway.ingest(batch:)`, the MQTT intake's way in: each message is read, refused or
/// stored on its own, as one at a time would be, with one result per message in order.
@Suite struct IngestBatchTests {
    @Test func eachMessageOfABatchGetsItsOwnResultAndOnlyGoodItemsAreStored() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mw-batch-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var settings = Settings()
        settings.storage = .sqlite(path: dir + "/db.sqlite")
        settings.assets.cameras = [CameraMapping(camera: "CAM-0", asset: "A0")]
        let store = try Store(path: dir + "/db.sqlite")
        let gateway = Gateway(settings: settings, store: store, register: nil, connectors: [], logger: Logger(label: "test"))
        let now = Timestamps.format(Date())
        func item(_ body: String) -> (body: Data, source: Gateway.Source) { (Data(body.utf8), Gateway.Source(format: .native)) }
        let results = await gateway.ingest(batch: [
            item(#"{"detection_id":"d-1","camera_id":"CAM-0","timestamp":"\#(now)","defect_class":"crack","confidence":0.9}"#),
            item(#"{"detection_id":"d-2","camera_id":"#),
            item(#"[{"detection_id":"d-3","camera_id":"CAM-0","timestamp":"\#(now)","defect_class":"crack","confidence":0.9},{"detection_id":"d-4","camera_id":"CAM-0","timestamp":"\#(now)","confidence":0.9}]"#),
            item(#"{"detection_id":"d-1","camera_id":"CAM-0","timestamp":"\#(now)","defect_class":"crack","confidence":0.9}"#),
        ])
        #expect(results.count == 4)
        let first = try results[0].get()
        #expect(first.accepted.map(\.id) == ["d-1"] && first.accepted.allSatisfy { !$0.duplicate })
        #expect(throws: Gateway.IngestError.self) { try results[1].get() }
        let third = try results[2].get()
        #expect(third.accepted.map(\.id) == ["d-3"])
        #expect(third.rejected.map(\.index) == [1])
        let again = try results[3].get()
        #expect(again.accepted.map(\.id) == ["d-1"] && again.accepted.allSatisfy(\.duplicate), "the second copy in the batch is a repeat")
        #expect(try await store.detectionsStored() == 2)
    }
}
