import AsyncHTTPClient
import Foundation
import Logging
import MillwrightCore
import NIOCore
import Store
import StorePostgres

/// `millwright bench --storage postgres` / `--nodes N[,M…]`: the gateway as separate
/// `millwright serve` processes of this binary, sharing one database and one sandbox emulator,
/// fed by the bench's REST clients round-robin. Each run starts a fresh emulator and a fresh
/// store (a new SQLite file, a new PostgreSQL schema), so no run inherits another's work orders.
///
/// SQLite is measured the same way (one serve process), so `ratio_to_sqlite` compares like with
/// like. While a run loads and drains, CPU seconds are read per process from /proc (nodes,
/// postgres, emulator, this bench) and pg_stat_activity is sampled for what PostgreSQL's
/// sessions wait on: together they say where the time goes.
struct BenchCluster {
    enum Storage: Equatable {
        case sqlite
        /// `url` from --pg-url or MW_PG_URL, nil for a temporary server of our own.
        case postgres(url: String?)
    }

    var load: BenchRunner
    var storage: Storage
    var nodeCounts: [Int]
    /// PostgreSQL: measure one SQLite serve process first, in the same run.
    var compare = true
    var pool = PostgresSettings.defaultPool

    /// The binary the nodes and the emulator run: this one.
    static var executable: String {
        Bundle.main.executablePath ?? CommandLine.arguments[0]
    }

