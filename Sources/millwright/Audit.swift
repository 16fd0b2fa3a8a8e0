import ArgumentParser
import Evidence
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

        @Option(name: .long, help: "Evidence folder (default: evidence.directory, or 'evidence' beside --db).")
        var evidence: String?

        func run() async throws {
            var path = db ?? "./data/millwright.sqlite"
            var evidenceDir = URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent("evidence").path
            if db == nil, let config {
                let settings = try Runtime.loadSettings(config)
                guard case .sqlite(let p) = settings.storage else {
                    Runtime.printError("audit verify: only SQLite storage is supported in this build"); throw ExitCode(2)
                }
                path = p
                evidenceDir = settings.evidence.directory
            }
            if let evidence { evidenceDir = evidence }
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
            // The chain vouches for each evidence image's hash; the file must still match it.
            let hashes = try await store.evidenceHashes().audited
            var badImages = 0
            if !hashes.isEmpty, let images = try? EvidenceStore(directory: URL(fileURLWithPath: evidenceDir)) {
                for h in hashes {
                    do { _ = try images.get(h) } catch {
                        badImages += 1
                        print("BROKEN evidence \(h): \(error) (in \(evidenceDir))")
                    }
                }
            }
            if badImages > 0 { throw ExitCode(1) }
            print("ok: \(checked) audit record(s) verified, chain intact" + (hashes.isEmpty ? "" : "; \(hashes.count) evidence image(s) match their recorded SHA-256"))
        }
    }
}
