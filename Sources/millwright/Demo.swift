import ArgumentParser
import AsyncHTTPClient
import Config
import Emulators
import Evidence
import Foundation
import Gateway
import Hummingbird
import Logging
import MillwrightCore
import NIOCore
import Server
import ServiceLifecycle
import Store

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the whole loop on built-in defaults, with no setup, and print a summary.",
        discussion: """
        Starts, in this process: the sandbox CMMS emulator (failing some requests on
        purpose), the gateway on SQLite in a temporary folder, and its REST API.
        Then plays a scripted shift on line 2: eight cameras with cracks, corrosion,
        misalignment and missing parts, repeats, low-confidence noise, an unmapped
        camera and a camera whose asset is not in the register. Work orders are
        delivered through the outbox despite the CMMS hiccups, technicians
        "complete" them in the emulator, and a repeat after closure is suppressed.
        The summary's figures are counted from the store and the emulator, not the
        script.

        --keep-running keeps the API and the board up afterwards (Ctrl-C to stop).

        --export-frames DIR writes frames of the demo's conveyor view instead and exits:
        good-0.jpg … good-3.jpg (the view under slightly varying light and sensor grain,
        a carton passing along the top) and crack-0.jpg … crack-3.jpg (the same frames
        with a dark crack across the belt), --frame-size WIDTHxHEIGHT (640x360), e.g.
        for an RTSP test server to stream to a capture camera with a detector.
        """)

    @Flag(name: .long, help: "Keep serving the API and the board after the summary.")
    var keepRunning = false

    @Option(name: .long, help: "API port for --keep-running (default: a free port).")
    var port: Int = 0

    @Option(name: .long, help: "Folder for the demo's database (default: a new temporary folder).")
    var dataDir: String?

    @Option(name: .long, help: "Write frames of the demo's conveyor view into this folder as JPEG and exit (see above).")
    var exportFrames: String?

    @Option(name: .long, help: "Size of the exported frames, WIDTHxHEIGHT (64x64 to 3840x2160).")
    var frameSize = "640x360"

    func run() async throws {
        if let dir = exportFrames {
            let parts = frameSize.split(separator: "x").compactMap { Int($0) }
            guard parts.count == 2, (64...3840).contains(parts[0]), (64...2160).contains(parts[1]) else {
                throw ValidationError("--frame-size must be WIDTHxHEIGHT, 64x64 to 3840x2160 (got '\(frameSize.prefix(40))')")
            }
            try ConveyorView.export(to: dir, width: parts[0], height: parts[1])
            return
        }
        let registry = Runtime.bootstrap(level: .error)
        let started = Date()
        let dir = dataDir ?? NSTemporaryDirectory() + "millwright-demo-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let scenario = DemoScenario(directory: dir)
        let logger = Logger(label: "millwright.demo")

        // 1. The sandbox CMMS, failing 25 % of requests (half of those after applying them).
        var emuOptions = EmulatorOptions()
        emuOptions.failRate = 0.25
        emuOptions.autoProgress = 2
        emuOptions.seed = 7
        let emulatorState = EmulatorState(options: emuOptions)
        let emulatorPort = BoundPort()
        let emulator = Application(router: SandboxEmulator.router(state: emulatorState),
                                   configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                                   onServerRunning: { emulatorPort.set($0) }, logger: logger)
        let emulatorGroup = ServiceGroup(configuration: .init(services: [emulator], logger: logger))
        let emulatorTask = Task { try await emulatorGroup.run() }
        let cmmsURL = "http://127.0.0.1:\(await emulatorPort.value)"

        // 2. The gateway and its API.
        let settings = try scenario.settings(cmmsURL: cmmsURL, port: port)
        let register = try AssetRegister.parse(csv: DemoScenario.registerCSV, file: scenario.registerPath)
        let store = try Store(path: scenario.databasePath)
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        let connectors = try Gateway.connectors(for: settings, http: http)
        let evidence = try EvidenceService(settings: settings.evidence, timezone: settings.site.timezone)
        let planning = try await Gateway.loadPlanning(settings, store: store)
        let gateway = Gateway(settings: settings, store: store, register: register, connectors: connectors, logger: logger, evidence: evidence,
                              planning: planning)
        let apiPort = BoundPort()
        let api = try APIListener.application(router: APIServer(gateway: gateway, registry: registry).router(), settings: settings.server,
                                              logger: logger, onServerRunning: { apiPort.set($0) })
        let services = gateway.servicePlan(api: api).group(stopOnSignals: keepRunning, logger: logger)
        let servicesTask = Task { try await services.run() }
        let apiURL = "http://127.0.0.1:\(await apiPort.value)"

        print("Millwright demo — line 2, \(scenario.cameras.count) cameras, sandbox CMMS at \(cmmsURL) failing 25 % of requests")
        let client = DemoClient(http: http, baseURL: apiURL, key: DemoScenario.adminKey)

        // 3. The shift.
        let posted = try await scenario.play(client: client) { print("  \($0)") }
        try await waitUntil(seconds: 40) {
            let s = try await store.stats()
            return (s.workOrdersByPhase["pending"] ?? 0) + (s.workOrdersByPhase["waiting"] ?? 0) + (s.workOrdersByPhase["sending"] ?? 0)
                + (s.workOrdersByPhase["verifying"] ?? 0) == 0
        }
        // Technicians work the orders in the CMMS (the emulator moves them along); the gateway reads the status back.
        print("  technicians complete the work orders in the CMMS; the gateway reads their status back …")
        try await waitUntil(seconds: 20) { try await store.stats().incidentsOpen <= 1 }
        let repeatAfterClose = try await scenario.repeatAfterClosure(client: client)
        print("  a repeat on a closed incident's asset: \(repeatAfterClose)")

        // 4. The summary, counted from the store and the CMMS.
        let stats = try await store.stats()
        let inCMMS = await emulatorState.all()
        let references = inCMMS.compactMap(\.reference)
        let duplicates = references.count - Set(references).count
        let emuStats = (requests: await emulatorState.requests, failed: await emulatorState.injectedFailures)
        let s = stats.detectionsByStatus
        let rows: [(String, String)] = [
            ("detections in", "\(stats.detectionsTotal)  (\(posted.requests) REST requests, \(posted.rejected) rejected as invalid)"),
            ("confirmed", "\(s["confirmed"] ?? 0)"),
            ("pending confirmation", "\(s["pending_confirmation"] ?? 0)"),
            ("below threshold", "\(s["below_threshold"] ?? 0)"),
            ("suppressed repeats", "\(s["suppressed_repeat"] ?? 0)"),
            ("orphans", "\(s["orphaned"] ?? 0)  (unmapped camera or asset not in register)"),
            ("incidents", "\(stats.incidentsTotal)  (\(stats.incidentsOpen) still open)"),
            ("work orders created", "\(stats.workOrdersByPhase["delivered"] ?? 0) in the CMMS, \(duplicates) duplicate(s)"),
            ("CMMS hiccups survived", "\(emuStats.failed) injected failures of \(emuStats.requests) requests; \(stats.deliveryAttempts) delivery attempts"),
            ("dead letter", "\(stats.workOrdersByPhase["dead_letter"] ?? 0)"),
            ("detection→WO latency", "p50 \(ms(stats.latencyP50Ms)), p99 \(ms(stats.latencyP99Ms))"),
        ]
        let width = rows.map(\.0.count).max() ?? 0
        print("")
        print("┌─ Summary " + String(repeating: "─", count: 60))
        for (k, v) in rows { print("│ " + k.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + v) }
        print("└" + String(repeating: "─", count: 70))
        try await printDispatch(store)
        let evidenceFiles = try await store.evidenceHashes().audited
        let attached = inCMMS.reduce(0) { $0 + $1.attachments.count }
        if let first = evidenceFiles.first {
            print("evidence: \(evidenceFiles.count) annotated image(s), \(attached) attached in the CMMS — e.g. \(try evidence.images.url(for: first).path)")
        }
        let audit = try await store.verifyAudit()
        print("audit trail: \(audit.checked) records, chain \(audit.firstBreak == nil ? "intact" : "BROKEN")")
        print("database: \(scenario.databasePath)")
        print("finished in \(String(format: "%.1f", Date().timeIntervalSince(started))) s")

        if keepRunning {
            print("\nAPI and board: \(apiURL)/  (admin key: \(DemoScenario.adminKey)) — Ctrl-C to stop")
            try await servicesTask.value
        } else {
            await services.triggerGracefulShutdown()
            _ = try? await servicesTask.value
        }
        await emulatorGroup.triggerGracefulShutdown()
        _ = try? await emulatorTask.value
        try await http.shutdown()
        if duplicates > 0 || audit.firstBreak != nil { throw ExitCode(1) }
    }

    /// Who got the work and why, and what the storeroom put aside.
    func printDispatch(_ store: Store) async throws {
        let orders = try await store.workOrders(limit: 100).filter { !$0.shadow }.compactMap(\.payload)
        guard !orders.isEmpty else { return }
        print("dispatch:")
        for d in orders.sorted(by: { $0.detectedAt < $1.detectedAt }) {
            let who = d.assigneeName.map { "\(d.assignee ?? "") \($0)" } ?? d.assignee ?? "unassigned"
            print("  \(d.reference) \(d.defectClass) at \(d.assetName ?? d.asset) → \(who)")
            if let why = d.assignmentReason { print("      why: \(why)") }
            if let p = d.procedure?.split(separator: "\n").first { print("      \(p)") }
            for line in d.partsStatus ?? [] { print("      part: \(line.text)") }
        }
        var held: [Store.ReservationView] = []
        for status in ["reserved", "consumed", "released", "short"] { held += try await store.reservations(status: status) }
        let taken = held.filter { $0.status != "short" }, short = held.filter { $0.status == "short" }
        print("parts: \(taken.count) reservation(s) pre-staged for the storeroom, \(short.count) shortfall(s) flagged on the work order"
              + (short.isEmpty ? "" : " (" + short.map { "\($0.sku) for \($0.reference ?? $0.incidentId)" }.joined(separator: ", ") + ")"))
    }

    func ms(_ v: Double?) -> String { v.map { String(format: "%.0f ms", $0) } ?? "–" }

    func waitUntil(seconds: Double, _ condition: () async throws -> Bool) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}
