import Evidence
import Foundation
import Gateway
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import MillwrightCore
import Prometheus
@testable import Server
import Store
import Testing

/// Quality analytics, the simulation, the analytics page and the training export, through the router.
@Suite struct AnalyticsRoutesTests {
    static let hostile = "<b>'&"
    static let keys: [(APIRole, String)] = [(.viewer, "k-viewer"), (.operator, "k-operator")]

    func gateway(evidence: Bool = false) throws -> Gateway {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mw-analytics-\(UUID().uuidString)").path
        var s = Settings()
        s.apiKeys = Self.keys.map { APIKeySettings(name: $0.0.rawValue, role: $0.0, key: $0.1) }
        s.assets.cameras = [CameraMapping(camera: "CAM-1", asset: "A1"), CameraMapping(camera: "CAM-2", asset: "A2")]
        s.evidence.directory = dir + "/evidence"
        let service = evidence ? try EvidenceService(settings: s.evidence, timezone: "UTC", fetchFrames: false) : nil
        return Gateway(settings: s, store: try Store(path: dir + "/db.sqlite"), register: nil, connectors: [], logger: Logger(label: "test"),
                       evidence: service)
    }

    static func detection(_ id: String, camera: String, confidence: Double, frame: Data? = nil) -> Data {
        var image: [String: Any] = ["width": 64, "height": 48]
        if let frame { image["data_base64"] = frame.base64EncodedString() }
        let d: [String: Any] = ["detection_id": id, "camera_id": camera, "timestamp": Timestamps.format(Date()), "defect_class": "crack" + hostile,
                                "confidence": confidence, "bbox": ["x": 8, "y": 8, "width": 16, "height": 12], "image": image,
                                "model": ["name": "yolo", "version": "8"]]
        return try! JSONSerialization.data(withJSONObject: d)
    }

    /// Two incidents: one a real defect (0.7), one a false positive (0.6).
    func judgedHistory(_ gw: Gateway, frames: Bool = false) async throws -> (confirmed: String, falsePositive: String) {
        let frame = frames ? try JPEG.encode(SyntheticFrame.generate(width: 64, height: 48, seed: 7)) : nil
        let a = try await gw.ingest(body: Self.detection("d1", camera: "CAM-1", confidence: 0.7, frame: frame), format: nil)
        let b = try await gw.ingest(body: Self.detection("d2", camera: "CAM-2", confidence: 0.6, frame: frame), format: nil)
        let real = try #require(a.accepted.first?.incidentId), fp = try #require(b.accepted.first?.incidentId)
        _ = try await gw.store.feedback(incidentId: real, falsePositive: false, by: "planner", note: nil, signature: nil, now: Date())
        _ = try await gw.store.feedback(incidentId: fp, falsePositive: true, by: "planner", note: nil, signature: nil, now: Date())
        return (real, fp)
    }

    func app(_ gw: Gateway) -> some ApplicationProtocol {
        Application(router: APIServer(gateway: gw, registry: PrometheusCollectorRegistry()).router())
    }

    static let viewer: HTTPFields = [.authorization: "Bearer k-viewer"]
    static let operatorKey: HTTPFields = [.authorization: "Bearer k-operator", .contentType: "application/json"]

    @Test func qualityCountsAVerdictGivenThroughTheAPI() async throws {
        let gw = try gateway()
        _ = try await judgedHistory(gw)
        try await app(gw).test(.router) { client in
            let r = try await client.execute(uri: "/v1/analytics/quality?by=camera", method: .get, headers: Self.viewer)
            #expect(r.status == .ok)
            let body = try #require(try JSONSerialization.jsonObject(with: Data(buffer: r.body)) as? [String: Any])
            let groups = try #require(body["groups"] as? [[String: Any]])
            #expect(groups.map { $0["key"] as? String } == ["CAM-1", "CAM-2"])
            #expect(groups[0]["confirmed"] as? Int == 1 && groups[1]["false_positive"] as? Int == 1)
            #expect((groups[1]["precision"] as? [String: Any])?["value"] as? Double == 0)
            let byModel = try await client.execute(uri: "/v1/analytics/quality?by=model", method: .get, headers: Self.viewer)
            #expect(String(buffer: byModel.body).contains("\"key\":\"yolo@8\""))
            let bad = try await client.execute(uri: "/v1/analytics/quality?by=shift", method: .get, headers: Self.viewer)
            #expect(bad.status == .badRequest)
        }
    }

