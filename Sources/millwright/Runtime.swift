import ArgumentParser
import AsyncHTTPClient
import Config
import Connectors
import Foundation
import Gateway
import Hummingbird
import Logging
import Metrics
import NIOCore
import MillwrightCore
import Prometheus
import Server
import Store
import StorePostgres

/// Start-up shared by the commands: logging, metrics, configuration, store, services.
enum Runtime {
    nonisolated(unsafe) private static var registry: PrometheusCollectorRegistry?

    /// Logging and metrics, once per process.
    static func bootstrap(level: Logger.Level) -> PrometheusCollectorRegistry {
        if let registry { return registry }
        let envLevel = ProcessInfo.processInfo.environment["MILLWRIGHT_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:))
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = envLevel ?? level
            return h
        }
        let r = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: r)
        factory.durationHistogramBuckets["millwright_detection_to_work_order_seconds"] =
            [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800].map { Duration.milliseconds(Int64($0 * 1000)) }
        MetricsSystem.bootstrap(factory)
        registry = r
        return r
    }

    /// Loads the configuration or exits 2 with file, line, key and why.
    /// `requireSecrets: false` for commands that never talk to a CMMS or serve the API.
    static func loadSettings(_ path: String, requireSecrets: Bool = true) throws -> Settings {
        do { return try ConfigLoader.load(path: path, cmmsKinds: CMMSRegistry.all, requireSecrets: requireSecrets) } catch {
            printError("configuration error: \(error)")
            throw ExitCode(2)
        }
    }

    /// Exit 2 naming file:line:key when the UNS topic template cannot be filled for a camera.
    static func checkTopicTemplate(_ settings: Settings, register: AssetRegister?, file: String) throws {
        do { try ConfigLoader.checkTopicTemplate(settings, register: register, file: file) } catch {
            printError("configuration error: \(error)")
            throw ExitCode(2)
        }
    }

    static func loadRegister(_ settings: Settings) throws -> AssetRegister? {
        guard let path = settings.assets.registerPath else { return nil }
        do {
            let text = try String(contentsOfFile: path, encoding: .utf8)
            return try AssetRegister.parse(csv: text, file: path)
        } catch let p as FieldProblem {
            printError("asset register error: \(p.field ?? path): \(p.problem)")
            throw ExitCode(2)
        } catch {
            printError("asset register error: cannot read \(path): \(error.localizedDescription)")
            throw ExitCode(2)
        }
    }

    /// The configured store, its audit trail checked (or sealed) for a writer; exit 2 naming
    /// the database when it cannot be opened.
    static func openStore(_ settings: Settings) async throws -> Store {
        let backend = try await openBackend(settings)
        let store = Store(backend: backend, auditKey: settings.audit.key, node: settings.nodeId ?? Store.defaultNodeId,
                          lease: settings.dispatch.lease.seconds)
        do { try await store.prepareAuditTrail() } catch {
            printError("audit error: \(backend.location): \(error)")
            throw ExitCode(2)
        }
        return store
    }

    /// The database of `storage`: a SQLite file, or PostgreSQL (connected and migrated).
    static func openBackend(_ settings: Settings) async throws -> any SQLBackend {
        let seal = AuditSeal(key: settings.audit.key)
        switch settings.storage {
        case .sqlite(let path):
            do { return try SQLiteBackend(path: path, auditSeal: seal) } catch {
                printError("storage error: cannot open SQLite database \(path): \(error)")
                throw ExitCode(2)
            }
        case .postgres(let pg):
            var logger = Logger(label: "millwright.store")
            logger.logLevel = .warning
            do { return try await PostgresBackend.connect(pg, auditSeal: seal, logger: logger) } catch {
                printError("storage error: cannot open PostgreSQL \(pg.location): \(error)")
                throw ExitCode(2)
            }
        }
    }

    /// Roster, procedures and inventory, or exit 2 listing every problem with file and line.
    static func loadPlanning(_ settings: Settings, store: Store) async throws -> PlanningContext? {
        do {
            try NotificationService.validateNotifications(settings)
            return try await Gateway.loadPlanning(settings, store: store)
        } catch {
            printError("planning error:\n\(error)")
            throw ExitCode(2)
        }
    }

    static func openEvidence(_ settings: Settings) throws -> EvidenceService {
        let frigate = settings.mqtt?.sources.compactMap(\.frigateURL) ?? []
        do { return try EvidenceService(settings: settings.evidence, timezone: settings.site.timezone, alsoAllow: frigate) } catch {
            printError("evidence error: cannot use evidence.directory \(settings.evidence.directory): \(error)")
            throw ExitCode(2)
        }
    }

    static func makeConnectors(_ settings: Settings, http: HTTPClient) throws -> [any CMMSConnector] {
        do { return try Gateway.connectors(for: settings, http: http) } catch {
            printError("configuration error: \(Redaction.redact("\(error)", values: settings.environmentValues))")
            throw ExitCode(2)
        }
    }

    /// Runs `body` with an HTTP client that is shut down however `body` ends: a client left
    /// running at deinit is a fatal error in AsyncHTTPClient, which turned a config mistake
    /// into a crash with a backtrace instead of exit 2.
    static func withHTTPClient<T>(_ body: (HTTPClient) async throws -> T) async throws -> T {
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        let result: T
        do { result = try await body(http) } catch {
            try? await http.shutdown()
            throw error
        }
        try await http.shutdown()
        return result
    }

    static func printError(_ s: String) {
        FileHandle.standardError.write(Data((s + "\n").utf8))
    }
}

/// Prints the bound address once the server listens (port 0 picks a free one).
func announce(_ what: String, _ channel: any Channel, host: String, scheme: String = "http") {
    let port = channel.localAddress?.port ?? 0
    // Written straight to the file descriptor: tests and scripts wait for this line.
    FileHandle.standardOutput.write(Data("millwright: \(what) listening on \(scheme)://\(host):\(port)\n".utf8))
}
