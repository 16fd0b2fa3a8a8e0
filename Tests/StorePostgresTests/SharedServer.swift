import Foundation
import Logging
import MillwrightCore
import MillwrightTesting
import Store
import StorePostgres
import Testing

let testLogger: Logger = {
    var logger = Logger(label: "millwright.postgres.test")
    logger.logLevel = ProcessInfo.processInfo.environment["PG_TEST_DEBUG"] != nil ? .debug : .warning
    return logger
}()

/// A backend on a fresh schema of the shared server.
func freshBackend(pool: Int = 4, schema: String? = nil,
                  idleInTransactionSeconds: Int = PostgresBackend.idleInTransactionTimeoutSeconds) async throws -> PostgresBackend {
    let server = try SharedPostgres.current()
    return try await PostgresBackend.connect(server.settings(schema: schema, pool: pool), auditSeal: AuditSeal(key: nil), logger: testLogger,
                                             idleInTransactionSeconds: idleInTransactionSeconds)
}

/// Runs `body` with a backend and closes it after, whatever happens.
func withBackend<T>(pool: Int = 4, idleInTransactionSeconds: Int = PostgresBackend.idleInTransactionTimeoutSeconds,
                    _ body: (PostgresBackend) async throws -> T) async throws -> T {
    let backend = try await freshBackend(pool: pool, idleInTransactionSeconds: idleInTransactionSeconds)
    do {
        let result = try await body(backend)
        await backend.close()
        return result
    } catch {
        await backend.close()
        throw error
    }
}

struct Deliberate: Error {}
