import Foundation
import MillwrightCore

/// The `server` section: listener, limits, timeouts and TLS.
extension ConfigLoader {
    static func server(_ n: YAMLNode, resolvePath: (String) -> String) throws(ConfigError) -> ServerSettings {
        var s = ServerSettings()
        for (k, v) in try n.requireMapping(allowed: ["host", "port", "max_body_bytes", "max_batch_items", "max_connections",
                                                     "header_timeout", "idle_timeout", "tls"]) {
            switch k {
            case "host": s.host = try v.string()
            case "port": s.port = try v.int(in: 0...65535)
            case "max_body_bytes": s.maxBodyBytes = try v.int(in: 1024...(256 << 20))
            case "max_batch_items": s.maxBatchItems = try v.int(in: 1...100_000)
            case "max_connections": s.maxConnections = try v.int(in: 1...1_000_000)
            case "header_timeout": s.headerTimeout = try duration(v, from: "1s", to: "1h")
            case "idle_timeout": s.idleTimeout = try duration(v, from: "1s", to: "1d")
            default: s.tls = try tls(v, resolvePath: resolvePath)
            }
        }
        return s
    }

    static func duration(_ v: YAMLNode, from lower: String, to upper: String) throws(ConfigError) -> Duration {
        let d = try v.duration()
        guard let low = Duration.parse(lower), let high = Duration.parse(upper), (low...high).contains(d) else {
            throw v.error("must be between \(lower) and \(upper), got '\(try v.string())'")
        }
        return d
    }

    static func tls(_ n: YAMLNode, resolvePath: (String) -> String) throws(ConfigError) -> ServerTLSSettings {
        _ = try n.requireMapping(allowed: ["cert", "key", "client_ca"])
        let cert = try pem(req(n, "cert"), marker: "CERTIFICATE", resolvePath: resolvePath)
        let key = try pem(req(n, "key"), marker: "PRIVATE KEY", resolvePath: resolvePath)
        let ca = try n.child("client_ca").map { c throws(ConfigError) in try pem(c, marker: "CERTIFICATE", resolvePath: resolvePath) }
        return ServerTLSSettings(certFile: cert, keyFile: key, clientCAFile: ca)
    }

    /// Reads the file now, so a missing or wrong file stops start-up with its line rather than at the first connection.
    static func pem(_ v: YAMLNode, marker: String, resolvePath: (String) -> String) throws(ConfigError) -> String {
        let path = resolvePath(try v.string())
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw v.error("cannot read \(path) (\(error.localizedDescription))")
        }
        guard text.contains("-----BEGIN"), text.contains("\(marker)-----") else { throw v.error("\(path) holds no PEM \(marker)") }
        return path
    }
}
