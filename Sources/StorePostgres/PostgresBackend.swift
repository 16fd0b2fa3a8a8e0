import Foundation
import Logging
import MillwrightCore
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO
import Store

/// The store on PostgreSQL. The store's logic is synchronous (`session.run` returns a value),
/// so each transaction runs on a thread of its own pool, holding one connection from a free
/// list, and each statement waits for its future there. The async caller awaits the pool's
/// future, so no Swift concurrency thread and no event-loop thread is ever blocked.
///
/// A connection the server closed (restart, network) is replaced by a fresh connect on its
/// next use; when that connect fails, the call throws `PostgresBackendError.unavailable` and
/// the next call tries again.
public final class PostgresBackend: SQLBackend {
    public let dialect: SQLDialect = .postgres
    public let settings: PostgresSettings
    public let auditSeal: AuditSeal
    /// `host:port/database (schema)`: never the password.
    public var location: String { settings.location }

    /// A write that fails with a serialization failure or deadlock is run again from the start,
    /// up to this many times in all.
    public static let maxWriteAttempts = 5

    /// How long the server lets a session sit idle inside a transaction before ending it.
    /// Shorter than the watchdog below: a statement queued behind a frozen node's locks gets
    /// them when the server ends that node's session, before its own watchdog gives up.
    public static let idleInTransactionTimeoutSeconds = 10

    /// How long a statement (a lock wait included) may go without an answer before its
    /// connection is given up. Migrations, which may rewrite big tables, get an hour.
    public static let statementWatchdog = TimeAmount.seconds(25)
    static let migrationWatchdog = TimeAmount.hours(1)

    private let logger: Logger
    private let threads: NIOThreadPool
    private let group: any EventLoopGroup
    private let slots: ConnectionSlots
    private let placeholders = PlaceholderCache(capacity: 512)
    private let configuration: PostgresConnection.Configuration
    private let watchdog: TimeAmount

    /// Opens `settings.pool` connections, sets `search_path` to `settings.schema` (creating it
    /// if missing) and migrates. Throws `unavailable` when the server cannot be reached,
    /// `configuration` when the settings cannot work.
    /// `watchdog`: how long a statement may go unanswered (`statementWatchdog` unless a caller
    /// knows its statements wait longer, as tests that queue dozens of batches on a busy machine).
    /// `idleInTransactionSeconds`: likewise for a caller that holds a transaction open on purpose.
    public static func connect(_ settings: PostgresSettings, auditSeal: AuditSeal, logger: Logger,
                               watchdog: TimeAmount = statementWatchdog,
                               idleInTransactionSeconds: Int = idleInTransactionTimeoutSeconds) async throws -> PostgresBackend {
        let backend = try PostgresBackend(settings: settings, auditSeal: auditSeal, logger: logger, watchdog: watchdog,
                                          idleInTransactionSeconds: idleInTransactionSeconds)
        do {
            try await backend.onPool { try backend.prepare() }
        } catch {
            await backend.close()
            throw error
        }
        return backend
    }

    private init(settings: PostgresSettings, auditSeal: AuditSeal, logger: Logger, watchdog: TimeAmount, idleInTransactionSeconds: Int) throws {
        self.watchdog = watchdog
        guard PostgresSettings.isValidSchemaName(settings.schema) else {
            throw PostgresBackendError.configuration("'\(settings.schema)' is not a usable schema name; use letters, digits and _")
        }
        guard PostgresSettings.poolRange.contains(settings.pool) else {
            throw PostgresBackendError.configuration("pool \(settings.pool) is outside \(PostgresSettings.poolRange)")
        }
        self.settings = settings
        self.auditSeal = auditSeal
        self.logger = logger
        self.configuration = try Self.connectionConfiguration(settings, idleInTransactionSeconds: idleInTransactionSeconds)
        self.group = MultiThreadedEventLoopGroup.singleton
        self.slots = ConnectionSlots(count: settings.pool)
        self.threads = NIOThreadPool(numberOfThreads: settings.pool)
        threads.start()
    }

