import ArgumentParser
import Foundation
import MillwrightCore

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load generator and latency measurement; prints one JSON object.",
        discussion: """
        Runs the gateway in this process against the sandbox emulator on loopback,
        with a fresh SQLite store, and reports: detections_per_s, ingest_p50_ms /
        ingest_p99_ms (REST request to committed 202), detection_to_wo_p50_ms /
        _p99_ms (confirming detection to CMMS acknowledgement), annotate_ms_1080p
        (decode + annotate + encode of a 1920×1080 JPEG, with Pillow doing the same
        work in the same run when python3 + Pillow are installed), rss_mb.

        --transport mqtt starts mosquitto on a free loopback port, publishes QoS 1
        detections to it with mosquitto_pub (a process of its own, the publisher of
        the ceiling too) and measures broker→commit throughput and latency, beside
        mosquitto's own relay rate (mosquitto_pub → mosquitto_sub) as the ceiling.
        broker→commit runs from each detection's timestamp (taken when the publisher
        is handed it, once mosquitto_pub is connected and reading) to its
        announcement after the commit; broker→intake to the moment ingest took it.
        broker_to_commit_p99_ms_by_second gives the p99 of each second's detections,
        to show where in the run the tail falls.
        stored_rows_ceiling_per_s is what the store takes of the same detections with
        nothing else running (each one's row as a repeat and its audit record, in
        transactions of one intake batch, 256); ratio_to_stored_rows_ceiling is
        detections_per_s over it.
        ingest_commits and submissions_per_commit say how well group commit grouped
        (an MQTT message or a REST request is one submission).
        mosquitto 2.0 may drop a mosquitto_pub that floods it (80,000 messages here):
        then bench says how many were relayed instead of a ceiling.
        With --rate N the publisher sends N messages a second instead of as fast as it
        can, for the latency below saturation.

        --transport opcua starts the gateway's OPC UA server on a free loopback port
        (SecurityPolicy None, anonymous) with one independent subscriber, a python
        asyncua client (pip install asyncua) subscribed to ResultReadyEventType on the
        Server object, while the REST load runs; it reports events_per_s delivered to
        that client and detection_to_event_p50_ms / _p99_ms (event received minus the
        detection's timestamp). Every detection goes in a zone of its own, so each opens
        an incident: an event for the detection and one per incident change.
        detections_without_event counts those whose event never came (the floor's event
        bus drops a slow listener's oldest events, counted in
        millwright_floor_events_dropped_total).

        --hostile-every N mixes refused requests with 6 MB fields into the REST load
        and reports the resident memory that stayed afterwards
        (rss_mb_after_hostile), e.g.
          millwright bench --detections 100000 --hostile-every 10

        --storage postgres runs the gateway as `millwright serve` processes of this
        binary against one PostgreSQL (a throw-away server that bench starts in a temp
        folder from /usr/lib/postgresql/*/bin, or yours with --pg-url / MW_PG_URL, where
        bench makes a schema per run and drops it afterwards), all sending to one sandbox
        emulator process; the REST clients spread their batches round-robin over the
        nodes. --nodes 1,3 runs 1 node, then 3, and reports each under "runs" with
        scaling_vs_1_node. In the same invocation it first measures one serve process on
        SQLite (--no-compare skips it) and reports ratio_to_sqlite. Each run also reports
        cpu_s per component (nodes, postgres, cmms_emulator, bench), cpu_busy_fraction
        and pg_wait_samples (what PostgreSQL sessions were doing, sampled every 100 ms;
        Lock:advisory: the writers', a key's or the audit chain's lock). Every child process and the
        temporary server are stopped when bench ends, also on an error or Ctrl-C, e.g.
          millwright bench --storage postgres --nodes 1,3 --detections 20000

        --external (the same as --nodes 1) runs the gateway as a `millwright serve`
        process of this binary, so the load generator does not share its process.

        Every REST run also reports sqlite_ceiling_per_s: the same number of detection
        rows, of the same shape, inserted into a fresh store's detections table in
        transactions of --batch at the same durability, with none of the gateway's
        logic; ratio_to_ceiling is detections_per_s over it. It also reports
        stored_rows_ceiling_per_s: only what each detection must leave in the store,
        its row as a repeat of its camera's open incident and its record on the audit
        chain, in transactions of --clients/2 × --batch (the size group commit makes
        when every client waits for its answer), with no decision and no HTTP; no
        gateway stores faster on this machine. ratio_to_stored_rows_ceiling is
        detections_per_s over it. Latencies come as p50, p99 and max.

        --duration SECONDS with --rate N sends N detections per second (in batches of
        --batch, from one client) for that long, samples the resident memory every
        second and reports rss_mb_steady_max and rss_mb_at_end, e.g. 100,000
        detections an hour for 10 minutes:
          millwright bench --duration 600 --rate 28 --batch 10

        --detector reference measures the built-in reference detector instead: 200
        generated 1920×1080 frames of a fixed conveyor view (light and sensor grain
        varying, a carton passing through a masked band), learnt from the first 20,
        with a crack or a patch of corrosion at a seeded place in every other one of
        the remaining 180. It reports precision (boxes on a defect over all boxes),
        recall (defect frames with a box on the defect), the frames with a box but no
        defect, and frames_per_s: JPEG decode plus detection, per camera, on one core
        (wall clock), with frames_per_cpu_s, decode_ms and detect_ms from the thread's
        CPU time, which a busy machine does not inflate.

        Build with -c release for figures worth quoting:
          swift build -c release --product millwright && .build/release/millwright bench
        """)

    @Option(help: "rest, mqtt or opcua.") var transport: String = "rest"
    @Option(help: "Detections to send.") var detections: Int = 20_000
    @Option(help: "Detections per REST request.") var batch: Int = 100
    @Option(help: "Concurrent REST clients.") var clients: Int = 4
    @Option(help: "sqlite or postgres. postgres runs separate serve processes on one database.") var storage: String = "sqlite"
    @Option(help: "Serve processes, 1-8, or a list such as 1,3 to run each in turn (more than 1 needs --storage postgres). Default: the gateway in this process for sqlite, 1 for postgres.")
    var nodes: String?
    @Flag(inversion: .prefixedNo, help: "With --storage postgres, first measure one serve process on SQLite in the same run, for ratio_to_sqlite.")
    var compare: Bool = true
    @Option(help: "A PostgreSQL server to use instead of a temporary one (postgres://USER:PASSWORD@HOST:5432/DATABASE); MW_PG_URL too.")
    var pgURL: String?
    @Option(help: "PostgreSQL connections per node (storage.postgres.pool).") var pool: Int = PostgresSettings.defaultPool
    @Option(help: "REST: after every N batches each client also sends one detection with a 6 MB tracking_id (refused); reports rss_mb_after_hostile. 0: none.")
    var hostileEvery: Int = 0
    @Flag(help: "Run the gateway as a serve process of this binary, not in the load generator's process (the same as --nodes 1).")
    var external = false
    @Option(help: "Seconds of steady load at --rate, for the resident-memory check (REST, gateway in this process).") var duration: Int?
    @Option(help: "Detections per second: during --duration (default 28), or the MQTT publisher's pace (default: as fast as it can).")
    var rate: Int?
    @Option(help: "Cameras, each on an asset of its own, that the detections are spread over. A camera's first detections open its incident and work order, so more cameras mean more openings (--cameras equal to --detections: every MQTT detection opens one).")
    var cameras: Int = 200
    @Option(help: "Measure a capture detector instead of the gateway: reference.") var detector: String?

    func validate() throws {
        guard ["rest", "mqtt", "opcua"].contains(transport) else { throw ValidationError("--transport must be rest, mqtt or opcua") }
        guard hostileEvery >= 0 else { throw ValidationError("--hostile-every must be 0 or more") }
        guard ["sqlite", "postgres"].contains(storage) else { throw ValidationError("--storage must be sqlite or postgres") }
        if external, nodes != nil { throw ValidationError("--external is --nodes 1: give one of them") }
        if let rate, duration == nil {
            guard transport == "mqtt", rate > 0 else { throw ValidationError("--rate paces --duration, or the publisher of --transport mqtt; it must be positive") }
        }
        if let duration {
            guard duration > 0, (rate ?? 1) > 0 else { throw ValidationError("--duration and --rate must be positive") }
            guard transport == "rest", storage == "sqlite", nodes == nil, !external, hostileEvery == 0 else {
                throw ValidationError("--duration measures the gateway in this process over REST: drop --transport, --storage, --nodes, --external and --hostile-every")
            }
        }
        let counts = try nodeCounts()
        if storage == "sqlite", let counts, counts.contains(where: { $0 > 1 }) {
            throw ValidationError("--nodes above 1 shares one database between processes: add --storage postgres")
        }
        if storage == "postgres" || nodes != nil || external {
            guard transport == "rest", hostileEvery == 0 else {
                throw ValidationError("--storage postgres and --nodes measure REST load only: drop --transport and --hostile-every")
            }
        }
        guard PostgresSettings.poolRange.contains(pool) else { throw ValidationError("--pool must be \(PostgresSettings.poolRange.lowerBound)-\(PostgresSettings.poolRange.upperBound)") }
        guard (1...50_000).contains(cameras) else { throw ValidationError("--cameras must be 1-50,000") }
        guard detections > 0, batch > 0, batch <= 1000, clients > 0 else { throw ValidationError("--detections, --batch (≤ 1000) and --clients must be positive") }
    }

    /// `--nodes 3` → [3], `--nodes 1,3` → [1, 3]; nil when not given.
    func nodeCounts() throws -> [Int]? {
        guard let nodes else { return nil }
        let counts = nodes.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !counts.isEmpty, counts.allSatisfy({ $0.map { (1...8).contains($0) } ?? false }) else {
            throw ValidationError("--nodes takes 1-8, or a comma-separated list such as 1,3 (got '\(nodes)')")
        }
        return counts.compactMap { $0 }
    }

    func run() async throws {
        if let detector {
            guard detector == "reference" else { throw ValidationError("--detector takes reference") }
            let r = try DetectorBench().run()
            let out: [String: Double] = [
                "precision": (r.precision * 1000).rounded() / 1000, "recall": (r.recall * 1000).rounded() / 1000,
                "frames_per_s": (r.framesPerSecond * 10).rounded() / 10, "frames": Double(r.analysed),
                "frames_per_cpu_s": (r.cpuFramesPerSecond * 10).rounded() / 10,
                "decode_ms": (r.decodeCPUSeconds / Double(max(1, r.analysed)) * 1e4).rounded() / 10,
                "detect_ms": (r.detectCPUSeconds / Double(max(1, r.analysed)) * 1e4).rounded() / 10,
                "defect_frames": Double(r.defectFrames), "defect_frames_found": Double(r.foundDefectFrames),
                "true_positive_boxes": Double(r.truePositives), "false_positive_boxes": Double(r.falsePositives),
                "clean_frames_with_boxes": Double(r.cleanFramesWithFindings),
            ]
            let enc = JSONEncoder()
            enc.outputFormatting = [.sortedKeys]
            print(String(decoding: try enc.encode(out), as: UTF8.self))
            return
        }
        var runner = BenchRunner()
        runner.detections = detections
        runner.batch = batch
        runner.clients = clients
        runner.assets = cameras
        runner.transport = transport
        runner.hostileEvery = hostileEvery
        runner.steady = duration.map { BenchRunner.SteadyLoad(seconds: $0, perSecond: rate ?? 28) }
        runner.mqttRate = transport == "mqtt" ? rate : nil
        let counts = try nodeCounts() ?? (external ? [1] : nil)
        if storage == "sqlite" && counts == nil {
            try await runner.run()
            return
        }
        _ = Runtime.bootstrap(level: .error)
        let ownServer = pgURL ?? ProcessInfo.processInfo.environment["MW_PG_URL"].flatMap { $0.isEmpty ? nil : $0 }
        var cluster = BenchCluster(load: runner, storage: storage == "postgres" ? .postgres(url: ownServer) : .sqlite, nodeCounts: counts ?? [1])
        cluster.compare = compare
        cluster.pool = pool
        do { try await cluster.run() } catch let failure as BenchFailure {
            Runtime.printError("bench: \(failure)")
            throw ExitCode(1)
        }
    }
}
