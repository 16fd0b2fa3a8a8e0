import Foundation
import Testing

/// One PostgreSQL server for a whole suite (`@Suite(.sharedPostgres)`): started before its
/// first test, stopped after its last. Tests keep apart by schema (`server.settings()`).
public struct SharedPostgres: SuiteTrait, TestScoping {
    @TaskLocal public static var server: PostgresServer?

    public func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        // Every test of the suite opens pools of its own, in parallel, and a dropped store
        // closes its connections in the background: the default 100 runs out.
        let server = try await PostgresServer.start(options: ["max_connections": "400"])
        do {
            try await Self.$server.withValue(server) { try await function() }
        } catch {
            await server.cleanUp()
            throw error
        }
        await server.cleanUp()
    }

    /// The suite's server; a test outside a `.sharedPostgres` suite has none.
    public static func current() throws -> PostgresServer {
        guard let server else { throw TestFailure("no shared PostgreSQL server: mark the suite @Suite(.sharedPostgres)") }
        return server
    }
}

extension Trait where Self == SharedPostgres {
    public static var sharedPostgres: Self { SharedPostgres() }
}