    static func connectionConfiguration(_ settings: PostgresSettings, idleInTransactionSeconds: Int) throws -> PostgresConnection.Configuration {
        let tls: PostgresConnection.Configuration.TLS
        switch settings.tls {
        case .disable:
            tls = .disable
        case .require, .verifyFull:
            var config = TLSConfiguration.makeClientConfiguration()
            // Both modes check the chain; only verify-full checks the certificate names the host.
            config.certificateVerification = settings.tls == .verifyFull ? .fullVerification : .noHostnameVerification
            if let path = settings.rootCertificatePath {
                guard FileManager.default.isReadableFile(atPath: path) else {
                    throw PostgresBackendError.configuration("sslrootcert \(path) cannot be read; give a PEM file of CA certificates")
                }
                config.trustRoots = .file(path)
            }
            do {
                tls = .require(try NIOSSLContext(configuration: config))
            } catch {
                throw PostgresBackendError.configuration("cannot set up TLS (\(error)); check sslrootcert holds PEM CA certificates")
            }
        }
        var configuration = PostgresConnection.Configuration(host: settings.host, port: settings.port, username: settings.user,
                                                             password: settings.password, database: settings.database, tls: tls)
        configuration.options.connectTimeout = .seconds(10)
        // A node that stops inside a transaction (SIGSTOP, a hung host) would hold its locks,
        // and the writers' lock queues every other node behind them: the server ends such a
        // session instead. The store's transactions are never idle for more than milliseconds.
        configuration.options.additionalStartupParameters = [
            ("idle_in_transaction_session_timeout", "\(idleInTransactionSeconds)s"),
            ("application_name", "millwright"),
        ]
        return configuration
    }

    // MARK: SQLBackend

    public func write<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T {
        try await onPool { try self.transaction(readOnly: false, body) }
    }

    public func read<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T {
        try await onPool { try self.transaction(readOnly: true, body) }
    }

    /// Finishes running transactions, then closes the connections. Calls after this throw `closed`.
    public func close() async {
        try? await threads.shutdownGracefully()
        for connection in slots.drain() {
            try? await connection.close().get()
        }
    }

    /// A backend dropped without `close()` (a test's store, a command that ends) still closes
    /// its connections and threads, in the background: they outlive it until they are closed.
    deinit {
        let connections = slots.drain(), threads = threads
        guard !connections.isEmpty else {
            threads.shutdownGracefully { _ in }
            return
        }
        Task {
            for connection in connections { try? await connection.close().get() }
            try? await threads.shutdownGracefully()
        }
    }

    // MARK: Running on the pool

