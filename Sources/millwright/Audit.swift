import ArgumentParser
import Foundation
import MillwrightCore
import Store

struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The hash-chained audit trail.", subcommands: [Verify.self])

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-compute the audit hash chain; exit 1 at the first broken record.",
            discussion: """
            Every decision, incident transition, delivery attempt and feedback is a record whose
            SHA-256 covers the previous record's hash. Editing, deleting or reordering any record
            breaks the chain from that point.

            Examples:
              millwright audit verify --config millwright.yaml
              millwright audit verify --db ./data/millwright.sqlite
            """)

        @Option(name: .long, help: "The configuration file (its storage is verified).")
        var config: String?

        @Option(name: .long, help: "A SQLite database file (default ./data/millwright.sqlite).")
        var db: String?

        func run() async throws {
            var path = db ?? "./data/millwright.sqlite"
            if db == nil, let config {
                let settings = try Runtime.loadSettings(config)
                guard case .sqlite(let p) = settings.storage else {
                    Runtime.printError("audit verify: only SQLite storage is supported in this build"); throw ExitCode(2)
                }
                path = p
            }
            guard FileManager.default.fileExists(atPath: path) else {
                Runtime.printError("audit verify: no database at \(path); pass --config or --db")
                throw ExitCode(2)
            }
            let store = try Store(path: path)
            let (checked, broken) = try await store.verifyAudit()
            if let broken {
                print("BROKEN at record \(broken.seq): \(broken.reason) (\(checked) record(s) before it verified)")
                throw ExitCode(1)
            }
            print("ok: \(checked) audit record(s) verified, chain intact")
        }
    }
}
