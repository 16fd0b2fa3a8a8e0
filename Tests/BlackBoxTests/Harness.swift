import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// Runs the built `millwright` binary as a separate process, the way an operator would.
final class Spawned: @unchecked Sendable {
    let process = Process()
    private let lock = NSLock()
    private var output = ""
    private var drained = false
    let name: String

    static var binary: String {
        if let env = ProcessInfo.processInfo.environment["MILLWRIGHT_BIN"] { return env }
        // The test bundle and the executable are built into the same folder.
        let testDir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let candidates = [testDir.appendingPathComponent("millwright").path,
                          URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                              .appendingPathComponent(".build/debug/millwright").path]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[0]
    }

    /// Another program (mosquitto_sub, …) with the same output capture.
    static func external(_ path: String, _ args: [String]) throws -> Spawned {
        try Spawned(args, name: path, executable: path)
    }

    init(_ args: [String], name: String, environment: [String: String] = [:], cwd: String? = nil, executable: String? = nil) throws {
        self.name = name
        process.executableURL = URL(fileURLWithPath: executable ?? Self.binary)
        process.arguments = args
        var env = ProcessInfo.processInfo.environment
        env["MILLWRIGHT_LOG_LEVEL"] = env["MILLWRIGHT_LOG_LEVEL"] ?? "warning"
        for (k, v) in environment { env[k] = v }
        process.environment = env
        if let cwd { process.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        let pipe = Pipe()
        // Only this child may hold the write end (dup2 onto its stdout clears the flag): a copy
        // inherited by a process another test starts would keep the pipe from ending.
        for fd in [pipe.fileHandleForReading.fileDescriptor, pipe.fileHandleForWriting.fileDescriptor] { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        process.standardOutput = pipe
        process.standardError = pipe
        pipe.fileHandleForReading.readabilityHandler = { [weak self] h in
            let data = h.availableData
            guard let self else { return }
            // Empty data is end of file: the process and any children have closed the pipe.
            if data.isEmpty { h.readabilityHandler = nil; self.lock.withLock { self.drained = true }; return }
            self.lock.withLock { self.output += String(decoding: data, as: UTF8.self) }
        }
        try process.run()
    }

    var text: String { lock.withLock { output } }

    /// Waits for the "listening on http(s)://host:port" line and returns the base URL.
    func listening(timeout: Double = 90) async throws -> String {
        let line = try await waitFor("listening on http", timeout: timeout)
        guard let r = line.range(of: "http") else { throw HarnessError.noAddress(text) }
        return String(line[r.lowerBound...]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func waitFor(_ needle: String, timeout: Double) async throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let line = text.split(separator: "\n").first(where: { $0.contains(needle) }) { return String(line) }
            if !process.isRunning { throw HarnessError.exited(name, process.terminationStatus, text) }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw HarnessError.timeout("\(name) never printed '\(needle)'", text)
    }

    func kill9() { if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }; process.waitUntilExit() }

    func terminate() -> Int32 {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        return process.terminationStatus
    }

    deinit { if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) } }

    /// Runs a short command to completion.
    static func run(_ args: [String], environment: [String: String] = [:]) async throws -> (status: Int32, output: String) {
        let p = try Spawned(args, name: args.joined(separator: " "), environment: environment)
        while p.process.isRunning { try await Task.sleep(for: .milliseconds(20)) }
        // The output is complete at the pipe's end of file. The deadline only covers a write end
        // inherited in the moment before the flag above was set: it never hangs a test.
        let deadline = Date().addingTimeInterval(5)
        while !p.lock.withLock({ p.drained }), Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        return (p.process.terminationStatus, p.text)
    }
}

enum HarnessError: Error, CustomStringConvertible {
    case noAddress(String), exited(String, Int32, String), timeout(String, String), http(Int, String)
    var description: String {
        switch self {
        case .noAddress(let o): "no address in output:\n\(o)"
        case .exited(let n, let s, let o): "\(n) exited with \(s):\n\(o)"
        case .timeout(let m, let o): "\(m):\n\(o)"
        case .http(let s, let b): "HTTP \(s): \(b)"
        }
    }
}

/// A plant in a temp folder: config, register, a sandbox emulator and the gateway.
struct Plant {
    let dir: String
    let cmmsURL: String
    var configPath: String { dir + "/millwright.yaml" }
    var dbPath: String { dir + "/data/millwright.sqlite" }
    static let keys = ["MW_KEY_INGEST": "ingest-key", "MW_KEY_VIEWER": "viewer-key", "MW_KEY_OPERATOR": "operator-key",
                       "MW_KEY_ADMIN": "admin-key", "MW_SANDBOX_TOKEN": "sandbox-token",
                       "MW_EVIDENCE_SECRET": "evidence-secret"]

    /// `extra` is appended as further top-level sections (technicians, notifications, …); `server` is the server section.
    init(cmmsURL: String, confirm: Int = 1, extraCameras: String = "", maxAttempts: Int = 50, extra: String = "",
         server: String = "{ host: 127.0.0.1, port: 0 }") throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("mw-bb-\(UUID().uuidString.prefix(8))").path
        self.cmmsURL = cmmsURL
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try """
        asset_id,name,location,criticality
        10004711,Conveyor C2 drive,Line 2,A
        10004712,C2 head pulley,Line 2,A
        10004720,Tank T-3,Line 2,B

        """.write(toFile: dir + "/assets.csv", atomically: true, encoding: .utf8)
        try """
        server: \(server)
        storage: { sqlite: ./data/millwright.sqlite }
        evidence: { directory: ./data/evidence, public_url: "https://mw.plant.example", signing_secret_env: MW_EVIDENCE_SECRET }
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

    func serve() throws -> Spawned {
        try Spawned(["serve", "--config", configPath], name: "serve", environment: Self.keys)
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
