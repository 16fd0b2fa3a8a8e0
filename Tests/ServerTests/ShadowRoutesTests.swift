import Foundation
import Gateway
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import MillwrightCore
import NIOCore
import Prometheus
@testable import Server
import Store
import Testing

/// The shadow run's evidence through the router: the manual log's import (all or nothing, each
/// problem naming its line), the report, and the page.
@Suite struct ShadowRoutesTests {
    static let hostile = "<b>'&"
    static let keys: [(APIRole, String)] = [(.viewer, "k-viewer"), (.operator, "k-operator")]
    static let viewer: HTTPFields = [.authorization: "Bearer k-viewer"]
    static let operatorCSV: HTTPFields = [.authorization: "Bearer k-operator", .contentType: "text/csv"]

    func gateway() throws -> Gateway {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mw-shadow-\(UUID().uuidString)").path
        var s = Settings()
        s.shadow = true
        s.apiKeys = Self.keys.map { APIKeySettings(name: $0.0.rawValue, role: $0.0, key: $0.1) }
        s.assets.cameras = [CameraMapping(camera: "CAM-1", asset: "P-101" + Self.hostile), CameraMapping(camera: "CAM-2", asset: "P-102")]
        return Gateway(settings: s, store: try Store(path: dir + "/db.sqlite"), register: nil, connectors: [], logger: Logger(label: "test"))
    }

    static func detection(_ id: String, camera: String, at: Date) -> Data {
        let d: [String: Any] = ["detection_id": id, "camera_id": camera, "timestamp": Timestamps.format(at), "defect_class": "crack",
                                "confidence": 0.95, "bbox": ["x": 8, "y": 8, "width": 16, "height": 12], "image": ["width": 64, "height": 48]]
        return try! JSONSerialization.data(withJSONObject: d)
    }

    func app(_ gw: Gateway) -> some ApplicationProtocol {
        Application(router: APIServer(gateway: gw, registry: PrometheusCollectorRegistry()).router())
    }

    @Test func aBadLogNamesEachLineAndStoresNothing() async throws {
        let gw = try gateway()
        try await app(gw).test(.router) { client in
            let csv = "date,asset,defect,found_by\n2026-11-01,P-102,crack,ann\n2026-13-01,P-102,crack,ann\n2026-11-02,,crack,bob\n"
            let bad = try await client.execute(uri: "/v1/shadow/manual-log", method: .post, headers: Self.operatorCSV, body: ByteBuffer(string: csv))
            #expect(bad.status == .unprocessableContent)
            #expect(bad.headers[.contentType] == "application/problem+json")
            let problem = try JSONSerialization.jsonObject(with: Data(buffer: bad.body)) as? [String: Any]
            #expect(problem?["type"] as? String == "https://millwright.dev/problems/invalid-manual-log")
            let errors = problem?["errors"] as? [[String: Any]] ?? []
            #expect(errors.compactMap { $0["index"] as? Int } == [3, 4])
            #expect(errors.compactMap { $0["field"] as? String } == ["date", "asset"])
            #expect((problem?["detail"] as? String)?.contains("nothing was imported") == true)
            let none = try await gw.store.shadowFacts(since: .distantPast, until: Date(), maxLead: 0, maxLag: 0, mode: .shadow, limit: 10)
            #expect(none.findings.isEmpty, "the good first row was not stored either")

            let asViewer = try await client.execute(uri: "/v1/shadow/manual-log", method: .post, headers: [.authorization: "Bearer k-viewer"], body: ByteBuffer(string: csv))
            #expect(asViewer.status == .forbidden)
        }
    }

    @Test func theReportAndThePageLineUpTheShadowRunAgainstTheLog() async throws {
        let gw = try gateway()
        let now = Date()
        let seen = now.addingTimeInterval(-3 * 3600)
        let accepted = try await gw.ingest(body: Self.detection("d1", camera: "CAM-1", at: seen), format: nil)
        let incident = try #require(accepted.accepted.first?.incidentId)
        let found = Timestamps.format(now.addingTimeInterval(-3600))
        try await app(gw).test(.router) { client in
            let csv = "date,asset,defect,found_by,notes\n\(found),\"P-101\(Self.hostile)\",Crack,ann,\"on the round, \(Self.hostile)\"\n\(found),P-999,crack,bob,\n"
            let ok = try await client.execute(uri: "/v1/shadow/manual-log", method: .post, headers: Self.operatorCSV, body: ByteBuffer(string: csv))
            #expect(ok.status == .ok)
            let answer = try JSONSerialization.jsonObject(with: Data(buffer: ok.body)) as? [String: Any]
            #expect(answer?["imported"] as? Int == 2 && answer?["duplicates"] as? Int == 0)
            let again = try await client.execute(uri: "/v1/shadow/manual-log", method: .post, headers: Self.operatorCSV, body: ByteBuffer(string: csv))
            let second = try JSONSerialization.jsonObject(with: Data(buffer: again.body)) as? [String: Any]
            #expect(second?["imported"] as? Int == 0 && second?["duplicates"] as? Int == 2)

            let report = try await client.execute(uri: "/v1/shadow/report", method: .get, headers: Self.viewer)
            #expect(report.status == .ok)
            let r = try JSONSerialization.jsonObject(with: Data(buffer: report.body)) as? [String: Any]
            let summary = r?["summary"] as? [String: Any]
            #expect(summary?["findings"] as? Int == 2 && summary?["matched"] as? Int == 1 && summary?["caught_first"] as? Int == 1)
            let caught = (r?["caught_first"] as? [[String: Any]])?.first
            #expect(caught?["incident_id"] as? String == incident)
            #expect(abs((caught?["lead_seconds"] as? Double ?? 0) - 7200) < 2, "Millwright saw it two hours before the round")
            let missed = (r?["missed"] as? [[String: Any]])?.first
            #expect(missed?["reason"] as? String == "not_watched")

            let page = try await client.execute(uri: "/ui/shadow", method: .get, headers: [.authorization: "Bearer k-operator"])
            #expect(page.status == .ok)
            let html = String(buffer: page.body)
            #expect(!html.contains(Self.hostile), "a raw hostile value on the shadow page")
            #expect(html.contains("data-summary=\"caught_first\">1"))
            #expect(html.contains("data-incident=\"\(incident)\""))
            #expect(html.contains("no camera is mapped to this asset"))
            #expect(html.contains("id=\"manual-log\""), "operators get the import form")
            let asViewer = String(buffer: try await client.execute(uri: "/ui/shadow", method: .get, headers: Self.viewer).body)
            #expect(!asViewer.contains("id=\"manual-log\""))

            for bad in ["mode=dry", "max_lead=91d", "since=yesterday", "since=2026-11-02T00:00:00Z&until=2026-11-01T00:00:00Z"] {
                let answer = try await client.execute(uri: "/v1/shadow/report?\(bad)", method: .get, headers: Self.viewer)
                #expect(answer.status == .badRequest, "\(bad)")
            }
        }
    }
}
