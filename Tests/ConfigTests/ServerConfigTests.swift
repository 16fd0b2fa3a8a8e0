import Config
import Connectors
import Foundation
import MillwrightCore
import Testing

/// `server`: TLS files, connection limit and timeouts (issue 9).
@Suite struct ServerConfigTests {
    let dir: String

    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("mw-server-config-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir + "/tls", withIntermediateDirectories: true)
        try "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".write(toFile: dir + "/tls/server.pem", atomically: true, encoding: .utf8)
        try "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".write(toFile: dir + "/tls/ca.pem", atomically: true, encoding: .utf8)
        try "-----BEGIN PRIVATE KEY-----\nMIGH\n-----END PRIVATE KEY-----\n".write(toFile: dir + "/tls/server.key", atomically: true, encoding: .utf8)
    }

    func parse(_ yaml: String) throws(ConfigError) -> Settings {
        try ConfigLoader.parse(yaml: yaml, file: dir + "/plant.yaml", cmmsKinds: CMMSRegistry.all)
    }

    func expectError(_ yaml: String, line: Int, key: String, containing text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try parse(yaml)
            Issue.record("expected a configuration error", sourceLocation: sourceLocation)
        } catch {
            #expect(error.line == line, sourceLocation: sourceLocation)
            #expect(error.key == key, sourceLocation: sourceLocation)
            #expect(error.message.contains(text), "\(error.message)", sourceLocation: sourceLocation)
        }
    }

    @Test func defaults() throws {
        let s = try parse("server: { port: 8080 }\n").server
        #expect(s.tls == nil)
        #expect(s.maxConnections == 1024)
        #expect(s.headerTimeout == .seconds(10))
        #expect(s.idleTimeout == .seconds(60))
    }

    @Test func tlsPathsResolveAgainstTheConfigurationFile() throws {
        let s = try parse("""
        server:
          max_connections: 4
          header_timeout: 2s
          idle_timeout: 5m
          tls: { cert: tls/server.pem, key: tls/server.key, client_ca: \(dir)/tls/ca.pem }
        """).server
        #expect(s.tls == ServerTLSSettings(certFile: dir + "/tls/server.pem", keyFile: dir + "/tls/server.key", clientCAFile: dir + "/tls/ca.pem"))
        #expect(s.maxConnections == 4)
        #expect(s.headerTimeout == .seconds(2))
        #expect(s.idleTimeout == .seconds(300))
    }

    @Test func unusableTLSFilesNameFileLineAndKey() {
        expectError("server:\n  tls:\n    cert: tls/missing.pem\n    key: tls/server.key\n", line: 3, key: "server.tls.cert",
                    containing: "cannot read \(dir)/tls/missing.pem")
        expectError("server:\n  tls:\n    cert: tls/server.pem\n    key: tls/server.pem\n", line: 4, key: "server.tls.key",
                    containing: "holds no PEM PRIVATE KEY")
        expectError("server:\n  tls: { cert: tls/server.pem, key: tls/server.key, client_ca: tls/server.key }\n", line: 2,
                    key: "server.tls.client_ca", containing: "holds no PEM CERTIFICATE")
        expectError("server:\n  tls: { cert: tls/server.pem }\n", line: 2, key: "server.tls", containing: "needs 'key'")
    }

    @Test func limitsAndTimeoutsAreRangeChecked() {
        expectError("server:\n  max_connections: 0\n", line: 2, key: "server.max_connections", containing: "between 1 and")
        expectError("server:\n  header_timeout: 100ms\n", line: 2, key: "server.header_timeout", containing: "between 1s and 1h")
        expectError("server:\n  idle_timeout: 2d\n", line: 2, key: "server.idle_timeout", containing: "between 1s and 1d")
        expectError("server:\n  idle_timeout: soon\n", line: 2, key: "server.idle_timeout", containing: "duration")
    }
}
