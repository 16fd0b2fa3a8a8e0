import ArgumentParser
import AsyncHTTPClient
import Connectors
import Foundation
import Logging
import MillwrightCore

struct CheckConnection: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-connection",
        abstract: "Authenticate to each configured CMMS, ask it for every mapped asset and user, and report, creating nothing.",
        discussion: """
        Per CMMS: authentication, create permission and attachment upload, with the fix to try for each
        failure; then every asset (camera mapping and zones), functional location (asset register) and
        user (the entry's `users` map) the configuration names, read from the CMMS: exists, missing (the
        CMMS said it has no such record), unknown (no deciding answer) or not checkable. At most 500
        references are asked per CMMS.

        Exit codes: 0 all checks passed and nothing is missing; 1 a connection check failed or a
        reference is missing; 2 usage or configuration error. Unknown answers are printed but do not
        change the exit code.
        """)

    @Option(name: .long, help: "The configuration file.")
    var config: String

    @Flag(name: .long, help: "Skip reading assets and users from the CMMS; only the connection checks.")
    var noReferences = false

    func run() async throws {
        _ = Runtime.bootstrap(level: .warning)
        let settings = try Runtime.loadSettings(config)
        let register = try Runtime.loadRegister(settings)
        let configName = URL(fileURLWithPath: config).lastPathComponent
        let failed = try await Runtime.withHTTPClient { http in
            let connectors = try Runtime.makeConnectors(settings, http: http)
            var failed = 0
            for c in connectors {
                print("\(c.name) (\(c.kind))")
                for check in await c.checkConnection() {
                    print("  \(check.ok ? "ok  " : "FAIL") \(check.step): \(check.detail)" + (check.fix.map { "\n       fix: \($0)" } ?? ""))
                    if !check.ok { failed += 1 }
                }
                guard !noReferences, let entry = settings.cmms(named: c.name) else { continue }
                let refs = MappedReferences.collect(settings: settings, cmms: entry, register: register,
                                                    registerFile: settings.assets.registerPath, configFile: configName)
                let results = await c.checkReferences(refs)
                for line in ReferenceReport.lines(results) { print("  " + line) }
                failed += results.filter { if case .missing = $0.status { true } else { false } }.count
            }
            if connectors.isEmpty { print("no cmms configured") }
            return failed
        }
        if failed > 0 { throw ExitCode(1) }
    }
}

/// The reference table and summary `check-connection` prints.
enum ReferenceReport {
    static func lines(_ results: [ReferenceCheck]) -> [String] {
        guard !results.isEmpty else { return ["references: none mapped to this CMMS"] }
        var out = ["references:"]
        let kindWidth = 8, idWidth = min(30, results.map { $0.reference.id.count + ($0.asked.map { $0.count + 4 } ?? 0) }.max() ?? 0)
        for r in results {
            let id = r.reference.id + (r.asked.map { " (\($0))" } ?? "")
            let status = r.status.label + (r.status.detail.map { ": \($0)" } ?? "")
            out.append("  " + pad(r.reference.kind.rawValue, kindWidth) + " " + pad(id, idWidth) + "  " + pad(r.reference.origin, 0) + "  " + status)
        }
        out.append(summary(results))
        return out
    }

    /// "2 assets: 1 exist, 1 missing (PUMP-9 from assets.csv:14); 1 user: 1 exist".
    static func summary(_ results: [ReferenceCheck]) -> String {
        var parts: [String] = []
        for kind in MappedReference.Kind.allCases {
            let of = results.filter { $0.reference.kind == kind }
            guard !of.isEmpty else { continue }
            var counts: [String] = []
            for label in ["exists", "missing", "unknown", "not checkable"] {
                let hits = of.filter { $0.status.label == label }
                guard !hits.isEmpty else { continue }
                let word = label == "exists" && hits.count > 1 ? "exist" : label
                var text = "\(hits.count) \(word)"
                if label == "missing" {
                    let named = hits.prefix(5).map { "\($0.reference.id) from \($0.reference.origin)" }.joined(separator: ", ")
                    text += " (\(named)\(hits.count > 5 ? ", …" : ""))"
                }
                counts.append(text)
            }
            parts.append("\(of.count) \(kind.rawValue)\(of.count == 1 ? "" : "s"): " + counts.joined(separator: ", "))
        }
        return parts.joined(separator: "; ")
    }

    static func pad(_ s: String, _ width: Int) -> String { s.count >= width ? s : s + String(repeating: " ", count: width - s.count) }
}
