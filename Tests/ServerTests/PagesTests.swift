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

/// The board and incident pages: every value escaped, strict headers, buttons by role.
@Suite struct PagesTests {
    static let hostile = "<img src=x onerror=\"alert(1)\">'&"
    static let keys: [(APIRole, String)] = [(.ingest, "k-ingest"), (.viewer, "k-viewer"), (.operator, "k-operator"), (.admin, "k-admin")]

    func gateway() throws -> Gateway {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mw-pages-\(UUID().uuidString)").path
        var s = Settings()
        s.apiKeys = Self.keys.map { APIKeySettings(name: $0.0.rawValue, role: $0.0, key: $0.1) }
        var camera = CameraMapping(camera: "CAM" + Self.hostile, asset: "A" + Self.hostile)
        camera.productionLine = "L2" + Self.hostile
        s.assets.cameras = [camera]
        return Gateway(settings: s, store: try Store(path: dir + "/db.sqlite"), register: nil, connectors: [], logger: Logger(label: "test"))
    }

    static func detection(_ id: String, camera: String) -> Data {
        let d: [String: Any] = ["detection_id": id, "camera_id": camera, "timestamp": Timestamps.format(Date()), "defect_class": "crack" + hostile,
                                "confidence": 0.95, "zone": "z" + hostile, "bbox": ["x": 10, "y": 10, "width": 20, "height": 20],
                                "image": ["width": 640, "height": 360]]
        return try! JSONSerialization.data(withJSONObject: d)
    }

    @Test func hostileValuesAreEscapedOnTheBoardAndTheIncidentPage() async throws {
        let gw = try gateway()
        let mapped = try await gw.ingest(body: Self.detection("d1", camera: "CAM" + Self.hostile), format: nil)
        let incident = try #require(mapped.accepted.first?.incidentId)
        _ = try await gw.ingest(body: Self.detection("d2", camera: "ORPHAN" + Self.hostile), format: nil)

        try await Application(router: APIServer(gateway: gw, registry: PrometheusCollectorRegistry()).router()).test(.router) { client in
            let viewer: HTTPFields = [.authorization: "Bearer k-viewer"]
            let board = try await client.execute(uri: "/ui/board", method: .get, headers: viewer)
            #expect(board.status == .ok)
            #expect(board.headers[.contentSecurityPolicy]?.contains("script-src 'self'") == true)
            let html = String(buffer: board.body)
            #expect(!html.contains(Self.hostile), "a raw hostile value on the board")
            #expect(!html.contains("<img src=x"))
            #expect(html.contains(HTML.escape("CAM" + Self.hostile)))
            #expect(html.contains(HTML.escape("ORPHAN" + Self.hostile)), "the orphan group")
            #expect(html.contains("data-incident=\"\(incident)\""))
            #expect(!html.contains("data-redrive"), "no admin button for a viewer")
            // The line filter offers the camera's production line, and the card carries it.
            #expect(html.contains("<select data-filter=\"line\"><option value=\"\">all</option><option value=\"\(HTML.escape("L2" + Self.hostile))\">"))
            #expect(html.contains("data-line=\"\(HTML.escape("L2" + Self.hostile))\""))

            let page = try await client.execute(uri: "/ui/incidents/\(incident)", method: .get, headers: viewer)
            #expect(page.status == .ok)
            let detail = String(buffer: page.body)
            #expect(!detail.contains(Self.hostile), "a raw hostile value on the incident page")
            #expect(detail.contains(HTML.escape("crack" + Self.hostile)))
            #expect(!detail.contains("data-verdict"), "no verdict buttons for a viewer")
            let asOperator = String(buffer: try await client.execute(uri: "/ui/incidents/\(incident)", method: .get, headers: [.authorization: "Bearer k-operator"]).body)
            #expect(asOperator.contains("data-verdict=\"false_positive\""))

            // The shells hold no data and no inline script.
            for path in ["/", "/incidents/\(incident)", "/shadow", "/analytics"] {
                let shell = try await client.execute(uri: path, method: .get)
                #expect(shell.status == .ok)
                #expect(shell.headers[.contentSecurityPolicy] == HTML.contentSecurityPolicy)
                let text = String(buffer: shell.body)
                #expect(text.contains("<script src=\"/ui/board.js\" defer></script>"))
                #expect(text.components(separatedBy: "<script").count == 2, "one script element, from the gateway")
                #expect(!text.contains("style=\""))
            }
            let js = try await client.execute(uri: "/ui/board.js", method: .get)
            #expect(js.headers[.contentType]?.hasPrefix("text/javascript") == true)
            let script = String(buffer: js.body)
            #expect(script.contains("sessionStorage"))
            #expect(!script.contains("localStorage"))
        }
    }

    @Test func escapingCoversEveryCharacterThatEndsTextOrAnAttribute() {
        #expect(HTML.escape("<a href=\"x\" title='y'>&amp;</a>") == "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;")
        #expect(HTML.escape("Ünïcödé · ok") == "Ünïcödé · ok")
    }

    @Test func theFixForAnOrphanIsALineToPaste() {
        var s = Settings()
        s.assets.registerPath = "assets.csv"
        var cam = CameraMapping(camera: "CAM-05", asset: "99999999", zones: ["tail": "88888888"], line: 42)
        cam.area = "line-2"
        s.assets.cameras = [cam]
        let unmapped = OrphanFix.suggestion(camera: "CAM-99", settings: s, register: nil)
        #expect(unmapped.line == "    - { camera: CAM-99, asset: \"<CMMS asset id>\" }")
        #expect(OrphanFix.suggestion(camera: "CAM: x\"y", settings: s, register: nil).line == "    - { camera: \"CAM: x\\\"y\", asset: \"<CMMS asset id>\" }")
        let register = AssetRegister(records: [AssetRecord(assetId: "88888888", line: 2)])
        let missing = OrphanFix.suggestion(camera: "CAM-05", settings: s, register: register)
        #expect(missing.line == "99999999,<name>,<location>")
        #expect(missing.where.contains("assets.csv") && missing.where.contains("line 42"))
    }
}