    private func onPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        do {
            return try await threads.runIfActive(eventLoop: group.any(), work).get()
        } catch is NIOThreadPoolError.ThreadPoolInactive {
            throw PostgresBackendError.closed
        }
    }

    /// On a pool thread: connects every slot, then migrates on the first connection.
    private func prepare() throws {
        let slot = slots.take()
        defer { slots.put(slot) }
        let session = PostgresSession(connection: try liveConnection(slot), auditSeal: auditSeal, placeholders: placeholders, logger: logger,
                                      lockScope: settings.schema, watchdog: Self.migrationWatchdog)
        try PostgresSchema.migrate(session, schema: settings.schema, logger: logger)
        // The other connections now, so a failure shows at start rather than at the first busy minute.
        var others: [ConnectionSlots.Slot] = []
        defer { for s in others { slots.put(s) } }
        for _ in 1..<settings.pool {
            let other = slots.take()
            others.append(other)
            _ = try liveConnection(other)
        }
    }

    /// On a pool thread: one transaction, retried after a serialization failure or deadlock.
    private func transaction<T>(readOnly: Bool, _ body: (any SQLSession) throws -> T) throws -> T {
        let slot = slots.take()
        defer { slots.put(slot) }
        var attempt = 1
        while true {
            do {
                return try once(slot, readOnly: readOnly, body)
            } catch {
                let state = PostgresBackendError.sqlState(of: error)
                guard !readOnly, state == "40001" || state == "40P01", attempt < Self.maxWriteAttempts else { throw error }
                logger.debug("retrying a PostgreSQL transaction", metadata: ["sqlstate": "\(state ?? "")", "attempt": "\(attempt)"])
                attempt += 1
            }
        }
    }

    private func once<T>(_ slot: ConnectionSlots.Slot, readOnly: Bool, _ body: (any SQLSession) throws -> T) throws -> T {
        let begin = readOnly ? "BEGIN READ ONLY" : "BEGIN"
        var session = PostgresSession(connection: try liveConnection(slot), auditSeal: auditSeal, placeholders: placeholders, logger: logger, lockScope: settings.schema,
                                      watchdog: watchdog)
        do {
            try session.raw(begin)
        } catch let error where PostgresBackendError.isConnectionFailure(error) && !session.unanswered {
            // The connection died while idle (a server restart it had not noticed yet). Nothing
            // of this transaction was sent, so one fresh connection may safely start it again.
            discard(slot)
            session = PostgresSession(connection: try liveConnection(slot), auditSeal: auditSeal, placeholders: placeholders, logger: logger, lockScope: settings.schema,
                                      watchdog: watchdog)
            do { try session.raw(begin) } catch {
                discard(slot)
                throw error
            }
        }
        let result: T
        do {
            result = try body(session)
            try session.flushAudit()
        } catch {
            do { try session.raw("ROLLBACK") } catch { discard(slot) }
            throw error
        }
        let tag: String
        do {
            tag = try session.command("COMMIT")
        } catch {
            // Connection lost during COMMIT: the outcome is unknown to us, and said so.
            if PostgresBackendError.isConnectionFailure(error) { discard(slot) } else { try? session.raw("ROLLBACK") }
            throw error
        }
        // A body that caught a statement error without a savepoint leaves the transaction
        // aborted, and PostgreSQL answers COMMIT with ROLLBACK: none of it was stored.
        guard tag == "COMMIT" else {
            throw PostgresBackendError.statement(sqlState: "25P02", message: "the transaction was rolled back: a statement inside it failed "
                + "and the error was caught without a savepoint (use session.savepoint { … })", detail: nil, sql: "COMMIT")
        }
        return result
    }

    /// The slot's connection, or a fresh one when it has none or the old one closed.
    private func liveConnection(_ slot: ConnectionSlots.Slot) throws -> PostgresConnection {
        if let c = slot.connection, !c.isClosed { return c }
        discard(slot)
        let connection: PostgresConnection
        do {
            connection = try Self.connect(on: group.any(), configuration: configuration, id: slot.id, logger: logger, watchdog: watchdog)
        } catch {
            throw PostgresBackendError.unavailable("cannot connect to \(location): \(PostgresBackendError.describe(error))")
        }
        do {
            let session = PostgresSession(connection: connection, auditSeal: auditSeal, placeholders: placeholders, logger: logger, lockScope: settings.schema,
                                      watchdog: watchdog)
            try session.raw("SET search_path TO \(PostgresSchema.quoted(settings.schema))")
        } catch {
            connection.close().whenComplete { _ in withExtendedLifetime(connection) {} }
            throw PostgresBackendError.from(error, sql: "SET search_path")
        }
        slot.connection = connection
        return connection
    }

    /// Connects, waiting at most the statement watchdog for the whole start-up (the connect
    /// timeout covers only the TCP part); a connection that arrives after that is closed.
    private static func connect(on loop: any EventLoop, configuration: PostgresConnection.Configuration, id: Int, logger: Logger,
                                watchdog: TimeAmount) throws -> PostgresConnection {
        let future = PostgresConnection.connect(on: loop, configuration: configuration, id: id, logger: logger)
        let gaveUp = NIOLockedValueBox(false)
        future.whenSuccess { connection in
            // Too late for the caller: closed, and kept alive until it is.
            if gaveUp.withLockedValue({ $0 }) { connection.close().whenComplete { _ in withExtendedLifetime(connection) {} } }
        }
        return try future.wait(atMost: watchdog, "the database did not finish the connection start-up") {
            gaveUp.withLockedValue { $0 = true }
        }
    }

    private func discard(_ slot: ConnectionSlots.Slot) {
        guard let c = slot.connection else { return }
        slot.connection = nil
        // Held by the completion until the close is done: a connection must not be freed open.
        if !c.isClosed { c.close().whenComplete { _ in withExtendedLifetime(c) {} } }
    }
}

/// The free list: one slot per pool thread, each holding a connection or nothing (connected on
/// next use). A taken slot belongs to its thread alone until put back, so only the list is locked.
final class ConnectionSlots: @unchecked Sendable {
    final class Slot: @unchecked Sendable {
        let id: Int
        var connection: PostgresConnection?
        init(id: Int) { self.id = id }
    }

    private let lock = NSLock()
    private var free: [Slot]
    private var all: [Slot]

    init(count: Int) {
        all = (1...count).map(Slot.init(id:))
        free = all
    }

    func take() -> Slot {
        lock.withLock {
            if let slot = free.popLast() { return slot }
            // Never reached while threads == slots; a spare slot is still better than a wait.
            let spare = Slot(id: all.count + 1)
            all.append(spare)
            return spare
        }
    }

    func put(_ slot: Slot) { lock.withLock { free.append(slot) } }

    /// Every open connection, taken out of its slot (at shutdown, when no thread holds one).
    func drain() -> [PostgresConnection] {
        lock.withLock {
            let open = all.compactMap(\.connection)
            for s in all { s.connection = nil }
            return open
        }
    }
}

extension PostgresSession {
    /// Runs a statement and returns its command tag (`COMMIT`, or `ROLLBACK` for an aborted transaction).
    func command(_ sql: String) throws -> String {
        try answer(PostgresQuery(unsafeSQL: sql)).metadata.command
    }
}
