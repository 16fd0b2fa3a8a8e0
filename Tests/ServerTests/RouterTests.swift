import Foundation
import Gateway
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import MillwrightCore
import Prometheus
import Server
import Store
import Testing

/// The API in-process (HummingbirdTesting's router transport): every route against every
/// role, and the problem documents, without sockets or a second process.
@Suite struct RouterTests {
    static let keys: [(APIRole, String)] = [(.ingest, "k-ingest"), (.viewer, "k-viewer"), (.operator, "k-operator"), (.admin, "k-admin")]

    func app() throws -> some ApplicationProtocol {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mw-router-\(UUID().uuidString)").path
        var s = Settings()
        s.apiKeys = Self.keys.map { APIKeySettings(name: $0.0.rawValue, role: $0.0, key: $0.1) }
        s.assets.cameras = [CameraMapping(camera: "CAM-07", asset: "A1")]
        let gateway = Gateway(settings: s, store: try Store(path: dir + "/db.sqlite"), register: nil, connectors: [], logger: Logger(label: "test"))
        return Application(router: APIServer(gateway: gateway, registry: PrometheusCollectorRegistry()).router())
    }

    /// What each route needs, from the roles in the README: ingest posts detections, viewers
    /// and operators read, operators give verdicts and acknowledge, admins do everything.
    static let needs: [String: Permission?] = [
        "GET /healthz": nil, "GET /": nil,
        "GET /readyz": .read, "GET /metrics": .read, "GET /openapi.yaml": .read,
        "POST /v1/detections": .ingest, "GET /v1/detections": .read, "GET /v1/detections/{id}": .read,
        "GET /v1/incidents": .read, "GET /v1/incidents/{id}": .read, "POST /v1/incidents/{id}/feedback": .feedback,
        "GET /v1/work-orders": .read, "GET /v1/work-orders/{id}": .read, "POST /v1/work-orders/{id}/redrive": .admin, "GET /v1/cmms/check": .admin,
        "POST /v1/capture/{camera}/relearn": .admin,
        "POST /v1/work-orders/{id}/ack": .feedback, "GET /v1/technicians": .read, "GET /v1/inventory/reservations": .read,
        "GET /v1/evidence/{id}": .read, "GET /v1/stats": .read, "GET /v1/cluster": .read, "GET /v1/events": .read,
        "GET /incidents/{id}": nil, "GET /ui/board.js": nil, "GET /ui/board.css": nil, "GET /ui/board": .read, "GET /ui/incidents/{id}": .read,
        "POST /v1/login": nil, "POST /v1/logout": .read, "GET /v1/audit": .admin, "GET /audit": nil, "GET /ui/audit": .admin,
        "GET /v1/analytics/quality": .read, "POST /v1/analytics/simulate": .feedback, "GET /v1/exports/training": .feedback,
        "GET /analytics": nil, "GET /ui/analytics": .read,
        "POST /v1/shadow/manual-log": .feedback, "GET /v1/shadow/report": .read, "GET /shadow": nil, "GET /ui/shadow": .read,
    ]

    @Test func everyRouteAnswersEachRoleAsItsPermissionSays() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mw-router-\(UUID().uuidString)").path
        let gateway = Gateway(settings: Settings(), store: try Store(path: dir + "/db.sqlite"), register: nil, connectors: [], logger: Logger(label: "test"))
        let routes = APIServer(gateway: gateway, registry: PrometheusCollectorRegistry()).routes.map { "\($0.method.rawValue) \($0.path)" }
        #expect(Set(routes) == Set(Self.needs.keys), "the table above covers every registered route")

