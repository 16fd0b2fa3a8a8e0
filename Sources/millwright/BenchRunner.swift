import ArgumentParser
import AsyncHTTPClient
import Config
import Connectors
import Emulators
import Evidence
import MQTT
import Foundation
import Gateway
import Hummingbird
import Logging
import MillwrightCore
import NIOCore
import Prometheus
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
    var transport = "rest"
    /// Each REST client sends a hostile request (one detection with a 6 MB `tracking_id`,
    /// refused with 422) after every this many batches; 0 sends none.
    var hostileEvery = 0
    /// `--duration`: a steady rate instead of a burst, for the resident-memory check.
    var steady: SteadyLoad?
    /// MQTT messages a second from the publisher; nil: as fast as it can.
    var mqttRate: Int?

    struct SteadyLoad {
        var seconds: Int
        var perSecond: Int
    }

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

        let yaml = configYAML(storage: "{ sqlite: \(dir)/bench.sqlite }", cmmsURL: cmmsURL)
        let settings = try ConfigLoader.parse(yaml: yaml, file: "bench.yaml", cmmsKinds: CMMSRegistry.all, environment: ["T": "t", "K": "bench"])
        let store = try Store(path: dir + "/bench.sqlite")
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        let gateway = Gateway(settings: settings, store: store, register: nil, connectors: try Gateway.connectors(for: settings, http: http), logger: logger)
        let apiPort = BoundPort()
        let api = Application(router: APIServer(gateway: gateway, registry: registry).router(), configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { apiPort.set($0) }, logger: logger)
        let group = gateway.servicePlan(api: api).group(stopOnSignals: false, logger: logger)
        let groupTask = Task { try await group.run() }
        let url = "http://127.0.0.1:\(await apiPort.value)/v1/detections"
        var result: [String: Any]
        if transport == "mqtt" {
            result = try await mqttLoad(gateway: gateway, store: store, dir: dir)
        } else if transport == "opcua" {
            result = try await opcuaLoad(gateway: gateway, url: url, http: http, store: store, dir: dir)
        } else if let steady {
            result = try await steadyLoad(steady, url: url, http: http, store: store)
        } else {
            result = try await restLoad(url: url, http: http, store: store, dir: dir)
        }
        if let commits = Self.counter("millwright_ingest_commits_total", in: registry), commits > 0,
           let submissions = Self.counter("millwright_ingest_submissions_total", in: registry) {
            // How well group commit grouped: a REST batch or an MQTT message is one submission.
            result["ingest_commits"] = Int(commits)
            result["submissions_per_commit"] = round2(submissions / commits)
        }
        let annotate = try EvidenceBench.annotateAgainstFloor1080p(iterations: 10)
        result["annotate_ms_1080p"] = round2(annotate.annotateMs)
        result["annotate_floor_ms_1080p"] = round2(annotate.floorMs)
        result["ratio_to_floor"] = round2(annotate.ratioToFloor)
        if let pillow = pillowAnnotate(dir: dir) {
            result["pillow_annotate_ms_1080p"] = round2(pillow)
            if let ours = result["annotate_ms_1080p"] as? Double, ours > 0 { result["pillow_over_ours"] = round2(pillow / ours) }
        }
        result["rss_mb"] = rssMegabytes("VmHWM:")
        let data = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys, .prettyPrinted])
        print(String(decoding: data, as: UTF8.self))
        await group.triggerGracefulShutdown()
        _ = try? await groupTask.value
        await emuGroup.triggerGracefulShutdown()
        _ = try? await emuTask.value
        try await http.shutdown()
    }

    /// A counter's value from the registry's exposition text.
    static func counter(_ name: String, in registry: PrometheusCollectorRegistry) -> Double? {
        var text: [UInt8] = []
        registry.emit(into: &text)
        let line = String(decoding: text, as: UTF8.self).split(separator: "\n").first { $0.hasPrefix(name + " ") }
        return line.flatMap { Double($0.split(separator: " ").last ?? "") }
    }

    /// The gateway's configuration for a bench: `assets` cameras on the sandbox CMMS, every
    /// detection confirming at once, one admin API key. `nodeId` names a serve node of a cluster run.
    func configYAML(storage: String, cmmsURL: String, nodeId: String? = nil) -> String {
        let cameras = (0..<assets).map { "- { camera: BENCH-\($0), asset: \"A\($0)\", cmms: sandbox }" }.joined(separator: "\n    ")
        return """
        \(nodeId.map { "node_id: \($0)\n" } ?? "")storage: \(storage)
        cmms:
          - { name: sandbox, kind: sandbox, base_url: \(cmmsURL), auth: { bearer: { token_env: T } }, concurrency: 8, status_poll: 60s }
        assets:
          cameras:
            \(cameras)
        defects:
          "*": { min_confidence: 0.5, confirm: { detections: 1, within: 10s } }
        auth: { api_keys: [ { name: bench, role: admin, key_env: K } ] }
        """
    }

    func restLoad(url: String, http: HTTPClient, store: Store, dir: String) async throws -> [String: Any] {
        let ceiling = try await sqliteCeiling(path: dir + "/ceiling.sqlite")
        let storedRows = try await storedRowsCeiling(path: dir + "/stored-rows-ceiling.sqlite")
        let sent = try await sendLoad(urls: [url], http: http)
        try await waitForDrain { try await store.stats() }
        let stats = try await store.stats()
        var result = summary(sent, stats: stats)
        result["sqlite_ceiling_per_s"] = ceiling.rounded()
        result["stored_rows_ceiling_per_s"] = storedRows.rounded()
        if let rate = result["detections_per_s"] as? Double {
            result["ratio_to_ceiling"] = round2(rate / ceiling)
            result["ratio_to_stored_rows_ceiling"] = round2(rate / storedRows)
        }
        if hostileEvery > 0 {
            result["hostile_requests"] = clients * (sent.total / clients / batch / hostileEvery)
            result["rss_mb_after_hostile"] = rssMegabytes("VmRSS:")
        }
        result["setup"] = ["transport": "rest", "store": "sqlite (WAL, synchronous=FULL)", "batch_size": batch, "clients": clients,
                           "detections": sent.total, "cmms": "sandbox emulator on loopback", "build": Self.buildKind,
                           "hostile_every": hostileEvery] as [String: Any]
        return result
    }

    /// What one REST load did: per-request latencies (sorted), its duration, and how many
    /// detections went to each URL.
    struct LoadResult {
        var latencies: [Double]
        var started: ContinuousClock.Instant
        var elapsed: Double
        var total: Int
        var perURL: [Int]
    }

    /// `clients` concurrent clients each send their share of `detections` in batches of
    /// `batch`; batch k of the whole sequence goes to `urls[k % urls.count]`, so several nodes
    /// share the load round-robin.
    /// `everyOneNew`: each detection in a zone of its own, so each opens an incident (the OPC UA
    /// bench raises an event per confirmed detection and per incident change).
    func sendLoad(urls: [String], http: HTTPClient, everyOneNew: Bool = false) async throws -> LoadResult {
        // Pre-build request bodies so the measurement is the gateway, not JSON generation; only
        // the timestamps are filled in as each one goes out, since detection→work-order
        // latency counts from the detection's own time.
        // Batch k (in the order they go out) opens the incident of camera k, while there are
        // cameras left; its other detections repeat incidents opened before. New work orders
        // come at an even pace through the run, as on a line, not all in the first batch.
        let perClient = detections / clients / batch
        let defects = Self.defects
        var bodies: [[[String]]] = Array(repeating: [], count: clients)
        var n = 0
        for k in 0..<(perClient * clients) {
            var items: [String] = []
            for i in 0..<batch {
                n += 1
                let cam = i == 0 ? k % assets : (n * 7_919) % max(1, min(k, assets))
                let zone = everyOneNew ? #","zone":"z-\#(n)""# : ""
                items.append(#"{"detection_id":"b-\#(n)","camera_id":"BENCH-\#(cam)","timestamp":"\#(Self.now)","defect_class":"\#(defects[cam % defects.count])"\#(zone),"confidence":0.9,"bbox":{"x":10,"y":10,"width":50,"height":20},"image":{"width":1920,"height":1080}}"#)
            }
            // Kept split where the timestamps go.
            bodies[k % clients].append(("[" + items.joined(separator: ",") + "]").components(separatedBy: Self.now))
        }
        let clients = self.clients, batch = self.batch
        let started = ContinuousClock.now
        let (latencies, perURL) = try await withThrowingTaskGroup(of: ([Double], [Int]).self) { tg in
            for c in 0..<clients {
                let mine = bodies[c]
                tg.addTask {
                    var lat: [Double] = []
                    var sentTo = [Int](repeating: 0, count: urls.count)
                    for (i, body) in mine.enumerated() {
                        let target = (i * clients + c) % urls.count
                        let url = urls[target]
                        if hostileEvery > 0, i % hostileEvery == hostileEvery - 1 { try await sendHostile(url: url, http: http) }
                        lat.append(try await postAccepted(body.joined(separator: Timestamps.format(Date())), to: url, http: http))
                        sentTo[target] += batch
                    }
                    return (lat, sentTo)
                }
            }
            var all: [Double] = []
            var counts = [Int](repeating: 0, count: urls.count)
            for try await (l, sentTo) in tg {
                all += l
                for (j, k) in sentTo.enumerated() { counts[j] += k }
            }
            return (all.sorted(), counts)
        }
        let elapsed = (ContinuousClock.now - started).seconds
        return LoadResult(latencies: latencies, started: started, elapsed: elapsed, total: perClient * clients * batch, perURL: perURL)
    }

    /// `steady.perSecond` detections a second for `steady.seconds`, one batch at a time on a
    /// fixed schedule (a late batch is sent at once, not skipped); resident memory is read
    /// every second.
    func steadyLoad(_ steady: SteadyLoad, url: String, http: HTTPClient, store: Store) async throws -> [String: Any] {
        let perBatch = min(batch, steady.perSecond)
        let interval = Duration.seconds(Double(perBatch) / Double(steady.perSecond))
        let started = ContinuousClock.now
        let end = started + .seconds(steady.seconds)
        var next = started
        var nextSample = started
        var rss: [Double] = []
        var latencies: [Double] = []
        var sent = 0
        var n = 0
        while ContinuousClock.now < end {
            if ContinuousClock.now >= nextSample {
                rss.append(rssMegabytes("VmRSS:"))
                nextSample += .seconds(1)
            }
            let items = (0..<perBatch).map { _ -> String in
                n += 1
                return #"{"detection_id":"s-\#(n)","camera_id":"BENCH-\#(n % assets)","timestamp":"\#(Timestamps.format(Date()))","defect_class":"crack","confidence":0.9,"bbox":{"x":10,"y":10,"width":50,"height":20}}"#
            }
            latencies.append(try await postAccepted("[" + items.joined(separator: ",") + "]", to: url, http: http))
            sent += perBatch
            next += interval
            if next > ContinuousClock.now { try await Task.sleep(until: next, clock: .continuous) }
        }
        latencies.sort()
        let elapsed = (ContinuousClock.now - started).seconds
        return [
            "detections": sent,
            "detections_per_s": round2(Double(sent) / elapsed),
            "ingest_p50_ms": round2(pct(latencies, 0.5)),
            "ingest_p99_ms": round2(pct(latencies, 0.99)),
            "ingest_max_ms": round2(latencies.last ?? 0),
            "rss_mb_steady_max": rss.max() ?? 0,
            "rss_mb_at_end": rssMegabytes("VmRSS:"),
            "setup": ["transport": "rest", "store": "sqlite (WAL, synchronous=FULL)", "mode": "steady", "seconds": steady.seconds,
                      "per_second": steady.perSecond, "batch_size": perBatch, "build": Self.buildKind] as [String: Any],
        ]
    }

    /// The ceiling of a REST run: the same number of detection rows, of the same shape, inserted
    /// into a fresh store's detections table in transactions of `batch` at the same durability
    /// (WAL, synchronous=FULL), with none of the gateway's logic.
    func sqliteCeiling(path: String) async throws -> Double {
        let now = Date()
        return try await Store(path: path).plainInsertRate((0..<(detections / batch * batch)).map { ceilingDetection($0, now: now) }, batch: batch, now: now)
    }

    /// The rows each detection of the REST load leaves (its row as a repeat, its audit record)
    /// and nothing else, in transactions of half the clients' batches: with every client
    /// waiting for its answer, group commit takes about half of them at a time (see
    /// `submissions_per_commit`).
    func storedRowsCeiling(path: String) async throws -> Double {
        let now = Date()
        return try await Store(path: path).storedRowsRate(count: detections / batch * batch, detection: { ceilingDetection($0, now: now) }, incidents: assets,
                                                          rowsPerTransaction: max(1, clients / 2) * batch, now: now)
    }

    /// The load's `n`th detection as the ceilings insert it.
    func ceilingDetection(_ n: Int, now: Date) -> Detection {
        Detection(detectionId: "ceiling-\(n)", cameraId: "BENCH-\(n % assets)", timestamp: now, defectClass: Self.defects[n % Self.defects.count], confidence: 0.9,
                  bbox: BoundingBox(x: 10, y: 10, width: 50, height: 20), image: ImageRef(width: 1920, height: 1080), sourceFormat: "native")
    }

    /// Lets the outbox drain (nothing pending, waiting or sending), for detection→work-order
    /// latency; gives up after 120 s and reports what was delivered by then.
    func waitForDrain(_ stats: () async throws -> StoreStats) async throws {
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline {
            let s = try await stats()
            if (s.workOrdersByPhase["pending"] ?? 0) + (s.workOrdersByPhase["waiting"] ?? 0) + (s.workOrdersByPhase["sending"] ?? 0) == 0 { break }
            // Polls the store: there is no signal for "the outbox is empty".
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// The figures every REST run reports.
    func summary(_ sent: LoadResult, stats: StoreStats) -> [String: Any] {
        [
            "detections_per_s": (Double(sent.total) / sent.elapsed).rounded(),
            "ingest_p50_ms": round2(pct(sent.latencies, 0.5)),
            "ingest_p99_ms": round2(pct(sent.latencies, 0.99)),
            "ingest_max_ms": round2(sent.latencies.last ?? 0),
            "detection_to_wo_p50_ms": round2(stats.latencyP50Ms ?? 0),
            "detection_to_wo_p99_ms": round2(stats.latencyP99Ms ?? 0),
            "detection_to_wo_max_ms": round2(stats.latencyMaxMs ?? 0),
            "work_orders": stats.workOrdersByPhase["delivered"] ?? 0,
        ]
    }

    /// One detection carrying a 6 MB `tracking_id`: the gateway must refuse it (422) and keep nothing.
    func sendHostile(url: String, http: HTTPClient) async throws {
        let huge = String(repeating: "x", count: 6 << 20)
        let body = #"{"camera_id":"BENCH-0","timestamp":"\#(Timestamps.format(Date()))","defect_class":"crack","confidence":0.9,"tracking_id":"\#(huge)"}"#
        let (status, _) = try await post(body, to: url, http: http)
        guard status == 422 else { throw BenchError.status(Int(status), url, "a 6 MB tracking_id must be refused with 422") }
    }

    /// POSTs a JSON body with the bench's API key; the answer's status and body.
    func post(_ body: String, to url: String, http: HTTPClient) async throws -> (status: UInt, body: ByteBuffer) {
        var req = HTTPClientRequest(url: url)
        req.method = .POST
        req.headers.add(name: "Authorization", value: "Bearer bench")
        req.headers.add(name: "Content-Type", value: "application/json")
        req.body = .bytes(ByteBuffer(string: body))
        let resp = try await http.execute(req, timeout: .seconds(60))
        return (resp.status.code, try await resp.body.collect(upTo: 16 << 20))
    }

    /// POSTs a batch that must be accepted (202); milliseconds until the answer.
    func postAccepted(_ body: String, to url: String, http: HTTPClient) async throws -> Double {
        let started = ContinuousClock.now
        let (status, answer) = try await post(body, to: url, http: http)
        guard status == 202 else { throw BenchError.status(Int(status), url, String(buffer: answer)) }
        return (ContinuousClock.now - started).seconds * 1000
    }



    #if DEBUG
    static let buildKind = "debug"
    #else
    static let buildKind = "release"
    #endif

    static let defects = ["crack", "corrosion", "misalignment", "dent"]

    /// Stands for the send time in a pre-built body.
    static let now = "$NOW$"

    func pct(_ a: [Double], _ p: Double) -> Double { a.isEmpty ? 0 : a[min(a.count - 1, Int(p * Double(a.count - 1)))] }

    enum BenchError: Error, CustomStringConvertible {
        case status(Int, String, String)
        var description: String {
            switch self {
            case .status(let code, let url, let body): "POST \(url) answered \(code), not 202: \(body.prefix(500))"
            }
        }
    }

    func round2(_ v: Double) -> Double { (v * 100).rounded() / 100 }

    /// Resident memory from /proc: `VmHWM:` the peak, `VmRSS:` what is resident now.
    func rssMegabytes(_ field: String) -> Double {
        guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = s.split(separator: "\n").first(where: { $0.hasPrefix(field) }),
              let kb = Double(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
        return (kb / 1024).rounded()
    }
}

extension BenchRunner {
    /// MQTT: QoS 1 detections from mosquitto_pub through mosquitto into the store, beside
    /// mosquitto's own pub→sub relay of the same messages. The same publisher feeds both, in a
    /// process of its own, so the gateway's figure pays for no load generator.
    func mqttLoad(gateway: Gateway, store: Store, dir: String) async throws -> [String: Any] {
        let broker = try LocalBroker(dir: dir)
        defer { broker.stop() }
        var mqtt = MQTTSettings(broker: "mqtt://127.0.0.1:\(broker.port)")
        mqtt.clientId = "millwright-bench"
        mqtt.sources = [MQTTSource(topic: "bench/detections", format: "native")]
        let bridge = try MQTTBridge(gateway: gateway, settings: mqtt)
        let bridgeGroup = ServiceGroup(configuration: .init(services: [bridge, bridge.intake], logger: Logger(label: "millwright.bench")))
        let bridgeTask = Task { try await bridgeGroup.run() }
        defer { bridgeTask.cancel() }
        try await Task.sleep(for: .milliseconds(300)) // let the bridge subscribe before the first message

        let n = detections
        let assets = self.assets
        // Each detection is announced to the floor once it is committed: its latency is then
        // measured from its timestamp, taken when the publisher was handed it.
        let announced = gateway.floorEvents.subscribe()
        let committedLatencies = Task { () -> [(sent: Date, ms: Double)] in
            var latencies: [(sent: Date, ms: Double)] = []
            latencies.reserveCapacity(n)
            for await event in announced {
                guard case .detection(_, let d) = event else { continue }
                latencies.append((d.timestamp, Date().timeIntervalSince(d.timestamp) * 1000))
                if latencies.count == n { break }
            }
            return latencies
        }
        let publisher = try broker.linePublisher(topic: "bench/detections")
        defer { publisher.stop() }
        let started = ContinuousClock.now
        // On a thread of its own: a pipe write blocks, and the cooperative pool is the gateway's.
        publisher.feed(count: n, perSecond: mqttRate) { i, stamp in
            #"{"detection_id":"m-\#(i)","camera_id":"BENCH-\#(i % assets)","timestamp":"\#(stamp)","defect_class":"crack","confidence":0.9}"#
        }
        let deadline = ContinuousClock.now + .seconds(120)
        var stored = 0
        while stored < n, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
            stored = try await store.detectionsStored()
        }
        let elapsed = (ContinuousClock.now - started).seconds
        // The listener may lag the store by an event or two; bounded, as the floor's buffer drops.
        let settled = Task { try? await Task.sleep(for: .seconds(5)); committedLatencies.cancel() }
        let measured = await committedLatencies.value
        settled.cancel()
        let latencies = measured.map(\.ms).sorted()
        let received = try await store.receiptLatenciesMs()
        let relay = try broker.relayRate(messages: n)
        let rate = Double(stored) / elapsed
        // What the store can take of these detections, in transactions of one intake batch.
        let now = Date()
        let storedRows = try await Store(path: dir + "/stored-rows-ceiling.sqlite").storedRowsRate(
            count: n, detection: { i in Detection(detectionId: "m-\(i)", cameraId: "BENCH-\(i % assets)", timestamp: now, defectClass: "crack", confidence: 0.9) },
            incidents: assets, rowsPerTransaction: MQTTIntake.batchMessages, now: now)
        return [
            "stored_rows_ceiling_per_s": storedRows.rounded(),
            "ratio_to_stored_rows_ceiling": round2(rate / storedRows),
            "detections_per_s": rate.rounded(),
            "broker_to_commit_p50_ms": round2(pct(latencies, 0.5)),
            "broker_to_commit_p99_ms": round2(pct(latencies, 0.99)),
            "broker_to_commit_max_ms": round2(latencies.max() ?? 0),
            // Of `stored`: fewer when the floor's bounded buffer dropped some announcements.
            "broker_to_commit_measured": latencies.count,
            "broker_to_commit_p99_ms_by_second": p99BySecond(measured),
            "broker_to_intake_p50_ms": round2(pct(received, 0.5)),
            "broker_to_intake_p99_ms": round2(pct(received, 0.99)),
            "mosquitto_relay_msgs_per_s": relay.rounded(),
            "ratio_to_mosquitto_relay": round2(rate / relay),
            "stored": stored,
            "setup": ["transport": "mqtt (QoS 1, mosquitto on loopback)", "store": "sqlite (WAL, synchronous=FULL)", "detections": n,
                      "publisher": "mosquitto_pub -q 1 -l (its own process, as in the relay)",
                      "publisher_rate_per_s": mqttRate.map { "\($0)" } ?? "as fast as it can",
                      "ack": "PUBACK after commit", "build": Self.buildKind] as [String: Any],
        ]
    }

    /// p99 of the detections sent in each second of the run, first second first: where in the
    /// run the tail falls (the first second opens every asset's incident at once).
    func p99BySecond(_ measured: [(sent: Date, ms: Double)]) -> [Double] {
        guard let first = measured.map(\.sent).min() else { return [] }
        var seconds: [Int: [Double]] = [:]
        for m in measured { seconds[Int(max(0, m.sent.timeIntervalSince(first)).rounded(.down)), default: []].append(m.ms) }
        return seconds.keys.sorted().map { round2(pct(seconds[$0]!.sorted(), 0.99)) }
    }

    /// Pillow doing the same annotate work on the same frame, when python3 and Pillow exist.
    func pillowAnnotate(dir: String) -> Double? {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("bench/pillow_annotate.py").path
        guard FileManager.default.fileExists(atPath: script), let jpeg = try? EvidenceBench.sampleJPEG1080p() else { return nil }
        let input = dir + "/frame.jpg"
        guard (try? jpeg.write(to: URL(fileURLWithPath: input))) != nil else { return nil }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", script, "--input", input, "--iterations", "10"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return nil }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0, let o = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
        return o["pillow_annotate_ms_1080p"] as? Double
    }
}

/// mosquitto on a free loopback port, for `bench --transport mqtt`.
struct LocalBroker {
    let process = Process()
    let port: Int

    static func tool(_ name: String) -> String? {
        ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"].map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    init(dir: String) throws {
        guard let bin = Self.tool("mosquitto") else { throw ValidationError("mosquitto is not installed (apt-get install mosquitto mosquitto-clients)") }
        port = 20_000 + Int.random(in: 0..<20_000)
        try "listener \(port) 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n".write(toFile: dir + "/mosquitto.conf", atomically: true, encoding: .utf8)
        process.executableURL = URL(fileURLWithPath: bin)
        process.arguments = ["-c", dir + "/mosquitto.conf"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    func stop() { if process.isRunning { kill(process.processIdentifier, SIGKILL) }; process.waitUntilExit() }

    /// mosquitto_pub publishing each line of its input as one QoS 1 message on `topic`.
    func linePublisher(topic: String) throws -> LinePublisher {
        guard let bin = Self.tool("mosquitto_pub") else { throw ValidationError("mosquitto_pub is not installed (apt-get install mosquitto-clients)") }
        return try LinePublisher(executable: bin, arguments: ["-h", "127.0.0.1", "-p", "\(port)", "-t", topic, "-q", "1", "-l"])
    }

    /// mosquitto_pub → broker → mosquitto_sub, QoS 1, the same count: the ceiling.
    func relayRate(messages n: Int) throws -> Double {
        guard Self.tool("mosquitto_pub") != nil, let subBin = Self.tool("mosquitto_sub") else { return 0 }
        let sub = Process()
        sub.executableURL = URL(fileURLWithPath: subBin)
        // Bounded: mosquitto 2.0 can drop a publisher that floods it ("disconnected due to out
        // of memory" in its log, seen with 80,000 lines), and the subscriber would wait for ever.
        let limit = 30 + n / 1_000
        sub.arguments = ["-h", "127.0.0.1", "-p", "\(port)", "-t", "relay/test", "-q", "1", "-C", "\(n)"]
        let exited = DispatchSemaphore(value: 0)
        sub.terminationHandler = { _ in exited.signal() }
        // To a file, not a pipe: an unread pipe would stall the subscriber, then the broker.
        let output = NSTemporaryDirectory() + "millwright-relay-\(UUID().uuidString).out"
        guard FileManager.default.createFile(atPath: output, contents: nil), let received = FileHandle(forWritingAtPath: output) else {
            throw BenchFailure("cannot write \(output)")
        }
        defer {
            try? received.close()
            try? FileManager.default.removeItem(atPath: output)
        }
        sub.standardOutput = received
        try sub.run()
        Thread.sleep(forTimeInterval: 0.3) // the subscriber must be subscribed before the burst
        let line = #"{"detection_id":"m-0000","camera_id":"BENCH-1","timestamp":"2026-11-22T00:00:00.000Z","defect_class":"crack","confidence":0.9}"#
        let pub = try linePublisher(topic: "relay/test")
        let started = Date()
        pub.feed(count: n, perSecond: nil) { _, _ in line }
        let finished = exited.wait(timeout: .now() + .seconds(limit)) == .success
        let elapsed = Date().timeIntervalSince(started)
        // SIGKILL: a child started from one of our threads inherits its blocked SIGTERM.
        if !finished, sub.isRunning { kill(sub.processIdentifier, SIGKILL) }
        sub.waitUntilExit()
        let relayed = (FileManager.default.contents(atPath: output) ?? Data()).reduce(0) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
        pub.stop()
        guard relayed == n else {
            throw BenchFailure("mosquitto relayed \(relayed) of \(n) messages from mosquitto_pub to mosquitto_sub within \(limit) s, so there is no ceiling to compare with; "
                               + "run with fewer --detections (40,000 relays whole here)")
        }
        return Double(n) / elapsed
    }
}

/// A publisher process fed lines on its standard input from a thread of ours.
final class LinePublisher: @unchecked Sendable {
    let process = Process()
    let input = Pipe()

    init(executable: String, arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardInput = input
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        // A publisher the broker dropped stops reading: writing to it is then an error, not a SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        try process.run()
        waitUntilReading()
    }

    /// mosquitto_pub reads its first line about 100 ms after it starts (it connects, then runs
    /// one network loop before turning to its input). Lines stamped before then would count
    /// the publisher's start-up as the gateway's latency, so the feed waits until the process is
    /// blocked reading its standard input, as /proc/PID/syscall tells ("0 0x0 …" is read(0, …)
    /// on x86-64). Where /proc cannot tell, it waits a fixed 300 ms.
    func waitUntilReading() {
        #if arch(x86_64)
        let readOnStandardInput: String? = "0 0x0 "
        #elseif arch(arm64)
        let readOnStandardInput: String? = "63 0x0 "
        #else
        let readOnStandardInput: String? = nil
        #endif
        let path = "/proc/\(process.processIdentifier)/syscall"
        let deadline = Date().addingTimeInterval(5)
        while let readOnStandardInput, Date() < deadline, process.isRunning {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8), !text.isEmpty else { break }
            if text.hasPrefix(readOnStandardInput) { return }
            Thread.sleep(forTimeInterval: 0.002)
        }
        Thread.sleep(forTimeInterval: 0.3)
    }

    /// Writes `count` lines, `perSecond` a second in steps of 10 (nil: as fast as the publisher
    /// takes them), each step stamped with the time it is written, then closes the input.
    /// Returns at once; the lines go from a thread of their own, as a blocked pipe write must
    /// not hold a thread of the cooperative pool the gateway runs on.
    func feed(count: Int, perSecond: Int?, line: @escaping @Sendable (Int, String) -> String) {
        let writer = input.fileHandleForWriting
        Thread.detachNewThread {
            let started = Date()
            for first in stride(from: 0, to: count, by: 10) {
                if let perSecond {
                    let due = started.addingTimeInterval(Double(first) / Double(perSecond))
                    if due > Date() { Thread.sleep(until: due) }
                }
                let stamp = Timestamps.format(Date())
                let text = (first..<min(count, first + 10)).map { line($0, stamp) + "\n" }.joined()
                guard (try? writer.write(contentsOf: Data(text.utf8))) != nil else { break }
            }
            try? writer.close()
        }
    }

    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}
