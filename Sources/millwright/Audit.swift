import ArgumentParser
import Evidence
import Foundation
import MillwrightCore
import Store

struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The hash-chained audit trail.", subcommands: [Verify.self, Checkpoint.self, Export.self, VerifyExport.self])

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-compute the audit hash chain and compare it with the checkpoints; exit 1 at the first broken record.",
            discussion: """
            Every decision, incident transition, delivery attempt and feedback is a
            record whose hash covers the previous record's hash. Editing, deleting or
            reordering any record breaks the chain from that point. With an audit key
            the hashes are HMAC-SHA256, so a rewritten chain cannot be made consistent
            without the key, and each signed checkpoint must still be found in the
            trail: records up to the last checkpoint cannot be deleted unnoticed.
            Without a key the chain is plain SHA-256 and catches accidental edits only.

            Examples:
              millwright audit verify --config millwright.yaml
              millwright audit verify --db ./data/millwright.sqlite
              millwright audit verify --db ./data/millwright.sqlite \\
                --key-env MW_AUDIT_KEY --checkpoints ./data/audit.checkpoints
            """)

        @Option(name: .long, help: "The configuration file (its storage, audit key and checkpoint file are used).")
        var config: String?

        @Option(name: .long, help: "A SQLite database file (default ./data/millwright.sqlite).")
        var db: String?

        @Option(name: .long, help: "Evidence folder (default: evidence.directory, or 'evidence' beside --db).")
        var evidence: String?

        @Option(name: .customLong("key-env"), help: "The environment variable holding the audit key (default: audit.key_env from --config).")
        var keyEnv: String?

        @Option(name: .long, help: "The checkpoint file (default: audit.checkpoints from --config). Needs the key.")
        var checkpoints: String?

        func run() async throws {
            var path = db ?? "./data/millwright.sqlite"
            var evidenceDir = URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent("evidence").path
            var key: AuditKey?
            var checkpointsPath = checkpoints
            var settings: Settings?
            if db == nil, let config {
                let loaded = try Runtime.loadSettings(config)
                if case .sqlite(let p) = loaded.storage { path = p }
                evidenceDir = loaded.evidence.directory
                key = loaded.audit.key
                checkpointsPath = checkpointsPath ?? loaded.audit.checkpointsPath
                settings = loaded
            }
            if let evidence { evidenceDir = evidence }
            if let keyEnv { key = try Audit.key(fromEnv: keyEnv) }
            let store: Store
            if let settings, case .postgres = settings.storage {
                // Read only: verifying never seals or writes (no prepareAuditTrail).
                store = Store(backend: try await Runtime.openBackend(settings))
                path = store.location
            } else {
                guard FileManager.default.fileExists(atPath: path) else {
                    Runtime.printError("audit verify: no database at \(path); pass --config or --db")
                    throw ExitCode(2)
                }
                store = try Store(path: path)
            }
            if key == nil, let sealed = try await store.auditSealedFrom() {
                Runtime.printError("audit verify: \(path): the trail is sealed with an audit key from record \(sealed) on; pass --key-env NAME, or --config with audit.key_env")
                throw ExitCode(2)
            }
            let (trusted, checkpointProblems) = try readCheckpoints(checkpointsPath, key: key)
            for p in checkpointProblems { print("BROKEN checkpoint \(checkpointsPath ?? ""):\(p.line): \(p.reason)") }

            let outcome = try await store.verifyAudit(key: key, checkpoints: trusted)
            if let broken = outcome.firstBreak {
                print("BROKEN at record \(broken.seq): \(broken.reason) (\(outcome.checked) record(s) before it verified)")
                throw ExitCode(1)
            }
            if !checkpointProblems.isEmpty { throw ExitCode(1) }
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
            print("ok: \(outcome.checked) audit record(s) verified, chain intact" + (hashes.isEmpty ? "" : "; \(hashes.count) evidence image(s) match their recorded SHA-256"))
            print(summary(outcome, checkpoints: trusted, key: key))
        }

        /// Authentic checkpoints and the lines that are not. No path, or no file yet: none.
        private func readCheckpoints(_ path: String?, key: AuditKey?) throws -> ([AuditCheckpoint], [AuditCheckpoint.Problem]) {
            guard let path else { return ([], []) }
            guard let key else {
                Runtime.printError("audit verify: --checkpoints needs the audit key (--key-env NAME): checkpoints are signed with it")
                throw ExitCode(2)
            }
            let text: String?
            do { text = try AuditCheckpointFile(path: path).read() } catch {
                Runtime.printError("audit verify: \(error)"); throw ExitCode(2)
            }
            guard let text else {
                if checkpoints != nil { Runtime.printError("audit verify: no checkpoint file at \(path)"); throw ExitCode(2) }
                print("note: no checkpoint file at \(path) yet: records can be deleted from the end of the trail undetected")
                return ([], [])
            }
            return AuditCheckpoint.parse(text, key: key)
        }

        private func summary(_ o: AuditChain.Outcome, checkpoints: [AuditCheckpoint], key: AuditKey?) -> String {
            guard key != nil else {
                return "note: no audit key (audit.key_env or --key-env): the chain is plain SHA-256, tamper-evident only against accidental edits, "
                    + "not against someone who can rewrite the database"
            }
            var lines: [String] = []
            if let from = o.sealedFrom {
                lines.append("sealed: HMAC-SHA256 from record \(from)" + (from > 1 ? " (records 1…\(from - 1) are plain SHA-256, written before the key)" : ""))
            }
            if let last = checkpoints.max(by: { $0.seq < $1.seq }) {
                let newer = Int64(o.checked) > last.seq ? "; records \(last.seq + 1)…\(o.checked) are newer than it and not yet covered" : ""
                lines.append("checkpoints: \(o.checkpointsMatched) match; the last, of \(last.at), vouches for records 1…\(last.seq)\(newer)")
            } else {
                lines.append("checkpoints: none: records can be deleted from the end of the trail undetected")
            }
            return lines.joined(separator: "\n")
        }
    }

    struct Checkpoint: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Append a signed checkpoint of the audit trail's head to audit.checkpoints.",
            discussion: """
            `serve` writes one at start, every audit.checkpoint_every and at shutdown;
            this writes one now. A checkpoint (seq, head hash, record count, time, HMAC
            under the audit key) lets `audit verify` notice records deleted up to it.
            Needs audit.key_env. Exit 1 if the trail's last record is not sealed by the
            key or records are missing.

            Example:
              MW_AUDIT_KEY=… millwright audit checkpoint --config millwright.yaml
            """)

        @Option(name: .long, help: "The configuration file (storage, audit.key_env, audit.checkpoints).")
        var config: String

        func run() async throws {
            let settings = try Runtime.loadSettings(config)
            guard let key = settings.audit.key, let path = settings.audit.checkpointsPath else {
                Runtime.printError("audit checkpoint: \(config): audit.key_env is not set; checkpoints are signed with the audit key")
                throw ExitCode(2)
            }
            let store = try await Runtime.openStore(settings)
            do {
                let cp = try await store.appendAuditCheckpoint(key: key, to: AuditCheckpointFile(path: path))
                print("checkpoint: record \(cp.seq) (\(cp.records) record(s)), head \(cp.head), at \(cp.at) → \(path)")
            } catch {
                print("audit checkpoint: \(error)")
                throw ExitCode(1)
            }
        }
    }

    /// The audit key from an environment variable, or exit 2 (naming the variable, never its value).
    static func key(fromEnv name: String) throws -> AuditKey {
        guard let secret = ProcessInfo.processInfo.environment[name], !secret.isEmpty else {
            Runtime.printError("audit: environment variable \(name) is not set")
            throw ExitCode(2)
        }
        guard let key = AuditKey(secret: secret) else {
            Runtime.printError("audit: environment variable \(name) holds fewer than \(AuditKey.minimumBytes) bytes")
            throw ExitCode(2)
        }
        return key
    }
}