    func run() async throws {
        let cleanup = BenchCleanup()
        cleanup.handleSignals()
        let dir = NSTemporaryDirectory() + "millwright-bench-\(UUID().uuidString.prefix(8).lowercased())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        cleanup.add("temp directory \(dir)") { try? FileManager.default.removeItem(atPath: dir) }
        let result: [String: Any]
        do {
            result = try await Runtime.withHTTPClient { http in try await measure(dir: dir, http: http, cleanup: cleanup) }
        } catch {
            cleanup.runAll()
            throw error
        }
        cleanup.runAll()
        let data = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys, .prettyPrinted])
        print(String(decoding: data, as: UTF8.self))
    }

    private func measure(dir: String, http: HTTPClient, cleanup: BenchCleanup) async throws -> [String: Any] {
        var result: [String: Any] = [:]
        var sqliteRate: Double?
        if storage == .sqlite || compare {
            let ceiling = try await load.sqliteCeiling(path: dir + "/sqlite-ceiling.sqlite")
            let storedRows = try await load.storedRowsCeiling(path: dir + "/stored-rows-ceiling.sqlite")
            var sqlite = try await measureRun(nodes: 1, store: .sqlite(path: dir + "/sqlite/bench.sqlite"), dir: dir + "/sqlite",
                                              http: http, cleanup: cleanup)
            sqliteRate = sqlite["detections_per_s"] as? Double
            sqlite["sqlite_ceiling_per_s"] = ceiling.rounded()
            sqlite["stored_rows_ceiling_per_s"] = storedRows.rounded()
            if let sqliteRate {
                sqlite["ratio_to_ceiling"] = load.round2(sqliteRate / ceiling)
                sqlite["ratio_to_stored_rows_ceiling"] = load.round2(sqliteRate / storedRows)
            }
            if storage == .sqlite {
                result = sqlite
            } else {
                result["sqlite"] = sqlite
                result["sqlite_detections_per_s"] = sqliteRate
            }
        }
        if case .postgres(let external) = storage {
            let url: String
            var server: BenchPostgres?
            if let external {
                url = external
            } else {
                server = try BenchPostgres.start(in: dir, cleanup: cleanup)
                url = server!.url
            }
            let tag = UUID().uuidString.prefix(8).lowercased()
            var runs: [[String: Any]] = []
            var oneNodeRate: Double?
            for n in nodeCounts {
                // A schema per run: every run starts on an empty store; on a server of your own,
                // bench drops the schemas it made when it is done.
                let schema = "bench_\(tag)_n\(n)"
                var run = try await measureRun(nodes: n, store: .postgres(url: url, schema: schema, server: server, dropAfter: external != nil),
                                               dir: dir + "/pg-n\(n)", http: http, cleanup: cleanup)
                let rate = run["detections_per_s"] as? Double ?? 0
                if let sqliteRate, sqliteRate > 0 { run["ratio_to_sqlite"] = load.round2(rate / sqliteRate) }
                if n == 1 { oneNodeRate = rate }
                if n > 1, let oneNodeRate, oneNodeRate > 0 {
                    run["scaling_vs_1_node"] = load.round2(rate / oneNodeRate)
                    run["scaling_efficiency"] = load.round2(rate / oneNodeRate / Double(n))
                }
                runs.append(run)
            }
            server?.stopNow()
            result["storage"] = "postgres"
            if runs.count == 1 {
                result.merge(runs[0]) { _, run in run }
            } else {
                result["runs"] = runs
                result["nodes"] = nodeCounts
            }
        }
        return result
    }

    enum RunStore {
        case sqlite(path: String)
        case postgres(url: String, schema: String, server: BenchPostgres?, dropAfter: Bool)
    }

    /// One measurement: `nodes` serve processes on `store`, a fresh emulator, the REST load,
    /// the outbox drained; every process it started is stopped before it returns.
    private func measureRun(nodes: Int, store: RunStore, dir: String, http: HTTPClient, cleanup: BenchCleanup) async throws -> [String: Any] {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let emulator = try BenchChild(name: "sandbox emulator", executable: Self.executable,
                                      ["emulate", "sandbox", "--host", "127.0.0.1", "--port", "0"], cleanup: cleanup)
        let cmmsURL = try await emulator.listening()

        // PostgreSQL: one connection of the bench's own, for the wait-event samples. Connecting
        // also creates and migrates the schema, before any node starts.
        var backend: PostgresBackend?
        let storageYAML: String
        var environment = ["T": "t", "K": "bench"]
        switch store {
        case .sqlite(let path):
            storageYAML = "{ sqlite: \(path) }"
        case .postgres(let url, let schema, _, _):
            guard case .success(var settings) = PostgresSettings.parse(url: url) else {
                throw BenchFailure("the PostgreSQL URL (--pg-url or MW_PG_URL) is not usable; write it as \(PostgresSettings.urlExample)")
            }
            settings.schema = schema
            settings.pool = 1
            var logger = Logger(label: "millwright.bench")
            logger.logLevel = .warning
            do { backend = try await PostgresBackend.connect(settings, auditSeal: AuditSeal(key: nil), logger: logger) } catch {
                throw BenchFailure("cannot connect to PostgreSQL \(settings.location): \(error)")
            }
            cleanup.keep(backend!)
            storageYAML = "{ postgres: { url_env: MW_PG_URL, pool: \(pool), schema: \(schema) } }"
            environment["MW_PG_URL"] = url
        }

        do {
            return try await loadAndMeasure(nodes: nodes, store: store, dir: dir, http: http, cleanup: cleanup,
                                            emulator: emulator, cmmsURL: cmmsURL, backend: backend,
                                            storageYAML: storageYAML, environment: environment)
        } catch {
            await backend?.close()
            throw error
        }
    }

    private func loadAndMeasure(nodes: Int, store: RunStore, dir: String, http: HTTPClient, cleanup: BenchCleanup, emulator: BenchChild,
                                cmmsURL: String, backend: PostgresBackend?, storageYAML: String, environment: [String: String]) async throws -> [String: Any] {
        var children: [BenchChild] = []
        var urls: [String] = []
        for i in 1...nodes {
            let config = dir + "/node-\(i).yaml"
            try load.configYAML(storage: storageYAML, cmmsURL: cmmsURL, nodeId: "bench-\(i)").write(toFile: config, atomically: true, encoding: .utf8)
            children.append(try BenchChild(name: "serve node \(i)", executable: Self.executable,
                                           ["serve", "--config", config, "--port", "0", "--log-level", "warning"],
                                           environment: environment, directory: dir, cleanup: cleanup))
        }
        for child in children { urls.append(try await child.listening()) }
        let statsURL = urls[0] + "/v1/stats"

        let postmaster: pid_t?
        if case .postgres(_, _, let server, _) = store { postmaster = server?.postmasterPID() } else { postmaster = nil }
        let before = cpuReading(nodes: children, emulator: emulator, postmaster: postmaster)
        let sampler = backend.map { WaitSampler(backend: $0) }
        let sampling = Task { await sampler?.run() }

        let sent = try await load.sendLoad(urls: urls.map { $0 + "/v1/detections" }, http: http)
        try await load.waitForDrain { try await fetchStats(statsURL, http: http) }
        let wall = (ContinuousClock.now - sent.started).seconds

        let after = cpuReading(nodes: children, emulator: emulator, postmaster: postmaster)
        sampling.cancel()
        _ = await sampling.value
        let stats = try await fetchStats(statsURL, http: http)
        let peakRSS = children.map { ProcessCPU.peakRSSMegabytes($0.pid) }.max() ?? 0

        for child in children { await child.stop() }
        await emulator.stop()
        if let backend {
            if case .postgres(_, let schema, _, true) = store {
                _ = try? await backend.write { db in try db.run("DROP SCHEMA IF EXISTS \"\(schema)\" CASCADE") }
            }
            await backend.close()
        }

        var run = load.summary(sent, stats: stats)
        run["storage"] = backend == nil ? "sqlite" : "postgres"
        run["nodes"] = nodes
        run["rss_mb"] = peakRSS
        if nodes > 1 {
            run["per_node_detections_per_s"] = sent.perURL.map { (Double($0) / sent.elapsed).rounded() }
        }
        run["wall_s"] = load.round2(wall)
        run.merge(after.report(since: before, wall: wall, measuresPostgres: backend != nil, round: load.round2)) { _, new in new }
        if let sampler { run["pg_wait_samples"] = sampler.report() }
        run["setup"] = [
            "transport": "rest", "processes": "\(nodes) × millwright serve (this binary), sandbox emulator in its own process",
            "store": backend == nil ? "sqlite (WAL, synchronous=FULL), one serve process"
                : "postgres (fsync=on, pool \(pool) per node, schema shared by the nodes)"
                    + (postmaster == nil ? ", external server" : ", temporary server on this machine"),
            "batch_size": load.batch, "clients": load.clients, "spread": "batches round-robin over the nodes",
            "detections": sent.total, "build": BenchRunner.buildKind, "cores": ProcessInfo.processInfo.activeProcessorCount,
        ] as [String: Any]
        return run
    }

    private func fetchStats(_ url: String, http: HTTPClient) async throws -> StoreStats {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Authorization", value: "Bearer bench")
        let response = try await http.execute(request, timeout: .seconds(60))
        let body = try await response.body.collect(upTo: 1 << 20)
        guard response.status == .ok else {
            throw BenchFailure("GET \(url) answered \(response.status.code): \(String(buffer: body).prefix(500))")
        }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(StoreStats.self, from: Data(body.readableBytesView))
    }

    private func cpuReading(nodes: [BenchChild], emulator: BenchChild, postmaster: pid_t?) -> CPUReading {
        CPUReading(nodes: nodes.map { ProcessCPU.seconds($0.pid) }, postgres: postmaster.map(ProcessCPU.treeSeconds),
                   emulator: ProcessCPU.seconds(emulator.pid), bench: ProcessCPU.seconds(getpid()))
    }
}

