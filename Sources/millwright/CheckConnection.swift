import ArgumentParser
import AsyncHTTPClient
import Foundation
import Logging

struct CheckConnection: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-connection",
        abstract: "Authenticate to each configured CMMS and report what works, creating nothing.",
        discussion: "Checks authentication, create permission and attachment upload per CMMS, with the fix to try for each failure. Exit 1 if any check fails.")

    @Option(name: .long, help: "The configuration file.")
    var config: String

    func run() async throws {
        _ = Runtime.bootstrap(level: .warning)
        let settings = try Runtime.loadSettings(config)
        let failed = try await Runtime.withHTTPClient { http in
            let connectors = try Runtime.makeConnectors(settings, http: http)
            var failed = 0
            for c in connectors {
                print("\(c.name) (\(c.kind))")
                for check in await c.checkConnection() {
                    print("  \(check.ok ? "ok  " : "FAIL") \(check.step): \(check.detail)" + (check.fix.map { "\n       fix: \($0)" } ?? ""))
                    if !check.ok { failed += 1 }
                }
            }
            if connectors.isEmpty { print("no cmms configured") }
            return failed
        }
        if failed > 0 { throw ExitCode(1) }
    }
}
