import AsyncHTTPClient
import Config
import Emulators
import Foundation
import Gateway
import Hummingbird
import Logging
import MillwrightCore
import NIOCore
import Server
import ServiceLifecycle
import Store

/// `millwright bench`: REST ingest throughput and latency, and detection→work-order latency
/// against the sandbox emulator, all on loopback in one process.
struct BenchRunner {
    var detections = 20_000
    var batch = 100
    var clients = 4
    var assets = 200

    func run() async throws {
        let registry = Runtime.bootstrap(level: .error)
        let dir = NSTemporaryDirectory() + "millwright-bench-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let logger = Logger(label: "millwright.bench")

        let emuState = EmulatorState(options: EmulatorOptions())
        let emuPort = BoundPort()
        let emulator = Application(router: SandboxEmulator.router(state: emuState), configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                                   onServerRunning: { emuPort.set($0) }, logger: logger)
        let emuGroup = ServiceGroup(configuration: .init(services: [emulator], logger: logger))
        let emuTask = Task { try await emuGroup.run() }
        let cmmsURL = "http://127.0.0.1:\(await emuPort.value)"

        let cameras = (0..<assets).map { "- { camera: BENCH-\($0), asset: \"A\($0)\", cmms: sandbox }" }.joined(separator: "\n    ")
        let yaml = """
        storage: { sqlite: \(dir)/bench.sqlite }
        cmms:
          - { name: sandbox, kind: sandbox, base_url: \(cmmsURL), auth: { bearer: { token_env: T } }, concurrency: 8, status_poll: 60s }
        assets:
          cameras:
            \(cameras)
        defects:
          "*": { min_confidence: 0.5, confirm: { detections: 1, within: 10s } }
        auth: { api_keys: [ { name: bench, role: admin, key_env: K } ] }
        """
        let settings = try ConfigLoader.parse(yaml: yaml, file: "bench.yaml", environment: ["T": "t", "K": "bench"])
        let store = try Store(path: dir + "/bench.sqlite")
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        let gateway = Gateway(settings: settings, store: store, register: nil, connectors: try Gateway.connectors(for: settings, http: http), logger: logger)
        let apiPort = BoundPort()
        let api = Application(router: APIServer(gateway: gateway, registry: registry).router(), configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { apiPort.set($0) }, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [GatewayService(gateway: gateway), api], logger: logger))
        let groupTask = Task { try await group.run() }
        let url = "http://127.0.0.1:\(await apiPort.value)/v1/detections"

        // Pre-build request bodies so the measurement is the gateway, not JSON generation.
        let perClient = detections / clients / batch
        let defects = ["crack", "corrosion", "misalignment", "dent"]
        var bodies: [[ByteBuffer]] = []
        var n = 0
        for c in 0..<clients {
            var mine: [ByteBuffer] = []
            for _ in 0..<perClient {
                var items: [String] = []
                for _ in 0..<batch {
                    n += 1
                    let cam = n % assets
                    items.append(#"{"detection_id":"b-\#(c)-\#(n)","camera_id":"BENCH-\#(cam)","timestamp":"\#(Timestamps.format(Date()))","defect_class":"\#(defects[n % defects.count])","confidence":0.9,"bbox":{"x":10,"y":10,"width":50,"height":20},"image":{"width":1920,"height":1080}}"#)
                }
                mine.append(ByteBuffer(string: "[" + items.joined(separator: ",") + "]"))
            }
            bodies.append(mine)
        }
        let started = ContinuousClock.now
        let latencies = try await withThrowingTaskGroup(of: [Double].self) { tg in
            for c in 0..<clients {
                let mine = bodies[c]
                tg.addTask {
                    var lat: [Double] = []
                    for body in mine {
                        var req = HTTPClientRequest(url: url)
                        req.method = .POST
                        req.headers.add(name: "Authorization", value: "Bearer bench")
                        req.headers.add(name: "Content-Type", value: "application/json")
                        req.body = .bytes(body)
                        let t0 = ContinuousClock.now
                        let resp = try await http.execute(req, timeout: .seconds(60))
                        _ = try await resp.body.collect(upTo: 16 << 20)
                        guard resp.status == .accepted else { throw BenchError.status(Int(resp.status.code)) }
                        lat.append((ContinuousClock.now - t0).seconds * 1000)
                    }
                    return lat
                }
            }
            var all: [Double] = []
            for try await l in tg { all += l }
            return all.sorted()
        }
        let elapsed = (ContinuousClock.now - started).seconds
        let total = perClient * clients * batch
        // Let the outbox drain for detection→work-order latency.
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let s = try await store.stats()
            if (s.workOrdersByPhase["pending"] ?? 0) + (s.workOrdersByPhase["waiting"] ?? 0) + (s.workOrdersByPhase["sending"] ?? 0) == 0 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let stats = try await store.stats()
        func pct(_ a: [Double], _ p: Double) -> Double { a.isEmpty ? 0 : a[min(a.count - 1, Int(p * Double(a.count - 1)))] }
        let result: [String: Any] = [
            "detections_per_s": (Double(total) / elapsed).rounded(),
            "ingest_p50_ms": round2(pct(latencies, 0.5)),
            "ingest_p99_ms": round2(pct(latencies, 0.99)),
            "detection_to_wo_p50_ms": round2(stats.latencyP50Ms ?? 0),
            "detection_to_wo_p99_ms": round2(stats.latencyP99Ms ?? 0),
            "work_orders": stats.workOrdersByPhase["delivered"] ?? 0,
            "rss_mb": peakRSSMegabytes(),
            "setup": ["transport": "rest", "store": "sqlite (WAL, synchronous=FULL)", "batch_size": batch, "clients": clients,
                      "detections": total, "cmms": "sandbox emulator on loopback"] as [String: Any],
        ]
        let data = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys, .prettyPrinted])
        print(String(decoding: data, as: UTF8.self))
        await group.triggerGracefulShutdown()
        _ = try? await groupTask.value
        await emuGroup.triggerGracefulShutdown()
        _ = try? await emuTask.value
        try await http.shutdown()
    }

    enum BenchError: Error { case status(Int) }

    func round2(_ v: Double) -> Double { (v * 100).rounded() / 100 }

    func peakRSSMegabytes() -> Double {
        guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = s.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kb = Double(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
        return (kb / 1024).rounded()
    }
}