/// CPU seconds per component at one moment; two readings give what a run spent.
struct CPUReading {
    var nodes: [Double]
    /// The postmaster's tree; nil for an external server (its processes are not ours to read).
    var postgres: Double?
    var emulator: Double
    var bench: Double

    /// `cpu_s` per component, and `cpu_busy_fraction`: the share of all cores' time in the run
    /// that these processes used (near 1: the machine is the limit, not a lock).
    func report(since start: CPUReading, wall: Double, measuresPostgres: Bool, round: (Double) -> Double) -> [String: Any] {
        let nodes = zip(self.nodes, start.nodes).map { round($0 - $1) }
        let postgres = self.postgres.flatMap { end in start.postgres.map { round(end - $0) } }
        let emulator = round(self.emulator - start.emulator), bench = round(self.bench - start.bench)
        let total = nodes.reduce(0, +) + (postgres ?? 0) + emulator + bench
        var cpu: [String: Any] = ["nodes": nodes, "nodes_total": round(nodes.reduce(0, +)), "cmms_emulator": emulator,
                                  "bench": bench, "total": round(total)]
        if measuresPostgres { cpu["postgres"] = postgres.map { $0 as Any } ?? "not measured (external server)" }
        let capacity = wall * Double(ProcessInfo.processInfo.activeProcessorCount)
        return ["cpu_s": cpu, "cpu_busy_fraction": capacity > 0 ? round(total / capacity) : 0]
    }
}

/// Samples pg_stat_activity every 100 ms while a run loads: how many of the gateway's sessions
/// were running (CPU), waiting on a lock (`Lock:advisory`: the writers', a key's or the audit chain's lock),
/// on I/O (`IO:WALSync`, commits), or idle inside a transaction (the node is working between
/// statements while it holds its locks). Counts are session-samples: 3 sessions waiting in
/// one sample count 3.
final class WaitSampler: @unchecked Sendable {
    let backend: PostgresBackend
    private let lock = NSLock()
    private var counts: [String: Int] = [:]
    private var samples = 0

    init(backend: PostgresBackend) { self.backend = backend }

    func run() async {
        while !Task.isCancelled {
            let rows = try? await backend.read { db in
                try db.rows("""
                    SELECT CASE WHEN state = 'idle in transaction' THEN 'idle in transaction'
                                WHEN wait_event IS NULL THEN 'CPU'
                                ELSE wait_event_type || ':' || wait_event END AS what, COUNT(*) AS n
                    FROM pg_stat_activity
                    WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()
                      AND state IN ('active', 'idle in transaction')
                    GROUP BY 1
                    """)
            }
            if let rows {
                lock.withLock {
                    samples += 1
                    for r in rows {
                        let what: String = r["what"]
                        let n: Int = r["n"]
                        counts[what, default: 0] += n
                    }
                }
            }
            // The interval between samples; cancellation ends it at once.
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    /// `{samples, per_sample: {what: average sessions}}`, the busiest first when printed sorted.
    func report() -> [String: Any] {
        lock.withLock {
            let perSample = counts.mapValues { samples > 0 ? (Double($0) / Double(samples) * 100).rounded() / 100 : 0 }
            return ["samples": samples, "avg_sessions": perSample]
        }
    }
}
