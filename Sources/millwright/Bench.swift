import ArgumentParser
import Foundation

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
        detections to it and measures broker→commit throughput and latency, beside
        mosquitto's own relay rate (mosquitto_pub → mosquitto_sub) as the ceiling.

        --hostile-every N mixes refused requests with 6 MB fields into the REST load
        and reports the resident memory that stayed afterwards
        (rss_mb_after_hostile), e.g.
          millwright bench --detections 100000 --hostile-every 10

        Build with -c release for figures worth quoting:
          swift build -c release --product millwright && .build/release/millwright bench
        """)

    @Option(help: "rest or mqtt.") var transport: String = "rest"
    @Option(help: "Detections to send.") var detections: Int = 20_000
    @Option(help: "Detections per REST request.") var batch: Int = 100
    @Option(help: "Concurrent REST clients.") var clients: Int = 4
    @Option(help: "REST: after every N batches each client also sends one detection with a 6 MB tracking_id (refused); reports rss_mb_after_hostile. 0: none.")
    var hostileEvery: Int = 0

    func validate() throws {
        guard ["rest", "mqtt"].contains(transport) else { throw ValidationError("--transport must be rest or mqtt") }
        guard hostileEvery >= 0 else { throw ValidationError("--hostile-every must be 0 or more") }
        guard detections > 0, batch > 0, batch <= 1000, clients > 0 else { throw ValidationError("--detections, --batch (≤ 1000) and --clients must be positive") }
    }

    func run() async throws {
        var runner = BenchRunner()
        runner.detections = detections
        runner.batch = batch
        runner.clients = clients
        runner.transport = transport
        runner.hostileEvery = hostileEvery
        try await runner.run()
    }
}