    @Test func aSimulationAnswersAndBadInputNamesItsField() async throws {
        let gw = try gateway()
        let (real, _) = try await judgedHistory(gw)
        try await app(gw).test(.router) { client in
            let body = #"{"proposals": [{"defect_class": "crack<b>'&", "min_confidence": 0.65}]}"#
            let r = try await client.execute(uri: "/v1/analytics/simulate", method: .post, headers: Self.operatorKey, body: ByteBuffer(string: body))
            #expect(r.status == .ok)
            let answer = try JSONSerialization.jsonObject(with: Data(buffer: r.body)) as? [String: Any]
            let result = try #require(answer?["result"] as? [String: Any])
            #expect(result["work_orders_now"] as? Int == 2 && result["work_orders_proposed"] as? Int == 1)
            #expect(result["false_positives_avoided"] as? Int == 1 && result["true_defects_lost"] as? Int == 0)

            let lose = #"{"proposals": [{"defect_class": "crack<b>'&", "min_confidence": 0.9}]}"#
            let lost = try await client.execute(uri: "/v1/analytics/simulate", method: .post, headers: Self.operatorKey, body: ByteBuffer(string: lose))
            #expect(String(buffer: lost.body).contains("\"lost_incidents\":[\"\(real)\"]"))

            let wrong = #"{"proposals": [{"defect_class": "crack", "min_confidence": 2, "confirm": {"detections": 1.5, "within": "1d"}}], "extra": 1}"#
            let bad = try await client.execute(uri: "/v1/analytics/simulate", method: .post, headers: Self.operatorKey, body: ByteBuffer(string: wrong))
            #expect(bad.status == .unprocessableContent)
            let text = String(buffer: bad.body)
            for field in ["proposals[0].min_confidence", "proposals[0].confirm.detections", "proposals[0].confirm.within", "extra"] { #expect(text.contains("\"field\":\"\(field)\""), "\(field)") }
            let none = try await client.execute(uri: "/v1/analytics/simulate", method: .post, headers: Self.operatorKey, body: ByteBuffer(string: #"{"proposals": []}"#))
            #expect(none.status == .unprocessableContent)
            let viewer = try await client.execute(uri: "/v1/analytics/simulate", method: .post, headers: Self.viewer, body: ByteBuffer(string: body))
            #expect(viewer.status == .forbidden)
        }
    }

    @Test func thePageHasTheTableTheChartAndASuggestionEscaped() async throws {
        let gw = try gateway()
        _ = try await judgedHistory(gw)
        try await app(gw).test(.router) { client in
            let shell = try await client.execute(uri: "/analytics?by=defect_class", method: .get)
            #expect(shell.status == .ok)
            #expect(String(buffer: shell.body).contains("data-fragment=\"/ui/analytics?by=defect_class\""))
            let r = try await client.execute(uri: "/ui/analytics?by=defect_class", method: .get, headers: Self.viewer)
            #expect(r.status == .ok)
            #expect(r.headers[.contentSecurityPolicy]?.contains("script-src 'self'") == true)
            let html = String(buffer: r.body)
            #expect(!html.contains(Self.hostile), "every value escaped")
            #expect(!html.contains("<script"), "no inline script")
            #expect(html.contains("<svg class=\"chart\""))
            #expect(html.contains("<circle class=\"precision\""), "a precision point for the day with verdicts")
            #expect(html.contains("<pre class=\"yaml\" id=\"yaml-0\""))
            #expect(html.contains("data-copy=\"yaml-0\">Copy YAML</button>"))
            #expect(html.contains(HTML.escape("defects:\n  crack\(Self.hostile):\n    min_confidence: 0.700\n")), "the suggestion keeps the 0.7 defect")
            #expect(html.contains("data-group=\"\(HTML.escape("crack" + Self.hostile))\" data-false-positive=\"1\""))
            #expect(!html.contains("id=\"simulate\""), "no simulation form for a viewer")
            let asOperator = String(buffer: try await client.execute(uri: "/ui/analytics", method: .get, headers: Self.operatorKey).body)
            #expect(asOperator.contains("<form id=\"simulate\""))
        }
    }

    @Test func theTrainingExportIsAValidZipWithLabelsAndNegatives() async throws {
        let gw = try gateway(evidence: true)
        _ = try await judgedHistory(gw, frames: true)
        try await app(gw).test(.router) { client in
            let r = try await client.execute(uri: "/v1/exports/training?format=coco", method: .get, headers: Self.operatorKey)
            #expect(r.status == .ok)
            #expect(r.headers[.contentType] == "application/zip")
            let zip = Data(buffer: r.body)
            let entries = try ZipReader.entries(zip)
            let names = entries.map(\.name)
            #expect(names.filter { $0.hasPrefix("images/") }.count == 2)
            #expect(names.suffix(2) == ["annotations.json", "manifest.json"])
            let cocoEntry = try #require(entries.first { $0.name == "annotations.json" })
            let coco = try #require(try JSONSerialization.jsonObject(with: cocoEntry.data) as? [String: Any])
            #expect((coco["images"] as? [Any])?.count == 2)
            #expect((coco["annotations"] as? [Any])?.count == 1, "the false positive is a negative: an image without annotations")
            let manifestEntry = try #require(entries.first { $0.name == "manifest.json" })
            let manifest = try #require(try JSONSerialization.jsonObject(with: manifestEntry.data) as? [String: Any])
            #expect(manifest["negatives"] as? Int == 1 && manifest["confirmed"] as? Int == 1)

            let yolo = try ZipReader.entries(Data(buffer: try await client.execute(uri: "/v1/exports/training?format=yolo&verdict=confirmed", method: .get, headers: Self.operatorKey).body))
            let label = try #require(yolo.first { $0.name.hasPrefix("labels/") })
            // Box 8,8 16×12 in a 64×48 frame: centre 0.25, 0.291667; size 0.25, 0.25.
            #expect(String(decoding: label.data, as: UTF8.self) == "0 0.250000 0.291667 0.250000 0.250000\n")
            #expect(yolo.filter { $0.name.hasPrefix("images/") }.count == 1)

            let viewer = try await client.execute(uri: "/v1/exports/training", method: .get, headers: Self.viewer)
            #expect(viewer.status == .forbidden)
            let bad = try await client.execute(uri: "/v1/exports/training?format=voc", method: .get, headers: Self.operatorKey)
            #expect(bad.status == .badRequest)
        }
    }
}

/// Reads a stored zip by its central directory and checks each entry's CRC-32 and local header.
enum ZipReader {
    struct Entry { var name: String; var data: Data }
    struct Bad: Error { var why: String }

    static func entries(_ zip: Data) throws -> [Entry] {
        let b = [UInt8](zip)
        func u16(_ o: Int) -> Int { Int(b[o]) | Int(b[o + 1]) << 8 }
        func u32(_ o: Int) -> Int { u16(o) | u16(o + 2) << 16 }
        guard b.count >= 22, u32(b.count - 22) == 0x0605_4B50 else { throw Bad(why: "no end of central directory") }
        let count = u16(b.count - 22 + 10), start = u32(b.count - 22 + 16)
        var o = start, out: [Entry] = []
        for _ in 0..<count {
            guard u32(o) == 0x0201_4B50 else { throw Bad(why: "bad central header") }
            let crc = u32(o + 16), size = u32(o + 20), nameLen = u16(o + 28), local = u32(o + 42)
            let name = String(decoding: b[(o + 46)..<(o + 46 + nameLen)], as: UTF8.self)
            guard u32(local) == 0x0403_4B50, u16(local + 26) == nameLen else { throw Bad(why: "bad local header for \(name)") }
            let dataStart = local + 30 + nameLen + u16(local + 28)
            let data = Data(b[dataStart..<(dataStart + size)])
            guard CRC32.checksum(data) == UInt32(crc) else { throw Bad(why: "CRC of \(name)") }
            out.append(Entry(name: name, data: data))
            o += 46 + nameLen + u16(o + 30) + u16(o + 32)
        }
        return out
    }
}
