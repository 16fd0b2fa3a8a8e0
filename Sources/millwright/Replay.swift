import ArgumentParser
import AsyncHTTPClient
import Foundation
import Gateway
import Ingest
import Logging
import MillwrightCore
import Store

struct Replay: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replay recorded detections (JSON Lines) through the pipeline.",
        discussion: """
        Each line is one payload in any supported format (one detection or a batch).
        Decisions are stored like live ones; with --shadow nothing is sent to a CMMS
        and the work orders that would have been created are listed by GET
        /v1/work-orders?shadow=true. Without --shadow the outbox is delivered before
        the command exits.

        Example:
          millwright replay shift-b.jsonl --config millwright.yaml --shadow
        """)

    @Argument(help: "The JSON Lines file.")
    var file: String

    @Option(name: .long, help: "The configuration file.")
    var config: String

    @Flag(name: .long, help: "Decide everything, send nothing.")
    var shadow = false

    @Option(name: .long, help: "Vision format of every line (default: auto-detect).")
    var format: String?

    func run() async throws {
        _ = Runtime.bootstrap(level: .warning)
        // In shadow mode nothing talks to a CMMS: its secrets need not be exported.
        var settings = try Runtime.loadSettings(config, requireSecrets: !shadow)
        if shadow { settings.shadow = true }
        var visionFormat: VisionFormat?
        if let format {
            guard let f = VisionFormat(rawValue: format) else {
                Runtime.printError("replay: --format \(format) is not one of \(VisionFormat.allCases.map(\.rawValue).joined(separator: ", "))")
                throw ExitCode(2)
            }
            visionFormat = f
        }
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            Runtime.printError("replay: cannot read \(file)"); throw ExitCode(2)
        }
        let register = try Runtime.loadRegister(settings)
        let store = try await Runtime.openStore(settings)
        try await Runtime.withHTTPClient { try await replay(text, settings: settings, format: visionFormat, register: register, store: store, http: $0) }
    }

    func replay(_ text: String, settings: Settings, format visionFormat: VisionFormat?, register: AssetRegister?, store: Store,
                http: HTTPClient) async throws {
        let connectors = shadow ? [] : try Runtime.makeConnectors(settings, http: http)
        let gateway = Gateway(settings: settings, store: store, register: register, connectors: connectors, logger: Logger(label: "millwright.replay"),
                              evidence: try Runtime.openEvidence(settings), planning: try await Runtime.loadPlanning(settings, store: store))
        var accepted = 0, rejected = 0, lineNo = 0
        var byStatus: [String: Int] = [:]
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNo += 1
            guard !line.trimmingCharacters(in: .whitespaces).isEmpty else { continue }
            do {
                let report = try await gateway.ingest(body: Data(line.utf8), format: visionFormat)
                accepted += report.accepted.count
                for o in report.accepted { byStatus[o.status.rawValue, default: 0] += 1 }
                for r in report.rejected {
                    rejected += 1
                    print("\(file):\(lineNo): item \(r.index): \(r.field.map { "\($0): " } ?? "")\(r.problem)")
                }
            } catch {
                rejected += 1
                print("\(file):\(lineNo): \(error)")
            }
            if lineNo % 1000 == 0 { FileHandle.standardError.write(Data("… \(lineNo) lines\n".utf8)) }
        }
        print("replayed \(lineNo) line(s): \(accepted) accepted, \(rejected) rejected")
        for (k, v) in byStatus.sorted(by: { $0.key < $1.key }) { print("  \(k): \(v)") }
        if !shadow && !connectors.isEmpty {
            let delivery = gateway.servicePlan(api: nil).group(stopOnSignals: false, logger: Logger(label: "millwright.replay"))
            let task = Task { try await delivery.run() }
            let deadline = Date().addingTimeInterval(60)
            while Date() < deadline {
                let s = try await store.stats()
                if ["pending", "waiting", "sending", "verifying"].allSatisfy({ (s.workOrdersByPhase[$0] ?? 0) == 0 }) { break }
                try await Task.sleep(for: .milliseconds(200))
            }
            await delivery.triggerGracefulShutdown()
            _ = try? await task.value
            let s = try await store.stats()
            print("work orders: \(s.workOrdersByPhase.sorted(by: { $0.key < $1.key }).map { "\($0.key) \($0.value)" }.joined(separator: ", "))")
        }
    }
}
