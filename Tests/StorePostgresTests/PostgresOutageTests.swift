import Foundation
import MillwrightCore
import MillwrightTesting
import Store
import StorePostgres
import Testing

/// Tests that stop, restart or kill the server, or reconfigure it: each starts its own.
@Suite struct PostgresOutageTests {
    func withServer(options: [String: String] = [:], _ body: (PostgresServer) async throws -> Void) async throws {
        let server = try await PostgresServer.start(options: options)
        do { try await body(server) } catch {
            await server.cleanUp()
            throw error
        }
        await server.cleanUp()
    }

    func counter(_ backend: PostgresBackend) async throws -> Int {
        try await backend.write { s in
            try s.run("UPDATE counter SET n = n + 1")
            return try s.value(as: Int.self, "SELECT n FROM counter") ?? -1
        }
    }

    /// After the server restarts, the first write may succeed (on a fresh connection) or say
    /// `unavailable`; a later one succeeds. Nothing crashes and committed data survives.
    @Test func aServerRestartBetweenWritesIsSurvived() async throws {
        try await withServer { server in
            let backend = try await PostgresBackend.connect(server.settings(pool: 2), auditSeal: AuditSeal(key: nil), logger: testLogger)
            try await backend.write { s in
                try s.run("CREATE TABLE counter (n bigint NOT NULL)")
                try s.run("INSERT INTO counter (n) VALUES (0)")
            }
            #expect(try await counter(backend) == 1)
            try await server.restart()
            do {
                #expect(try await counter(backend) == 2)
            } catch PostgresBackendError.unavailable {
                // Allowed: the connection loss surfaced as a retryable error.
            }
            let later = try await counter(backend)
            #expect(later >= 2)
            await backend.close()
        }
    }

    /// With the server down, calls throw `unavailable` (the 503 case), every time, and work
    /// again once it is back; a crash (SIGKILL) loses nothing that was committed.
    @Test func aKilledServerIsUnavailableUntilItIsBack() async throws {
        try await withServer { server in
            let backend = try await PostgresBackend.connect(server.settings(pool: 2), auditSeal: AuditSeal(key: nil), logger: testLogger)
            try await backend.write { s in
                try s.run("CREATE TABLE counter (n bigint NOT NULL)")
                try s.run("INSERT INTO counter (n) VALUES (0)")
            }
            #expect(try await counter(backend) == 1)
            try await server.kill()
            for _ in 0..<3 {
                let error = await #expect(throws: PostgresBackendError.self) { _ = try await counter(backend) }
                guard case .unavailable(let why)? = error else { Issue.record("expected unavailable, got \(String(describing: error))"); continue }
                #expect(why.contains("127.0.0.1:\(server.port)"))
            }
            try await server.launch()
            #expect(try await counter(backend) == 2)
            await backend.close()
        }
    }

    /// A server that keeps the connection open and stops answering must not hold a pool
    /// thread (and the request behind it) for ever: the statement is given up after the
    /// watchdog as `unavailable`, and the backend works again once the server answers.
    @Test(.timeLimit(.minutes(2))) func aServerThatStopsAnsweringIsGivenUpAfterTheWatchdog() async throws {
        try await withServer { server in
            let backend = try await PostgresBackend.connect(server.settings(pool: 2), auditSeal: AuditSeal(key: nil), logger: testLogger)
            try await backend.write { s in
                try s.run("CREATE TABLE counter (n bigint NOT NULL)")
                try s.run("INSERT INTO counter (n) VALUES (0)")
            }
            try server.pause()
            let started = ContinuousClock.now
            let error = await #expect(throws: PostgresBackendError.self) { _ = try await counter(backend) }
            try server.resume()
            guard case .unavailable(let why)? = error else {
                Issue.record("expected unavailable, got \(String(describing: error))")
                return
            }
            #expect(why.contains("no answer from the database"), "\(why)")
            // Given up by the watchdog, not at once and not never; the upper margin is wide
            // because a loaded CI machine can be slow to notice and to unwind.
            let watchdog = Duration.nanoseconds(PostgresBackend.statementWatchdog.nanoseconds)
            let waited = ContinuousClock.now - started
            #expect(waited >= watchdog - .seconds(1) && waited < watchdog + .seconds(45), "\(waited)")
            try await writesAgain(backend)
            await backend.close()
        }
    }

    /// Writes again within 30 s (a fresh connection replaces the one given up).
    func writesAgain(_ backend: PostgresBackend) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            do {
                #expect(try await counter(backend) >= 1)
                return
            } catch PostgresBackendError.unavailable where ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    @Test func anUnreachableServerAtStartIsUnavailable() async throws {
        let port = try freeLoopbackPort()
        let settings = PostgresSettings(host: "127.0.0.1", port: port, user: "nobody", database: "none", tls: .disable)
        let error = await #expect(throws: PostgresBackendError.self) {
            _ = try await PostgresBackend.connect(settings, auditSeal: AuditSeal(key: nil), logger: testLogger)
        }
        guard case .unavailable(let why)? = error else { Issue.record("expected unavailable, got \(String(describing: error))"); return }
        #expect(why.contains("127.0.0.1:\(port)/none"))
    }

    /// verify-full against a server with a certificate from the test CA: accepted with that CA
    /// as sslrootcert, refused with the system roots (the CA is unknown there).
    @Test func tlsVerifiesTheServerCertificate() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pg-pki-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let pki = try TestPKI(in: dir)
        let (cert, key) = try PostgresServer.serverTLSFiles(certificate: pki.serverCert, key: pki.serverKey, in: dir + "/server-files")
        try await withServer(options: ["ssl": "on", "ssl_cert_file": cert, "ssl_key_file": key]) { server in
            var settings = server.settings(pool: 1)
            settings.host = "localhost"
            settings.tls = .verifyFull
            settings.rootCertificatePath = pki.caCert
            let backend = try await PostgresBackend.connect(settings, auditSeal: AuditSeal(key: nil), logger: testLogger)
            let ssl = try await backend.read { s in
                try s.value(as: Bool.self, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            }
            #expect(ssl == true)
            await backend.close()

            settings.tls = .require
            settings.host = "127.0.0.1"
            let chainOnly = try await PostgresBackend.connect(settings, auditSeal: AuditSeal(key: nil), logger: testLogger)
            await chainOnly.close()

            settings.rootCertificatePath = nil
            await #expect(throws: PostgresBackendError.self) {
                _ = try await PostgresBackend.connect(settings, auditSeal: AuditSeal(key: nil), logger: testLogger)
            }
        }
    }
}