        try await app().test(.router) { client in
            for (route, need) in Self.needs.sorted(by: { $0.key < $1.key }) {
                let parts = route.split(separator: " ", maxSplits: 1)
                let method = HTTPRequest.Method(rawValue: String(parts[0]))!
                let uri = String(parts[1]).replacingOccurrences(of: "{id}", with: "no-such-id")
                let body = method == .post ? ByteBuffer(string: "{}") : nil
                let anonymous = try await client.execute(uri: uri, method: method, headers: [.contentType: "application/json"], body: body)
                if need == nil {
                    // Login answers an empty body with 422; the others with their page.
                    #expect(anonymous.status == (route == "POST /v1/login" ? .unprocessableContent : .ok), "\(route) is open")
                    continue
                }
                #expect(anonymous.status == .unauthorized, "\(route) without a key")
                #expect(anonymous.headers[.contentType] == "application/problem+json")
                for (role, key) in Self.keys {
                    // An event stream does not end, and this client waits for the whole body; the
                    // black-box EventStreamTests read it as it comes.
                    if route == "GET /v1/events", need!.allowed(for: role) { continue }
                    let r = try await client.execute(uri: uri, method: method,
                                                     headers: [.authorization: "Bearer \(key)", .contentType: "application/json"], body: body)
                    if route == "POST /v1/logout" {
                        // Only a named user's session can be ended; no API key has one.
                        #expect(r.status == .forbidden, "\(route) as \(role.rawValue): \(r.status)")
                    } else if need!.allowed(for: role) {
                        #expect(r.status != .forbidden && r.status != .unauthorized, "\(route) as \(role.rawValue): \(r.status)")
                    } else {
                        #expect(r.status == .forbidden, "\(route) as \(role.rawValue): \(r.status)")
                    }
                }
            }
        }
    }

    @Test func errorsAreProblemDocumentsThatNameTheirCause() async throws {
        try await app().test(.router) { client in
            let auth: HTTPFields = [.authorization: "Bearer k-admin", .contentType: "application/json"]
            func problem(_ r: TestResponse) throws -> [String: Any] {
                #expect(r.headers[.contentType] == "application/problem+json")
                return try #require(try JSONSerialization.jsonObject(with: Data(buffer: r.body)) as? [String: Any])
            }

            let missing = try await client.execute(uri: "/v1/incidents/nope", method: .get, headers: auth)
            #expect(missing.status == .notFound)
            let p404 = try problem(missing)
            #expect(p404["status"] as? Int == 404)
            #expect((p404["type"] as? String)?.hasPrefix("https://") == true)
            #expect(p404["instance"] as? String == "/v1/incidents/nope")

            let wrongMethod = try await client.execute(uri: "/v1/stats", method: .delete, headers: auth)
            #expect(wrongMethod.status == .methodNotAllowed)
            #expect(wrongMethod.headers[.allow] == "GET")
            #expect(try problem(wrongMethod)["status"] as? Int == 405)

            let notJSON = try await client.execute(uri: "/v1/detections", method: .post, headers: auth, body: ByteBuffer(string: "{\"camera_id\": "))
            #expect(notJSON.status == .badRequest)
            #expect((try problem(notJSON)["detail"] as? String)?.contains("JSON") == true)

            let bad = try await client.execute(uri: "/v1/detections", method: .post, headers: auth, body: ByteBuffer(string: """
                {"camera_id": "CAM-07", "timestamp": "2026-11-21T02:14:00Z", "defect_class": "crack", "confidence": 7}
                """))
            #expect(bad.status == .unprocessableContent)
            let p422 = try problem(bad)
            #expect((p422["errors"] as? [[String: Any]])?.first?["field"] as? String == "confidence")

            let cursor = try await client.execute(uri: "/v1/incidents?cursor=w1~1~QUJD", method: .get, headers: auth)
            #expect(cursor.status == .badRequest)
            #expect((try problem(cursor)["detail"] as? String)?.contains("another list") == true)

            // Nothing of the refused submissions was stored.
            let stats = try await client.execute(uri: "/v1/detections", method: .get, headers: auth)
            let listed = try #require(try JSONSerialization.jsonObject(with: Data(buffer: stats.body)) as? [String: Any])
            #expect((listed["items"] as? [Any])?.isEmpty == true)
        }
    }
}
