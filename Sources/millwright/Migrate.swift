import ArgumentParser
import Foundation
import MillwrightCore
import Store

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy a plant's SQLite store into PostgreSQL, audit trail included and verified on arrival.",
        discussion: """
        Stop the gateway first: the copy must see a store nobody is writing. The target is
        the PostgreSQL store of --config (storage.postgres; its URL from url_env). Every
        table is copied in key order, a page per transaction, with progress; then the audit
        chain is walked on the target (with the key of audit.key_env, when set) and must end
        in the same head as the source's. Then point serve at the configuration.

        The target must be empty, so nothing is merged by accident. A copy that was
        interrupted (network, Ctrl-C) is continued with --resume: rows already there are
        kept, the rest copied, and the chain verified as before.

        Exit codes: 0 copied and verified; 1 the copied audit trail does not verify;
        2 usage, configuration, or a target that holds data.

        Example:
          MW_PG_URL=postgres://mw:…@db.plant.local/millwright?sslmode=verify-full \\
            millwright migrate --from sqlite:./data/millwright.sqlite --to postgres --config millwright.yaml
        """)

    @Option(name: .long, help: "The source: sqlite:PATH (the SQLite file a gateway ran on).")
    var from: String

    @Option(name: .long, help: "The target: postgres (the storage.postgres of --config).")
    var to: String

    @Option(name: .long, help: "The configuration whose storage is storage.postgres.")
    var config: String

    @Flag(name: .long, help: "Continue an interrupted copy into a target that already holds part of it.")
    var resume = false

    func run() async throws {
        _ = Runtime.bootstrap(level: .warning)
        guard from.hasPrefix("sqlite:"), case let path = String(from.dropFirst("sqlite:".count)), !path.isEmpty else {
            Runtime.printError("migrate: --from \(from): give sqlite:PATH, e.g. --from sqlite:./data/millwright.sqlite")
            throw ExitCode(2)
        }
        guard to == "postgres" else {
            Runtime.printError("migrate: --to \(to): only postgres is a target (the storage.postgres of --config)")
            throw ExitCode(2)
        }
        guard FileManager.default.fileExists(atPath: path) else {
            Runtime.printError("migrate: no SQLite database at \(path)")
            throw ExitCode(2)
        }
        let settings = try Runtime.loadSettings(config, requireSecrets: false)
        guard case .postgres(let pg) = settings.storage else {
            Runtime.printError("migrate: \(config): storage is not postgres; set storage: { postgres: { url_env: MW_PG_URL } }")
            throw ExitCode(2)
        }
        guard !pg.database.isEmpty else {
            Runtime.printError("migrate: \(config): the environment variable named by storage.postgres.url_env is not set; export it with the PostgreSQL URL")
            throw ExitCode(2)
        }
        let source = try SQLiteBackend(path: path, auditSeal: AuditSeal(key: settings.audit.key))
        let target = try await Runtime.openBackend(settings)
        print("migrate: \(path) → \(target.location)")
        let lastLine = LastProgress()
        do {
            let summary = try await StoreCopy.copy(from: source, to: target, auditKey: settings.audit.key, resume: resume) { p in
                // One line per table, and one per 10% of a long one.
                let step = max(1, p.total / 10)
                if p.copied == p.total || p.copied % step < 1000, lastLine.changed("\(p.table) \(p.copied * 10 / max(1, p.total))") {
                    print("  \(p.table): \(p.copied)/\(p.total)")
                }
            }
            let total = summary.rows.values.reduce(0, +)
            print("ok: \(total) row(s) copied; audit trail verified on arrival: \(summary.audit.checked) record(s), head \(summary.auditHead.prefix(16))… as in the source")
        } catch let e as StoreCopy.CopyError {
            Runtime.printError("migrate: \(e)")
            if case .targetNotEmpty = e { throw ExitCode(2) }
            throw ExitCode(1)
        }
    }
}

/// The last progress line printed, so a page that changes nothing prints nothing.
private final class LastProgress: @unchecked Sendable {
    private let lock = NSLock()
    private var last = ""
    func changed(_ line: String) -> Bool {
        lock.withLock {
            defer { last = line }
            return line != last
        }
    }
}
