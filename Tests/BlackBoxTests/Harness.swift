import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import MillwrightTesting
import Testing

/// A plant in a temp folder: config, register, a sandbox emulator and the gateway.
struct Plant {
    let dir: String
    let cmmsURL: String
    let environment: [String: String]
    var configPath: String { dir + "/millwright.yaml" }
    var dbPath: String { dir + "/data/millwright.sqlite" }
    static let keys = ["MW_KEY_INGEST": "ingest-key", "MW_KEY_VIEWER": "viewer-key", "MW_KEY_OPERATOR": "operator-key",
                       "MW_KEY_ADMIN": "admin-key", "MW_SANDBOX_TOKEN": "sandbox-token",
                       "MW_EVIDENCE_SECRET": "evidence-secret"]

    /// `extra` is appended as further top-level sections (technicians, notifications, …); `server` is the server section.
    /// `storage` is the storage section; `environment` is added to every `serve` (a PostgreSQL URL).
    /// `fetchAllow` is `evidence.fetch_allow` (none: the default policy).
    init(cmmsURL: String, confirm: Int = 1, extraCameras: String = "", maxAttempts: Int = 50, extra: String = "",
         server: String = "{ host: 127.0.0.1, port: 0 }", storage: String = "{ sqlite: ./data/millwright.sqlite }",
         environment: [String: String] = [:], fetchAllow: [String] = []) throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("mw-bb-\(UUID().uuidString.prefix(8))").path
        self.cmmsURL = cmmsURL
        self.environment = environment
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try """
        asset_id,name,location,criticality
        10004711,Conveyor C2 drive,Line 2,A
        10004712,C2 head pulley,Line 2,A
        10004720,Tank T-3,Line 2,B

        """.write(toFile: dir + "/assets.csv", atomically: true, encoding: .utf8)
        try """
        server: \(server)
        storage: \(storage)
        evidence: { directory: ./data/evidence, public_url: "https://mw.plant.example", signing_secret_env: MW_EVIDENCE_SECRET\(fetchAllow.isEmpty ? "" : ", fetch_allow: [\(fetchAllow.map { "\"\($0)\"" }.joined(separator: ", "))]") }
        cmms:
          - name: sandbox
            kind: sandbox
            base_url: \(cmmsURL)
            auth: { bearer: { token_env: MW_SANDBOX_TOKEN } }
            timeout: 2s
            status_poll: 500ms
        dispatch: { max_attempts: \(maxAttempts), base_backoff: 100ms, max_backoff: 1s }
        assets:
          register: assets.csv
          cameras:
            - { camera: CAM-07, asset: "10004711", zones: { head-pulley: "10004712" }, cmms: sandbox, criticality: A }
            - { camera: CAM-12, asset: "10004720", cmms: sandbox, criticality: B }
            - { camera: CAM-05, asset: "99999999", cmms: sandbox }
        \(extraCameras)
        defects:
          crack: { min_confidence: 0.8, confirm: { detections: \(confirm), within: 10s }, severity: { base: 70 } }
          "*": { min_confidence: 0.5, confirm: { detections: 1, within: 10s } }
        priority:
          - { when: "severity >= 85", priority: critical }
          - { priority: medium }
        auth:
          api_keys:
            - { name: vision, role: ingest, key_env: MW_KEY_INGEST }
            - { name: viewer, role: viewer, key_env: MW_KEY_VIEWER }
            - { name: planner, role: operator, key_env: MW_KEY_OPERATOR }
            - { name: admin, role: admin, key_env: MW_KEY_ADMIN }
        \(extra)

        """.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    /// `environment` is added for this process only (a test-only hook, say).
    func serve(name: String = "serve", environment extra: [String: String] = [:]) throws -> Spawned {
        try Spawned(["serve", "--config", configPath], name: name,
                    environment: Self.keys.merging(environment) { $1 }.merging(extra) { $1 })
    }

    static func emulator(_ extra: [String] = []) throws -> Spawned {
        try Spawned(["emulate", "sandbox", "--port", "0"] + extra, name: "emulator")
    }
}

/// A small JSON HTTP client over AsyncHTTPClient.
struct API {
    let base: String
    static let http = HTTPClient(eventLoopGroupProvider: .singleton)

    struct Reply { var status: Int; var headers: [(String, String)]; var body: Data
        var json: Any? { try? JSONSerialization.jsonObject(with: body) }
        var object: [String: Any] { (json as? [String: Any]) ?? [:] }
        var contentType: String? { headers.first { $0.0.lowercased() == "content-type" }?.1 }
    }

    func call(_ method: HTTPMethod, _ path: String, key: String? = "admin-key", body: Data? = nil, timeout: Int64 = 30) async throws -> Reply {
        var req = HTTPClientRequest(url: base + path)
        req.method = method
        if let key { req.headers.add(name: "Authorization", value: "Bearer \(key)") }
        if let body {
            req.headers.add(name: "Content-Type", value: "application/json")
            req.body = .bytes(ByteBuffer(bytes: body))
        }
        let resp = try await Self.http.execute(req, timeout: .seconds(timeout))
        let buf = try await resp.body.collect(upTo: 64 << 20)
        return Reply(status: Int(resp.status.code), headers: resp.headers.map { ($0.name, $0.value) }, body: Data(buf.readableBytesView))
    }

    func post(_ path: String, json: Any, key: String? = "admin-key") async throws -> Reply {
        try await call(.POST, path, key: key, body: try JSONSerialization.data(withJSONObject: json))
    }

    func get(_ path: String, key: String? = "admin-key") async throws -> Reply { try await call(.GET, path, key: key) }

    /// Polls until `condition` holds; fails the test with `what` at the deadline.
    static func eventually(_ what: String, timeout: Double = 30, _ condition: () async throws -> Bool) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("timed out waiting for: \(what)")
        throw HarnessError.timeout(what, "")
    }
}

func detection(_ id: String?, camera: String = "CAM-07", defect: String = "crack", confidence: Double = 0.93, zone: String? = nil,
               at: Date = Date()) -> [String: Any] {
    var d: [String: Any] = ["camera_id": camera, "timestamp": ISO8601DateFormatter.withMillis.string(from: at), "defect_class": defect,
                            "confidence": confidence, "bbox": ["x": 412, "y": 220, "width": 64, "height": 18],
                            "image": ["width": 1920, "height": 1080]]
    if let id { d["detection_id"] = id }
    if let zone { d["zone"] = zone }
    return d
}

extension ISO8601DateFormatter {
    nonisolated(unsafe) static let withMillis: ISO8601DateFormatter = {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f
    }()
}

/// What the emulator received, keyed by our reference.
func emulatorReferences(_ cmms: API) async throws -> [String] {
    let r = try await cmms.get("/_emulator/work-orders", key: nil)
    return ((r.object["items"] as? [[String: Any]]) ?? []).compactMap { $0["reference"] as? String }
}

extension API {
    /// The sum of one series of this node's `/metrics` over its labels (0 when absent): a
    /// process's own counters, so they tell the nodes' shares apart.
    func metricSum(_ name: String) async throws -> Int {
        let text = String(decoding: try await get("/metrics", key: "viewer-key").body, as: UTF8.self)
        return text.split(separator: "\n")
            .filter { $0.prefix(while: { $0 != "{" && $0 != " " }) == name }
            .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }
            .reduce(0) { $0 + Int($1) }
    }
}
